import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from bench.config import Params
from bench.models import CELLS, RecurrentClassifier, Shape
from bench.variants import READOUTS, Variant, expand

ALL = expand({"cell": list(CELLS), "packing": ["padded", "packed"], "bidirectional": [False, True],
              "layers": [1, 2], "readout": list(READOUTS)})
SIZE = (Params(embed_dim=8, hidden_size=6), Shape(vocab_size=30, n_classes=4, padding_idx=0))


@pytest.fixture
def batch():
    torch.manual_seed(0)
    lengths = torch.tensor([5, 2, 7, 1])
    tokens = torch.randint(1, 30, (4, 7))
    tokens[torch.arange(7)[None, :] >= lengths[:, None]] = 0  # pads
    return tokens, lengths


@pytest.mark.parametrize("variant", ALL, ids=lambda v: v.name)
def test_forward_shape_and_gradients(variant, batch):
    torch.manual_seed(1)
    model = RecurrentClassifier(variant, *SIZE)
    logits = model(*batch)
    assert logits.shape == (4, 4) and torch.isfinite(logits).all()
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def _pair(cell, bidirectional, readout_padded):
    torch.manual_seed(2)
    packed = RecurrentClassifier(Variant(cell, "packed", bidirectional, readout="last"), *SIZE)
    padded = RecurrentClassifier(Variant(cell, "padded", bidirectional, readout=readout_padded), *SIZE)
    padded.load_state_dict(packed.state_dict())
    return packed.eval(), padded.eval()


@pytest.mark.parametrize("cell", list(CELLS))
def test_packed_equals_padded_true_last_unidirectional(cell, batch):
    packed, padded = _pair(cell, False, "true_last")
    torch.testing.assert_close(packed(*batch), padded(*batch))


@pytest.mark.parametrize("cell", list(CELLS))
def test_padded_last_reads_the_pads(cell, batch):
    packed, padded = _pair(cell, False, "last")
    assert not torch.allclose(packed(*batch), padded(*batch))  # the lesson's LSTM #2 vs #3


@pytest.mark.parametrize("cell", list(CELLS))
def test_bidirectional_packed_readout_equals_hand_computed(cell, batch):
    model = RecurrentClassifier(Variant(cell, "packed", True, 2), *SIZE).eval()
    tokens, lengths = batch
    h = SIZE[0].hidden_size
    with torch.no_grad():
        x = model.embedding(tokens)
        out, _ = model.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        out, _ = pad_packed_sequence(out, batch_first=True)
        forward_end = out[torch.arange(4), lengths - 1, :h]  # forward direction at each true end
        backward_start = out[:, 0, h:]                      # backward direction after reading back to t=0
        expected = model.head(torch.cat([forward_end, backward_start], 1))
        torch.testing.assert_close(model(tokens, lengths), expected)
        # true_last on a packed model is the same state
        model.variant = Variant(cell, "packed", True, 2, readout="true_last")
        torch.testing.assert_close(model(tokens, lengths), expected)


def test_pooled_readouts_follow_their_definitions(batch):
    tokens, lengths = batch
    torch.manual_seed(3)
    model = RecurrentClassifier(Variant("gru", "padded", readout="mean"), *SIZE).eval()
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(tokens))
        mask = (torch.arange(7)[None, :] < lengths[:, None]).unsqueeze(-1)
        torch.testing.assert_close(model(tokens, lengths), model.head(out.mean(1)))
        model.variant = Variant("gru", "padded", readout="masked_mean")
        torch.testing.assert_close(model(tokens, lengths), model.head((out * mask).sum(1) / lengths[:, None]))
        model.variant = Variant("gru", "padded", readout="max")
        torch.testing.assert_close(model(tokens, lengths), model.head(out.masked_fill(~mask, -1e9).amax(1)))


def test_shifted_init_and_frozen_pad():
    torch.manual_seed(0)
    model = RecurrentClassifier(Variant("lstm", embed_init="shifted"), Params(embed_dim=64, hidden_size=8), Shape(2000, 4, padding_idx=0))
    weights = model.embedding.weight[1:]
    assert abs(weights.mean().item() + 0.5) < 0.02 and abs(weights.std().item() - 1) < 0.02
    assert model.embedding.weight[0].abs().sum() == 0
    lesson = RecurrentClassifier(Variant("lstm", embed_init="shifted"), Params(embed_dim=64, hidden_size=8), Shape(2000, 4, padding_idx=None))
    assert lesson.embedding.padding_idx is None and lesson.embedding.weight[0].abs().sum() > 0


@pytest.mark.parametrize("name", ["bag", "transformer-l1", "transformer-l2-shifted"])
def test_baselines_share_the_signature_and_ignore_the_pads(name, batch):
    from bench.models import BASELINES, build
    from bench.variants import parse
    torch.manual_seed(1)
    model = build(parse(name), *SIZE)
    assert isinstance(model, BASELINES[name.split("-")[0]])
    logits = model(*batch)
    assert logits.shape == (4, 4) and torch.isfinite(logits).all()
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    model.eval()
    tokens, lengths = batch
    wider = torch.cat([tokens, torch.zeros(4, 5, dtype=tokens.dtype)], dim=1)  # more pads change nothing
    torch.testing.assert_close(model(wider, lengths), model(tokens, lengths), rtol=1e-5, atol=1e-5)


def test_bag_is_the_mean_of_the_real_tokens_embeddings(batch):
    from bench.models import build
    from bench.variants import parse
    model = build(parse("bag"), *SIZE).eval()
    tokens, lengths = batch
    means = torch.stack([model.embedding(tokens[i, :n]).mean(0) for i, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(model(tokens, lengths), model.head(means))
