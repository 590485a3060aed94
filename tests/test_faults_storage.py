"""Faults, round two (issue 23): a damaged or deleted optuna.db never costs a finished record, a stop anywhere is
one line and leaves no process behind, write errors outside the storage are one line, odd data is refused or said.
Each test checks the exit code, the exact line, and what was or was not written (records, storage, cache)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

import bench.pipeline as pipeline
import bench.run as run
from bench import cli, runs, store
from bench.report import draw
from tests.conftest import over

ROOT = Path(__file__).resolve().parents[1]
TUNED = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=2", "tune.epochs=1",
         "measure.seeds=2", "cell=lstm", "packing=packed"]


def _finished(out: Path) -> dict[int, str]:
    """seed -> when its run finished: a re-run seed gets a new time."""
    return {r["seed"]: r["finished_at"] + r["variant"] for r in store.load(out)}


def _trials(out: Path) -> int:
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / runs.DB}")
    return sum(len(optuna.load_study(study_name=s.study_name, storage=storage).trials)
               for s in optuna.get_all_study_summaries(storage) if s.study_name.count("/") == 1)


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_a_lost_optuna_db_is_rebuilt_from_the_records_and_nothing_finished_runs_again(damage, tmp_path, capsys):
    out = tmp_path / "s"
    assert run.main([*TUNED, f"out={out}"]) == 0
    before = _finished(out)
    (out / runs.DB).write_bytes(b"") if damage == "emptied" else (out / runs.DB).unlink()
    capsys.readouterr()
    assert run.main([*TUNED, f"out={out}"]) == 0
    assert (f"restored 2 finished run(s) from {out}/records.jsonl into {out}/optuna.db (it was missing or empty): "
            "they are not run again") in capsys.readouterr().err
    assert _finished(out) == before, "a finished seed was run again"
    # one more seed: it trains at the settings the first two used, with no tuning trial run again
    assert run.main([*over(TUNED, "measure.seeds=3"), f"out={out}"]) == 0
    after = store.load(out)
    assert {r["seed"]: r["finished_at"] + r["variant"] for r in after if r["seed"] < 2} == before
    assert len({json.dumps(r["hyperparameters"], sort_keys=True) for r in after}) == 1 and _trials(out) == 0


def test_an_interrupted_rerun_over_a_deleted_db_drops_no_record(tmp_path, monkeypatch, capsys):
    """The issue's case: optuna.db deleted, a re-run with one more seed interrupted during that seed."""
    out = tmp_path / "s"
    assert run.main([*TUNED, f"out={out}"]) == 0
    before = _finished(out)
    (out / runs.DB).unlink()
    real = pipeline._measure

    def stopped(work, variant, settled, seed):
        if seed == 2:
            raise KeyboardInterrupt
        return real(work, variant, settled, seed)
    monkeypatch.setattr(pipeline, "_measure", stopped)
    assert run.main([*over(TUNED, "measure.seeds=3"), f"out={out}"]) == 130
    assert _finished(out) == before and (out / "index.html").is_file()
    monkeypatch.undo()
    assert run.main([*over(TUNED, "measure.seeds=3"), f"out={out}"]) == 0
    assert {s: f for s, f in _finished(out).items() if s < 2} == before and len(store.load(out)) == 3


def test_the_export_keeps_a_record_the_storage_lost(tmp_path):
    """Whatever happens to the storage beside it, records.jsonl never drops a record it held."""
    out = tmp_path / "s"
    assert run.main([*TUNED, f"out={out}"]) == 0
    held = store.load(out)
    seeds = optuna.load_study(study_name="smoke/lstm-packed-l1-true_last/seeds", storage=f"sqlite:///{out / runs.DB}")
    assert seeds.direction == optuna.study.StudyDirection.MAXIMIZE  # its value is the test accuracy (the dashboard)
    (tmp_path / "other").mkdir()
    fresh = runs.open_storage(None, tmp_path / "other", 120)  # a storage that holds nothing of it
    assert runs.export(fresh, "smoke", out) == 2 and store.load(out) == held


def test_an_unreadable_optuna_db_is_refused_naming_it_and_nothing_changes(tmp_path, capsys):
    out = tmp_path / "s"
    assert run.main([*TUNED, f"out={out}"]) == 0
    (out / runs.DB).write_bytes(b"this is not a database, but it is 64 bytes or longer: SQLite's header size")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert run.main([*TUNED, f"out={out}"]) == 2
    assert capsys.readouterr().err == (
        f"error: {out}/optuna.db cannot be read as a database (file is not a database): move it aside (the finished "
        "runs in records.jsonl are restored into a new one by the same command), or choose another out=FOLDER\n")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("reason, state, expected", [
    ("database or disk is full", "", "cannot write {db}: database or disk is full; free some space or choose another "
                                     "out=FOLDER (finished runs are kept: the same command resumes)"),
    ("attempt to write a readonly database", "", "cannot write {db}: attempt to write a readonly database; the folder "
                                                 "or the file is read-only: make it writable, or choose another "
                                                 "out=FOLDER"),
    ("database disk image is malformed", "", "cannot read {db}: database disk image is malformed; the file is damaged: "
                                             "move it aside; the runs in records.jsonl are restored into a new one by "
                                             "the same command"),
    ("unable to open database file", "removed", "cannot write {db}: unable to open database file; the study folder "
                                                "was removed mid-run; the same command starts it again (records.jsonl "
                                                "went with it)"),
])
def test_a_local_storage_error_names_its_cause_not_always_a_full_disk(reason, state, expected, tmp_path):
    out = tmp_path / "s"
    if not state:
        out.mkdir()
    error = runs.lost(__import__("sqlalchemy").exc.OperationalError("stmt", {}, Exception(reason)), None, out)
    assert str(error) == expected.format(db=out / runs.DB)


def test_a_stop_during_the_final_render_still_writes_the_page_and_a_second_one_is_one_line(tmp_path, monkeypatch,
                                                                                          capsys):
    out = tmp_path / "s"
    argv = [*over(TUNED, "tune.trials=0"), f"out={out}"]
    real, calls = pipeline.render_any, []

    def once(folder):
        calls.append(folder)
        if len(calls) == 1:
            raise KeyboardInterrupt  # Ctrl-C during the final render: the stop renders again
        return real(folder)
    monkeypatch.setattr(pipeline, "render_any", once)
    assert run.main(argv) == 130 and (out / "index.html").is_file() and len(store.load(out)) == 2
    monkeypatch.setattr(pipeline, "render_any", lambda folder: (_ for _ in ()).throw(KeyboardInterrupt()))
    capsys.readouterr()
    (out / "index.html").unlink()
    assert run.main(argv) == 130  # every render stopped: one line, no traceback, the records kept
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().endswith(
        f"interrupted: finished trials and runs are kept in {out}; run the same command again to resume "
        f"(python -m bench.report out={out} renders what finished)")
    assert len(store.load(out)) == 2


def test_figures_on_a_full_disk_are_one_line_and_leave_no_temporary_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / "s"
    assert run.main([*over(TUNED, "tune.trials=0"), f"out={out}"]) == 0

    def full(plot, png=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(draw, "svg", full)
    capsys.readouterr()
    assert cli.report([f"out={out}"]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {out}/figures: No space left on device; free some space "
                                       "or choose another out=FOLDER (finished runs are kept: the same command "
                                       "resumes)\n")
    assert not list((out / "figures").glob(".*tmp*"))


def test_a_full_cache_disk_is_a_warning_and_leaves_no_partial_file(tmp_path, monkeypatch, caplog):
    import torch

    def full(obj, f, *args, **kwargs):
        f.write(b"half")  # what a stream writer leaves when the disk fills
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file")
    monkeypatch.setattr(torch, "save", full)
    assert run.main([*over(TUNED, "tune.trials=0"), f"out={tmp_path / 's'}"]) == 0
    assert "cannot write the tensor cache" in caplog.text and "free some space there" in caplog.text
    assert not [p for p in Path(os.environ["RNNBENCH_CACHE"]).rglob("*.tmp*")], "a partial cache file was left"


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from bench import measure
    monkeypatch.setattr(measure, "available_mb", lambda device: 1024.0)  # 1 GiB free
    train = tmp_path / "train.csv"
    train.write_text("".join(f'{1 + i % 4},"t","{"word " * (50_000 if i == 0 else 3)}"\n' for i in range(40)))
    argv = ["study=smoke", "tune.trials=0", "measure.seeds=1", "measure.timing_steps=2", "data.name=csv",
            f"data.csv.train={train}", "data.csv.text_cols=[1,2]", "data.max_len=null",
            f"out={tmp_path / 's'}"]  # the budget's cut lifted: every token read
    assert run.main(argv) == 2
    assert capsys.readouterr().err == (
        "error: the longest training text has 50,001 tokens, and a padded batch of 32 that holds it needs about 1.3 "
        "GiB, more than the 1.0 GiB free on cpu: set data.max_len (e.g. data.max_len=400), or a smaller "
        "train.batch_size\n")
    assert not (tmp_path / "s").exists()
    assert run.main([*(w for w in argv if w != "data.max_len=null"), "data.max_len=400"]) == 0


def test_a_test_file_that_is_the_training_file_is_said(tmp_path, capsys):
    rows = "".join(f'{1 + i % 4},"title {i} word{i % 4}","text {i}"\n' for i in range(80))
    (tmp_path / "train.csv").write_text(rows)
    argv = ["study=smoke", "tune.trials=0", "measure.seeds=1", "data.name=csv", f"data.csv.train={tmp_path}/train.csv",
            f"data.csv.test={tmp_path}/train.csv", "data.csv.text_cols=[1,2]", f"out={tmp_path / 's'}"]
    assert run.main(argv) == 0
    said = ("TEST OVERLAPS TRAINING: 100% of the test texts are also training texts: the test accuracy then measures "
            "memory, not generalisation; check that the test file is not the training file (data.csv.test)")
    assert said in capsys.readouterr().out and said in (tmp_path / "s" / "index.html").read_text()


def test_a_command_gets_back_what_it_asked_for_in_either_order(tmp_path, capsys):
    """A subset after a superset shows only the subset (the rest kept and said apart); a superset after a subset runs
    only what is missing. The console, summary.csv, results.csv, the page, run_study and the progress all agree."""
    import bench
    out = tmp_path / "s"
    every = [*over(TUNED, "tune.trials=0", "cell=[lstm,gru]", "packing=[padded,packed]"), f"out={out}"]
    assert run.main(every) == 0 and len(store.load(out)) == 8  # 4 variants x 2 seeds
    capsys.readouterr()
    summary = bench.run_study("smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=0",
                              "tune.epochs=1", "measure.seeds=1", "packing=packed", cell=["lstm"], out=str(out))
    said = capsys.readouterr()
    assert list(summary.index) == ["lstm-packed-l1-true_last"] and int(summary["seeds"].iloc[0]) == 1
    assert "runs: 1/1 run (100%)" in said.err and "resuming: 1 run(s) already" in said.out
    assert cli.report([f"out={out}"]) == 0  # the console's summary says what it left out
    assert "not shown: 7 stored run(s) of earlier commands that this one did not ask for" in capsys.readouterr().out
    results = (out / "results.csv").read_text().splitlines()
    page = (out / "index.html").read_text()
    assert len(results) == 2 and "1 of 1 planned (1 variant(s))" in page and "not shown" in page
    assert len(store.load(out)) == 8, "the earlier runs are kept"
    capsys.readouterr()
    assert run.main(over(every, "measure.seeds=3")) == 0  # a superset: only the 4 missing seed-2 runs run
    said = capsys.readouterr()
    assert "resuming: 8 run(s) already" in said.out and "runs: 12/12 run (100%)" in said.err
    assert len(store.load(out)) == 12 and "not shown" not in (out / "index.html").read_text()


def _alive(out: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"out={out}"], capture_output=True, text=True).stdout.split()
    return [p for p in found if int(p) != os.getpid()]


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_no_worker_outlives_a_stopped_parent(how, tmp_path):
    """SIGTERM and SIGINT stop the workers and render what finished; even a SIGKILLed parent takes its workers with
    it (Linux's parent-death signal). The records they finished are kept; the same command then finishes."""
    out = tmp_path / "w"
    argv = ["study=smoke", "data.synthetic.n_train=6000", "data.max_train=null", "data.synthetic.n_test=20",
            "tune.trials=0", "measure.seeds=4", "cell=lstm", "packing=packed", "train.epochs=4",
            "train.patience=null", "workers=2", f"out={out}"]
    env = {**os.environ, "RNNBENCH_PROGRESS": "plain"}
    parent = subprocess.Popen([sys.executable, "-m", "bench.run", *argv], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (len(_alive(out)) == 3 and (out / store.RECORDS).is_file()
                                                   and store.load(out)):
            time.sleep(0.2)  # the parent and its two workers, one run finished (the file alone may be empty)
        parent.send_signal(how)
        said = parent.communicate(timeout=120)[0]
    finally:  # a failing test leaves no process behind either
        if parent.poll() is None:
            parent.kill()
            subprocess.run(["pkill", "-9", "-f", f"out={out}"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(out):
        time.sleep(0.5)
    assert not _alive(out), "a worker outlived its parent"
    if how != signal.SIGKILL:
        assert parent.returncode == 130 and "Traceback" not in said and (out / "index.html").is_file(), (
            said, sorted(p.name for p in out.iterdir()), (out / "worker-0.log").read_text()[-600:])
    kept = store.load(out)
    if how == signal.SIGTERM:
        assert run.main([*argv[:-2], f"out={out}"]) == 0
        assert len(store.load(out)) == 4 and all(r in store.load(out) for r in kept)


def test_no_password_in_an_error_a_failed_line_or_a_log_line_raised_mid_run(tmp_path, monkeypatch, capsys, caplog):
    import logging

    import sqlalchemy
    url = "postgresql://bob:hunter2@db.example:5432/x"
    said = str(runs.lost(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(f"server at {url} closed the "
                                                                                   "connection")), url, tmp_path))
    assert "hunter2" not in said and "bob:***@" in said
    real = pipeline.fit

    def leaky(*args, **kwargs):  # a library error that quotes the URL, in one run
        logging.getLogger("sqlalchemy.pool").warning("reconnecting to %s", url)
        raise RuntimeError(f"lost {url}")
    monkeypatch.setattr(pipeline, "fit", leaky)
    assert run.main([*over(TUNED, "tune.trials=0", "measure.seeds=1"), f"out={tmp_path / 's'}"]) == 1
    captured = capsys.readouterr()
    assert "FAILED lstm-packed-l1-true_last seed 0: RuntimeError: lost postgresql://bob:***@db.example" in captured.out
    assert "hunter2" not in captured.out + captured.err
    assert all("hunter2" not in h.format(r) for h in logging.getLogger().handlers for r in caplog.records
               if hasattr(h, "format"))
    monkeypatch.setattr(pipeline, "fit", real)
