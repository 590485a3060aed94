"""bench.runs: measured runs as Optuna trials (claimed once, finished once, taken over when their worker dies,
a late result dropped), the study's documents, and the storage's one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from bench import runs, store
from bench.errors import BenchError, StorageError
from tests.report.conftest import record as full_record

ROOT = Path(__file__).resolve().parents[1]
JOBS = [{"seed": s} for s in (0, 1, 2)]


def record(job: dict) -> dict:
    """A measured run's record (as bench.store.make_record writes it) for the job."""
    return {**full_record("lstm-packed-l1", job["seed"], study="s", test_acc=0.5, fingerprint=None), "variant": "v"}


def states(storage, name: str) -> Counter:
    return Counter(t.state.name for t in optuna.load_study(study_name=name, storage=storage).get_trials())


def test_each_job_runs_once_and_a_rerun_runs_nothing(tmp_path):
    storage = runs.open_storage(None, tmp_path, lease=60)
    ran = []
    assert runs.run_jobs(storage, "s/v/seeds", JOBS, lambda j: ran.append(j) or record(j), wait=True,
                         skipped=set()) == []
    assert sorted(j["seed"] for j in ran) == [0, 1, 2]
    again = runs.open_storage(None, tmp_path, lease=60)  # as a new process would
    runs.run_jobs(again, "s/v/seeds", [*JOBS, {"seed": 3}], lambda j: ran.append(j) or record(j), wait=True,
                  skipped=set())
    assert [j["seed"] for j in ran[3:]] == [3], "only the new seed ran"
    assert sorted(r["seed"] for r in runs.records(again, "s")) == [0, 1, 2, 3]
    assert all(r["worker"] == runs.WORKER for r in runs.records(again, "s"))


def test_a_job_enqueued_twice_by_racing_workers_runs_once(tmp_path):
    storage = runs.open_storage(None, tmp_path, lease=60)
    study = optuna.create_study(study_name="s/v/seeds", storage=storage)
    for _ in range(2):  # two workers found seed 0 missing at the same moment
        study.enqueue_trial({}, user_attrs={"job": json.dumps({"seed": 0})})
    ran = []
    runs.run_jobs(storage, "s/v/seeds", JOBS[:1], lambda j: ran.append(j) or record(j), wait=True, skipped=set())
    assert ran == [{"seed": 0}] and len(runs.records(storage, "s")) == 1
    assert states(storage, "s/v/seeds") == Counter({"COMPLETE": 1, "FAIL": 1})


def test_a_failed_job_is_not_retried_by_its_worker_but_by_the_next_run(tmp_path):
    storage = runs.open_storage(None, tmp_path, lease=60)

    def diverges(job):
        if job["seed"] == 1:
            raise runs.RunFailed("v seed 1: training loss is nan in epoch 1")
        return record(job)
    skipped: set = set()
    failures = runs.run_jobs(storage, "s/v/seeds", JOBS, diverges, wait=True, skipped=skipped)
    assert failures == ["v seed 1: training loss is nan in epoch 1"]
    assert runs.run_jobs(storage, "s/v/seeds", JOBS, diverges, wait=True, skipped=skipped) == [], "not retried here"
    runs.run_jobs(storage, "s/v/seeds", JOBS, record, wait=True, skipped=set())  # the next command
    assert sorted(r["seed"] for r in runs.records(storage, "s")) == [0, 1, 2]


def test_a_late_result_of_a_run_taken_over_is_dropped(tmp_path):
    storage = runs.open_storage(None, tmp_path, lease=60)
    other = runs.open_storage(None, tmp_path, lease=60)  # another worker's handle on the same storage
    calls = []

    def slow(job):
        calls.append(job)
        if len(calls) == 1:  # meanwhile another worker found this trial's heartbeat stale and failed it
            study = optuna.load_study(study_name="s/v/seeds", storage=other)
            running = study.get_trials(states=(TrialState.RUNNING,))
            study.tell(running[0].number, state=TrialState.FAIL)
            return {**record(job), "test_acc": 0.99}  # the late result
        return record(job)
    runs.run_jobs(storage, "s/v/seeds", JOBS[:1], slow, wait=True, skipped=set())
    assert len(calls) == 2, "the job came back and was run again"
    assert [r["test_acc"] for r in runs.records(storage, "s")] == [0.5], "the late result was dropped"


def claimed(storage, name: str) -> bool:
    """Whether a worker has begun a trial of `name` (named itself, after its first heartbeat)."""
    return name in optuna.get_all_study_names(storage) and any(
        "worker" in t.user_attrs for t in optuna.load_study(study_name=name, storage=storage).get_trials(
            deepcopy=False, states=(TrialState.RUNNING,)))


def test_a_killed_workers_run_is_taken_over_after_its_heartbeat_stops(tmp_path):
    script = ("import sys, time; from pathlib import Path; from bench import runs\n"
              "s = runs.open_storage(None, Path(sys.argv[1]), lease=3)\n"
              "runs.run_jobs(s, 's/v/seeds', [{'seed': 0}], lambda j: time.sleep(600), wait=True, skipped=set())\n")
    victim = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT)
    storage = runs.open_storage(None, tmp_path, lease=3)
    deadline = time.monotonic() + 120
    while not claimed(storage, "s/v/seeds"):
        assert time.monotonic() < deadline and victim.poll() is None, "the victim never began its run"
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    started = time.monotonic()
    runs.run_jobs(storage, "s/v/seeds", [{"seed": 0}], record, wait=True, skipped=set())
    assert time.monotonic() - started < 30
    assert len(runs.records(storage, "s")) == 1 and states(storage, "s/v/seeds") == Counter(
        {"FAIL": 1, "COMPLETE": 1})


def test_a_run_orphaned_before_its_first_heartbeat_is_taken_over(tmp_path):
    """A worker killed between asking for a trial and its heartbeat thread's first beat leaves a RUNNING trial
    Optuna never finds stale (it has no heartbeat): the next worker fails it after twice the grace period."""
    storage = runs.open_storage(None, tmp_path, lease=1)  # grace period 2 s
    study = optuna.create_study(study_name="s/v/seeds", storage=storage)
    study.enqueue_trial({}, user_attrs={"job": json.dumps({"seed": 0})})
    study.ask()  # the dead worker's trial: RUNNING, no heartbeat, no worker named
    started = time.monotonic()
    runs.run_jobs(storage, "s/v/seeds", [{"seed": 0}], record, wait=True, skipped=set())
    assert 4 <= time.monotonic() - started < 30, "taken over after twice the grace period, not before"
    assert len(runs.records(storage, "s")) == 1 and states(storage, "s/v/seeds") == Counter(
        {"FAIL": 1, "COMPLETE": 1})


def test_fail_running_frees_what_a_killed_local_run_left(tmp_path):
    storage = runs.open_storage(None, tmp_path, lease=3600)
    study = optuna.create_study(study_name="s/v/seeds", storage=storage)
    study.enqueue_trial({}, user_attrs={"job": json.dumps({"seed": 0})})
    study.ask()  # left RUNNING by a run killed a moment ago; its heartbeat would hold for an hour
    runs.fail_running(storage, "s")
    started = time.monotonic()
    runs.run_jobs(storage, "s/v/seeds", [{"seed": 0}], record, wait=True, skipped=set())
    assert time.monotonic() - started < 10 and len(runs.records(storage, "s")) == 1


def test_export_writes_the_records_and_documents_the_report_reads(tmp_path):
    storage = runs.open_storage(None, tmp_path, lease=60)
    runs.put(storage, "s", "study", {"name": "s", "storage": "postgresql://u:hunter2@h/db"})
    runs.put(storage, "s/v", "tuning", {"best": {"lr": 0.01}})
    runs.run_jobs(storage, "s/v/seeds", JOBS, record, wait=True, skipped=set())
    out = tmp_path / "export"
    assert runs.export(storage, "s", out) == 3
    assert len(store.load(out)) == 3 and json.loads((out / "tuning.json").read_text()) == {"v": {"best": {"lr": 0.01}}}
    assert "hunter2" not in (out / "study.json").read_text()
    assert runs.export(storage, "nosuch", tmp_path / "none") == 0
    assert "nosuch" not in optuna.get_all_study_names(storage), "reading made nothing"


def test_workers_starting_together_retry_the_table_race_but_not_a_schema_mismatch(monkeypatch, tmp_path):
    calls = []

    def racing(url, **kwargs):
        calls.append(url)
        if len(calls) < 3:
            raise RuntimeError('(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint '
                               '"pg_type_typname_nsp_index" [SQL: CREATE TABLE version_info (...)]')
        return "storage"
    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr("bench.runs.time.sleep", lambda s: None)
    assert runs.open_storage("postgresql+psycopg://u:secret@h/db", tmp_path, 60) == "storage" and len(calls) == 3

    def outdated(url, **kwargs):
        calls.append(url)
        raise RuntimeError("The runtime optuna version 5.0 is no longer compatible with the table schema")
    monkeypatch.setattr(optuna.storages, "RDBStorage", outdated)
    calls.clear()
    with pytest.raises(BenchError, match="holds Optuna tables of another Optuna release") as error:
        runs.open_storage("postgresql+psycopg://u:secret@h/db", tmp_path, 60)
    assert len(calls) == 1 and "secret" not in str(error.value)


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path):
    with pytest.raises(BenchError, match=r"^cannot use the database at postgresql\+psycopg://bob:\*\*\*@") as error:
        runs.open_storage("postgresql://bob:hunter2@127.0.0.1:9/x", tmp_path, 60)
    assert "hunter2" not in str(error.value) and "\n" not in str(error.value)


def test_postgresql_url_means_psycopg3():
    assert runs.sql_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert runs.sql_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_a_database_lost_mid_run_is_one_line(tmp_path):
    import sqlalchemy as sa
    url = f"sqlite:///{tmp_path}/gone.db"
    storage = runs.open_storage(url, tmp_path, 60)
    with sa.create_engine(url).begin() as c:  # as if the server lost its tables
        c.execute(sa.text("DROP TABLE trials"))
    with pytest.raises(runs.LOST) as error:
        runs.run_jobs(storage, "s/v/seeds", JOBS, record, wait=True, skipped=set())
    message = str(runs.lost(error.value, url, tmp_path))
    assert isinstance(runs.lost(error.value, url, tmp_path), StorageError)
    assert message.startswith(f"lost the database at {url}: ") and message.endswith("the same command resumes once "
                                                                                    "it is back")
    assert "\n" not in message and os.path.basename(url) in message
