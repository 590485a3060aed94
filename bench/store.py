"""The study folder's files: `records.jsonl` (one JSON line per finished run), study.json, tuning.json.

A record carries everything a report needs (accuracies, timings, memory, the hyperparameters,
the running-accuracy curve, the environment, the data's row counts), so reports are rebuilt
from records alone. The files are the export of Optuna's storage (bench.runs), written whole and
fsynced through a temporary file and a rename: a kill leaves the old file or the new one, never half;
`load` still skips a torn last line (a file copied mid-write, or made by hand).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from pydantic import ValidationError

from bench.errors import StorageError, printable
from bench.record import Record, refusal

RECORDS = "records.jsonl"
SPEED_RECORDS = "speed.jsonl"  # the speed study's rows
SWEEP = "sweep.json"  # a sweep's folder: its points (bench.pipeline.sweep writes it, bench.report.sweep reads it)
STUDY = "study.json"
TUNING = "tuning.json"  # per variant: best params, edges, importances, Pareto front, every trial
OURS = ("optuna.db", RECORDS, SPEED_RECORDS, STUDY, SWEEP, ".run.lock")  # a folder holding one is a study's
TABLES = ("results.csv", "summary.csv", "effects.csv", "budget.csv", "leaderboard.md", "epochs.csv", "curves.csv")
# what a study writes beside them (and would overwrite)
WRITTEN = ("index.html", *TABLES, TUNING, "speed.csv", "crossover.csv", "figures", "mlflow.db")


def cannot_write(path: Path, e: OSError) -> StorageError:
    fix = "free some space or choose another out=FOLDER" if e.errno in (errno.ENOSPC, errno.EDQUOT) else \
        "choose another out=FOLDER, or make this one writable"
    return StorageError(f"cannot write {path}: {e.strerror or e}; {fix} (finished runs are kept: the same command "
                        "resumes)")


def check_writable(out: Path) -> None:
    """Fail early, before any work, when the study folder cannot be written; makes nothing (a probe file in
    the folder, or in its nearest existing parent, is written and removed)."""
    if out.is_symlink() and not out.exists():
        raise StorageError(f"out={out} is a symbolic link to {os.readlink(out)}, which does not exist: make that "
                           "folder, or choose another out=FOLDER")
    if out.exists() and not out.is_dir():
        raise StorageError(f"out={out} is a file, not a folder: choose another out=FOLDER")
    ours = [n for n in OURS if (out / n).exists()]
    theirs = sorted(n for n in WRITTEN if (out / n).exists())
    if theirs and not ours:
        raise StorageError(f"out={out} holds files rnnbench did not write ({', '.join(theirs)}) and would overwrite: "
                           "choose a new or empty folder, e.g. out=reports/NAME")
    where = out
    while not where.exists():
        where = where.parent
    if not where.is_dir():
        raise StorageError(f"out={out}: {where} is a file, not a folder: choose another out=FOLDER")
    probe = where / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise cannot_write(out, e) from None


def requested(records: list[dict], variants, seeds=None) -> tuple[list[dict], list[dict]]:
    """(the runs of `variants` and, when given, `seeds`; the rest): what a command asked for, and the runs an
    earlier command left in the same storage (kept, neither counted nor shown)."""
    def asked(r: dict) -> bool:
        return r["variant"] in variants and (seeds is None or r["seed"] in seeds)
    return [r for r in records if asked(r)], [r for r in records if not asked(r)]


def write_records(out: Path, records: list[dict], name: str = RECORDS) -> None:
    """The whole file, one record per line, written atomically (the old file survives a failure)."""
    write_atomic(out / name, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise StorageError(f"{path} is damaged (not UTF-8 text at byte {e.start}): re-export the folder "
                           "(python -m bench.run with the same command, or bench.report storage=URL)") from None


REEXPORT = "re-export the folder (python -m bench.run with the same command, or bench.report storage=URL)"


def identity(record: dict) -> tuple:
    """What one measured run is: its variant and seed (a speed row: its sweep point), and its settings fingerprint."""
    point = (record.get("seed"),) if "seed" in record else tuple(record.get(k) for k in ("sweep", "batch_size",
                                                                                          "seq_len"))
    return (record.get("variant"), *point, record.get("fingerprint"))


def _checked(record: Any, name: str) -> tuple[dict | None, str | None]:
    """(the record as stored, every field present; None) when `record` is one this rnnbench writes (a measured run
    through bench.record.Record, a speed row as it is), else (None, why not)."""
    if not (isinstance(record, dict) and isinstance(record.get("variant"), str)):
        return None, "not a record this rnnbench writes (a JSON object with a variant)"
    if name != RECORDS:
        return record, None
    try:
        return Record.model_validate(record).row(), None
    except ValidationError as e:
        return None, refusal(e)


def load(out: Path, name: str = RECORDS, mixed: bool = False) -> list[dict]:
    """All records, each checked before it is believed: a torn last line (a file cut short) is skipped; a line that
    is not a record (accuracies finite and in [0, 1], a whole seed), repeats a run, belongs to another study (the
    folder's study.json names it) or was made with other settings than the rest is a one-line error naming its line.
    With `mixed`, lines of other studies and settings are returned too (a restore sets them aside, said)."""
    path = out / name
    if not path.is_file():
        return []
    lines = _text(path).splitlines()
    doc = load_study(out) if (out / STUDY).is_file() else {}
    study, settings = doc.get("name"), doc.get("fingerprint")
    records, seen = [], {}
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue
            record = None
        record, why = _checked(record, name)
        if why is None and not mixed and study and record.get("study") not in (None, study):
            why = f"a record of study {printable(repr(record.get('study')))[:60]}, and this folder holds {study!r}"
        if why is None and not mixed:
            settings = settings or record.get("fingerprint")
            if record.get("fingerprint") not in (None, settings):
                why = (f"made with other settings (fingerprint {printable(record.get('fingerprint'))[:20]}, the "
                       f"folder's {settings})")
        run = (identity(record) if mixed else identity(record)[:-1]) if why is None else None
        if run in seen:
            why = f"repeats the run of line {seen[run]} ({record['variant']}" + (
                f" seed {record['seed']})" if "seed" in record else ")")
        if why is not None:
            raise StorageError(f"{path}:{number}: {why}: the file was edited or damaged; {REEXPORT}")
        seen[run] = number
        records.append(record)
    return records


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[BinaryIO]:
    """The one way a whole file is written (records, pages, figures, the caches): into a temporary file of this
    process's own beside it, flushed and fsynced, then renamed over `path`. A failure (an OSError, or whatever the
    writer raises) removes the temporary file and leaves the old file as it was; the caller words the error."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # on disk before it replaces the old file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # on a read-only file system even the clean-up fails
            tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """A whole text file or nothing (`atomic`); a failure is one line (`cannot_write`)."""
    try:
        with atomic(path) as f:
            f.write(text.encode("utf-8"))
    except OSError as e:
        raise cannot_write(path, e) from None


_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"^([^:]+://[^:/@]*:)[^@]*@")  # SQLAlchemy's grammar: the password runs to the first '@'
_SECRET_QUERY = re.compile(r"([?&][^=&#]*(?:pass|pwd|secret|token|key)[^=&#]*=)[^&#]*", re.I)


def mask_url(url: str) -> str:
    """A URL with its password hidden, the rest as written: the password after `user:`, whatever it holds (a '/'),
    and any password-like query parameter (libpq's `?password=`). Checked by parsing the result as SQLAlchemy does
    (`make_url`): when a password would still be read from it, everything before the host is hidden."""
    from sqlalchemy.engine import make_url
    hidden = _SECRET_QUERY.sub(r"\1***", _USERINFO.sub(r"\1***@", url))
    try:
        parsed = make_url(hidden)
    except Exception:  # noqa: BLE001 - not a database URL (an http:// mirror): the rules above are all
        return hidden
    leaks = parsed.password not in (None, "***") or any(
        _SECRET_QUERY.search(f"?{k}=") and v != "***" for k, v in parsed.query.items())
    return hidden if not leaks else f"{parsed.drivername}://***@{parsed.host or ''}/{parsed.database or ''}"


def mask_secrets(text: str) -> str:
    """Every URL in `text` through `mask_url`: nothing stored or shown carries a password."""
    def one(match: re.Match) -> str:  # a line's own punctuation after the URL ("at URL: why") stays outside it
        url = match.group(0)
        bare = url.rstrip(".,;:)")
        return mask_url(bare) + url[len(bare):]
    return _URL.sub(one, text) if "://" in text else text


def sqlite_url(path: Path) -> str:
    """The SQLite URL of a file, escaped (SQLAlchemy's URL.create): a '%61' or a '?' in a folder's name stays part of
    the path, and never opens another file or sets an option."""
    from sqlalchemy.engine import URL
    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def masked(value):
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def save_study(out: Path, study: dict) -> None:
    write_atomic(out / STUDY, json.dumps(masked(study), indent=2, sort_keys=True, default=str))


def _load_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        doc = json.loads(_text(path))
    except json.JSONDecodeError as e:
        doc = e
    if not isinstance(doc, dict):
        raise StorageError(f"{path} is damaged (not a JSON object): re-export the folder (python -m bench.run with "
                           "the same command)")
    return doc


def load_study(out: Path) -> dict:
    return _load_json(out / STUDY)


def save_tuning(out: Path, tuning: dict) -> None:
    write_atomic(out / TUNING, json.dumps(tuning, indent=2, sort_keys=True, default=str))


def load_tuning(out: Path) -> dict:
    return _load_json(out / TUNING)


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def make_record(*, study: str, variant, seed: int, params, fit, data_info: dict, env: dict,
                fingerprint: str, budget: str | None = None, tuned=None, timing: dict | None = None,
                load: dict | None = None, floors: dict | None = None, settings_from: str | None = None,
                shared_with: list[str] | None = None, metric: str = "accuracy") -> Record:
    """A flat record of one measured run (see the module docstring); `tuned` is the variant's
    bench.tune.Tuned when its hyperparameters were tuned, `timing` bench.train.time_steps' pass at the
    study's shared sizes, `load` what else ran on the machine while it trained (bench.measure.Load), `floors`
    the two floors under its median epoch (bench.floors), `settings_from` where its settings came from (the Optuna
    study of the group that tuned them, or 'train': the study's own, untuned; sides with the same source are
    paired by design, bench.report.effects) and `shared_with` the variants of that group. Accuracies are the kept
    epoch's (early stopping keeps the best on validation); times cover every epoch that ran."""
    times = [e.time_s for e in fit.epochs]
    median_time = statistics.median(times)
    real = statistics.median(e.real_tokens for e in fit.epochs)
    padded = statistics.median(e.padded_tokens for e in fit.epochs)
    kept = fit.kept
    return Record.model_validate({
        "study": study, "variant": variant.name, **variant.axes(), "seed": seed, "params": fit.params,
        "train_acc": kept.running_acc, "val_acc": kept.val_acc, "test_acc": fit.test_acc,
        "test_macro_f1": _number(fit.test_macro_f1), "test_confusion": fit.test_confusion,
        "label_names": list(data_info.get("label_names") or []), "val_macro_f1": _number(kept.val_macro_f1),
        "train_loss": kept.train_loss, "epochs": len(fit.epochs), "best_epoch": fit.best_epoch,
        "epoch_cap": fit.epoch_cap or None,
        "majority_acc": data_info.get("majority_acc"), "timing": timing, "load": load, "floors": floors or {},
        "epoch_time_s": median_time,
        "epoch_times_s": times, "samples_per_s": kept.samples / median_time,
        "tokens_per_s": real / median_time, "padded_tokens_per_s": padded / median_time,
        "pad_fraction": 1 - real / padded, "peak_mem_mb": fit.peak_mem_mb, "memory_kind": fit.memory_kind,
        "eval_latency_ms": 1000 * statistics.median(fit.eval_latency_s) if fit.eval_latency_s else None,
        "optimizer": fit.optimizer,
        "dataset": data_info["dataset"], "dataset_rows": data_info["rows_read"]["train"],
        "test_rows": data_info["rows_read"]["test"], "train_rows": data_info["rows"]["train"],
        "val_rows": data_info["rows"]["val"], "partial_data": bool(data_info["partial"]),
        "hyperparameters": params.model_dump(), "history": [asdict(e) for e in fit.epochs],
        "curve": [list(point) for point in fit.curve], **env, "fingerprint": fingerprint, "budget": budget,
        "tuned": tuned is not None, "tune_best_val": tuned.best_value if tuned else None,
        "edge_params": tuned.edges if tuned else [], "settings_from": settings_from,
        "shared_with": shared_with or [variant.name], "metric": metric,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


def fresh_folder(out: Path) -> Path:
    """`out`, or `out-2`, `out-3`, ... : the first that holds nothing yet."""
    candidate, n = out, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = out.with_name(f"{out.name}-{n}")
    return candidate
