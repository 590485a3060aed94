"""What crosses from a run to the report, typed: a measured run's `Record` and the study's document, `StudyDoc`.

A `Record` is one line of records.jsonl (bench.store writes and reads the file; bench.runs keeps the same record as
a trial's user attribute). It is frozen and checked when it is made and whenever it is read back: accuracies are
finite and in [0, 1] (a NaN validation accuracy only where there is no validation split), a seed is a whole number
from 0 to 2**32 - 1. Its timing pass, floors, machine load and environment are nested models; on disk the
environment's fields stay flat, as every rnnbench wrote them.

The defaults below are the one compatibility layer: a record from an older rnnbench lacks the fields added since
(a best epoch, the floors, the settings' source...), and reads as if it had said "none". Nothing downstream
guesses with `.get`: `row()` holds every field.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field, create_model, field_validator, model_validator

from bench.errors import printable
from bench.variants import Variant

# What a run's peak memory (peak_mem_mb) measured, its memory_kind (bench.measure measures them)
FRESH_KIND = "cpu_fresh_process_peak_rise"  # CPU: what a fresh process adds to train on the run's largest batches
SINCE_START = "cpu_process_peak_rss_since_start"  # CPU, where the above cannot be read: this process's peak


def comparable_memory(kind: Any) -> bool:
    """Whether figures of this kind are each a run's own, so a star or a ratio may compare them: the CUDA allocator's
    peak (reset per run) or a fresh process's rise. A process's peak since start, like the in-process VmHWM that
    records before issue 34 hold (`cpu_process_peak_rss`), follows the order the runs ran in: shown, never compared."""
    return kind in ("cuda_allocator_peak", FRESH_KIND)

SEED_MAX = 2**32 - 1
ACCURACIES = ("test_acc", "val_acc", "train_acc", "majority_acc")


class _Model(BaseModel):
    # frozen: a record is a measurement, never edited; extra="allow": a newer rnnbench's facts survive a re-export
    model_config = ConfigDict(frozen=True, extra="allow")


@dataclass
class Epoch:
    """One epoch of a run, as training measured it (bench.train) and the record keeps it (`history`)."""
    epoch: int
    train_loss: float          # mean cross-entropy per sample
    running_acc: float         # correct / seen during the epoch, the model still learning (the lesson's figure)
    val_acc: float             # nan when there is no validation split
    test_acc: float            # nan when not evaluated (tuning never reads test)
    time_s: float              # wall time of the training pass, synchronized
    samples: int
    real_tokens: int
    padded_tokens: int
    widths: int = 0            # the sum of the batches' longest texts: dependent steps per layer and direction
    steps: int = 0             # optimizer steps (one per batch); 0: a record from before they were counted
    val_macro_f1: float = math.nan  # the mean over classes of F1 on validation (nan: none, or an older record)

    def score(self, metric: str) -> float:
        """The validation score early stopping and tuning read (measure.metric)."""
        return self.val_macro_f1 if metric == "macro_f1" else self.val_acc


class Load(_Model):
    """What else ran on the machine while a block was timed (bench.measure.Load)."""
    others_cpu: float | None = None  # share of the machine's CPUs other processes used
    load_1min: float | None = None
    cpus: int | None = None


class Timing(_Model):
    """The timing pass at the study's shared sizes (bench.train.time_steps)."""
    step_ms: list[float]
    peak_mem_mb: float
    memory_kind: str
    sizes: dict[str, int]
    pad_fraction: float | None = None
    load: Load | None = None


class Floors(_Model):
    """The two floors under the median epoch (bench.floors)."""
    arith_s: float
    latency_s: float
    dependent_steps: int
    cell_step_ms: list[float]
    peak_tflops: float
    peak_source: str


class Environment(_Model):
    """The machine and software a run measured on (bench.measure.environment)."""
    device: str = "cpu"
    device_name: str = ""
    torch_version: str = ""
    cuda_version: str = ""
    cudnn_version: str = ""
    driver_version: str = ""
    python: str = ""
    host: str = ""
    cpu_threads: int | None = None
    git_sha: str = "unknown"


ENVIRONMENT = tuple(Environment.model_fields)

# The variant's axes, one field each, defaulting as bench.variants.Variant does (a record from before an axis)
_Axes = create_model("_Axes", __base__=_Model, **{f.name: (type(f.default), f.default) for f in fields(Variant)})


def _seed(value: Any) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= SEED_MAX):
        raise ValueError(f"seed {printable(repr(value))[:40]} is not a whole number from 0 to 2**32 - 1")
    return value


def _accuracy(key: str, value: Any, val_rows: Any) -> None:
    if value is None or (key == "val_acc" and val_rows == 0 and isinstance(value, float) and math.isnan(value)):
        return  # not scored, or no validation split (data.val_fraction=0): its accuracy is NaN by design
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= 1):
        raise ValueError(f"{key} {printable(repr(value))[:40]} is not an accuracy (a finite number from 0 to 1)")


class Record(_Axes):
    """One measured run: a variant trained on one seed (bench.store.make_record)."""
    study: str | None = None
    variant: str
    seed: int
    params: int                                  # trainable parameters
    train_acc: float                             # the kept epoch's running accuracy
    val_acc: float
    test_acc: float | None                       # None: the study did not score the test split
    test_macro_f1: float | None = None           # macro-F1 of the same predictions (None: not scored, older record)
    test_confusion: list[list[int]] | None = None  # [true][predicted] counts on test, in label_names' order
    label_names: list[str] = []
    val_macro_f1: float | None = None            # the kept epoch's
    metric: str = "accuracy"                     # what ranked, decided and tuned it (measure.metric)
    train_loss: float
    epochs: int                                  # epochs run
    best_epoch: int | None = None                # the epoch kept (None: a record from before early stopping)
    epoch_cap: int | None = None                 # the most it could run (train.epochs, or the whole epochs within
    #                                              train.samples); None: an older record, whose cap is train.epochs
    majority_acc: float | None = None
    epoch_time_s: float                          # median over the epochs run
    epoch_times_s: list[float] = []
    samples_per_s: float
    tokens_per_s: float
    padded_tokens_per_s: float
    pad_fraction: float
    peak_mem_mb: float
    memory_kind: str
    eval_latency_ms: float | None = None
    optimizer: str = ""
    timing: Timing | None = None
    load: Load | None = None
    floors: Floors | None = None                 # None: a variant without a recurrence, or an older record
    dataset: str
    dataset_rows: int
    test_rows: int
    train_rows: int
    val_rows: int
    partial_data: bool
    hyperparameters: dict[str, Any]
    history: list[Epoch] = []
    curve: list[tuple[int, int, float]] = []
    env: Environment = Environment()
    fingerprint: str | None = None               # the settings' fingerprint (bench.pipeline)
    budget: str | None = None
    tuned: bool = False
    tune_best_val: float | None = None
    edge_params: list[str] = []
    settings_from: str | None = None             # the Optuna study whose trials chose the settings, or 'train'
    shared_with: list[str] = []
    finished_at: str | None = None
    worker: str | None = None                    # who ran it (bench.runs)

    @computed_field
    @property
    def steps_to_kept(self) -> int | None:
        """Optimizer steps up to the end of the epoch kept: what reaching this accuracy took (None: not counted)."""
        kept = self.history[:self.best_epoch or self.epochs]
        return sum(e.steps for e in kept) if kept and all(e.steps for e in kept) else None

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        """The stored (flat) form in: the environment's fields nested, the accuracies and seed checked as stored
        (before any coercion), the empty floors of a run without a recurrence read as none."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _seed(data.get("seed"))
        for key in ACCURACIES:
            _accuracy(key, data.get(key), data.get("val_rows"))
        if "env" not in data:
            data["env"] = {k: data.pop(k) for k in ENVIRONMENT if k in data}
        if data.get("floors") == {}:
            data["floors"] = None
        data.setdefault("shared_with", [data.get("variant")])
        return data

    def row(self) -> dict[str, Any]:
        """The stored form: one flat dict, every field present (defaults filled), keys sorted as records.jsonl
        stores them (results.csv keeps that order)."""
        flat = self.model_dump(exclude={"env"})
        flat.update(self.env.model_dump())
        flat["floors"] = flat["floors"] or {}
        return dict(sorted(flat.items()))


def refusal(error: Exception) -> str:
    """A record's validation error as the one line `bench.store.load` prints (its first problem)."""
    errors = getattr(error, "errors", lambda: [])()
    if not errors:
        return str(error)
    first = errors[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    where = ".".join(str(p) for p in first["loc"]) or "the record"
    return f"{where}: {first['msg'].lower()}"


# --- the study's document (study.json) ----------------------------------------------------------------------------

NOTE_KINDS = ("rows", "partial", "labels", "cut", "capped", "overlap")
_PREFIXES = (("PARTIAL", "partial"), ("LABELS SEEN ONCE", "labels"), ("texts cut", "cut"),
             ("training rows capped", "capped"), ("TEST OVERLAPS", "overlap"))


class Note(_Model):
    """One thing the data stage found (`kind`, one of NOTE_KINDS) and its words, said on the console and the page."""
    kind: str
    text: str

    @model_validator(mode="before")
    @classmethod
    def _words(cls, data: Any) -> Any:
        """A note of an older rnnbench (or cache) was words alone: its kind is read from how it began."""
        if isinstance(data, str):
            return {"kind": next((k for p, k in _PREFIXES if data.startswith(p)), "rows"), "text": data}
        return data

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in NOTE_KINDS:
            raise ValueError(f"unknown note kind {kind!r}: one of {', '.join(NOTE_KINDS)}")
        return kind


class DataInfo(_Model):
    """What the data stage read and kept (bench.data.prepare)."""
    dataset: str = ""
    rows_read: dict[str, int] = {}
    rows: dict[str, int] = {}
    partial: bool = False
    notes: list[Note] = []
    test_in_train: float | None = None
    majority_acc: float | None = None
    glove: dict[str, Any] | None = None

    def kinds(self, *kinds: str) -> list[str]:
        """The words of the notes of these kinds."""
        return [n.text for n in self.notes if n.kind in kinds]


class Planned(_Model):
    variants: list[str]
    seeds: list[int]


class StudyDoc(_Model):
    """study.json: the study's settings as it ran (bench.config.Study's fields, kept as they were dumped), the
    command, the settings' fingerprint, what the data stage found, the planned runs, the references."""
    name: str = "?"
    description: str = ""
    command: str | None = None
    fingerprint: str | None = None
    budget: str | None = None
    data_info: DataInfo = DataInfo()
    planned: Planned | None = None
    classical: dict[str, Any] | None = None      # the TF-IDF + LR reference (bench.classical)
    reference: dict[str, dict[str, Any]] | None = None  # a published figure per variant (the lesson's)
    data_named: str | None = None                # the dataset the command line chose (data.name=...), if it did
    study_file: dict[str, str] | None = None     # {path, text} of a study file named by path (study=PATH.yaml)
    tune: dict[str, Any] = {}
    train: dict[str, Any] = {}
    measure: dict[str, Any] = {}
    data: dict[str, Any] = {}
    question: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _older(cls, data: Any) -> Any:
        """A document of an older rnnbench named the chosen dataset only in its command."""
        if isinstance(data, dict) and "data_named" not in data and isinstance(data.get("command"), str):
            named = [w.split("=", 1)[1] for w in shlex.split(data["command"]) if w.startswith("data.name=")]
            data = {**data, "data_named": named[-1] if named else None}
        return data

    @property
    def seed_schedule(self) -> list[int]:
        """The seeds the study may run: its first wave, then the sequential waves' (bench.config.schedule_seeds)."""
        from bench.config import schedule_seeds
        return schedule_seeds(self.planned.seeds if self.planned else [], self.measure.get("max_seeds"))

    @property
    def total(self) -> int | None:
        """The planned runs of the first wave (None: no plan stored)."""
        return len(self.planned.variants) * len(self.planned.seeds) if self.planned else None
