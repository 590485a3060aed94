"""The Python API: run a study, get its summary; load any study folder's tables as DataFrames."""

import pandas as pd
import pytest

import bench
from bench.errors import BenchError

TINY = ["data.synthetic.n_train=120", "data.synthetic.n_test=40", "train.epochs=1", "tune.trials=0"]


def test_run_study_returns_the_summary_and_load_gives_the_page_s_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "smoke"
    summary = bench.run_study("smoke", *TINY, "measure.seeds=2", cell=["rnn", "gru"], packing="packed", out=str(out))
    assert isinstance(summary, pd.DataFrame) and set(summary.index) == {"rnn-packed-l1-true_last",
                                                                         "gru-packed-l1-true_last"}
    assert (summary["seeds"] == 2).all() and summary["test_acc_mean"].between(0, 1).all()
    tables = bench.load(out)
    pd.testing.assert_frame_equal(tables.summary, summary)
    on_disk = pd.read_csv(out / "results.csv")
    assert len(tables.results) == len(on_disk) == 4 and list(tables.results.columns) == list(on_disk.columns)
    assert {"hp.lr", "hp.batch_size"} <= set(tables.results.columns)
    assert list(tables.leaderboard.index[:2]) == list(summary.index)
    assert {"variant", "epoch", "val_acc"} <= set(tables.epochs.columns)


def test_a_mistake_raises_the_command_line_s_message(tmp_path):
    with pytest.raises(BenchError, match="cell='foo' is not allowed: use one of rnn, lstm, gru"):
        bench.run_study("smoke", cell="foo", out=str(tmp_path / "x"))
    with pytest.raises(BenchError, match="no records in"):
        bench.load(tmp_path / "nothing")
    assert not (tmp_path / "x").exists()
