"""Optuna's storage, the one thing that coordinates work: tuning trials, measured runs, the study's documents.

One storage per study: `<out>/optuna.db` (SQLite) by default, or `storage=URL` (PostgreSQL) shared by
workers on several machines. In it, for study S:

    S                     no trials; user attribute "study": the study's document (study.json)
    S/<variant>           the variant's tuning trials (bench.tune); user attribute "tuning": their summary
    S/<a>+<b>+...         the same for a group of variants tuned together (`share:`), each trial training every one
    S/<variant>/<kind>    one trial per measured run ("seeds": one per seed; "speed": one per sweep point)

A measured run is a *job*: a trial enqueued with the job in its user attributes. Claiming a run is
asking for a trial (Optuna hands each WAITING trial to exactly one worker); finishing it is telling it
COMPLETE with the run's record as a user attribute. A worker that dies is found by Optuna's own
heartbeat (RDBStorage's `heartbeat_interval`, lease / 3, and `grace_period`, the lease): the next worker
fails its stale trial (`fail_stale`: Optuna's `fail_stale_trials`, plus a trial whose worker died before its
first heartbeat, which Optuna never finds stale) and enqueues the job again. A worker that
comes back after its trial was failed cannot tell it (Optuna refuses to finish a finished trial): its late
result is dropped. A job failed for a reason (e.g. a diverging loss) is not retried by the worker that
saw it fail; the next command retries it.

Why SQLite and not Optuna's journal file for the local default: the journal has no heartbeat in
Optuna 5, so a killed worker's trial would stay RUNNING for ever under `workers=N`; SQLite through
RDBStorage has the heartbeat, needs no server and is one file. A run that holds its folder's lock also
fails every RUNNING trial at its start (`fail_running`): nobody else can be running them.

`records.jsonl` (and `speed.jsonl`, `study.json`, `tuning.json`) is the folder's export of the storage
(`export`), rewritten whole after every finished run: the report reads only the folder.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import socket
import sqlite3
import time
import warnings
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterable

import optuna
import pydantic
import sqlalchemy
from optuna.trial import TrialState

from bench import store
from bench.record import Record, refusal
from bench.errors import BenchError, StorageError

log = logging.getLogger(__name__)


def quiet() -> None:
    """Optuna's log lines off (failed trials are reported by us, with their reason) and its heartbeat's
    ExperimentalWarning (stable since 2.9); bench.api.run_study puts both back for its caller."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


quiet()
WORKER = f"{socket.gethostname()}:{os.getpid()}"
DB = "optuna.db"
FILES = {"seeds": store.RECORDS, "speed": store.SPEED_RECORDS}
POLL_S = 1.0


class Skip(Exception):
    """This trial will not run its job (nothing was waiting, or another trial holds the same job)."""


class RunFailed(Exception):
    """The job ran and failed for a reason worth recording (e.g. the loss diverged)."""


def sql_url(url: str) -> str:
    """`postgresql://` means psycopg (version 3, the `postgres` extra) unless a driver is named."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def open_storage(url: str | None, out: Path, lease: float) -> optuna.storages.RDBStorage:
    """RDBStorage with Optuna's heartbeat on `url`, or on `<out>/optuna.db`; workers starting together may race
    to make Optuna's tables, so that is retried; a wrong URL or an unreachable server is one line."""
    if not url:
        _readable(out / DB)
    url = sql_url(url) if url else store.sqlite_url(out / DB)
    local = url.startswith("sqlite")
    kwargs = {"connect_args": {"timeout": 60}} if local else {"pool_pre_ping": True}
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=max(1, round(lease / 3)),
                                              grace_period=max(2, round(lease)))
        except ImportError as e:
            raise BenchError(f"storage={store.mask_secrets(url)} needs a database driver ({e.name}): "
                             "pip install -e '.[postgres]'") from None
        except Exception as e:  # noqa: BLE001 - SQLAlchemy's errors, or Optuna's version check
            reason = store.mask_secrets(str(getattr(e, "orig", None) or e).strip().splitlines()[0])
            where = store.mask_secrets(url)
            if "no longer compatible" in str(e):
                raise BenchError(f"the database at {where} holds Optuna tables of another Optuna release: use a new "
                                 "database (or another out=FOLDER), or the Optuna release that made it") from None
            if "Could not parse" in str(e) or "Can't load plugin" in str(e):
                raise BenchError(f"storage={where} is not a database URL SQLAlchemy knows: give a postgresql:// or "
                                 "sqlite:/// URL, or drop storage= to keep everything in the study's folder") from None
            if attempt == 4 or "connection" in reason.lower():
                if local:
                    raise lost(e, None, out) from None
                raise BenchError(f"cannot use the database at {where}: {reason}; check the host, port, user and "
                                 "password, or drop storage= to keep everything in the study's folder") from None
            time.sleep(0.2 * (attempt + 1))  # another worker is making the tables right now
    raise AssertionError("unreachable")


LOST = (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)  # what `lost` explains


def lost(e: Exception, url: str | None, out: Path) -> StorageError:
    """A database error mid-run (the server went away, the disk filled up) as one line, no password."""
    e = e.__cause__ or e if isinstance(e, optuna.exceptions.StorageInternalError) else e
    reason = store.mask_secrets((str(getattr(e, "orig", None) or e).strip().splitlines() or [type(e).__name__])[0])
    if url:
        return StorageError(f"lost the database at {store.mask_secrets(sql_url(url))}: {reason}; finished runs are "
                            "kept there: the same command resumes once it is back")
    said, verb = reason.lower(), "cannot write"
    if not out.is_dir():
        fix = "the study folder was removed mid-run; the same command starts it again (records.jsonl went with it)"
    elif "readonly" in said or "read-only" in said or not os.access(out, os.W_OK):
        fix = "the folder or the file is read-only: make it writable, or choose another out=FOLDER"
    elif "malformed" in said or "not a database" in said or "corrupt" in said:
        verb, fix = "cannot read", (f"the file is damaged: move it aside; the runs in {store.RECORDS} are restored "
                                    "into a new one by the same command")
    elif "full" in said or "no space" in said or "disk i/o" in said:
        fix = "free some space or choose another out=FOLDER (finished runs are kept: the same command resumes)"
    else:
        verb, fix = "cannot use", "check the folder (finished runs are kept in records.jsonl: the same command resumes)"
    return StorageError(f"{verb} {out / DB}: {reason}; {fix}")


def _readable(path: Path) -> None:
    """Refuse, in one line naming it, a local optuna.db that SQLite cannot read: it is never replaced by a fresh
    one that would re-run finished work (an empty file is fine: the folder's records are restored into it)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.Error as e:
        raise StorageError(f"{path} cannot be read as a database ({e}): move it aside (the finished runs in "
                           f"{store.RECORDS} are restored into a new one by the same command), or choose another "
                           "out=FOLDER") from None


@functools.lru_cache(maxsize=4096)
def _load(storage, name: str) -> optuna.Study:
    """Optuna study `name`, made if new; one object per name, so its cache of finished trials is reused. A measured
    run's value is its test accuracy: "maximize", so optuna-dashboard's best seed is the best one."""
    return optuna.create_study(study_name=name, storage=storage, load_if_exists=True, direction="maximize")


def _attrs(storage, name: str, existing: list[str]) -> dict:
    """The user attributes of Optuna study `name`, without making it when it does not exist."""
    return _load(storage, name).user_attrs if name in existing else {}


def study_doc(storage, study: str) -> dict:
    """The study's document as the last command that ran it put it (empty when none did)."""
    return _attrs(storage, study, optuna.get_all_study_names(storage)).get("study", {})


def names(storage, study: str, kind: str | None = None) -> list[str]:
    """The Optuna studies of bench study `study`: its variants' tuning studies, or their `kind` job studies."""
    found = [n for n in optuna.get_all_study_names(storage) if n.startswith(study + "/")]
    if kind is None:
        return [n for n in found if n.count("/") == study.count("/") + 1]
    return [n for n in found if n.endswith("/" + kind)]


def other_studies(storage, study: str) -> list[str]:
    """The bench studies other than `study` that this storage holds (a study folder holds one)."""
    return sorted({n.split("/")[0] for n in optuna.get_all_study_names(storage)} - {study})


def fail_running(storage, study: str) -> None:
    """Fail every RUNNING trial of bench study `study`: for a caller holding the folder's lock (they are dead)."""
    for name in optuna.get_all_study_names(storage):
        if name.startswith(study + "/"):
            optuna_study = _load(storage, name)
            for trial in optuna_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                optuna_study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def put(storage, name: str, key: str, doc: dict) -> None:
    """A document as a user attribute of Optuna study `name` (the bench study's own, or a variant's)."""
    _load(storage, name).set_user_attr(key, json.loads(json.dumps(store.masked(doc), default=str)))


def _key(job: dict) -> str:
    return json.dumps(job, sort_keys=True)


def _job_of(trial: optuna.trial.FrozenTrial) -> str | None:
    """A trial's job. A job is a run's identity: its seed (or speed point) and its settings fingerprint; a trial of an
    older rnnbench names no settings, and is given its record's."""
    job = trial.user_attrs.get("job")
    if job is None or '"settings"' in job or not (trial.user_attrs.get("record") or {}).get("fingerprint"):
        return job
    return _key({**json.loads(job), "settings": trial.user_attrs["record"]["fingerprint"]})


def _jobs_of(trials: Iterable[optuna.trial.FrozenTrial], states: tuple) -> set[str]:
    return {job for t in trials if t.state in states and (job := _job_of(t)) is not None}


def run_jobs(storage, name: str, jobs: list[dict], measure: Callable[[dict], dict], *, wait: bool,
             skipped: set[tuple[str, str]], on_done: Callable[[], None] = lambda: None) -> list[str]:
    """Run the jobs of Optuna study `name` that nobody finished, holds or (here) saw fail; with `wait`, also
    wait for the jobs other workers hold, taking over those whose worker died. `measure(job)` returns the
    record, or raises RunFailed. Returns the failures seen here, one line each."""
    study = _load(storage, name)
    failures: list[str] = []
    wanted = {_key(job) for job in jobs}

    def objective(trial: optuna.Trial) -> float:
        job = trial.user_attrs.get("job")
        if job is None:
            raise Skip("nothing was waiting (another worker took the last job)")
        claim(trial, storage)
        earlier = [t for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING,
                                                                        TrialState.COMPLETE))
                   if _job_of(t) == job and t.number < trial.number]
        if earlier:  # two workers enqueued the same job at once: the lower trial number runs it
            raise Skip(f"trial {earlier[0].number} holds the same job")
        try:
            record = measure(json.loads(job))
        except RunFailed as e:
            skipped.add((name, job))
            failures.append(str(e))
            trial.set_user_attr("failure", str(e))
            raise
        trial.set_user_attr("record", {**record, "worker": WORKER})
        return float(record.get("test_acc") or 0.0)

    while True:
        fail_stale(study, storage)  # a dead worker's job comes back
        trials = study.get_trials(deepcopy=False)
        held = _jobs_of(trials, (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE))
        for job in sorted(wanted - held - {job for where, job in skipped if where == name}):
            study.enqueue_trial({}, user_attrs={"job": job})
        trials = study.get_trials(deepcopy=False)  # with what was just enqueued
        if not any(t.state == TrialState.WAITING for t in trials):
            if not (wait and _jobs_of(trials, (TrialState.RUNNING,)) & wanted):
                return failures
            time.sleep(POLL_S)
            continue
        optimize_once(study, objective, (Skip, RunFailed))
        on_done()


def claim(trial: optuna.Trial, storage: optuna.storages.RDBStorage) -> None:
    """A worker's first act in a trial: a heartbeat, then its name. Optuna's heartbeat thread starts beside the
    objective, and a trial that never had a heartbeat is never stale to Optuna; so a trial that names its worker has
    had one, and one that does not was orphaned before it began (`fail_stale`)."""
    study_id = storage.get_study_id_from_name(trial.study.study_name)
    storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))
    trial.set_user_attr("worker", WORKER)


def fail_stale(study: optuna.Study, storage: optuna.storages.RDBStorage) -> None:
    """Optuna's `fail_stale_trials`, and a RUNNING trial that never reached `claim` within twice the grace period:
    its worker died between asking for it and its first heartbeat, a window Optuna's own check cannot see."""
    optuna.storages.fail_stale_trials(study)
    orphaned = datetime.datetime.now() - datetime.timedelta(seconds=2 * (storage.grace_period or 0))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if "worker" not in trial.user_attrs and trial.datetime_start and trial.datetime_start < orphaned:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def optimize_once(study: optuna.Study, objective: Callable, catch: tuple) -> None:
    """One trial under Optuna's heartbeat (`study.optimize`, which also fails stale trials first). A worker whose
    trial was failed meanwhile (its heartbeat had stopped) cannot tell it: its late result is dropped."""
    try:
        study.optimize(objective, n_trials=1, catch=catch)
    except (ValueError, AssertionError) as e:  # Optuna's own clean-up may assert after the refused tell
        refused = e if isinstance(e, ValueError) else e.__context__
        if not (isinstance(refused, ValueError) and str(refused).startswith("Cannot tell a")):
            raise
        log.warning("%s: this worker's trial was taken over by another (its heartbeat stopped); the other's "
                    "result is kept, this one dropped", study.study_name)


def records(storage, study: str, kind: str = "seeds") -> list[dict]:
    """The finished runs' records, one per job (the lowest trial number, should a race have made two); a measured
    run's checked through bench.record.Record, as the folder's file is (every field present)."""
    found = []
    for name in sorted(names(storage, study, kind)):
        seen = set()
        for trial in _load(storage, name).get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if "record" in trial.user_attrs and _job_of(trial) not in seen:
                seen.add(_job_of(trial))
                found.append(_checked(trial.user_attrs["record"], name, trial.number) if kind == "seeds" else
                             trial.user_attrs["record"])
    return found


def _checked(record: dict, name: str, number: int) -> dict:
    try:
        return Record.model_validate(record).row()
    except pydantic.ValidationError as e:
        raise StorageError(f"the database's run {name} #{number} is not a record this rnnbench writes ({refusal(e)}): "
                           "it was edited; start a new database (resume=false, or another storage=)") from None


def job_count(storage, study: str, kind: str = "seeds", wanted: Callable[[dict], bool] = lambda job: True,
              variants: Iterable[str] | None = None) -> int:
    """The measured runs asked for so far (waiting, running or finished), one per job; only the `wanted` jobs of
    `variants` when given."""
    chosen = None if variants is None else {f"{study}/{v}/{kind}" for v in variants}
    held = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
    return sum(sum(wanted(json.loads(job)) for job in _jobs_of(_load(storage, name).get_trials(deepcopy=False), held))
               for name in names(storage, study, kind) if chosen is None or name in chosen)


def done_count(storage, study: str, kind: str = "seeds") -> int:
    return len(records(storage, study, kind))


def _job(record: dict, kind: str) -> str:
    """The job a record finished (what run_jobs enqueued for it)."""
    job = {"seed": record["seed"]} if kind == "seeds" else {k: record[k] for k in ("sweep", "batch_size", "seq_len")}
    return _key({**job, "settings": record["fingerprint"]} if record.get("fingerprint") else job)


def reconcile(storage, study: str, out: Path, key: str | None, kind: str = "seeds",
              restore: bool = True) -> tuple[int, list[str]]:
    """The folder's export against the storage, the source of truth: (runs restored, lines naming each difference).

    When the storage holds no finished run of `study` (an optuna.db deleted or emptied beside its records.jsonl),
    the folder's records of this study and these settings (`key`; None: any) go back into it as finished trials, with
    the variants' tuning summaries: a finished run is never redone. Records of another study or other settings are
    set aside, said. When it holds runs, each record is compared with the storage's: a run the storage never finished
    or a field that differs is named, and the next export rewrites the file from the storage."""
    try:
        held, damaged = store.load(out, FILES[kind], mixed=True), None
    except BenchError as e:
        held, damaged = [], str(e)
    stored = records(storage, study, kind)
    file = out / FILES[kind]
    if stored:
        mine = {(r["variant"], _job(r, kind)): r for r in stored}
        said = [f"{damaged}: it is rewritten from {DB}"] if damaged else []
        for record in held:
            run = f"{record['variant']} " + (f"seed {record['seed']}" if kind == "seeds" else _job(record, kind))
            truth = mine.get((record["variant"], _job(record, kind)))
            if truth is None:
                said.append(f"{file} holds {run}, which {DB} never finished: set aside (the file is rewritten "
                            f"from {DB})")
                continue
            differ = [k for k in sorted(set(record) | set(truth)) if k != "worker" and record.get(k) != truth.get(k)]
            if differ:
                shown = "; ".join(f"{k} {_short(record.get(k))} in the file, {_short(truth.get(k))} in {DB}"
                                  for k in differ[:3]) + (f"; and {len(differ) - 3} more" if len(differ) > 3 else "")
                said.append(f"{file}: {run} differs from {DB} ({shown}): {DB}'s is kept")
        return 0, said
    if not restore:
        return 0, []
    if damaged:
        raise StorageError(f"{damaged.split(': the file')[0]}: it cannot be restored into an empty {DB}; move "
                           f"{FILES[kind]} aside to start over, or mend that line")
    keep = [r for r in held if r.get("study", study) == study and (key is None or r.get("fingerprint") in (None, key))]
    said = [f"{file}: {len(held) - len(keep)} record(s) of another study or other settings were set aside (not "
            "restored)"] if len(keep) < len(held) else []
    tuning = store.load_tuning(out) if kind == "seeds" and (out / store.TUNING).is_file() else {}
    restored = 0
    for record in keep:
        name = f"{study}/{record['variant']}/{kind}"
        optuna_study = _load(storage, name)
        if _job(record, kind) in _jobs_of(optuna_study.get_trials(deepcopy=False), (TrialState.COMPLETE,)):
            continue
        optuna_study.add_trial(optuna.trial.create_trial(
            value=float(record.get("test_acc") or 0.0), state=TrialState.COMPLETE,
            user_attrs={"job": _job(record, kind), "record": record, "restored": True}))
        restored += 1
        summary = tuning.get(record["variant"])
        tuned = summary and (summary.get("optuna_study") or f"{study}/{record['variant']}")  # a group's: S/<a>+<b>
        if tuned and "tuning" not in _load(storage, tuned).user_attrs:
            put(storage, tuned, "tuning", {**summary, "restored": True})
    return restored, said


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def restored_tuning(storage, name: str) -> dict | None:
    """The tuning summary of Optuna study `name` when it was restored from the folder and its trials are gone: the
    variant's seeds keep training at its best settings rather than tuning again."""
    if name not in optuna.get_all_study_names(storage):  # not made here: tuning makes it, for its own objective
        return None
    optuna_study = _load(storage, name)
    attrs = optuna_study.user_attrs.get("tuning")
    return attrs if attrs and attrs.get("restored") and not optuna_study.get_trials(deepcopy=False) else None


def export(storage, study: str, out: Path, kind: str = "seeds", key: str | None = None) -> int:
    """Write the study's records and documents into `out`, where the report reads them; the record count. The
    storage is the truth (`reconcile` names what the file said otherwise); when it holds no finished run of the study
    (damaged or replaced mid-run), the folder's records are kept, never dropped."""
    out.mkdir(parents=True, exist_ok=True)
    found = records(storage, study, kind) or _held(out, kind)  # a storage that lost everything: the folder's are kept
    found = [r for r in found if key is None or r.get("fingerprint") in (None, key)]  # this command's settings only
    store.write_records(out, found, FILES[kind])
    existing = optuna.get_all_study_names(storage)
    summaries = {n: _attrs(storage, n, existing) for n in ([study] + names(storage, study))}
    store.save_study(out, summaries[study].get("study", {}))
    if kind == "seeds":  # per variant: a group tuned together (S/<a>+<b>) gives each member the group's summary
        store.save_tuning(out, {member: a["tuning"] for n, a in summaries.items() if "tuning" in a
                                for member in a["tuning"].get("members") or [n.split("/")[-1]]})
    return len(found)


def _held(out: Path, kind: str) -> list[dict]:
    try:
        return store.load(out, FILES[kind])
    except BenchError:  # a damaged export is rewritten whole from the storage
        return []
