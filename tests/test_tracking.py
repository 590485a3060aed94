"""tracking=mlflow (issue 24 item 9): a real MLflow server on 127.0.0.1, read back through its own client."""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from bench import run
from bench.config import ConfigError, load_study
from tests.conftest import over

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[dev]' (or '.[mlflow]')")

TINY = ["study=smoke", "cell=[gru]", "data.synthetic.n_train=120", "data.synthetic.n_test=40", "tune.trials=2",
        "measure.seeds=2", "train.epochs=2", "tracking=mlflow"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on a free local port, with its own SQLite store; its URL."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                             "--default-artifact-root", str(folder / "artifacts")],
                            stdout=subprocess.DEVNULL, stderr=open(folder / "server.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.25)
            if proc.poll() is not None:
                break
        else:
            pytest.fail(f"mlflow server did not answer in 60 s: {(folder / 'server.log').read_text()[-2000:]}")
        assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _runs(client, name: str) -> list:
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no MLflow experiment '{name}'"
    return client.search_runs([experiment.experiment_id], max_results=1000)


def test_every_trial_and_seed_is_a_run_under_its_variant_with_the_mean_and_ci(server, tmp_path, capsys):
    out = tmp_path / "s"
    argv = [*TINY, f"tracking_uri={server}", f"out={out}"]
    assert run.main(argv) == 0
    assert f"MLflow: 8 new trial and seed run(s) logged to {server}, experiment 'smoke'" in capsys.readouterr().err
    client = mlflow.MlflowClient(server)
    runs = _runs(client, "smoke")
    kinds = {k: [r for r in runs if r.data.tags.get("rnnbench.kind") == k] for k in ("variant", "seed", "trial")}
    assert len(kinds["variant"]) == 2 and len(kinds["seed"]) == 4 and len(kinds["trial"]) == 4 and len(runs) == 10
    summary = {row["variant"]: row for row in csv.DictReader(open(out / "summary.csv"))}
    for parent in kinds["variant"]:
        name = parent.data.tags["mlflow.runName"]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.data.tags["mlflow.runName"] for r in children) == ["seed 0", "seed 1", "trial 0", "trial 1"]
        assert parent.data.params["cell"] == "gru" and parent.data.metrics["seeds"] == 2
        assert parent.data.metrics["test_acc_mean"] == pytest.approx(float(summary[name]["test_acc_mean"]))
        # summary.csv's names and statistics: the CI half-width as test_acc_ci, the epoch time as its median
        for column in ("test_acc_ci", "epoch_time_s", "val_acc_mean"):
            assert parent.data.metrics[column] == pytest.approx(float(summary[name][column])), column
        assert not any(k.endswith(("_ci95", "_s_mean")) for k in parent.data.metrics)
        for seed in (r for r in children if r.data.tags["rnnbench.kind"] == "seed"):
            assert {"lr", "hidden_size", "batch_size"} <= set(seed.data.params)
            assert {"test_acc", "epoch_time_s", "peak_mem_mb"} <= set(seed.data.metrics)  # results.csv's names
            history = client.get_metric_history(seed.info.run_id, "history.val_acc")
            assert sorted(m.step for m in history) == [1, 2]  # one point per epoch
        for trial in (r for r in children if r.data.tags["rnnbench.kind"] == "trial"):
            assert {"lr", "dropout"} <= set(trial.data.params) and trial.info.status == "FINISHED"
            assert {"best_val_acc", "duration_s", "peak_mem_mb", "train_loss", "time_s"} <= set(trial.data.metrics)
    # the same command again logs nothing twice; more seeds log only the new ones and a new mean
    assert run.main(argv) == 0 and "MLflow: 0 new trial and seed run(s)" in capsys.readouterr().err
    assert len(_runs(client, "smoke")) == 10
    assert run.main(over(argv, "measure.seeds=3")) == 0
    assert "MLflow: 2 new trial and seed run(s)" in capsys.readouterr().err
    runs = _runs(client, "smoke")
    parent = next(r for r in runs if r.data.tags.get("rnnbench.kind") == "variant")
    assert [m.step for m in client.get_metric_history(parent.info.run_id, "test_acc_mean")] == [2, 3]


def test_a_tracker_that_cannot_be_reached_loses_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    argv = over(TINY, "tune.trials=0", "measure.seeds=1", "tracking_uri=http://127.0.0.1:9", f"out={tmp_path / 's'}")
    assert run.main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: could not log to MLflow at http://127.0.0.1:9 (" in err and "run the same command again" in err
    assert (tmp_path / "s" / "records.jsonl").read_text().count("\n") == 2


def test_the_default_tracker_is_a_file_in_the_study_folder(tmp_path):
    study = load_study([*TINY, f"out={tmp_path}"])
    from bench.tracking import uri
    assert uri(study) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    with pytest.raises(ConfigError, match="mode=speed trains none"):
        load_study(["study=speed", "tracking=mlflow"])
    with pytest.raises(ConfigError, match="tracking='wandb' is not allowed: use one of none, mlflow"):
        load_study([*TINY[:-1], "tracking=wandb"])
