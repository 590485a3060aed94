"""The answer in words: only what the tables support, with the caveats in the same paragraph."""

from bench.report import banner, effects as fx
from bench.report.answer import answer
from bench.report.tables import summarize

from .conftest import record
from .test_effects import _packing_study

CLASSICAL = {"model": "TF-IDF", "test_acc": 0.867}


def _say(records, caveats=("a small budget (quick)",)):
    summary = summarize(records)
    return answer(summary, fx.effects(records, summary), CLASSICAL, list(caveats))


def test_the_packing_answer_names_the_read_out_as_the_cause():
    text = _say(_packing_study())
    assert text.startswith("Most accurate: ")
    assert ("Packing changed accuracy only through the read-out: reading the state after the pads (padded + last) did "
            "not learn for lstm, gru, while reading each true end of a padded batch matched packing (no significant "
            "difference: rnn Δ +0.000, lstm Δ +0.000, gru Δ +0.000)") in text
    assert "below it" in text and "0.867" in text  # the reference, and on which side
    assert "Did not learn (not ranked): lstm-padded-l1, gru-padded-l1." in text
    assert ("The read-out (last → true_last): higher accuracy for rnn (Δ +0.350, p 2.3e-08); not comparable for lstm "
            "(lstm-padded-l1 did not learn; Δ +0.400); gru (gru-padded-l1 did not learn; Δ +0.400)") in text
    assert "Packing (padded → packed): no significant difference in accuracy for rnn (Δ +0.000)" in text
    assert "time per step 2× (rnn), 2× (lstm), 2× (gru) at embed 64, hidden 64, batch 64" in text
    assert "1–1× over 6 pairs" in text  # the cells' own step times: listed as a range past three pairs
    assert text.endswith("Caveats: a small budget (quick).")


def test_a_significant_effect_is_stated_with_its_holm_p_and_one_seed_is_not_tested():
    records = [record("gru-packed-l1", s, test_acc=0.5 + 0.001 * s) for s in range(3)]
    records += [record("gru-packed-bi-l1", s, test_acc=0.7 + 0.001 * s) for s in range(3)]
    assert "A second direction (False → True): higher accuracy for all else equal (Δ +0.200, p " in _say(records)
    one = [record("gru-packed-l1", 0, test_acc=0.5), record("gru-packed-l2", 0, test_acc=0.6)]
    assert "More layers (1 → 2): not tested (too few seeds) for all else equal (Δ +0.100)" in _say(one)


def test_when_nothing_learned_the_answer_and_the_banner_say_so_first():
    records = [record(v, s, test_acc=0.25, majority_acc=0.25, test_rows=900) for v in ("rnn-packed-l1",
                                                                                       "lstm-packed-l1")
               for s in range(2)]
    text = _say(records)
    assert text.startswith("No variant learned: every test accuracy is within noise of the majority-class rate (0.250)")
    lines = banner(records, {"planned": None}, [], summarize(records))
    assert lines[0].startswith("NOTHING LEARNED: no variant's accuracy is above the majority-class rate (0.250)")


def test_one_cell_under_several_batchings_is_named_by_variant_not_by_cell():
    """imdb_packing: one cell, random and bucketed batches; 'did not learn for lstm, lstm' said nothing."""
    records = [dict(r, variant=r["variant"] + suffix, batching=batching)
               for r in _packing_study() if r["cell"] == "lstm"
               for suffix, batching in (("", "random"), ("-bucketed", "bucketed"))]
    summary = summarize(records)
    text = answer(summary, fx.effects(records, summary), None, [])
    assert "did not learn for lstm-padded-l1, lstm-padded-l1-bucketed" in text
    assert "lstm, lstm" not in text
