"""Study configuration: dataclass schemas, YAML with `include:`, and Hydra `key=value` overrides.

`load_study(argv)` is the only entry: it reads `studies/<name>.yaml` (after its includes), applies
the command line's overrides (Hydra's grammar: `train.lr=3.0e-3`, `cell=[lstm,gru]`), checks every
key and type against the dataclasses below and every value's range, and returns a `Study`. Any
mistake raises ConfigError with one line that names it and the fix. Variant axes given on the
command line (`cell=gru`, `layers=[1,2]`) replace the study's values for that axis.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.errors import ConfigError
from bench.variants import AXES, Variant, check_value, expand, parse

# train.* keys that change how fast a step runs, not what it computes: the speed study applies and stores them
SPEED_SETTINGS = ("precision", "cudnn_benchmark", "compile", "sparse_embedding")

STUDIES_DIR = Path(os.environ.get("RNNBENCH_STUDIES", Path(__file__).resolve().parent.parent / "studies"))


@dataclass
class SyntheticConfig:
    seed: int = 0
    n_train: int = 2000
    n_test: int = 500
    n_classes: int = 4
    vocab: int = 50          # noise words w0..w{vocab-1}
    min_len: int = 8
    max_len: int = 24
    distance: int = 0        # the key word sits this many tokens before the end


@dataclass
class CsvConfig:
    train: Optional[str] = None
    test: Optional[str] = None          # none: a stratified test_fraction of train
    text_cols: List[Any] = field(default_factory=lambda: [1])  # 0-based positions, or header names
    label_col: Any = 0
    header: bool = False
    delimiter: Optional[str] = None     # none: tab for .tsv, else comma
    test_fraction: float = 0.2


@dataclass
class DataConfig:
    name: str = "ag_news"               # ag_news | csv | synthetic
    root: Optional[str] = None          # folder holding the dataset's files
    url: Optional[str] = None           # download mirror (ag_news); none: the built-in one
    download: bool = True
    max_train: Optional[int] = None     # cap on training rows, stratified
    val_fraction: float = 0.1           # carved from training, stratified; tuning reads it
    split_seed: int = 0
    min_freq: int = 1
    max_vocab: Optional[int] = None
    max_len: Optional[int] = None       # truncate texts to this many tokens
    shared_pad_unk: bool = False        # the lesson's quirk: <pad> and <unk> are both index 0
    cache: bool = True                  # cache the numericalized tensors on disk
    csv: CsvConfig = field(default_factory=CsvConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ModelConfig:
    embed_dim: int = 64
    hidden_size: int = 32
    dropout: float = 0.0


@dataclass
class TrainConfig:
    epochs: int = 1
    lr: float = 1.0e-3
    batch_size: int = 16
    weight_decay: float = 0.0
    clip: Optional[float] = None        # max gradient norm; none: no clipping
    sparse_embedding: bool = False      # torch.optim.SparseAdam on the embedding (bench.optim): faster, other math
    precision: str = "fp32"             # fp32 | bf16 | fp16: CUDA autocast (fp16 with a GradScaler)
    cudnn_benchmark: bool = False       # cuDNN picks its fastest algorithm per shape (CUDA only)
    compile: bool = False               # torch.compile the model; graph breaks are recorded and reported
    patience: Optional[int] = None      # early stopping: stop after this many epochs without a better validation
                                        # accuracy and keep the best epoch's weights; none: run every epoch
    curve_every: int = 3200             # samples between running-accuracy points (the lesson's print)
    eval_batch_size: int = 256


@dataclass
class SpeedConfig:
    """study mode `speed`: step times on fixed pre-built batches, no tuning, no accuracy."""
    batch_sizes: List[int] = field(default_factory=lambda: [16, 64, 256])   # swept at seq_len
    seq_lens: List[int] = field(default_factory=lambda: [32, 128, 512])     # swept at batch_size
    batch_size: int = 64
    seq_len: int = 128
    vocab: int = 10000
    warmup: int = 3
    repeats: int = 10                   # timed steps per point; every one is kept


@dataclass
class MeasureConfig:
    seeds: Any = 1                      # a count (seeds 0..n-1) or a list of seeds
    timing_steps: int = 30              # per run, training steps timed at the study's own (untuned) sizes, so
                                        # the effects table compares variants like with like; 0: none


@dataclass
class TuneConfig:
    trials: int = 0                     # per variant; 0: no tuning, the fixed train/model values
    timeout: Optional[float] = None     # seconds per variant; none: no limit
    epochs: int = 1                     # epoch cap of every trial
    sampler: str = "tpe"                # tpe | random
    pruner: str = "median"              # median | hyperband | none
    objective: str = "accuracy"         # accuracy | pareto (accuracy vs time per epoch, NSGA-II)
    seed: int = 0                       # sampler seed, and the training seed of every trial


# `budget=NAME` sets these in one word (after the YAML, before the command line's other keys).
BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"tune": {"trials": 3, "epochs": 1}, "train": {"epochs": 2}, "data": {"max_train": 1000},
              "measure": {"seeds": 3}},
    # quick: every trial and seed stops early (train.patience in _base.yaml) once validation accuracy stalls;
    # sized so that study=packing (9 variants) fits ~25 minutes on 2 CPU cores with the shared AG News rows
    "quick": {"tune": {"trials": 4, "epochs": 3}, "train": {"epochs": 8}, "data": {"max_train": None},
              "measure": {"seeds": 3}},
    "full": {"tune": {"trials": 40, "epochs": 10}, "train": {"epochs": 30}, "data": {"max_train": None},
             "measure": {"seeds": 5}},
}
# Hyperparameters a study's `nuisance:` may tune (the fields of bench.train.Params, less the epochs).
TUNABLE = ("lr", "batch_size", "weight_decay", "clip", "embed_dim", "hidden_size", "dropout")


@dataclass
class Study:
    name: str = ""
    description: str = ""               # the one-line question the study answers
    scientific: Dict[str, Any] = field(default_factory=dict)  # compared: their product
    fixed: Dict[str, Any] = field(default_factory=dict)       # held for every variant
    exclude: List[Any] = field(default_factory=list)          # {axis: value(s)} rules
    variants: List[str] = field(default_factory=list)         # explicit names, instead of a product
    reference: Dict[str, Any] = field(default_factory=dict)   # variant -> {metric: published figure}
    nuisance: Dict[str, Any] = field(default_factory=dict)    # tuned per variant: {low, high, log} | list
    budget: Optional[str] = None        # smoke | quick | full; none: the file's values as they are
    sweep: Optional[Dict[str, Any]] = None  # dotted non-variant key -> values: one sub-study per point
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    device: str = "auto"                # auto | cpu | cuda | cuda:N
    out: Optional[str] = None           # none: reports/<name>
    storage: Optional[str] = None       # database URL shared by workers; none: the out folder itself
    resume: bool = True                 # false: start over in a fresh folder (never overwrite)
    workers: int = 1                    # worker processes on this machine (one per GPU when there are GPUs)
    lease: float = 120.0                # seconds without a heartbeat before a worker's run is taken over
    profile: bool = False               # write a torch.profiler trace of a few steps of the first variant
    mode: str = "study"                 # study (tune, train, measure accuracy) | speed (step times only)
    speed: SpeedConfig = field(default_factory=SpeedConfig)

    def expand(self) -> list[Variant]:
        """The variants this study compares (the `variants:` list, else the product)."""
        if self.variants:
            return [parse(name) for name in self.variants]
        return expand(self.scientific, self.fixed, self.exclude)

    @property
    def seeds(self) -> list[int]:
        seeds = self.measure.seeds
        return list(range(seeds)) if isinstance(seeds, int) else list(seeds)

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("reports") / self.name


# ---- the schema's keys, for checking and for --help -------------------------------------------

def schema_keys(cls: type = Study, prefix: str = "") -> dict[str, Any]:
    """Every settable dotted key -> its default (dict-valued fields take any sub-key)."""
    keys: dict[str, Any] = {}
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            keys.update(schema_keys(type(default), f"{prefix}{f.name}."))
        else:
            keys[prefix + f.name] = default
    return keys


KEYS = schema_keys()
OPEN_KEYS = ("scientific", "fixed", "reference", "nuisance", "sweep")  # dicts: any sub-key is allowed
CLI_ONLY = ("study", "help")


def _suggest(word: str, options, otherwise: str) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else otherwise


# Keys that existed once: a command line or study file that still names one is told what happened.
REMOVED = {"train.kernels": "rnnbench now times torch's own recurrent modules only (the harness kernels are gone): "
                            "drop the key"}


def check_key(key: str) -> None:
    if key in REMOVED:
        raise ConfigError(f"'{key}' was removed: {REMOVED[key]}")
    if key in KEYS or key in AXES or key in CLI_ONLY or key.split(".")[0] in OPEN_KEYS:
        return
    hint = _suggest(key, [*KEYS, *AXES, *CLI_ONLY], "python -m bench.run --help lists the keys")
    raise ConfigError(f"unknown key '{key}': {hint}")


# ---- studies on disk ----------------------------------------------------------------------------

def list_studies() -> dict[str, str]:
    """Study name -> its one-line description."""
    found = {}
    for path in sorted(STUDIES_DIR.glob("*.yaml")):
        if not path.name.startswith("_"):
            found[path.stem] = str(OmegaConf.load(path).get("description", ""))
    return found


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """A YAML file merged over its `include:` (a name or list, relative to the file)."""
    if path in seen:
        raise ConfigError(f"{path}: include cycle through {[p.name for p in seen]}")
    try:
        node = OmegaConf.load(path)
    except Exception as e:  # yaml errors carry several lines: keep the first
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from e
    includes = node.pop("include", None) or []
    merged = OmegaConf.create()
    for name in [includes] if isinstance(includes, str) else includes:
        merged = OmegaConf.merge(merged, _load_yaml(path.parent / name, (*seen, path)))
    return OmegaConf.merge(merged, node)


def _study_path(name: str) -> Path:
    if name.endswith(".yaml") and Path(name).is_file():
        return Path(name)
    path = STUDIES_DIR / f"{name}.yaml"
    if name.startswith("_") or not path.is_file():
        raise ConfigError(f"unknown study '{name}': choose one of {', '.join(list_studies())} "
                          f"(or add studies/{name}.yaml)")
    return path


def _one_line(e: Exception) -> str:
    text = str(e).splitlines()
    return text[0] if text else type(e).__name__


def parse_overrides(argv: list[str]) -> dict[str, Any]:
    """`['train.lr=3e-3', 'cell=[lstm,gru]']` -> {'train.lr': 0.003, 'cell': ['lstm', 'gru']}."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parsed: dict[str, Any] = {}
    parser = OverridesParser.create()
    for arg in argv:
        if "=" not in arg:
            raise ConfigError(f"cannot read '{arg}': arguments are key=value, e.g. study=packing train.epochs=2")
        try:
            override = parser.parse_overrides([arg])[0]
        except HydraException as e:
            raise ConfigError(f"cannot read '{arg}': {_one_line(e)}") from e
        if override.is_sweep_override() or override.is_delete() or override.is_add():
            raise ConfigError(f"'{arg}': sweeps and +/~ prefixes are not supported; give key=value or key=[a,b]")
        key, value = override.key_or_group, override.value()
        check_key(key)
        parsed[key] = value
    return parsed


def _nest(key: str, value: Any) -> dict:
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def _apply_axes(node: Any, axes: dict[str, Any]) -> None:
    """Command-line axes replace the study's values for that axis."""
    for axis, value in axes.items():
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        for v in values:
            check_value(axis, v)
        node.fixed.pop(axis, None)
        node.scientific[axis] = values
        if node.variants:  # an explicit list: set that axis on each listed variant
            names = [replace(parse(n), **{axis: v}).name for n in node.variants for v in values]
            node.variants = list(dict.fromkeys(names))


def load_study(argv: list[str]) -> Study:
    """Command-line words -> a validated Study (see the module docstring)."""
    overrides = parse_overrides(argv)
    name = overrides.pop("study", None)
    if not name:
        raise ConfigError(f"no study given: python -m bench.run study=NAME, with NAME one of "
                          f"{', '.join(list_studies())}")
    overrides.pop("help", None)
    node = OmegaConf.merge(OmegaConf.structured(Study), _checked(_load_yaml(_study_path(str(name)))))
    node.budget = overrides.pop("budget", node.budget)  # budget=null: the file's values, no preset
    if node.budget is not None:
        if node.budget not in BUDGETS:
            raise ConfigError(f"budget={node.budget!r} is not allowed: use one of {', '.join(BUDGETS)}")
        node = OmegaConf.merge(node, BUDGETS[node.budget])
    if not node.name:
        node.name = Path(str(name)).stem
    axes = {k: overrides.pop(k) for k in list(overrides) if k in AXES}
    for key, value in overrides.items():
        try:
            node = OmegaConf.merge(node, _nest(key, value))
        except OmegaConfBaseException as e:
            raise ConfigError(f"{key}={value!r}: {_one_line(e)}") from e
    _apply_axes(node, axes)
    study = OmegaConf.to_object(node)
    validate(study)
    return study


def _checked(node: Any) -> Any:
    """Check a YAML node's keys the same way as the command line's, for the same message."""
    for key in _dotted(node):
        check_key(key)
    return node


def _dotted(node: Any, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        if OmegaConf.is_dict(v) and full not in OPEN_KEYS:
            keys += _dotted(v, full + ".")
        else:
            keys.append(full)
    return keys


# ---- ranges --------------------------------------------------------------------------------------

def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(study: Study) -> None:
    """Ranges the types alone don't catch; each failure names the key and the allowed range."""
    d, m, t = study.data, study.model, study.train
    for key, value, low in [("model.embed_dim", m.embed_dim, 1), ("model.hidden_size", m.hidden_size, 1),
                            ("train.epochs", t.epochs, 1), ("train.batch_size", t.batch_size, 1),
                            ("train.curve_every", t.curve_every, 1), ("train.eval_batch_size", t.eval_batch_size, 1),
                            ("data.min_freq", d.min_freq, 1)]:
        _require(value >= low, f"{key}={value} is not allowed: use a whole number >= {low}")
    for key, value in [("data.max_train", d.max_train), ("data.max_vocab", d.max_vocab), ("data.max_len", d.max_len)]:
        _require(value is None or value >= 1, f"{key}={value} is not allowed: use a whole number >= 1, or null")
    _require(study.measure.timing_steps >= 0,
             f"measure.timing_steps={study.measure.timing_steps} is not allowed: use a whole number >= 0 (0: no timing pass)")
    _require(t.patience is None or t.patience >= 1,
             f"train.patience={t.patience} is not allowed: use a whole number >= 1 (epochs without a better validation "
             "accuracy before stopping), or null to run every epoch")
    _require(t.lr > 0, f"train.lr={t.lr} is not allowed: the learning rate must be > 0, e.g. train.lr=1.0e-3")
    _require(t.weight_decay >= 0, f"train.weight_decay={t.weight_decay} is not allowed: use a value >= 0")
    _require(t.clip is None or t.clip > 0, f"train.clip={t.clip} is not allowed: use a value > 0, or null")
    _require(t.precision in ("fp32", "bf16", "fp16"),
             f"train.precision={t.precision!r} is not allowed: use one of fp32, bf16, fp16")
    if t.sparse_embedding:
        decayed = [k for k, on in (("train.weight_decay", t.weight_decay),
                                   ("nuisance.weight_decay",  # only searched when there is tuning
                                    "weight_decay" in study.nuisance and study.tune.trials > 0)) if on]
        _require(not decayed, f"train.sparse_embedding=true cannot go with {', '.join(decayed)}: sparse Adam moves only "
                              "the rows a batch used, so weight decay would shrink only those; set "
                              "train.weight_decay=0 and remove it from the study's nuisance section")
    _require(0 <= m.dropout < 1, f"model.dropout={m.dropout} is not allowed: use 0 <= dropout < 1")
    _require(0 <= d.val_fraction < 1, f"data.val_fraction={d.val_fraction} is not allowed: use 0 <= value < 1")
    _require(re.fullmatch(r"auto|cpu|cuda(:\d+)?", study.device) is not None,
             f"device={study.device!r} is not allowed: use auto, cpu, cuda or cuda:N")
    seeds = study.measure.seeds
    ok = (isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1) or (
        isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)
        and len(set(seeds)) == len(seeds))
    _require(ok, f"measure.seeds={seeds!r} is not allowed: give a count >= 1 (measure.seeds=3) "
                 "or a list of distinct seeds >= 0 (measure.seeds=[0,1,2])")
    _require(study.mode in ("study", "speed"), f"mode={study.mode!r} is not allowed: use study or speed")
    sp = study.speed
    _require(all(isinstance(n, int) and n >= 1 for n in [*sp.batch_sizes, *sp.seq_lens, sp.batch_size, sp.seq_len,
                                                           sp.repeats]) and sp.warmup >= 0 and sp.vocab >= 2,
             "speed: batch sizes, sequence lengths and repeats are whole numbers >= 1, warmup >= 0, vocab >= 2")
    _require(isinstance(study.workers, int) and study.workers >= 1,
             f"workers={study.workers} is not allowed: use a whole number >= 1")
    _require(study.lease >= 1, f"lease={study.lease} is not allowed: use seconds >= 1 (default 120)")
    _validate_tuning(study)
    for key, values in (study.sweep or {}).items():
        _require(key not in AXES, f"sweep.{key}: variant axes belong in scientific:, not sweep:")
        check_key(key)
        _require(isinstance(values, list) and len(values) > 0, f"sweep.{key}: give a list of values")
    from bench.data import DATASETS
    _require(d.name in DATASETS, f"data.name={d.name!r} is not allowed: use one of {', '.join(DATASETS)}")
    _require(bool(study.expand()), f"study '{study.name}' has no variants left after its exclude rules")


def _validate_tuning(study: Study) -> None:
    tune = study.tune
    _require(tune.trials >= 0, f"tune.trials={tune.trials} is not allowed: use 0 (no tuning) or more")
    _require(tune.epochs >= 1, f"tune.epochs={tune.epochs} is not allowed: use a whole number >= 1")
    _require(tune.timeout is None or tune.timeout > 0, f"tune.timeout={tune.timeout} is not allowed: use seconds > 0")
    from bench.tune import OBJECTIVES, PRUNERS, SAMPLERS
    for key, value, allowed in [("tune.sampler", tune.sampler, SAMPLERS), ("tune.pruner", tune.pruner, PRUNERS),
                                ("tune.objective", tune.objective, OBJECTIVES)]:
        _require(value in allowed, f"{key}={value!r} is not allowed: use one of {', '.join(allowed)}")
    for name, spec in study.nuisance.items():
        if name not in TUNABLE:
            hint = _suggest(name, TUNABLE, f"tunable: {', '.join(TUNABLE)}")
            raise ConfigError(f"unknown nuisance parameter '{name}': {hint}")
        if isinstance(spec, dict):
            ok = set(spec) <= {"low", "high", "log"} and {"low", "high"} <= set(spec) and all(
                isinstance(spec[k], (int, float)) for k in ("low", "high")) and spec["low"] < spec["high"] and (
                not spec.get("log") or spec["low"] > 0)
            _require(ok, f"nuisance.{name}={spec}: a range is {{low: A, high: B, log: true|false}} with A < B "
                         "(and A > 0 when log)")
        elif isinstance(spec, list):
            _require(len(spec) > 0, f"nuisance.{name}: an empty list; give the values to choose from")
    if tune.trials and study.data.val_fraction == 0:
        raise ConfigError("tuning reads the validation split, and data.val_fraction=0 leaves none: "
                          "set data.val_fraction=0.1, or tune.trials=0")
