import pytest

from bench.errors import ConfigError
from bench.variants import AXES, BASELINES, CELLS, EMBED_INITS, READOUTS, RECURRENT, Variant, expand, parse

ALL = expand({"cell": list(CELLS), "packing": ["padded", "packed"], "bidirectional": [False, True],
              "layers": [1, 2], "readout": list(READOUTS), "embed_init": list(EMBED_INITS)})


@pytest.mark.parametrize("variant", ALL, ids=lambda v: v.name)
def test_name_round_trips(variant):
    assert parse(variant.name) == variant


def test_names_read_well_and_defaults_stay_out():
    assert Variant("lstm", "packed", True, 2).name == "lstm-packed-bi-l2"
    assert Variant("rnn", "padded", readout="mean").name == "rnn-padded-l1-mean"
    assert Variant("lstm", "padded", readout="true_last", embed_init="shifted").name == "lstm-padded-l1-true_last-shifted"
    # recurrent: every combination; bag: only embed_init applies; transformer: layers and embed_init
    assert len({v.name for v in ALL}) == len(ALL) == (len(RECURRENT) * 2 * 2 * 2 * 5 + 1 + 2) * len(EMBED_INITS)
    assert Variant("gru", "packed", embed_init="glove_frozen").name == "gru-packed-l1-glove_frozen"
    assert parse("bag-glove") == Variant("bag", embed_init="glove") and parse("bag-glove").fixed_params == {"embed_dim": 50}


def test_expand_is_the_product_with_fixed_and_excludes():
    variants = expand({"cell": ["rnn", "lstm", "gru"], "packing": ["padded", "packed"]},
                      {"layers": 2}, exclude=[{"cell": "rnn", "packing": "packed"}])
    assert [v.name for v in variants] == ["rnn-padded-l2", "lstm-padded-l2", "lstm-packed-l2",
                                          "gru-padded-l2", "gru-packed-l2"]
    assert expand({"cell": ["gru"]}, exclude=[{"cell": ["gru", "lstm"]}]) == []


@pytest.mark.parametrize("bad, message", [
    (lambda: Variant(cell="foo"), "use one of rnn, lstm, gru"),
    (lambda: Variant(layers=0), "layers=0 is not allowed"),
    (lambda: Variant(bidirectional="yes"), "use one of false, true"),
    (lambda: parse("lstm-packed-l2-wide"), "unknown part 'wide'"),
    (lambda: expand({"colour": ["red"]}), "unknown variant axis 'colour'"),
    (lambda: expand({"cell": ["gru"]}, {"cell": "lstm"}), "both scientific and fixed"),
])
def test_bad_variants_say_what_is_allowed(bad, message):
    with pytest.raises(ConfigError, match=message):
        bad()


def test_every_axis_is_named_and_read_back():
    """Each axis's every allowed value changes the variant's name and comes back from it (name and parse are
    inverse), so an axis added to Variant without a place in the name cannot pass."""
    from bench.variants import _ALLOWED
    for axis in AXES:
        for value in _ALLOWED.get(axis, (1, 2, 3)):  # layers: any whole number
            variant = Variant(**{axis: value})
            assert parse(variant.name) == variant, (axis, value)


def test_bucketed_batching_is_an_axis_named_only_when_set():
    assert parse("lstm-padded-l1-bucketed") == Variant(cell="lstm", packing="padded", batching="bucketed")
    assert Variant(packing="padded").name == "lstm-padded-l1"
    names = [v.name for v in expand({"batching": ["random", "bucketed"]}, {"cell": "gru", "packing": "padded"})]
    assert names == ["gru-padded-l1", "gru-padded-l1-bucketed"]


def test_baselines_hold_the_axes_that_do_not_apply_and_never_multiply_runs():
    assert BASELINES == ("bag", "transformer")
    bag = Variant(cell="bag", packing="packed", bidirectional=True, layers=3, readout="last")
    assert (bag.packing, bag.bidirectional, bag.layers, bag.readout) == ("padded", False, 1, "masked_mean")
    assert bag.name == "bag" and parse("bag") == bag and not bag.recurrent
    assert Variant(cell="transformer", layers=2, packing="packed").name == "transformer-l2"
    assert parse("transformer-l2-shifted-bucketed") == Variant(cell="transformer", layers=2, embed_init="shifted",
                                                                batching="bucketed")
    names = [v.name for v in expand({"cell": ["lstm", "bag", "transformer"], "packing": ["padded", "packed"],
                                     "bidirectional": [False, True]})]
    assert names == ["lstm-padded-l1", "lstm-padded-bi-l1", "lstm-packed-l1", "lstm-packed-bi-l1", "bag",
                     "transformer-l1"]
