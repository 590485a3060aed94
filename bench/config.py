"""Study configuration: dataclass schemas, YAML with `include:`, and Hydra `key=value` overrides.

`load_study(argv)` is the only entry: it reads `studies/<name>.yaml` (after its includes), applies
the command line's overrides (Hydra's grammar: `train.lr=3.0e-3`, `cell=[lstm,gru]`), checks every
key and type against the dataclasses below and every value's range, and returns a `Study`. Any
mistake raises ConfigError with one line that names it and the fix. Variant axes given on the
command line (`cell=gru`, `layers=[1,2]`) replace the study's values for that axis.
"""

from __future__ import annotations

import difflib
import importlib.util
import itertools
import math
import os
import re
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional

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


# ---- what a key allows: one Rule per field, checked in __post_init__ and printed by --help --------------------

@dataclass(frozen=True)
class Rule:
    """What one key allows. The dataclass checks its fields against their rules (`check_fields`) and --help
    prints `describe()`: the allowed values are written once."""
    kind: str = "any"                   # whole | number | choice | bool | any (free text, a path ...)
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False              # > low (else >=)
    high_open: bool = True              # < high (else <=)
    choices: tuple = ()
    null: bool = False                  # null (None) also allowed
    text: str = ""                      # kind any: what is allowed, in words

    def describe(self, short: str = "value") -> str:
        if self.kind == "choice":
            said = "one of " + ", ".join(map(str, self.choices))
        elif self.kind == "bool":
            said = "true or false"
        elif self.kind in ("whole", "number") and self.high is not None:
            said = (f"{self.low:g} {'<' if self.low_open else '<='} {short} {'<' if self.high_open else '<='} "
                    f"{self.high:g}")
        elif self.kind == "whole":
            said = f"a whole number >= {self.low:g}"
        elif self.kind == "number":
            said = f"a finite number {'>' if self.low_open else '>='} {self.low:g}"
        else:
            said = self.text or "any"
        return said + (", or null" if self.null else "")

    def allows(self, value: Any) -> bool:
        if value is None:
            return self.null
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind not in ("whole", "number"):
            return True
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.kind == "whole" and not isinstance(value, int):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def check(self, key: str, value: Any) -> None:
        _require(self.allows(value), f"{key}={value!r} is not allowed: use {self.describe(key.split('.')[-1])}")


def whole(low: int = 1, null: bool = False) -> Rule:
    return Rule("whole", low=low, null=null)


def number(low: float = 0.0, open_: bool = True, null: bool = False) -> Rule:
    return Rule("number", low=low, low_open=open_, null=null)


def fraction(low_open: bool = False) -> Rule:
    return Rule("number", low=0.0, high=1.0, low_open=low_open)


def one_of(choices: tuple, null: bool = False) -> Rule:
    return Rule("choice", choices=tuple(choices), null=null)


FLAG = Rule("bool")


def free(text: str, null: bool = False) -> Rule:
    return Rule(text=text, null=null)


def setting(default: Any, meaning: str, rule: Rule = Rule(), factory: Any = None) -> Any:
    """A dataclass field with its one-line meaning and its rule (--help shows both; check_fields applies the rule)."""
    meta = {"help": meaning, "rule": rule}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def check_fields(obj: Any) -> None:
    """Check every field of a config dataclass against its Rule; the message names the dotted key."""
    for f in fields(obj):
        rule = f.metadata.get("rule")
        if rule is not None and rule.kind != "any":
            rule.check(obj.SECTION + f.name, getattr(obj, f.name))


@dataclass
class SyntheticConfig:
    SECTION: ClassVar[str] = "data.synthetic."
    seed: int = setting(0, "generator seed of the synthetic dataset", whole(0))
    n_train: int = setting(2000, "training rows generated", whole(1))
    n_test: int = setting(500, "test rows generated", whole(1))
    n_classes: int = setting(4, "classes (one key word each)", whole(2))
    vocab: int = setting(50, "noise words w0..w{vocab-1}", whole(1))
    min_len: int = setting(8, "shortest text, in tokens", whole(1))
    max_len: int = setting(24, "longest text, in tokens", whole(1))
    distance: int = setting(0, "the key word sits this many tokens before the end", whole(0))

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class CsvConfig:
    SECTION: ClassVar[str] = "data.csv."
    train: Optional[str] = setting(None, "the training CSV/TSV file (data.name=csv)", free("a file path", null=True))
    test: Optional[str] = setting(None, "the test file; null: a stratified test_fraction of train",
                                  free("a file path", null=True))
    text_cols: List[Any] = setting(None, "the text column(s), joined with a space",
                                   free("a list of 0-based positions or header names"), factory=lambda: [1])
    label_col: Any = setting(0, "the label column", free("a 0-based position or a header name"))
    header: bool = setting(False, "the first row names the columns", FLAG)
    delimiter: Optional[str] = setting(None, "the field separator; null: tab for .tsv, else comma",
                                       free("one character", null=True))
    test_fraction: float = setting(0.2, "share of train held out as test when there is no test file",
                                   fraction(low_open=True))

    def __post_init__(self) -> None:
        check_fields(self)
        _require(self.delimiter is None or len(self.delimiter) == 1,
                 f"data.csv.delimiter={self.delimiter!r} is not allowed: use one character, e.g. ',' or '\\t'")


@dataclass
class DataConfig:
    SECTION: ClassVar[str] = "data."
    name: str = setting("ag_news", "the dataset (bench.data.DATASETS)", one_of(DATASETS))
    root: Optional[str] = setting(None, "folder holding the dataset's files; null: $RNNBENCH_<NAME>, the cache, "
                                        "else a download", free("a folder", null=True))
    url: Optional[str] = setting(None, "where to download from; null: the built-in mirror",
                                 free("an http(s) URL", null=True))
    download: bool = setting(True, "download when the files are nowhere else", FLAG)
    max_train: Optional[int] = setting(None, "cap on training rows (stratified); null: all", whole(1, null=True))
    val_fraction: float = setting(0.1, "share of training rows held out for validation (tuning reads it)",
                                  fraction())
    split_seed: int = setting(0, "seed of the shuffle and the stratified splits", whole(0))
    min_freq: int = setting(1, "a word enters the vocabulary when seen this often in training", whole(1))
    max_vocab: Optional[int] = setting(None, "keep only the most frequent words; null: all", whole(1, null=True))
    max_len: Optional[int] = setting(None, "truncate every text to this many tokens; null: read all",
                                     whole(1, null=True))
    truncate: str = setting("head", "which tokens max_len keeps (both: half of each end)",
                            one_of(("head", "tail", "both")))
    shared_pad_unk: bool = setting(False, "the lesson's quirk: <pad> and <unk> are both index 0", FLAG)
    cache: bool = setting(True, "cache the numericalized tensors on disk", FLAG)
    csv: CsvConfig = setting(None, "the generic CSV loader's settings", factory=CsvConfig)
    synthetic: SyntheticConfig = setting(None, "the synthetic dataset's settings", factory=SyntheticConfig)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class Params:
    """One trainable run's settings, the `train:` section: the model's sizes, the optimizer's and the trainer's
    settings. Tuning's search space (`nuisance:`) names these fields, the model and the trainer read them,
    each record stores them (`hyperparameters`) and the page shows them: this is the only copy."""
    SECTION: ClassVar[str] = "train."
    embed_dim: int = setting(64, "word embedding size", whole(1))
    hidden_size: int = setting(32, "recurrent state size (per direction)", whole(1))
    dropout: float = setting(0.0, "dropout on the embeddings and the read-out", fraction())
    epochs: int = setting(1, "epoch cap of a measured run", whole(1))
    lr: float = setting(1.0e-3, "Adam's learning rate", number(0))
    batch_size: int = setting(16, "training rows per step", whole(1))
    weight_decay: float = setting(0.0, "Adam's (L2) weight decay", number(0, open_=False))
    clip: Optional[float] = setting(None, "max gradient norm; null: no clipping", number(0, null=True))
    patience: Optional[int] = setting(None, "early stopping: epochs without a better validation accuracy before "
                                            "stopping (the best epoch kept); null: run every epoch",
                                      whole(1, null=True))
    sparse_embedding: bool = setting(False, "torch.optim.SparseAdam on the embedding: faster, other maths", FLAG)
    precision: str = setting("fp32", "CUDA autocast precision (fp16 with a GradScaler)",
                             one_of(("fp32", "bf16", "fp16")))
    cudnn_benchmark: bool = setting(False, "cuDNN picks its fastest algorithm per shape (CUDA only)", FLAG)
    compile: bool = setting(False, "torch.compile the model (TORCH_LOGS=graph_breaks shows its breaks)", FLAG)
    curve_every: int = setting(3200, "training samples between running-accuracy points (the lesson's print)",
                               whole(1))
    eval_batch_size: int = setting(256, "rows per step when scoring validation and test", whole(1))

    def __post_init__(self) -> None:
        check_fields(self)


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
    SECTION: ClassVar[str] = "speed."
    batch_sizes: List[int] = setting(None, "batch sizes swept at seq_len", free("a list of whole numbers >= 1"),
                                     factory=lambda: [16, 64, 256])
    seq_lens: List[int] = setting(None, "sequence lengths swept at batch_size", free("a list of whole numbers >= 1"),
                                  factory=lambda: [32, 128, 512])
    batch_size: int = setting(64, "the batch size of the length sweep", whole(1))
    seq_len: int = setting(128, "the sequence length of the batch-size sweep", whole(1))
    vocab: int = setting(10000, "vocabulary of the random token batches", whole(2))
    warmup: int = setting(3, "untimed steps before timing", whole(0))
    repeats: int = setting(10, "timed steps per point; every one is kept", whole(1))

    def __post_init__(self) -> None:
        check_fields(self)
        _require(all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                     for n in [*self.batch_sizes, *self.seq_lens]),
                 f"speed.batch_sizes={self.batch_sizes} / speed.seq_lens={self.seq_lens} are not allowed: use lists "
                 "of whole numbers >= 1")


@dataclass
class MeasureConfig:
    SECTION: ClassVar[str] = "measure."
    seeds: Any = setting(1, "the measured seeds: a count (seeds 0..n-1) or a list",
                         free("a count >= 1, or a list of distinct seeds >= 0"))
    timing_steps: int = setting(30, "training steps timed per run at the study's own (untuned) sizes, so variants "
                                    "compare like with like; 0: none", whole(0))
    max_seeds: Optional[int] = setting(None, "while a pair of the question is undecided, add seeds to both sides (the "
                                             "first wave doubled, one wave at a time) up to this many; null: the "
                                             "first wave only", whole(1, null=True))
    alpha: float = setting(0.05, "significance level of a verdict (split over the seed schedule's looks)",
                           Rule("number", low=0.0, high=0.5, low_open=True))
    margin: float = setting(0.01, "practical margin in accuracy: 'equivalent' = the difference shown within ±margin",
                            Rule("number", low=0.0, high=1.0, low_open=True))

    def __post_init__(self) -> None:
        check_fields(self)
        seeds = self.seeds
        ok = (isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1) or (
            isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)
            and len(set(seeds)) == len(seeds))
        _require(ok, f"measure.seeds={seeds!r} is not allowed: give a count >= 1 (measure.seeds=3) "
                     "or a list of distinct seeds >= 0 (measure.seeds=[0,1,2])")
        first = seeds if isinstance(seeds, int) else len(seeds)
        _require(self.max_seeds is None or self.max_seeds >= first,
                 f"measure.max_seeds={self.max_seeds} is below the first wave's {first} seed(s): give "
                 f"measure.max_seeds={first} or more, or null")


@dataclass
class TuneConfig:
    SECTION: ClassVar[str] = "tune."
    trials: int = setting(0, "Optuna trials per variant; 0: no tuning, the train: values as written", whole(0))
    timeout: Optional[float] = setting(None, "seconds of tuning per variant; null: no limit", number(0, null=True))
    epochs: int = setting(1, "epoch cap of every trial (the pruner's max resource)", whole(1))
    sampler: str = setting("tpe", "Optuna's sampler, seeded by tune.seed", one_of(SAMPLERS))
    pruner: str = setting("median", "stops hopeless trials after an epoch", one_of(PRUNERS))
    objective: str = setting("accuracy", "validation accuracy, or pareto: accuracy vs time per epoch (NSGA-II)",
                             one_of(OBJECTIVES))
    seed: int = setting(0, "the sampler's seed, and the training seed of every trial", whole(0))

    def __post_init__(self) -> None:
        check_fields(self)


# `budget=NAME` sets these in one word (after the YAML, before the command line's other keys).
BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"tune": {"trials": 3, "epochs": 1}, "train": {"epochs": 2}, "data": {"max_train": 1000},
              "measure": {"seeds": 3, "max_seeds": None}},  # smoke checks the pipeline: no sequential seeds
    # quick: every trial and seed stops early (train.patience in _base.yaml) once validation accuracy stalls;
    # sized so that study=packing (9 variants) fits ~25 minutes on 2 CPU cores with the shared AG News rows
    "quick": {"tune": {"trials": 4, "epochs": 3}, "train": {"epochs": 8}, "data": {"max_train": None},
              "measure": {"seeds": 3, "max_seeds": 8}},
    "full": {"tune": {"trials": 40, "epochs": 10}, "train": {"epochs": 30}, "data": {"max_train": None},
             "measure": {"seeds": 5, "max_seeds": 20}},
}
DEVICE = Rule(text="auto, cpu, cuda or cuda:N")


@dataclass
class Study:
    SECTION: ClassVar[str] = ""
    name: str = setting("", "the study's name; its folder is reports/NAME", free("letters, digits, _ - ."))
    description: str = setting("", "the one-line question the study answers", free("text"))
    scientific: Dict[str, Any] = setting(None, "compared axes: the variants are their product",
                                         free("{axis: [values]}"), factory=dict)
    fixed: Dict[str, Any] = setting(None, "axes held for every variant", free("{axis: value}"), factory=dict)
    exclude: List[Any] = setting(None, "variants dropped from the product", free("[{axis: value(s)}, ...]"),
                                 factory=list)
    variants: List[str] = setting(None, "explicit variant names, instead of a product",
                                  free("[lstm-packed-l1, ...]"), factory=list)
    reference: Dict[str, Any] = setting(None, "published figures to print beside ours",
                                        free("{variant: {metric: value}}"), factory=dict)
    nuisance: Dict[str, Any] = setting(None, f"the search space, tuned per variant with the same budget; PARAM: "
                                             f"{', '.join(TUNABLE)}", free("{PARAM: {low, high, log} or [values]}"),
                                       factory=dict)
    question: List[str] = setting(None, "the axes the study asks about: Holm's family and the answer's sentences; "
                                        "pairs along other axes are context (empty: every axis it varies)",
                                  free(f"a list of axes ({', '.join(AXES)})"), factory=list)
    budget: Optional[str] = setting(None, "trials, epoch caps, data cap and seeds in one word; null: the file's "
                                          "values as written", one_of(tuple(BUDGETS), null=True))
    sweep: Optional[Dict[str, Any]] = setting(None, "repeat the study for each value of a non-variant key",
                                              free("{dotted.key: [values]}", null=True))
    data: DataConfig = setting(None, "", factory=DataConfig)
    train: Params = setting(None, "", factory=Params)
    measure: MeasureConfig = setting(None, "", factory=MeasureConfig)
    tune: TuneConfig = setting(None, "", factory=TuneConfig)
    device: str = setting("auto", "where to train: auto = CUDA when torch sees a GPU", DEVICE)
    out: Optional[str] = setting(None, "the study's folder; null: reports/<name>", free("a folder", null=True))
    storage: Optional[str] = setting(None, "a database shared by workers on several machines; null: out/optuna.db",
                                     free("postgresql://... (any SQLAlchemy URL)", null=True))
    resume: bool = setting(True, "false: start over in a fresh folder (never overwrite)", FLAG)
    workers: int = setting(1, "worker processes on this machine (one GPU each when there are GPUs)",
                           free("1 to this machine's CPU cores"))
    lease: float = setting(120.0, "seconds without a heartbeat before a worker's run is taken over", number(1, False))
    profile: bool = setting(False, "write a torch.profiler trace of 8 steps of the first variant", FLAG)
    mode: str = setting("study", "study: tune, train, measure accuracy; speed: step times only",
                        one_of(("study", "speed")))
    speed: SpeedConfig = setting(None, "", factory=SpeedConfig)

    def expand(self) -> list[Variant]:
        """The variants this study compares (the `variants:` list, else the product)."""
        if self.variants:
            return [parse(name) for name in self.variants]
        return expand(self.scientific, self.fixed, self.exclude)

    @property
    def seeds(self) -> list[int]:
        """The first wave's seeds."""
        seeds = self.measure.seeds
        return list(range(seeds)) if isinstance(seeds, int) else list(seeds)

    def seeds_for(self, count: int) -> list[int]:
        """The first `count` seeds of the schedule: the first wave, then the next unused whole numbers."""
        seeds = self.seeds
        extra = (s for s in itertools.count() if s not in seeds)
        return (seeds + [next(extra) for _ in range(max(0, count - len(seeds)))])[:max(count, len(seeds))]

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("reports") / self.name


@dataclass
class ReportArgs:
    """`python -m bench.report`'s keys (nothing: every study folder under reports/)."""
    SECTION: ClassVar[str] = ""
    study: Optional[str] = setting(None, "re-render reports/NAME", free("a study's name", null=True))
    out: Optional[str] = setting(None, "re-render this study folder (or the one storage= exports to)",
                                 free("a folder", null=True))
    storage: Optional[str] = setting(None, "export study= from this database into out= first, then render",
                                     free("postgresql://... or sqlite:///FILE", null=True))


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
    check_fields(study)
    cores = os.cpu_count() or 1
    _require(isinstance(study.workers, int) and 1 <= study.workers <= max(cores, 1),
             f"workers={study.workers} is not allowed: use 1 to {cores} (this machine's CPU cores)")
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
    for axis in study.question:
        _require(axis in AXES, f"question: unknown axis {axis!r}: "
                               f"{_suggest(str(axis), AXES, 'use some of ' + ', '.join(AXES))}")
    variants = study.expand()
    _require(bool(variants), f"study '{study.name}' has no variants left after its exclude rules")
    from bench import embeddings  # numpy only: no torch before the command line is checked
    glove = [v.name for v in variants if v.embed_init in embeddings.INITS]
    if glove and importlib.util.find_spec(embeddings.PACKAGE) is None:
        raise ConfigError(f"{glove[0]} reads GloVe vectors, and the package that holds them is not installed: "
                          f"{embeddings.INSTALL}")
