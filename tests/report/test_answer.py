"""The answer in words: only what the tables support, short, with the caveats as a list."""

from bench.record import StudyDoc
from bench.report import effects as fx
from bench.report.study import banner, warnings
from bench.report.answer import answer
from bench.report.tables import summarize

from .conftest import record
from .test_effects import _packing_study

CLASSICAL = {"model": "TF-IDF", "test_acc": 0.867}


def _say(records, caveats=("a small budget (quick)",)):
    summary = summarize(records)
    return answer(summary, fx.effects(records, summary), CLASSICAL, list(caveats))


def test_the_packing_answer_gives_one_sentence_per_axis_with_its_verdicts():
    answer_ = _say(_packing_study())
    text = answer_.text()
    assert text.startswith("The cell (rnn → lstm/gru): ")
    assert ("Packing (padded → packed): equivalent for rnn, lstm, gru (Δ +0.000, +0.000, +0.000); decided on per-seed "
            "differences (shared settings and seeds); time per step 2× (95% CI 1.8–2.2) at embed 64, hidden 64, "
            "batch 64.") in text
    # issue 25: a ratio whose interval spans 1 is no speed-up: the read-out's steps take the same time here
    assert ("better for rnn (Δ +0.350); not comparable for lstm, gru (a side did not learn); decided on per-seed "
            "differences (shared settings and seeds); time per step the same within noise (1×)") in text
    assert ("The read-out (last → true_last): better for rnn (Δ +0.350); not comparable for lstm, gru (a side did not "
            "learn)") in text
    assert "0.217 below TF-IDF + LR (0.867)" in text
    assert "Did not learn (not ranked): lstm-padded-l1, gru-padded-l1." in text
    assert "no significant difference" not in text and "only through the read-out" not in text  # no claim past the rows
    assert text.endswith("Caveats:\n  - a small budget (quick)") and answer_.caveats == ["a small budget (quick)"]
    assert len(" ".join(answer_.sentences).split()) <= 145  # short: the tables carry the rest


def test_an_undecided_pair_says_what_would_settle_it_and_one_seed_is_undecided():
    records = [record("gru-packed-l1", s, test_acc=0.5 + 0.01 * s) for s in range(3)]
    records += [record("gru-packed-bi-l1", s, test_acc=0.505 + 0.01 * s) for s in range(3)]
    text = _say(records).text()
    assert "A second direction (False → True): undecided for all else equal (Δ +0.005); ~" in text
    assert "seeds a side would settle it" in text
    records = [record("gru-packed-l1", s, test_acc=0.5 + 0.001 * s) for s in range(3)]
    records += [record("gru-packed-bi-l1", s, test_acc=0.7 + 0.001 * s) for s in range(3)]
    assert "A second direction (False → True): better for all else equal (Δ +0.200)" in _say(records).text()
    one = [record("gru-packed-l1", 0, test_acc=0.5), record("gru-packed-l2", 0, test_acc=0.6)]
    assert ("More layers (1 → 2): undecided for all else equal (Δ +0.100); more than one seed a side is needed to test "
            "it") in _say(one).text()


def test_context_axes_get_no_sentence_and_the_budget_is_said():
    records = _packing_study()
    summary = summarize(records)
    table = fx.effects(records, summary, fx.Criteria(question=("packing",)))
    said = answer(summary, table, None, [], ("rnn-packed-l1", [1, 2])).text()
    assert said.startswith("Packing (padded → packed)") and "The cell" not in said and "read-out" not in said
    assert "Tuning budget: rnn-packed-l1 leads at the full budget but not at k = 1, 2 trial(s)" in said
    assert "(stable)" in answer(summary, table, None, [], ("rnn-packed-l1", [])).text()


def test_when_nothing_learned_the_answer_and_the_banner_say_so_first():
    records = [record(v, s, test_acc=0.25, majority_acc=0.25, test_rows=900) for v in ("rnn-packed-l1",
                                                                                       "lstm-packed-l1")
               for s in range(2)]
    text = _say(records).text()
    assert "No variant learned: every test accuracy is within noise of the majority-class rate (0.250)" in text
    lines = banner(warnings(records, StudyDoc(), [], summarize(records)))
    assert lines[0].startswith("NOTHING LEARNED: no variant's accuracy is above the majority-class rate (0.250)")


def test_one_cell_under_several_batchings_is_named_by_variant_not_by_cell():
    """imdb_packing: one cell, random and bucketed batches; 'did not learn for lstm, lstm' said nothing."""
    records = [dict(r, variant=r["variant"] + suffix, batching=batching)
               for r in _packing_study() if r["cell"] == "lstm"
               for suffix, batching in (("", "random"), ("-bucketed", "bucketed"))]
    summary = summarize(records)
    text = answer(summary, fx.effects(records, summary), None, []).text()
    assert "The read-out (last → true_last): not comparable for random, bucketed (a side did not learn)" in text
    assert "Did not learn (not ranked): lstm-padded-l1, lstm-padded-l1-bucketed." in text
    assert "lstm, lstm" not in text
