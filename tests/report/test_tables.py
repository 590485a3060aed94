import json
import math

import pytest

from bench.record import Planned
from bench.report import board as board_
from bench.report import tables

from .conftest import record


def _records():
    return [record("lstm-padded-l1", 0, test_acc=0.50, epoch_times_s=[1.0, 3.0]),
            record("lstm-padded-l1", 1, test_acc=0.60, epoch_times_s=[2.0, 4.0], peak_mem_mb=150.0),
            record("lstm-packed-l1", 0, test_acc=0.80, epoch_times_s=[5.0, 5.0], tokens_per_s=500.0),
            record("lstm-packed-l1", 1, test_acc=0.82, epoch_times_s=[5.0, 7.0], tokens_per_s=700.0)]


def test_summary_sorts_by_test_accuracy_with_ci_iqr_and_seed_values():
    summary = tables.summarize(_records())
    assert list(summary.index) == ["lstm-packed-l1", "lstm-padded-l1"]
    padded = summary.loc["lstm-padded-l1"]
    assert padded["test_acc_mean"] == pytest.approx(0.55)
    assert padded["test_acc_ci"] == pytest.approx(12.706 * 0.05, rel=1e-3)  # t(0.975, 1) * sd / sqrt(2)
    assert padded["epoch_time_s"] == 2.5 and padded["epoch_time_q1"] == 1.75 and padded["epoch_time_q3"] == 3.25
    assert padded["epoch_samples"] == 4 and padded["peak_mem_mb"] == 150.0
    assert json.loads(padded["test_acc_by_seed"]) == {"0": 0.5, "1": 0.6}
    assert summary.loc["lstm-packed-l1", "tokens_per_s"] == 600.0  # median over seeds
    assert padded["cell"] == "lstm" and padded["packing"] == "padded"


def test_leaderboard_marks_best_values_and_shows_each_seed_on_hover():
    board = board_.leaderboard(tables.summarize(_records()))
    assert board.text.loc["lstm-packed-l1", "test acc"].startswith("0.8100 ± ")
    assert board.best.loc["lstm-packed-l1", "test acc"] and not board.best.loc["lstm-padded-l1", "test acc"]
    assert board.best.loc["lstm-padded-l1", "s/epoch"] and board.best.loc["lstm-padded-l1", "real tok/s"]
    assert board.text.loc["lstm-padded-l1", "s/epoch"] == "2.5 [1.75–3.25]"
    assert board.hover.loc["lstm-padded-l1", "test acc"] == "per seed: 0: 0.5000, 1: 0.6000"
    assert board.text.loc["lstm-padded-l1", "peak MiB"] == "150.0"
    assert board.text.loc["lstm-padded-l1", "memory kind"] == "cpu_fresh_process_peak_rise"
    assert board.text.loc["lstm-padded-l1", "hyperparameters"] == "fixed"


def test_tuned_hyperparameters_are_shown_with_edges_flagged():
    records = [record("gru-packed-l1", 0, tuned=True, edge_params=["dropout"],
                      hyperparameters={"lr": 0.0035, "dropout": 0.01, "batch_size": 64, "epochs": 2})]
    tuning = {"gru-packed-l1": {"best": {"lr": 0.0035, "dropout": 0.01, "batch_size": 64}}}
    board = board_.leaderboard(tables.summarize(records, tuning=tuning))
    assert board.text.loc["gru-packed-l1", "hyperparameters"] == "batch_size=64, dropout=0.01!, lr=0.0035"
    assert "edge" in board.hover.loc["gru-packed-l1", "hyperparameters"]
    assert not board.best.any().any(), "one variant: nothing to mark as best"


def test_memory_of_different_kinds_is_not_ranked():
    records = _records()
    records[0]["memory_kind"] = "cuda_allocator"
    board = board_.leaderboard(tables.summarize(records))
    assert not board.best["peak MiB"].any()


def test_markdown_leaderboard_bolds_the_best():
    md = board_.markdown(board_.leaderboard(tables.summarize(_records())))
    lines = md.splitlines()
    assert lines[0].startswith("| variant | seeds | test acc |") and lines[1].startswith("|---|")
    assert "| lstm-packed-l1 | 2 | **0.8100 ± " in lines[2] and len(lines) == 4


def test_missing_runs_lists_planned_pairs_without_a_record():
    planned = Planned(variants=["lstm-padded-l1", "lstm-packed-l1", "gru-packed-l1"], seeds=[0, 1])
    assert tables.missing_runs(_records()[:3], planned) == [("lstm-packed-l1", 1), ("gru-packed-l1", 0),
                                                            ("gru-packed-l1", 1)]
    assert tables.missing_runs(_records(), None) == []


def test_epochs_and_curves_frames_flatten_history():
    epochs = tables.epochs_frame(_records())
    assert len(epochs) == 8 and list(epochs.columns) == tables.EPOCH_COLUMNS
    curves = tables.curves_frame(_records()[:1])
    assert list(curves["samples_total"]) == [45, 90, 135, 180]  # epoch 2 continues from the 90 train rows
    results = tables.results_frame(_records())
    assert "history" not in results and json.loads(results.loc[0, "epoch_times_s"]) == [1.0, 3.0]


def test_a_variant_without_test_accuracy_sorts_on_validation():
    records = [record("rnn-packed-l1", 0, test_acc=None, val_acc=0.3),
               record("gru-packed-l1", 0, test_acc=None, val_acc=0.9)]
    assert list(tables.summarize(records).index) == ["gru-packed-l1", "rnn-packed-l1"]


def test_learned_means_above_the_majority_rate_by_more_than_the_noise():
    assert tables.learned(0.255, math.nan, 0.25, 7600) == (False, pytest.approx(1.96 * math.sqrt(0.25 * 0.75 / 7600)))
    assert tables.learned(0.30, 0.01, 0.25, 7600)[0] is True
    assert tables.learned(0.30, 0.06, 0.25, 7600)[0] is False  # seed noise wider than the gain
    assert tables.learned(0.30, 0.01, None, 7600) == (None, pytest.approx(math.nan, nan_ok=True))


def test_a_variant_that_did_not_learn_is_marked_ranked_last_and_never_starred():
    records = [record("gru-padded-l1", s, test_acc=0.25 + 0.001 * s, majority_acc=0.25, test_rows=7600,
                      epoch_times_s=[0.1]) for s in range(3)]
    records += [record("gru-packed-l1", s, test_acc=0.8 + 0.01 * s, majority_acc=0.25, test_rows=7600,
                       epoch_times_s=[5.0]) for s in range(3)]
    records += [record("lstm-packed-l1", s, test_acc=0.7 + 0.01 * s, majority_acc=0.25, test_rows=7600,
                       epoch_times_s=[3.0]) for s in range(3)]
    summary = tables.summarize(records)
    assert list(summary.index) == ["gru-packed-l1", "lstm-packed-l1", "gru-padded-l1"]
    assert summary.loc["gru-padded-l1", "learned"] == False and summary.loc["gru-packed-l1", "learned"] == True  # noqa: E712
    board = board_.leaderboard(summary)
    assert board.text.loc["gru-padded-l1", "learned"] == "NO" and board.text.loc["gru-packed-l1", "learned"] == "yes"
    assert not board.best.loc["gru-padded-l1"].any()  # fastest, but it learned nothing: no star
    assert board.best.loc["lstm-packed-l1", "s/epoch"] and board.best.loc["gru-packed-l1", "test acc"]


def test_epochs_kept_and_run_are_shown_with_a_flag_at_the_cap():
    records = [record("lstm-packed-l1", 0, epochs=5, best_epoch=3, hyperparameters={"epochs": 8}),
               record("lstm-packed-l1", 1, epochs=8, best_epoch=8, hyperparameters={"epochs": 8})]
    summary = tables.summarize(records)
    row = summary.loc["lstm-packed-l1"]
    assert (row["epochs_kept"], row["epochs_run"], row["epoch_cap"], row["kept_at_cap"]) == (5.5, 6.5, 8, 1)
    board = board_.leaderboard(summary)
    assert board.text.loc["lstm-packed-l1", "epochs kept/run"] == "5.5/6.5 ⚠"
    assert "per seed 3/5 8/8; cap 8" in board.hover.loc["lstm-packed-l1", "epochs kept/run"]


def test_the_classical_reference_is_an_unranked_last_row():
    classical = {"model": "TF-IDF (1-2 grams) + logistic regression", "test_acc": 0.867, "val_acc": 0.9, "C": 4.0,
                 "train_rows": 9386}
    board = board_.leaderboard(tables.summarize(_records()), classical)
    assert list(board.text.index)[-1] == board_.REFERENCE_ROW
    assert board.text.loc[board_.REFERENCE_ROW, "test acc"] == "0.8670"
    assert not board.best.loc[board_.REFERENCE_ROW].any()
    assert "C=4.0 chosen on validation" in board.hover.loc[board_.REFERENCE_ROW, "test acc"]
    assert "| reference: TF-IDF + LR | - | 0.8670 |" in board_.markdown(board)


def test_results_and_summary_have_one_column_per_hyperparameter():
    records = [record("lstm-packed-l1", s, hyperparameters={"lr": 0.01, "batch_size": 64, "clip": None})
               for s in (0, 1)]
    results = tables.results_frame(records)
    assert list(results["hp.lr"]) == [0.01, 0.01] and list(results["hp.batch_size"]) == [64, 64]
    assert results["hp.clip"].isna().all() and json.loads(results["hyperparameters"][0])["lr"] == 0.01
    summary = tables.summarize(records)
    assert summary.loc["lstm-packed-l1", "hp.batch_size"] == 64


def test_measure_metric_macro_f1_ranks_and_decides_by_macro_f1_and_the_answer_says_so():
    """Issue 34 item 6: where accuracy and macro-F1 disagree (a variant that predicts the large class well and the
    small ones badly), measure.metric=macro_f1 ranks, tests and words the answer by macro-F1."""
    from bench.report import answer as answer_, effects as fx
    def runs(metric):
        return [record("lstm-padded-l1-true_last", s, test_acc=0.80 + s / 1000, test_macro_f1=0.50 + s / 1000,
                       metric=metric) for s in range(3)] + \
               [record("lstm-packed-l1", s, test_acc=0.70 + s / 1000, test_macro_f1=0.68 + s / 1000, metric=metric)
                for s in range(3)]
    by_acc, by_f1 = tables.summarize(runs("accuracy")), tables.summarize(runs("macro_f1"))
    assert list(by_acc.index)[0] == "lstm-padded-l1-true_last" and list(by_f1.index)[0] == "lstm-packed-l1"
    row = fx.effects(runs("macro_f1"), by_f1).iloc[0]
    assert row["metric"] == "test_macro_f1" and row["delta"] == pytest.approx(0.18)
    assert fx.effects(runs("accuracy"), by_acc).iloc[0]["delta"] == pytest.approx(-0.10)
    said = " ".join(answer_.answer(by_f1, fx.effects(runs("macro_f1"), by_f1), None, []).sentences)
    assert "Best by test macro-F1: lstm-packed-l1, test macro-F1 0.681" in said
