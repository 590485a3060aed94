import math

import pytest

from bench.report import effects as fx
from bench.report.tables import summarize

from .conftest import record


def _grid():
    """cell x packing, 3 seeds each; packing adds +0.2 for lstm, nothing for gru."""
    acc = {"lstm-padded-l1": [0.50, 0.52, 0.51], "lstm-packed-l1": [0.70, 0.72, 0.71],
           "gru-padded-l1": [0.60, 0.62, 0.58], "gru-packed-l1": [0.61, 0.59, 0.60]}
    times = {"lstm-padded-l1": 1.0, "lstm-packed-l1": 3.0, "gru-padded-l1": 2.0, "gru-packed-l1": 4.0}
    return [record(v, s, test_acc=a, epoch_times_s=[times[v]], peak_mem_mb=100.0 * (1 + ("packed" in v)))
            for v, accs in acc.items() for s, a in enumerate(accs)]


def test_each_axis_is_paired_by_the_other_axes():
    records = _grid()
    table = fx.effects(records, summarize(records))
    assert sorted(zip(table["axis"], table["variant_baseline"], table["variant"])) == [
        ("cell", "lstm-packed-l1", "gru-packed-l1"), ("cell", "lstm-padded-l1", "gru-padded-l1"),
        ("packing", "gru-padded-l1", "gru-packed-l1"), ("packing", "lstm-padded-l1", "lstm-packed-l1")]
    lstm = table[(table["axis"] == "packing") & (table["variant"] == "lstm-packed-l1")].iloc[0]
    assert lstm["baseline"] == "padded" and lstm["context"] == "cell=lstm"
    assert lstm["delta"] == pytest.approx(0.2) and lstm["ci_low"] > 0.15 and lstm["p_holm"] < 0.05
    assert lstm["time_ratio"] == pytest.approx(3.0) and lstm["memory_ratio"] == pytest.approx(2.0)
    assert fx.verdict(lstm) == "better"
    gru = table[(table["axis"] == "packing") & (table["variant"] == "gru-packed-l1")].iloc[0]
    assert gru["delta"] == pytest.approx(0.0, abs=1e-12) and gru["p_welch"] > 0.5
    assert fx.verdict(gru) == "no significant difference"
    assert (table["p_holm"] >= table["p_welch"]).all()


def test_one_seed_gives_a_delta_but_no_test():
    records = [record("rnn-padded-l1", 0, test_acc=0.3), record("rnn-packed-l1", 0, test_acc=0.5)]
    row = fx.effects(records, summarize(records)).iloc[0]
    assert row["delta"] == pytest.approx(0.2) and math.isnan(row["p_welch"])
    assert fx.verdict(row) == "too few seeds to test"


def test_no_pairs_when_variants_differ_on_two_axes_at_once():
    records = [record("rnn-padded-l1", 0), record("lstm-packed-l1", 0)]
    assert fx.effects(records, summarize(records)).empty


def test_layers_baseline_is_the_fewest_and_memory_kinds_are_not_mixed():
    records = [record("gru-packed-l2", 0), record("gru-packed-l1", 0, memory_kind="cuda_allocator")]
    row = fx.effects(records, summarize(records)).iloc[0]
    assert (row["axis"], row["baseline"], row["value"]) == ("layers", 1, 2)
    assert math.isnan(row["memory_ratio"]) and row["memory_kind"] == "mixed"
