import math

import pandas as pd
import pytest

from bench.record import Record
from bench.report import effects as fx
from bench.report.board import leaderboard, stop_words
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
    assert gru["delta"] == pytest.approx(0.0, abs=1e-12) and gru["p_value"] > 0.5
    assert gru["verdict"] == "undecided" and 3 < gru["seeds_needed"] < 100  # Δ 0 at sd 0.01-0.02: not yet within ±0.01
    assert fx.verdict(gru) == f"undecided (~{gru['seeds_needed']:.0f} seeds a side)"
    assert (table["p_holm"] >= table["p_value"]).all()


def test_one_seed_gives_a_delta_but_no_test():
    records = [record("rnn-padded-l1-true_last", 0, test_acc=0.3), record("rnn-packed-l1", 0, test_acc=0.5)]
    row = fx.effects(records, summarize(records)).iloc[0]
    assert row["delta"] == pytest.approx(0.2) and math.isnan(row["p_value"])
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
    """studies/packing.yaml's nine variants, 3 seeds, each cell's three sharing their tuned settings (paired): padded+last
    reads the pads (chance for lstm, gru), the read-out at each true end recovers it, packing adds nothing (the same
    score at every seed); packed steps take 2x at the shared sizes."""
    out = []
    for cell in ("rnn", "lstm", "gru"):
        for name, base, ms in ((f"{cell}-padded-l1", 0.3 if cell == "rnn" else 0.25, 10.0),
                               (f"{cell}-padded-l1-true_last", 0.25 + readout_gain, 10.0),
                               (f"{cell}-packed-l1", 0.25 + readout_gain, 20.0)):
            for seed, wobble in enumerate((-0.002, 0.0, 0.002)):
                extra = {"timing": {"step_ms": [ms, ms * 1.1], "peak_mem_mb": 100.0, "memory_kind": "cpu_fresh_process_peak_rise",
                                    "pad_fraction": 0.3, "sizes": {"embed_dim": 64, "hidden_size": 64,
                                                                    "batch_size": 64}}} if timing else {}
                out.append(record(name, seed, test_acc=base + wobble, majority_acc=0.25, test_rows=7600,
                                  epoch_times_s=[ms / (1 + seed)], settings_from=f"packing/{cell}", **extra))
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
    assert set(cell["verdict"]) == {fx.CONTEXT} and cell["p_holm"].isna().all() and cell["p_value"].notna().all()
    assert fx.verdict(cell.iloc[0]) == "context (not in the question)"
    everything = fx.effects(records, summarize(records))
    lstm = lambda t: t[(t["axis"] == "packing") & (t["variant"] == "lstm-packed-l1")].iloc[0]  # noqa: E731
    assert lstm(asked)["p_holm"] < lstm(everything)["p_holm"]  # a smaller family, a smaller correction


def test_only_four_verdicts_and_alpha_is_spent_over_the_looks_by_obrien_fleming():
    records = _grid()
    table = fx.effects(records, summarize(records))
    assert set(table["verdict"]) <= set(fx.VERDICTS)
    lstm = table[table["variant"] == "lstm-packed-l1"].iloc[0]
    strict = fx.Criteria(alpha=1e-9)  # a level no 3-seed test can reach
    assert fx.effects(records, summarize(records), strict).set_index("variant").loc["lstm-packed-l1",
                                                                                    "verdict"] == "undecided"
    assert lstm["verdict"] == "better"
    quick = fx.Criteria(first=3, cap=8)
    first, second, last = quick.levels  # O'Brien-Fleming: almost nothing at 3 seeds, most of α at the cap
    assert first == pytest.approx(0.0014, abs=2e-4) and second == pytest.approx(0.0228, abs=1e-3)
    assert last == pytest.approx(0.0376, abs=1.5e-3) and first < 0.05 / 3 < second < last < 0.05
    assert (quick.level_at(2), quick.level_at(3), quick.level_at(5), quick.level_at(6), quick.level_at(8)) == (
        first, first, first, second, last)  # an interrupted wave is not a look yet
    assert fx.Criteria(first=3, cap=3).levels == (0.05,)  # one look: α itself
    assert "O'Brien-Fleming (0.0014 at 3 seeds, 0.0228 at 6 seeds, 0.0376 at 8 seeds)" in quick.describe(2)


def test_equivalent_needs_the_interval_inside_the_margin_and_is_decided_first():
    close = [record("gru-padded-l1-true_last", s, test_acc=0.80 + 0.001 * (s % 3)) for s in range(6)] + [
        record("gru-packed-l1", s, test_acc=0.802 + 0.001 * (s % 3)) for s in range(6)]
    row = fx.effects(close, summarize(close)).iloc[0]
    assert row["p_holm"] < 0.05  # a difference is shown (0.002), but inside the margin: equivalence first
    assert row["verdict"] == "equivalent"
    far = close[:6] + [record("gru-packed-l1", s, test_acc=0.83 + 0.001 * (s % 3)) for s in range(6)]
    assert fx.effects(far, summarize(far)).iloc[0]["verdict"] == "better"  # 0.03 past the margin
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
    assert lstm["lenses_agree"] == True and lstm["lenses"] == ""  # noqa: E712  # a flag; the page makes the words
    row = lstm.copy()
    row["verdict"] = "undecided"  # as if Holm had been stricter: bootstrap and ASO still see a difference
    notes = "; ".join(fx._disagreement(row))
    assert "bootstrap interval excludes 0" in notes and "ASO finds the change" in notes


def test_schedule_and_next_wave_add_seeds_to_undecided_pairs_only():
    assert fx.schedule(3, 8) == [3, 6, 8] and fx.schedule(5, 20) == [5, 10, 20] and fx.schedule(3, 3) == [3]
    records = _grid()
    summary = summarize(records)
    asked = fx.Criteria(first=3, cap=8, question=("packing",))
    wave = fx.next_wave(records, summary, asked)
    assert wave == {"gru-padded-l1-true_last": 6, "gru-packed-l1": 6}  # lstm packing is decided: better
    assert fx.next_wave(records, summary, fx.Criteria(first=3, cap=3)) == {}  # no cap above the first wave: nothing
    more = records + [record(v, s, test_acc=0.60 + 0.01 * (s % 2)) for v in wave for s in range(3, 8)]
    assert fx.next_wave(more, summarize(more), asked) == {}  # at the cap: stop, decided or not


def test_seed_stops_say_why_each_variant_has_its_seeds():
    records = _packing_study()
    summary = summarize(records)
    criteria = fx.Criteria(first=3, cap=8, question=("packing", "readout"))  # the packing study's question
    stops = fx.seed_stops(summary, fx.effects(records, summary, criteria), criteria)
    assert stops["lstm-padded-l1"] == "not_comparable"  # a kind; the page's words come from bench.report.board
    assert stop_words(stops["lstm-padded-l1"], 3, 3) == "first wave (its pairs are not comparable: a side did not learn)"
    assert stops["lstm-packed-l1"] == "decided" and stop_words("decided", 3, 3) == "decided at the first wave"
    assert stop_words("decided", 6, 3) == "decided after 6 seeds"
    grid = _grid()
    summary = summarize(grid)
    stops = fx.seed_stops(summary, fx.effects(grid, summary, criteria), criteria)
    assert stops["gru-packed-l1"] == "unfinished"  # undecided at 3 seeds, cap 8: the next run adds a wave
    at_cap = fx.Criteria(first=3, cap=3)
    assert fx.seed_stops(summary, fx.effects(grid, summary, at_cap), at_cap)["gru-packed-l1"] == "no_sequential"
    board = leaderboard(summary.assign(seeds_stop=pd.Series(stops)), criteria=criteria)
    assert board.text.loc["gru-packed-l1", "seeds stopped"].startswith("unfinished: a pair is undecided below")


# --- paired verdicts: sides that share settings and seeds are decided on per-seed differences ------------------

def _pair(base: list[float], other: list[float], source_a="s/gru", source_b="s/gru", settings_b=None):
    settings = {"lr": 0.003, "batch_size": 64}
    return [record("gru-padded-l1-true_last", s, test_acc=a, settings_from=source_a, hyperparameters=settings)
            for s, a in enumerate(base)] + [
        record("gru-packed-l1", s, test_acc=b, settings_from=source_b, hyperparameters=settings_b or settings)
        for s, b in enumerate(other)]


SEEDS = [0.74, 0.80, 0.77, 0.71, 0.79, 0.76]  # a seed-to-seed spread of 0.03 that both sides share


def test_shared_settings_and_seeds_are_decided_on_per_seed_differences():
    shifted = _pair(SEEDS[:3], [a + 0.03 + 0.001 * (s % 2) for s, a in enumerate(SEEDS[:3])])
    row = fx.effects(shifted, summarize(shifted), fx.Criteria(first=3, cap=8)).iloc[0]
    assert row["design"] == "paired" and row["seeds_paired"] == 3 and row["rho"] > 0.99
    assert row["delta"] == pytest.approx(0.03033, abs=1e-4) and row["ci_high"] - row["ci_low"] < 0.01
    assert row["verdict"] == "better"  # at the first look's O'Brien-Fleming level (0.0014)
    assert row["p_above"] > 0.95 and row["p_below"] < 0.01  # the Bayesian reading of the same t
    assert row["boot_low"] > 0.02 and row["lenses_agree"] == True  # noqa: E712 - the paired bootstrap
    unpaired = _pair(SEEDS[:3], [a + 0.03 + 0.001 * (s % 2) for s, a in enumerate(SEEDS[:3])], source_b="s/other")
    welch = fx.effects(unpaired, summarize(unpaired), fx.Criteria(first=3, cap=8)).iloc[0]
    assert welch["design"] == "unpaired" and math.isnan(welch["rho"]) and welch["verdict"] == "undecided"
    assert welch["seeds_needed"] > 3 and welch["ci_high"] - welch["ci_low"] > 0.05  # the spread stays in Δ


def test_the_same_score_at_every_seed_is_equivalent_not_nan():
    same = _pair(SEEDS[:3], SEEDS[:3])
    row = fx.effects(same, summarize(same), fx.Criteria(first=3, cap=8)).iloc[0]
    assert row["design"] == "paired" and row["delta"] == 0 and row["p_value"] == 1.0 and row["p_tost"] == 0.0
    assert row["verdict"] == "equivalent" and (row["ci_low"], row["ci_high"]) == (0.0, 0.0)
    assert (row["boot_low"], row["boot_high"]) == (0.0, 0.0) and row["p_within"] == 1.0


def test_the_design_comes_from_how_the_runs_were_made_never_from_their_scores():
    # an old folder (no settings_from), other settings, or another tuning study: unpaired, whatever the correlation
    old = [Record.model_validate({k: v for k, v in r.items() if k != "settings_from"}).row()  # as store.load reads it
           for r in _pair(SEEDS[:3], SEEDS[:3])]
    differ = _pair(SEEDS[:3], SEEDS[:3], settings_b={"lr": 0.005, "batch_size": 64})
    for records in (old, differ, _pair(SEEDS[:3], SEEDS[:3], source_b="s/lstm")):
        row = fx.effects(records, summarize(records)).iloc[0]
        assert row["design"] == "unpaired"
    row = fx.effects(differ, summarize(differ)).iloc[0]
    assert row["settings_differ"] == "lr 0.003 → 0.005"  # the row says which settings differ
    untuned = _pair(SEEDS[:3], SEEDS[:3], source_a="train", source_b="train")  # untuned: the study's own settings
    assert fx.effects(untuned, summarize(untuned)).iloc[0]["design"] == "paired"


def test_a_paired_pair_uses_the_seeds_both_sides_ran():
    records = _pair(SEEDS, [a + 0.02 for a in SEEDS[:4]])  # an interrupted wave: the changed side has 4 of 6
    row = fx.effects(records, summarize(records), fx.Criteria(first=3, cap=8)).iloc[0]
    assert (row["seeds_baseline"], row["seeds"], row["seeds_paired"]) == (6, 4, 4)
    assert row["delta"] == pytest.approx(0.02)  # over seeds 0-3, not the baseline's 6 against 4
    assert row["level"] == fx.Criteria(first=3, cap=8).levels[0]  # 4 seeds: still the first look's level


def test_obrien_fleming_keeps_false_claims_under_alpha_over_the_looks_of_the_paired_t():
    """Calibrated by simulation for the test used: A/A pairs (per-seed differences with mean 0) tested at the
    3, 6, 8 schedule, stopping at the first decided look, with the paired t and equivalence first."""
    import numpy as np
    from bench.report.stats import paired, tost
    criteria = fx.Criteria(first=3, cap=8, margin=0.01)
    rng = np.random.default_rng(0)
    false = power = 0
    runs = 1500
    for _ in range(runs):
        base = rng.normal(0.8, 0.03, 8)
        noise = rng.normal(0.0, 0.012, 8)
        for shift, counter in ((0.0, "false"), (0.015, "power")):
            other = base + noise + shift
            for n, level in zip(criteria.sizes, criteria.levels):
                test = paired(list(base[:n]), list(other[:n]))
                said = fx.decide(test.p, tost(test, criteria.margin), test.delta, level)
                if said != "undecided":
                    break
            if counter == "false":
                false += said in ("better", "worse")
            else:
                power += said == "better"
    assert false / runs <= 0.05
    assert power / runs > 0.5  # +0.015 at a per-seed sd of 0.012: mostly found by the cap
