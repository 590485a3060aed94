import math

import pytest

from bench.report import effects as fx
from bench.report.tables import summarize

from .conftest import record


def _grid():
    """cell x packing (padded read at each true end, so that packing is the only change), 3 seeds each;
    packing adds +0.2 for lstm, nothing for gru."""
    acc = {"lstm-padded-l1-true_last": [0.50, 0.52, 0.51], "lstm-packed-l1": [0.70, 0.72, 0.71],
           "gru-padded-l1-true_last": [0.60, 0.62, 0.58], "gru-packed-l1": [0.61, 0.59, 0.60]}
    times = {"lstm-padded-l1-true_last": 1.0, "lstm-packed-l1": 3.0, "gru-padded-l1-true_last": 2.0,
             "gru-packed-l1": 4.0}
    return [record(v, s, test_acc=a, epoch_times_s=[times[v]], peak_mem_mb=100.0 * (1 + ("packed" in v)))
            for v, accs in acc.items() for s, a in enumerate(accs)]


def test_each_axis_is_paired_by_the_other_axes():
    records = _grid()
    table = fx.effects(records, summarize(records))
    assert sorted(zip(table["axis"], table["variant_baseline"], table["variant"])) == [
        ("cell", "lstm-packed-l1", "gru-packed-l1"), ("cell", "lstm-padded-l1-true_last", "gru-padded-l1-true_last"),
        ("packing", "gru-padded-l1-true_last", "gru-packed-l1"),
        ("packing", "lstm-padded-l1-true_last", "lstm-packed-l1")]
    lstm = table[(table["axis"] == "packing") & (table["variant"] == "lstm-packed-l1")].iloc[0]
    assert lstm["baseline"] == "padded" and lstm["context"] == "cell=lstm"
    assert lstm["delta"] == pytest.approx(0.2) and lstm["ci_low"] > 0.15 and lstm["p_holm"] < 0.05
    assert lstm["time_ratio"] == pytest.approx(3.0) and lstm["memory_ratio"] == pytest.approx(2.0)
    assert fx.verdict(lstm) == "better"
    gru = table[(table["axis"] == "packing") & (table["variant"] == "gru-packed-l1")].iloc[0]
    assert gru["delta"] == pytest.approx(0.0, abs=1e-12) and gru["p_welch"] > 0.5
    assert gru["verdict"] == "undecided" and 3 < gru["seeds_needed"] < 100  # Δ 0 at sd 0.01-0.02: not yet within ±0.01
    assert fx.verdict(gru) == f"undecided (~{gru['seeds_needed']:.0f} seeds a side)"
    assert (table["p_holm"] >= table["p_welch"]).all()


def test_one_seed_gives_a_delta_but_no_test():
    records = [record("rnn-padded-l1-true_last", 0, test_acc=0.3), record("rnn-packed-l1", 0, test_acc=0.5)]
    row = fx.effects(records, summarize(records)).iloc[0]
    assert row["delta"] == pytest.approx(0.2) and math.isnan(row["p_welch"])
    assert row["verdict"] == "undecided" and fx.verdict(row) == "undecided (one seed: no test)"


def test_no_pairs_when_variants_differ_on_two_axes_at_once():
    records = [record("rnn-padded-l1", 0), record("lstm-packed-l1", 0)]
    assert fx.effects(records, summarize(records)).empty


def test_layers_baseline_is_the_fewest_and_memory_kinds_are_not_mixed():
    records = [record("gru-packed-l2", 0), record("gru-packed-l1", 0, memory_kind="cuda_allocator")]
    row = fx.effects(records, summarize(records)).iloc[0]
    assert (row["axis"], row["baseline"], row["value"]) == ("layers", 1, 2)
    assert math.isnan(row["memory_ratio"]) and row["memory_kind"] == "mixed"


def _packing_study(readout_gain: float = 0.4, timing: bool = True):
    """studies/packing.yaml's nine variants, 3 seeds: padded+last reads the pads (chance for lstm, gru), the
    read-out at each true end recovers it, packing adds nothing; packed steps take 2x at the shared sizes."""
    out = []
    for cell in ("rnn", "lstm", "gru"):
        for name, base, ms in ((f"{cell}-padded-l1", 0.3 if cell == "rnn" else 0.25, 10.0),
                               (f"{cell}-padded-l1-true_last", 0.25 + readout_gain, 10.0),
                               (f"{cell}-packed-l1", 0.25 + readout_gain, 20.0)):
            for seed, wobble in enumerate((-0.002, 0.0, 0.002)):
                extra = {"timing": {"step_ms": [ms, ms * 1.1], "peak_mem_mb": 100.0, "memory_kind": "cpu_process_peak_rss",
                                    "pad_fraction": 0.3, "sizes": {"embed_dim": 64, "hidden_size": 64,
                                                                    "batch_size": 64}}} if timing else {}
                out.append(record(name, seed, test_acc=base + wobble, majority_acc=0.25, test_rows=7600,
                                  epoch_times_s=[ms / (1 + seed)], **extra))
    return out


def test_packing_study_gives_each_effect_one_cause():
    records = _packing_study()
    table = fx.effects(records, summarize(records))
    pairs = set(zip(table["axis"], table["variant_baseline"], table["variant"]))
    for cell in ("rnn", "lstm", "gru"):
        assert ("readout", f"{cell}-padded-l1", f"{cell}-padded-l1-true_last") in pairs  # the read-out alone
        assert ("packing", f"{cell}-padded-l1-true_last", f"{cell}-packed-l1") in pairs  # packing alone
        assert not any(b == f"{cell}-padded-l1" and v == f"{cell}-packed-l1" for _, b, v in pairs)  # two causes
    packing = table[table["axis"] == "packing"]
    assert packing["time_ratio"].tolist() == pytest.approx([2.0] * 3)  # the timing pass, not the tuned epochs
    assert (packing["time_basis"] == "embed 64, hidden 64, batch 64").all()
    assert packing["verdict"].tolist() == ["equivalent"] * 3  # the same function: Δ 0 at sd 0.002, margin 0.01


def test_a_side_that_did_not_learn_is_not_comparable_and_leaves_holms_family():
    records = _packing_study()
    table = fx.effects(records, summarize(records))
    readout = table[table["axis"] == "readout"].set_index("variant")
    for cell in ("lstm", "gru"):  # padded + last at chance: no verdict, no p
        row = readout.loc[f"{cell}-padded-l1-true_last"]
        assert not row["comparable"] and math.isnan(row["p_holm"]) and row["delta"] == pytest.approx(0.4)
        assert fx.verdict(row) == "not comparable (did not learn)"
    rnn = readout.loc["rnn-padded-l1-true_last"]  # 0.30 at 7,600 rows is above chance: it learned a little
    assert rnn["comparable"] and fx.verdict(rnn) == "better"
    assert table["p_holm"].notna().sum() == table["comparable"].sum()


def test_without_a_timing_pass_times_fall_back_to_the_tuned_epochs_and_say_so():
    records = _packing_study(timing=False)
    row = fx.effects(records, summarize(records)).iloc[0]
    assert row["time_basis"] == "tuned sizes (no timing pass)" and not math.isnan(row["time_ratio"])


def test_baselines_pair_on_the_cell_axis_without_the_axes_they_lack():
    records = [record(v, s, test_acc=0.8 + 0.01 * s) for v in ("rnn-packed-l1", "lstm-packed-l1", "bag",
                                                                "transformer-l1") for s in range(2)]
    table = fx.effects(records, summarize(records))
    assert set(zip(table["axis"], table["variant"])) == {("cell", "lstm-packed-l1"), ("cell", "bag"),
                                                         ("cell", "transformer-l1")}
    assert set(table["variant_baseline"]) == {"rnn-packed-l1"}


def test_the_question_is_holms_family_and_other_axes_are_context():
    records = _grid()
    asked = fx.effects(records, summarize(records), fx.Criteria(question=("packing",)))
    cell = asked[asked["axis"] == "cell"]
    assert set(cell["verdict"]) == {fx.CONTEXT} and cell["p_holm"].isna().all() and cell["p_welch"].notna().all()
    assert fx.verdict(cell.iloc[0]) == "context (not in the question)"
    everything = fx.effects(records, summarize(records))
    lstm = lambda t: t[(t["axis"] == "packing") & (t["variant"] == "lstm-packed-l1")].iloc[0]  # noqa: E731
    assert lstm(asked)["p_holm"] < lstm(everything)["p_holm"]  # a smaller family, a smaller correction


def test_only_four_verdicts_and_the_level_is_split_over_the_looks():
    records = _grid()
    table = fx.effects(records, summarize(records))
    assert set(table["verdict"]) <= set(fx.VERDICTS)
    lstm = table[table["variant"] == "lstm-packed-l1"].iloc[0]
    strict = fx.Criteria(alpha=1e-9)  # a level no 3-seed test can reach
    assert fx.effects(records, summarize(records), strict).set_index("variant").loc["lstm-packed-l1",
                                                                                    "verdict"] == "undecided"
    assert lstm["verdict"] == "better" and fx.Criteria(first=3, cap=8).level == pytest.approx(0.05 / 3)


def test_equivalent_needs_the_interval_inside_the_margin():
    close = [record("gru-padded-l1-true_last", s, test_acc=0.80 + 0.001 * (s % 3)) for s in range(6)] + [
        record("gru-packed-l1", s, test_acc=0.802 + 0.001 * (s % 3)) for s in range(6)]
    row = fx.effects(close, summarize(close)).iloc[0]
    assert row["verdict"] == "better"  # a difference shown (0.002), smaller than the margin: still a difference
    same = close[:6] + [record("gru-packed-l1", s, test_acc=0.80 + 0.001 * ((s + 1) % 3)) for s in range(6)]
    row = fx.effects(same, summarize(same)).iloc[0]
    assert row["verdict"] == "equivalent" and row["p_tost_holm"] < 0.05
    wide = fx.effects(same, summarize(same), fx.Criteria(margin=0.0005)).iloc[0]
    assert wide["verdict"] == "undecided"


def test_lenses_are_computed_and_a_disagreement_is_said():
    records = _grid()
    table = fx.effects(records, summarize(records)).set_index("variant")
    lstm = table.loc["lstm-packed-l1"]
    assert lstm["boot_low"] > 0 and lstm["aso_better"] < 0.2 and lstm["aso_worse"] > 0.8
    assert lstm["lenses"] == "lenses agree"
    row = lstm.copy()
    row["verdict"] = "undecided"  # as if Holm had been stricter: bootstrap and ASO still see a difference
    assert "bootstrap interval excludes 0" in fx._disagreement(row) and "ASO finds the change" in fx._disagreement(row)


def test_schedule_and_next_wave_add_seeds_to_undecided_pairs_only():
    assert fx.schedule(3, 8) == [3, 6, 8] and fx.schedule(5, 20) == [5, 10, 20] and fx.schedule(3, 3) == [3]
    records = _grid()
    summary = summarize(records)
    wave = fx.next_wave(records, summary, fx.Criteria(first=3, cap=8))
    assert wave == {"gru-padded-l1-true_last": 6, "gru-packed-l1": 6}  # lstm packing is decided: better
    assert fx.next_wave(records, summary, fx.Criteria(first=3, cap=3)) == {}  # no cap above the first wave: nothing
    more = records + [record(v, s, test_acc=0.60 + 0.01 * (s % 2)) for v in wave for s in range(3, 8)]
    assert fx.next_wave(more, summarize(more), fx.Criteria(first=3, cap=8)) == {}  # at the cap: stop, decided or not


def test_seed_stops_say_why_each_variant_has_its_seeds():
    records = _packing_study()
    summary = summarize(records)
    criteria = fx.Criteria(first=3, cap=8)
    stops = fx.seed_stops(summary, fx.effects(records, summary, criteria), criteria)
    assert stops["lstm-padded-l1"] == "first wave (its pairs are not comparable: a side did not learn)"
    assert stops["lstm-packed-l1"] == "decided at the first wave"  # packing: equivalent
    grid = _grid()
    summary = summarize(grid)
    stops = fx.seed_stops(summary, fx.effects(grid, summary, criteria), criteria)
    assert stops["gru-packed-l1"].startswith("unfinished")  # undecided at 3 seeds, cap 8: the next run adds a wave
    at_cap = fx.Criteria(first=3, cap=3)
    assert fx.seed_stops(summary, fx.effects(grid, summary, at_cap), at_cap)["gru-packed-l1"].startswith("undecided")
