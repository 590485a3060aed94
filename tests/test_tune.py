"""bench.tune on a cheap objective (no training), and the tuning stage through the CLI on synthetic data."""

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
from bench.config import BUDGETS, Params, load_study
from bench.errors import ConfigError
from bench import runs
from tests.conftest import over
from bench.config import TuneConfig
from bench.tune import Failed, Pruned, edges, tune

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "hidden_size": [16, 32, 64], "clip": 1.0}


def storage(folder: Path):
    """Optuna's storage in `folder` (made if new), as a study run uses it."""
    folder.mkdir(parents=True, exist_ok=True)
    return runs.open_storage(None, folder, lease=120)


def quadratic(params, report):
    """Best near lr=1e-2; reports three 'epochs' so the pruner has something to prune."""
    import math
    score = 1 - (math.log10(params["lr"]) + 2) ** 2 / 10 + params["hidden_size"] / 1000
    for epoch in (1, 2, 3):
        report(epoch, score * epoch / 3)
    return score


def test_same_seed_same_best_params(tmp_path):
    settings = TuneConfig(trials=8, seed=3, epochs=3)
    a = tune("s/a", SPACE, quadratic, settings, storage(tmp_path / "a.journal"))
    b = tune("s/a", SPACE, quadratic, settings, storage(tmp_path / "b.journal"))
    assert a.best == b.best and a.best_value == b.best_value
    assert a.best["clip"] == 1.0 and len(a.trials) == 8  # fixed entries carried into the best params
    assert set(a.importance) <= {"lr", "hidden_size"} and a.importance  # fANOVA ran


def test_resume_adds_no_trials_and_a_killed_trial_is_failed_and_respent(tmp_path):
    journal = tmp_path / "j"
    settings = TuneConfig(trials=5, epochs=3)
    tune("s/v", SPACE, quadratic, settings, storage(journal))
    calls = []
    tune("s/v", SPACE, lambda p, r: calls.append(p) or 0.5, settings, storage(journal))
    assert calls == []  # the budget was already spent
    # a trial left RUNNING, as by a process killed mid-trial
    study = optuna.load_study(study_name="s/v", storage=storage(journal))
    study.ask()
    runs.fail_running(storage(journal), "s")  # what a run holding the folder's lock does first
    result = tune("s/v", SPACE, lambda p, r: calls.append(p) or 0.5, TuneConfig(trials=6, epochs=3),
                  storage(journal))
    states = [t["state"] for t in result.trials]
    assert states.count("FAIL") == 1 and "worker running it died" in result.trials[5]["reason"]
    assert len(calls) == 1 and states.count("COMPLETE") + states.count("PRUNED") == 6


def test_pruned_diverged_and_failed_trials_spend_budget_with_reasons(tmp_path):
    outcomes = iter(["ok", "nan", "oom", "ok"])

    def objective(params, report):
        kind = next(outcomes)
        if kind == "nan":
            raise Pruned("diverged: training loss is nan in epoch 1")
        if kind == "oom":
            raise Failed("out of memory with batch_size=128")
        return 0.5
    result = tune("s/f", SPACE, objective, TuneConfig(trials=4, epochs=3), storage(tmp_path / "f"))
    assert [t["state"] for t in result.trials] == ["COMPLETE", "PRUNED", "FAIL", "COMPLETE"]
    assert "diverged" in result.trials[1]["reason"] and "out of memory" in result.trials[2]["reason"]


def test_median_pruner_prunes_bad_trials(tmp_path):
    def objective(params, report):
        value = 0.9 if params["hidden_size"] == 64 else 0.1
        for epoch in (1, 2, 3):
            report(epoch, value)
        return value
    settings = TuneConfig(trials=12, epochs=3, sampler="random", pruner="median")
    result = tune("s/p", SPACE, objective, settings, storage(tmp_path / "p"))
    assert any(t["state"] == "PRUNED" and "pruned by median" in t["reason"] for t in result.trials)


def test_pareto_objective_stores_the_front(tmp_path):
    def objective(params, report):
        return params["hidden_size"] / 64, params["hidden_size"] / 10  # bigger: more accurate and slower
    result = tune("s/m", SPACE, objective, TuneConfig(trials=6, objective="pareto", epochs=1),
                  storage(tmp_path / "m"))
    assert result.front and result.front[0]["val_acc"] == max(f["val_acc"] for f in result.front)
    assert result.best_value == result.front[0]["val_acc"]


def test_edges_are_flagged():
    space = {"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "hidden_size": [16, 32, 64], "dropout": {"low": 0.0, "high": 0.5}}
    assert edges({"lr": 1.1e-4, "hidden_size": 32, "dropout": 0.25}, space) == ["lr"]
    assert edges({"lr": 3e-3, "hidden_size": 64, "dropout": 0.49}, space) == ["hidden_size", "dropout"]


def test_budget_presets_and_overrides():
    smoke = load_study(["study=packing", "budget=smoke"])
    assert (smoke.tune.trials, smoke.train.samples, smoke.data.max_train, smoke.seeds) == (3, 1800, 1000, [0, 1, 2])
    assert (smoke.train.epochs, smoke.tune.epochs, smoke.tune.samples) == (None, None, 900)  # bound in samples
    full = load_study(["study=packing", "budget=full", "tune.trials=7"])
    assert (full.tune.trials, full.train.samples, len(full.seeds)) == (7, BUDGETS["full"]["train"]["samples"], 5)
    assert load_study(["study=packing"]).budget == "quick"
    plain = load_study(["study=packing", "budget=null"])
    assert plain.budget is None and plain.tune.trials == 0 and plain.train.epochs == 1  # the files and the schema
    lesson = load_study(["study=lesson"])
    assert lesson.budget is None and lesson.tune.trials == 0 and lesson.train.batch_size == 16


def test_precedence_words_over_the_file_over_its_includes_over_the_budget(tmp_path, monkeypatch):
    """A study file's own values are not lost to the budget its includes name (issue 24)."""
    import bench.config as config
    (tmp_path / "_base.yaml").write_text("budget: quick\ntune: {epochs: 2}\nscientific: {cell: [gru]}\n")
    (tmp_path / "mine.yaml").write_text("include: _base.yaml\ntune: {trials: 2}\ntrain: {epochs: 5}\n")
    monkeypatch.setattr(config, "STUDIES_DIR", tmp_path)
    study = load_study(["study=mine"])
    assert (study.budget, study.tune.trials, study.train.epochs) == ("quick", 2, 5)  # the file beats the budget
    assert study.tune.epochs == 2 and study.measure.seeds == 3  # the include beats the budget; the rest is quick's
    words = load_study(["study=mine", "train.epochs=7", "budget=smoke"])
    assert (words.train.epochs, words.tune.trials, words.data.max_train) == (7, 2, 1000)  # the words beat the file


def test_a_run_is_bound_once_by_the_highest_layer_that_names_epochs_or_samples(tmp_path, monkeypatch):
    """Issue 34 item 5: a budget bounds runs in samples; a study file's or the words' epochs replace that bound (and
    samples replace epochs), so the key the user named is the one that holds; a sweep point's too."""
    import bench.config as config
    quick = BUDGETS["quick"]
    plain = load_study(["study=packing"])
    assert (plain.train.epochs, plain.train.samples) == (None, quick["train"]["samples"])
    assert (plain.tune.epochs, plain.tune.samples) == (None, quick["tune"]["samples"])
    point = plain.at(**{"train.epochs": 3})  # a sweep point over train.epochs
    assert (point.train.epochs, point.train.samples) == (3, None) and "train.epochs=3" in point.words
    assert Params(samples=500).epochs is None and Params(epochs=2).samples is None  # the Python API
    for argv, said in ((["study=packing", "train.epochs=3", "train.samples=900"],
                        "train.epochs=3 and train.samples=900 both bound a run: give one of them (train.samples=null "
                        "to bound by epochs, train.epochs=null to bound by samples)"),
                       (["study=packing", "tune.samples=null"],
                        "tune.epochs and tune.samples are both null: bound a run by one of them, e.g. tune.epochs=8")):
        with pytest.raises(ConfigError) as e:
            load_study(argv)
        assert str(e.value) == said
    (tmp_path / "mine.yaml").write_text("budget: quick\ntrain: {epochs: 5}\ntune: {samples: 700}\n"
                                        "scientific: {cell: [gru]}\n")
    monkeypatch.setattr(config, "STUDIES_DIR", tmp_path)
    study = load_study(["study=mine"])
    assert (study.train.epochs, study.train.samples) == (5, None)  # the file's epochs beat the budget's samples
    assert (study.tune.epochs, study.tune.samples) == (None, 700)
    words = load_study(["study=mine", "train.samples=2000", "tune.epochs=2"])
    assert (words.train.epochs, words.train.samples, words.tune.epochs, words.tune.samples) == (None, 2000, 2, None)


@pytest.mark.parametrize("argv, message", [
    (["study=packing", "budget=huge"], "budget='huge' is not allowed: use one of smoke, quick, full"),
    (["study=packing", "tune.trails=3"], "did you mean 'tune.trials'"),
    (["study=packing", "tune.sampler=grid"], "tune.sampler='grid' is not allowed"),
    (["study=packing", "nuisance.learning_rate=[0.1]"], "unknown nuisance parameter 'learning_rate'"),
    (["study=packing", "nuisance.lr={low:0.1,high:0.01}"], "nuisance.lr="),
    (["study=lesson", "tune.trials=3"], "data.val_fraction=0 leaves none"),
])
def test_bad_tuning_input(argv, message):
    from bench.errors import ConfigError
    with pytest.raises(ConfigError, match=message):
        load_study(argv)


TINY = ["study=smoke", "data.synthetic.n_train=160", "data.synthetic.n_test=40", "cell=[rnn,gru]",
        "packing=packed", "tune.trials=2", "measure.seeds=2"]


def test_study_tunes_then_measures_and_a_rerun_adds_nothing(tmp_path, capsys):
    out = tmp_path / "t"
    assert run.main([*TINY, f"out={out}"]) == 0
    tuning = json.loads((out / "tuning.json").read_text())
    assert sorted(tuning) == ["gru-packed-l1-true_last", "rnn-packed-l1-true_last"]
    records = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["tuned"] and r["budget"] == "smoke" for r in records)
    for r in records:  # the seeds re-train the winning parameters
        best = tuning[r["variant"]]["best"]
        assert all(r["hyperparameters"][k] == v for k, v in best.items())
    def trials():
        return [len(optuna.load_study(study_name=f"smoke/{v}", storage=storage(out)).trials) for v in sorted(tuning)]
    before = trials()
    capsys.readouterr()
    started = time.monotonic()
    assert run.main([*TINY, f"out={out}"]) == 0
    assert trials() == before == [2, 2]  # no trial added
    assert len((out / "records.jsonl").read_text().splitlines()) == 4 and time.monotonic() - started < 30
    assert "SMALL BUDGET (smoke)" in capsys.readouterr().out


def test_resume_false_starts_a_fresh_folder(tmp_path):
    out = tmp_path / "f"
    argv = over(TINY, "tune.trials=1", "measure.seeds=1", "cell=rnn")
    assert run.main([*argv, f"out={out}"]) == 0
    assert run.main([*argv, f"out={out}", "resume=false"]) == 0
    assert (tmp_path / "f-2" / "records.jsonl").is_file() and len((out / "records.jsonl").read_text().splitlines()) == 1


def test_sigkill_mid_study_then_rerun_keeps_one_record_per_run(tmp_path):
    out = tmp_path / "k"
    argv = [sys.executable, "-m", "bench.run", *over(TINY, "data.synthetic.n_train=1500", "tune.trials=3",
            "train.epochs=2", "cell=[rnn,lstm,gru]"), f"out={out}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "records.jsonl").is_file():
        time.sleep(0.2)  # kill once the first seed run is stored: later trials and runs are mid-flight
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert subprocess.run(argv, cwd=ROOT, env=env, capture_output=True).returncode == 0
    records = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines() if l.strip()]
    keys = [(r["variant"], r["seed"]) for r in records]
    assert sorted(keys) == sorted({(v, s) for v in ("rnn-packed-l1-true_last", "lstm-packed-l1-true_last",
                                                     "gru-packed-l1-true_last") for s in (0, 1)})
    study = optuna.load_study(study_name="smoke/rnn-packed-l1-true_last", storage=storage(out))
    spent = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(spent) == 3


def test_any_sqlalchemy_url_works_as_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = tune("s/sql", SPACE, quadratic, TuneConfig(trials=3, epochs=3), runs.open_storage(url, tmp_path, 120))
    again = tune("s/sql", SPACE, lambda p, r: 1 / 0, TuneConfig(trials=3, epochs=3),
                 runs.open_storage(url, tmp_path, 120))
    assert first.best == again.best and len(again.trials) == 3  # resumed from the database, nothing re-run


def test_a_crashing_variant_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    real_training = pipeline.training  # what tuning trains with (bench.train.training, one epoch at a time)

    def training(variant, *args, **kwargs):
        if variant.cell == "rnn":
            raise ValueError("boom in the rnn variant")
        return real_training(variant, *args, **kwargs)
    monkeypatch.setattr(pipeline, "training", training)
    out = tmp_path / "c"
    assert run.main([*over(TINY, "tune.trials=1", "measure.seeds=1"), f"out={out}"]) == 1
    printed = capsys.readouterr().out
    assert "FAILED rnn-packed-l1-true_last: ValueError: boom in the rnn variant" in printed
    records = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert [r["variant"] for r in records] == ["gru-packed-l1-true_last"]


def test_sweep_runs_one_sub_study_per_point_and_tabulates(tmp_path, capsys):
    out = tmp_path / "lr"
    assert run.main(["study=longrange", "data.synthetic.n_train=120", "data.synthetic.n_test=40", "tune.trials=1",
                     "tune.epochs=1", "train.epochs=1", "measure.seeds=1", "cell=[rnn,gru]",
                     "sweep={data.synthetic.distance:[0,3]}", f"out={out}"]) == 0
    assert (out / "distance-0" / "records.jsonl").is_file() and (out / "distance-3" / "records.jsonl").is_file()
    table = (out / "summary.csv").read_text()
    assert "distance-3" in table and "rnn-packed-l1" in table
    assert "test_acc_mean across the sweep" in capsys.readouterr().out
    assert "distance-0" in (out / "index.html").read_text()


def test_a_late_tuning_result_is_dropped_not_a_crash(tmp_path):
    """A trial failed by another worker meanwhile (its heartbeat had stopped): Optuna refuses the late value; the
    budget is spent by a fresh trial instead (bench.runs.optimize_once, shared with the measured runs)."""
    folder = tmp_path / "late"
    calls = []

    def objective(params, report):
        calls.append(params)
        if len(calls) == 1:
            other = optuna.load_study(study_name="s/late", storage=storage(folder))
            other.tell(other.get_trials(states=(optuna.trial.TrialState.RUNNING,))[0].number,
                       state=optuna.trial.TrialState.FAIL)
        return 0.5
    result = tune("s/late", SPACE, objective, TuneConfig(trials=2, epochs=1), storage(folder))
    assert len(calls) == 3 and [t["state"] for t in result.trials] == ["FAIL", "COMPLETE", "COMPLETE"]


def test_the_search_space_is_read_once_as_optunas_distributions():
    import optuna

    from bench.tune import distributions, edges, largest
    space = {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "hidden_size": [32, 64, 128],
             "batch_size": {"low": 8, "high": 64}, "dropout": 0.1}
    read = distributions(space)
    assert read["lr"] == optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    assert read["batch_size"] == optuna.distributions.IntDistribution(8, 64)
    assert read["hidden_size"] == optuna.distributions.CategoricalDistribution([32, 64, 128])
    assert read["dropout"] == 0.1
    assert [largest(space, k) for k in ("lr", "hidden_size", "batch_size", "dropout", "clip")] == [
        1e-2, 128, 64, 0.1, None]
    assert edges({"lr": 1e-2, "hidden_size": 64, "batch_size": 36}, space) == ["lr"]
    assert edges({"lr": 1e-3, "hidden_size": 128, "batch_size": 8}, space) == ["hidden_size", "batch_size"]
