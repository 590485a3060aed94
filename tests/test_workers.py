"""Several workers on one study: PostgreSQL across processes (as across machines), workers=N, the folder lock."""

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

import bench.run as run
from bench import cli, report, runs, store
from bench.runs import sql_url
from tests.conftest import over

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["study=smoke", "data.synthetic.n_train=300", "data.synthetic.n_test=60", "tune.trials=3", "measure.seeds=2",
         "train.epochs=2"]
VARIANTS = 6  # smoke: 3 cells x padded/packed


def _start(argv: list[str], log: Path, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "RNNBENCH_CACHE": str(cache), "TQDM_DISABLE": "1", "RNNBENCH_THREADS": "1"}
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, "-m", "bench.run", *argv], cwd=ROOT, env=env, stdout=f,
                                stderr=subprocess.STDOUT)


def _trials(url: str, study: str) -> dict[str, Counter]:
    storage = optuna.storages.RDBStorage(sql_url(url))
    return {s.study_name: Counter(t.state.name for t in optuna.load_study(study_name=s.study_name, storage=storage)
                                  .get_trials(deepcopy=False))
            for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(study + "/")
            and not s.study_name.endswith("/seeds")}


def _check_complete(url: str, study: str, seeds: int = 2) -> list[dict]:
    records = runs.records(runs.open_storage(url, Path("."), 60), study)
    pairs = Counter((r["variant"], r["seed"]) for r in records)
    assert len(pairs) == VARIANTS * seeds and set(pairs.values()) == {1}, "each (variant, seed) exactly once"
    trials = _trials(url, study)
    assert len(trials) == VARIANTS // 2  # study=smoke shares along packing: one tuning study per cell
    for name, states in trials.items():
        assert states["COMPLETE"] + states["PRUNED"] == 3, f"{name}: the budget is spent exactly: {states}"
        assert states["RUNNING"] == 0, f"{name}: a trial is left running: {states}"
    every = sum(trials.values(), Counter())
    storage = runs.open_storage(url, Path("."), 60)
    seed_trials = Counter(t.state.name for name in runs.names(storage, study, "seeds")
                          for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False))
    assert seed_trials["RUNNING"] == 0 and seed_trials["COMPLETE"] >= VARIANTS * seeds
    print(f"\n{study}: tuning trials {dict(every)}; seed-run trials {dict(seed_trials)}; runs {len(records)} of {VARIANTS * seeds}, duplicates "
          f"{sum(pairs.values()) - len(pairs)}, lost {VARIANTS * seeds - len(pairs)}; runs per worker "
          f"{sorted(Counter(r['worker'].rsplit(':', 1)[1] for r in records).values())}")
    return records


@pytest.mark.slow
def test_three_workers_share_a_study_through_postgres(postgres, tmp_path):
    study = f"w{time.time_ns()}"
    argv = [*SMOKE, f"storage={postgres}", "lease=5", f"name={study}"]
    procs = [_start([*argv, f"out={tmp_path / f'w{i}'}"], tmp_path / f"w{i}.log", tmp_path / "cache")
             for i in range(3)]
    codes = [p.wait(timeout=400) for p in procs]
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(3)]
    assert codes == [0, 0, 0], logs
    records = _check_complete(postgres, study)
    storage = optuna.storages.RDBStorage(sql_url(postgres))
    trial_workers = {t.user_attrs.get("worker") for s in optuna.get_all_study_summaries(storage)
                     if s.study_name.startswith(study + "/")
                     for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials()}
    assert len(trial_workers | {r["worker"] for r in records}) >= 2, "the work was spread over the workers"
    assert all("not-a-real-secret" not in log for log in logs)
    out = tmp_path / "report"
    assert cli.report([f"study={study}", f"storage={postgres}", f"out={out}"]) == 0
    assert len(store.load(out)) == VARIANTS * 2 and "not-a-real-secret" not in (out / "study.json").read_text()
    assert (out / "index.html").is_file() and len((out / "results.csv").read_text().splitlines()) == 13


@pytest.mark.slow
def test_a_killed_worker_leaves_its_run_to_the_others(postgres, tmp_path):
    study = f"k{time.time_ns()}"
    # runs long enough (~1 s each) for the poll below to catch the victim holding one: every epoch runs
    # (no early stopping, which ends these easy runs after 2-3 epochs)
    argv = [*over(SMOKE, "data.synthetic.n_train=2000", "train.epochs=5", "train.patience=null"), f"storage={postgres}",
            "lease=3",
            f"name={study}"]
    procs = [_start([*argv, f"out={tmp_path / f'w{i}'}"], tmp_path / f"w{i}.log", tmp_path / "cache")
             for i in range(3)]
    victim = procs[0]
    import sqlalchemy as sa
    engine = sa.create_engine(sql_url(postgres))
    holding = sa.text("SELECT count(*) FROM trials t JOIN studies s ON s.study_id = t.study_id "
                      "JOIN trial_user_attributes a ON a.trial_id = t.trial_id WHERE t.state = 'RUNNING' "
                      "AND s.study_name LIKE :seeds AND a.key = 'worker' AND a.value_json LIKE :victim")
    deadline, killed = time.monotonic() + 300, False
    while time.monotonic() < deadline and victim.poll() is None:  # one cheap query: Optuna's own tables
        try:
            with engine.connect() as c:
                held = c.execute(holding, {"seeds": f"{study}/%/seeds", "victim": f'%:{victim.pid}"'}).scalar()
        except sa.exc.ProgrammingError:  # the workers have not made Optuna's tables yet
            held = 0
        if held:
            victim.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    assert killed, "the victim never held a run: " + (tmp_path / "w0.log").read_text()[-2000:]
    assert victim.wait() == -signal.SIGKILL
    assert [p.wait(timeout=400) for p in procs[1:]] == [0, 0]
    records = _check_complete(postgres, study)
    assert str(victim.pid) not in {r["worker"].rsplit(":", 1)[1] for r in records}


@pytest.mark.slow
def test_workers_on_one_machine_share_the_folder(tmp_path):
    out = tmp_path / "local"
    proc = subprocess.run([sys.executable, "-m", "bench.run", *SMOKE, "workers=2", f"out={out}"], cwd=ROOT,
                          env={**os.environ, "RNNBENCH_CACHE": str(tmp_path / "cache")}, capture_output=True,
                          text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 workers (1 CPU thread(s) each)" in proc.stdout
    records = store.load(out)
    assert Counter((r["variant"], r["seed"]) for r in records) == Counter(
        {(v, s): 1 for v in {r["variant"] for r in records} for s in (0, 1)}) and len(records) == VARIANTS * 2
    assert {r["cpu_threads"] for r in records} == {1}, "the cores were split between the workers"
    for i in (0, 1):  # both workers ran the study (how the runs fall between them depends on timing)
        assert "study smoke" in (out / f"worker-{i}.log").read_text()
    storage = runs.open_storage(None, out, 60)
    for name in runs.names(storage, "smoke"):
        states = Counter(t.state.name for t in optuna.load_study(study_name=name, storage=storage)
                         .get_trials(deepcopy=False))
        assert states["COMPLETE"] + states["PRUNED"] == 3 and states["RUNNING"] == 0, states
    assert (out / "index.html").is_file()


def test_a_second_run_of_a_busy_folder_refuses_and_changes_nothing(tmp_path, capsys):
    out = tmp_path / "busy"
    first = _start([*over(SMOKE, "data.synthetic.n_train=900", "train.epochs=3"), f"out={out}"], tmp_path / "first.log",
                   tmp_path / "cache")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((out / ".run.lock").is_file() and (out / ".run.lock").read_text()):
        time.sleep(0.05)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name in ("study.json",)}
    assert run.main([*over(SMOKE, "data.synthetic.n_train=900", "train.epochs=3"), f"out={out}"]) == 2
    err = capsys.readouterr().err
    assert f"is in use by another run (pid {first.pid})" in err and err.count("\n") == 1
    assert {p: (out / p).read_bytes() for p in before} == before
    assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()[-2000:]
    pairs = Counter((r["variant"], r["seed"]) for r in store.load(out))
    assert len(pairs) == VARIANTS * 2 and set(pairs.values()) == {1}
    assert json.loads((out / "study.json").read_text())["name"] == "smoke"


def test_a_run_left_running_by_a_killed_local_run_does_not_hold_up_the_next(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "left"
    argv = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=0", "measure.seeds=1",
            "cell=lstm", "packing=packed", f"out={out}"]
    out.mkdir()
    storage = runs.open_storage(None, out, lease=3600)  # a heartbeat that would hold for an hour
    left = optuna.create_study(study_name="smoke/lstm-packed-l1-true_last/seeds", storage=storage)
    left.enqueue_trial({}, user_attrs={"job": json.dumps({"seed": 0})})
    left.ask()  # claimed by a run killed a moment ago
    start = time.monotonic()
    assert run.main(argv) == 0
    assert time.monotonic() - start < 60 and len(store.load(out)) == 1
