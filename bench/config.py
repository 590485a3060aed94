"""Study configuration: dataclass schemas, YAML with `include:`, and Hydra `key=value` overrides.

`load_study(argv)` is the only entry: it reads `studies/<name>.yaml` (after its includes), applies
the command line's overrides (Hydra's grammar: `train.lr=3.0e-3`, `cell=[lstm,gru]`), checks every
key and type against the dataclasses below and every value's range, and returns a `Study`. Any
mistake raises ConfigError with one line that names it and the fix. Variant axes given on the
command line (`cell=gru`, `layers=[1,2]`) replace the study's values for that axis.
"""

from __future__ import annotations

import difflib
import math
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
DATASETS = ("ag_news", "csv", "imdb", "synthetic")  # bench.data's loaders (tests/data keeps the two lists equal)
SAMPLERS, PRUNERS, OBJECTIVES = ("tpe", "random"), ("median", "hyperband", "none"), ("accuracy", "pareto")

STUDIES_DIR = Path(os.environ.get("RNNBENCH_STUDIES", Path(__file__).resolve().parent.parent / "studies"))


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _whole(key: str, value: Any, low: int = 1, null: bool = False) -> None:
    """`key` holds a whole number >= low (or None when `null`)."""
    if null and value is None:
        return
    _require(isinstance(value, int) and not isinstance(value, bool) and value >= low,
             f"{key}={value} is not allowed: use a whole number >= {low}{', or null' if null else ''}")


def _finite(key: str, value: Any, low: float = 0.0, strict: bool = True, null: bool = False) -> None:
    """`key` holds a finite number > low (>= low when not `strict`), or None when `null`."""
    if null and value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        value > low if strict else value >= low)
    _require(ok, f"{key}={value} is not allowed: use a finite number {'>' if strict else '>='} {low:g}"
                 f"{', or null' if null else ''}")


def _one_of(key: str, value: Any, allowed: tuple) -> None:
    _require(value in allowed, f"{key}={value!r} is not allowed: use one of {', '.join(map(str, allowed))}")


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

    def __post_init__(self) -> None:
        _require(self.delimiter is None or len(self.delimiter) == 1,
                 f"data.csv.delimiter={self.delimiter!r} is not allowed: use one character, e.g. ',' or '\\t'")
        _require(isinstance(self.test_fraction, (int, float)) and 0 < self.test_fraction < 1,
                 f"data.csv.test_fraction={self.test_fraction} is not allowed: use a fraction between 0 and 1")


@dataclass
class DataConfig:
    name: str = "ag_news"               # ag_news | csv | imdb | synthetic
    root: Optional[str] = None          # folder holding the dataset's files
    url: Optional[str] = None           # download mirror (ag_news); none: the built-in one
    download: bool = True
    max_train: Optional[int] = None     # cap on training rows, stratified
    val_fraction: float = 0.1           # carved from training, stratified; tuning reads it
    split_seed: int = 0
    min_freq: int = 1
    max_vocab: Optional[int] = None
    max_len: Optional[int] = None       # truncate texts to this many tokens
    truncate: str = "head"              # which tokens max_len keeps: head | tail | both (half of each end)
    shared_pad_unk: bool = False        # the lesson's quirk: <pad> and <unk> are both index 0
    cache: bool = True                  # cache the numericalized tensors on disk
    csv: CsvConfig = field(default_factory=CsvConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self) -> None:
        _one_of("data.name", self.name, DATASETS)
        _one_of("data.truncate", self.truncate, ("head", "tail", "both"))
        _whole("data.min_freq", self.min_freq)
        for key in ("max_train", "max_vocab", "max_len"):
            _whole(f"data.{key}", getattr(self, key), null=True)
        _require(0 <= self.val_fraction < 1,
                 f"data.val_fraction={self.val_fraction} is not allowed: use 0 <= value < 1")


@dataclass
class Params:
    """One trainable run's settings, the `train:` section: the model's sizes, the optimizer's and the trainer's
    settings. Tuning's search space (`nuisance:`) names these fields, the model and the trainer read them,
    each record stores them (`hyperparameters`) and the page shows them: this is the only copy."""
    embed_dim: int = 64
    hidden_size: int = 32
    dropout: float = 0.0
    epochs: int = 1
    lr: float = 1.0e-3
    batch_size: int = 16
    weight_decay: float = 0.0
    clip: Optional[float] = None        # max gradient norm; none: no clipping
    patience: Optional[int] = None      # early stopping: stop after this many epochs without a better validation
                                        # accuracy and keep the best epoch's weights; none: run every epoch
    sparse_embedding: bool = False      # torch.optim.SparseAdam on the embedding (bench.optim): faster, other math
    precision: str = "fp32"             # fp32 | bf16 | fp16: CUDA autocast (fp16 with a GradScaler)
    cudnn_benchmark: bool = False       # cuDNN picks its fastest algorithm per shape (CUDA only)
    compile: bool = False               # torch.compile the model (TORCH_LOGS=graph_breaks shows where it fell back)
    curve_every: int = 3200             # samples between running-accuracy points (the lesson's print)
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        for key in ("embed_dim", "hidden_size", "epochs", "batch_size", "curve_every", "eval_batch_size"):
            _whole(f"train.{key}", getattr(self, key))
        _require(0 <= self.dropout < 1, f"train.dropout={self.dropout} is not allowed: use 0 <= dropout < 1")
        _finite("train.lr", self.lr)
        _finite("train.weight_decay", self.weight_decay, strict=False)
        _finite("train.clip", self.clip, null=True)
        _require(self.patience is None or self.patience >= 1,
                 f"train.patience={self.patience} is not allowed: use a whole number >= 1 (epochs without a better "
                 "validation accuracy before stopping), or null to run every epoch")
        _one_of("train.precision", self.precision, ("fp32", "bf16", "fp16"))


# Long-text datasets: what `budget=smoke|quick` also caps, unless the command line sets the key (a study file's
# own smaller value stays). Sized on 2 CPU cores: an IMDB epoch of 1,800 reviews at 400 tokens takes 2.3 s
# padded and 18 s packed (LSTM, hidden 64), and scoring the 25,000 test reviews ~10 s per run.
DATA_CAPS: dict[str, dict[str, dict[str, int]]] = {
    "imdb": {"smoke": {"max_train": 500, "max_len": 200}, "quick": {"max_train": 2000, "max_len": 400}},
}

# Hyperparameters a study's `nuisance:` may tune (fields of Params: the sizes and the optimizer's settings).
TUNABLE = ("lr", "batch_size", "weight_decay", "clip", "embed_dim", "hidden_size", "dropout")


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

    def __post_init__(self) -> None:
        _require(all(isinstance(n, int) and n >= 1 for n in [*self.batch_sizes, *self.seq_lens, self.batch_size,
                                                               self.seq_len, self.repeats])
                 and self.warmup >= 0 and self.vocab >= 2,
                 "speed: batch sizes, sequence lengths and repeats are whole numbers >= 1, warmup >= 0, vocab >= 2")


@dataclass
class MeasureConfig:
    seeds: Any = 1                      # a count (seeds 0..n-1) or a list of seeds
    timing_steps: int = 30              # per run, training steps timed at the study's own (untuned) sizes, so
                                        # the effects table compares variants like with like; 0: none

    def __post_init__(self) -> None:
        seeds = self.seeds
        ok = (isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1) or (
            isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)
            and len(set(seeds)) == len(seeds))
        _require(ok, f"measure.seeds={seeds!r} is not allowed: give a count >= 1 (measure.seeds=3) "
                     "or a list of distinct seeds >= 0 (measure.seeds=[0,1,2])")
        _require(self.timing_steps >= 0, f"measure.timing_steps={self.timing_steps} is not allowed: use a whole "
                                         "number >= 0 (0: no timing pass)")


@dataclass
class TuneConfig:
    trials: int = 0                     # per variant; 0: no tuning, the fixed train values
    timeout: Optional[float] = None     # seconds per variant; none: no limit
    epochs: int = 1                     # epoch cap of every trial (the pruner's max resource)
    sampler: str = "tpe"                # tpe | random
    pruner: str = "median"              # median | hyperband | none
    objective: str = "accuracy"         # accuracy | pareto (accuracy vs time per epoch, NSGA-II)
    seed: int = 0                       # sampler seed, and the training seed of every trial

    def __post_init__(self) -> None:
        _require(self.trials >= 0, f"tune.trials={self.trials} is not allowed: use 0 (no tuning) or more")
        _whole("tune.epochs", self.epochs)
        _finite("tune.timeout", self.timeout, null=True)
        _one_of("tune.sampler", self.sampler, SAMPLERS)
        _one_of("tune.pruner", self.pruner, PRUNERS)
        _one_of("tune.objective", self.objective, OBJECTIVES)


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
    train: Params = field(default_factory=Params)
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
                            "drop the key",
           **{f"model.{k}": f"every trainable-run setting is in train: now: use train.{k}"
              for k in ("embed_dim", "hidden_size", "dropout")}}


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
    if not OmegaConf.is_dict(node):
        raise ConfigError(f"{path}: a study file is a mapping of keys (name: value), not a list or a value")
    for key, shape, is_shape in [(k, "a mapping (key: value)", OmegaConf.is_dict) for k in OPEN_KEYS] + [
            (k, "a list", OmegaConf.is_list) for k in ("exclude", "variants")]:
        if node.get(key) is not None and not is_shape(node[key]):
            raise ConfigError(f"{path}: {key}: give {shape}, not {node[key]!r}")
    includes = node.pop("include", None) or []
    merged = OmegaConf.create()
    for name in [includes] if isinstance(includes, str) else includes:
        merged = OmegaConf.merge(merged, _load_yaml(path.parent / name, (*seen, path)))
    for key in OPEN_KEYS:  # an entry given again replaces the included one (a range may become a list)
        for sub in node.get(key) or {}:
            if key in merged and sub in merged[key]:
                del merged[key][sub]
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
            why = ("a value with characters other than letters, digits and _-.:/ must be quoted, e.g. "
                   "name='ü'" if "LexerNoViableAlt" in str(e) else _one_line(e))
            raise ConfigError(f"cannot read '{arg}': {why}") from None
        if override.is_sweep_override() or override.is_delete() or override.is_add():
            raise ConfigError(f"'{arg}': sweeps and +/~ prefixes are not supported; give key=value or key=[a,b]")
        key, value = override.key_or_group, override.value()
        check_key(key)
        if key in parsed:
            raise ConfigError(f"{key} is given twice ({parsed[key]!r} and {value!r}): give it once")
        parsed[key] = value
    return parsed


def replaced(argv: list[str], *changes: str) -> list[str]:
    """`argv` with `changes` (key=value) in place of the same keys: a command line's key may be given once."""
    keys = {c.split("=", 1)[0] for c in changes}
    return [a for a in argv if a.split("=", 1)[0] not in keys] + list(changes)


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
    path = _study_path(str(name))
    try:
        node = OmegaConf.merge(OmegaConf.structured(Study), _checked(_load_yaml(path)))
    except OmegaConfBaseException as e:  # a YAML value of the wrong type: the same line as on the command line
        raise ConfigError(f"{path}: {e.full_key or 'the file'}: {_one_line(e)}") from None
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
    for key, cap in DATA_CAPS.get(node.data.name, {}).get(node.budget, {}).items():
        if f"data.{key}" not in overrides:
            node.data[key] = cap if node.data[key] is None else min(node.data[key], cap)
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


def _flat(tree: dict, prefix: str = "") -> dict:
    """{'train': {'lr': [..]}} -> {'train.lr': [..]}."""
    flat: dict = {}
    for key, value in tree.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return flat


def _tunable_value(base: Params, name: str, value: Any) -> None:
    """A value tuning may give `train.<name>`: of the field's type and inside its range."""
    kind = int if name in ("batch_size", "embed_dim", "hidden_size") else float
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        kind is float or isinstance(value, int)) or (value is None and name == "clip")
    _require(ok_type, f"nuisance.{name}: {value!r} is not a {'whole number' if kind is int else 'number'}")
    try:
        replace(base, **{name: value})
    except ConfigError as e:
        raise ConfigError(f"nuisance.{name}: {e}") from None


# ---- what involves several sections (each dataclass checks its own fields) ------------------------

def validate(study: Study) -> None:
    t = study.train
    if t.sparse_embedding:
        decayed = [k for k, on in (("train.weight_decay", t.weight_decay),
                                   ("nuisance.weight_decay",  # only searched when there is tuning
                                    "weight_decay" in study.nuisance and study.tune.trials > 0)) if on]
        _require(not decayed, f"train.sparse_embedding=true cannot go with {', '.join(decayed)}: sparse Adam moves only "
                              "the rows a batch used, so weight decay would shrink only those; set "
                              "train.weight_decay=0 and remove it from the study's nuisance section")
    _require(re.fullmatch(r"auto|cpu|cuda(:\d+)?", study.device) is not None,
             f"device={study.device!r} is not allowed: use auto, cpu, cuda or cuda:N")
    _one_of("mode", study.mode, ("study", "speed"))
    cores = os.cpu_count() or 1
    _require(isinstance(study.workers, int) and 1 <= study.workers <= max(cores, 1),
             f"workers={study.workers} is not allowed: use 1 to {cores} (this machine's CPU cores)")
    _finite("lease", study.lease, low=1, strict=False)
    _require(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", study.name) is not None and ".." not in study.name,
             f"name={study.name!r} is not allowed: use letters, digits, '_', '-' and '.', no '/' (the study's "
             "folder is reports/NAME; out=FOLDER puts it anywhere)")
    for rule in study.exclude:
        _require(isinstance(rule, dict), f"exclude: each rule is a mapping of axes, e.g. {{cell: rnn, layers: 3}}, "
                                         f"not {rule!r}")
    study.sweep = _flat(study.sweep) if study.sweep else study.sweep  # sweep.train.lr=[..] nests on the command line
    for key, values in (study.sweep or {}).items():
        _require(key not in AXES, f"sweep.{key}: variant axes belong in scientific:, not sweep:")
        check_key(key)
        _require(isinstance(values, list) and len(values) > 0, f"sweep.{key}: give a list of values")
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
        for value in (spec["low"], spec["high"]) if isinstance(spec, dict) else spec if isinstance(spec, list) \
                else [spec]:
            _tunable_value(study.train, name, value)
    if study.tune.trials and study.data.val_fraction == 0:
        raise ConfigError("tuning reads the validation split, and data.val_fraction=0 leaves none: "
                          "set data.val_fraction=0.1, or tune.trials=0")
    _require(bool(study.expand()), f"study '{study.name}' has no variants left after its exclude rules")
