"""One classifier per variant, all with `forward(tokens, lengths) -> logits`: the recurrent one, and the two
non-recurrent baselines (bag of embeddings, a small transformer encoder) on the same tokens.

tokens (B, T) int64 on the model's device, padded with the vocabulary's pad index; lengths (B,) int64 on the
CPU (pack_padded_sequence wants them there, and keeping them there avoids a device sync).
Padded and packed batches look the same coming in; the model branches once, on packing.

Matched seeds (`build(..., seed=s)`): each module's initial weights come from its own stream of the run's seed
(`stream(s, role)`: the embedding, the body (the recurrent stack, or the transformer's encoder), the head), so
at seed s every variant whose module has the same shape starts that module from the same weights, whatever the
other modules are: two cells at the same sizes share their embedding (GloVe's rows and the random rows of the words
it lacks included) and their head; packed and padded variants of one cell share every weight. bench.train.fit then
seeds training's own stream (dropout masks) and the batch order from s as well.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from bench.config import Params
from bench.variants import PRETRAINED, Variant

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
ROLES = ("embedding", "body", "head", "training")  # the streams a run's seed is split into


def stream(seed: int, role: str) -> int:
    """The seed of one stream of a run's `seed` (numpy's SeedSequence: well mixed, the same on every machine)."""
    return int(np.random.SeedSequence([seed, ROLES.index(role)]).generate_state(1, np.uint64)[0])


@contextlib.contextmanager
def drawn(seed: int | None, role: str):
    """Build what is inside from the `role` stream of `seed` (torch's global generator, reseeded); with no seed,
    from wherever the global generator stands."""
    if seed is not None:
        torch.manual_seed(stream(seed, role))
    yield


@dataclass(frozen=True)
class Shape:
    """What the data fixes about a model (its sizes and settings come from the run's Params)."""

    vocab_size: int
    n_classes: int
    padding_idx: int | None = None  # a zero, frozen pad embedding; None when pad = unk (lesson)
    pretrained: torch.Tensor | None = field(default=None, compare=False)  # (vocab, dim) vectors, NaN = none
    pretrained_scale: float = 1.0   # std of a random vector for a word the pretrained table lacks


class RecurrentClassifier(nn.Module):
    """Embedding -> recurrent stack -> read-out -> dropout -> linear.

    Read-outs (H = hidden size, D = 2 if bidirectional else 1; features D*H):
      last        the top layer's final state h_n. Padded: the forward direction has read the
                  pads after the text (the lesson's LSTM #2). Packed: the state at each true end.
      true_last   the output at each sequence's real last position (forward direction) and the
                  backward direction's output at position 0. Packed, equal to `last`; padded
                  and unidirectional, equal to packed `last` on the same weights.
      mean        mean of the outputs over all T positions, pads included (the lesson's RNN;
                  packed outputs are zero at pads, so they pull the mean down there too).
      masked_mean mean over the real positions only.
      max         max over the real positions only.
    A padded bidirectional backward direction always reads the pads first: only packing avoids it.
    """

    def __init__(self, variant: Variant, params: Params, shape: Shape, seed: int | None = None):
        super().__init__()
        self.variant, self.params = variant, params
        with drawn(seed, "embedding"):
            self.embedding = _embedding(variant, params, shape)  # shifted: randn - 0.5, as the lesson's LSTMs
        with drawn(seed, "body"):
            self.rnn = CELLS[variant.cell](
                params.embed_dim, params.hidden_size, num_layers=variant.layers, batch_first=True,
                bidirectional=variant.bidirectional, dropout=params.dropout if variant.layers > 1 else 0.0)
        self.directions = 2 if variant.bidirectional else 1
        # dropout 0 (the lesson) is the identity: no call for it (3 us a call on the CPU, twice a step)
        self.dropout = nn.Dropout(params.dropout) if params.dropout else nn.Identity()
        with drawn(seed, "head"):
            self.head = nn.Linear(self.directions * params.hidden_size, shape.n_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        out, h_n = self._module(x, lengths, self.variant.packing == "packed")
        return self.head(self.dropout(self._read(out, h_n, lengths)))

    def _module(self, x: torch.Tensor, lengths: torch.Tensor, packed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The nn module as a user would run it: (out (B, T, D*H), h_n (layers*D, B, H))."""
        if packed:
            sequence = _pack(x, lengths)
            out, state = self.rnn(sequence)  # h_n comes back in batch order (the RNN un-sorts it)
            # pad without indices, then un-sort on the device: pad_packed_sequence would copy the
            # permutation to the CPU (a host sync per step) to un-sort the lengths we already have
            out, _ = pad_packed_sequence(PackedSequence(out.data, out.batch_sizes), batch_first=True,
                                         total_length=x.shape[1])
            out = out.index_select(0, sequence.unsorted_indices)
        else:
            out, state = self.rnn(x)  # out (B, T, D*H)
        return out, state[0] if isinstance(state, tuple) else state  # LSTM gives (h, c)

    def _read(self, out: torch.Tensor, h_n: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        readout = self.variant.readout
        if readout == "last":  # top layer: forward is h_n[-D], backward (if any) h_n[-1]
            return torch.cat(list(h_n[-self.directions:]), dim=1)  # (B, D*H)
        if readout == "mean":
            return out.mean(dim=1)
        lengths = to_device(lengths, out.device)
        if readout == "true_last":
            hidden = self.params.hidden_size
            index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)  # (B, 1, H)
            forward = out[:, :, :hidden].gather(1, index).squeeze(1)
            if self.directions == 1:
                return forward
            return torch.cat([forward, out[:, 0, hidden:]], dim=1)
        mask = torch.arange(out.shape[1], device=out.device)[None, :] < lengths[:, None]  # (B, T)
        if readout == "masked_mean":
            total = (out * mask[..., None]).sum(dim=1)
            return total / lengths[:, None].to(out.dtype)
        if readout == "max":
            return out.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        raise ValueError(f"unknown readout {readout!r}")  # Variant validates; unreachable


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """CPU -> device without a host sync: a copy from pageable memory would synchronize the stream."""
    return tensor.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else tensor


def _pack(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    """pack_padded_sequence(enforce_sorted=False), minus its blocking copy of the sort order:
    sort by length on the CPU, move the permutations pinned, and let the RNN and pad_packed_sequence
    undo the sort through `unsorted_indices` as usual."""
    sorted_lengths, order = torch.sort(lengths, descending=True)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    order_d, inverse_d = to_device(order, x.device), to_device(inverse, x.device)
    packed = pack_padded_sequence(x.index_select(0, order_d), sorted_lengths, batch_first=True)
    return PackedSequence(packed.data, packed.batch_sizes, order_d, inverse_d)


def _mask(tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T) True on real tokens, on the tokens' device."""
    lengths = to_device(lengths, tokens.device)
    return torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]


def _embedding(variant: Variant, params: Params, shape: Shape) -> nn.Embedding:
    embedding = nn.Embedding(shape.vocab_size, params.embed_dim, padding_idx=shape.padding_idx,
                             sparse=params.sparse_embedding)
    if variant.embed_init == "shifted":
        with torch.no_grad():
            embedding.weight.copy_(torch.randn_like(embedding.weight) - 0.5)
            if shape.padding_idx is not None:
                embedding.weight[shape.padding_idx].zero_()
    elif variant.embed_init in PRETRAINED and shape.pretrained is not None:
        # a word found: its vector; a word not found: random at the table's scale (this run's seed); the pad: zero.
        # (Without a table, as in the speed study's random tokens, the width is GloVe's and the values random.)
        with torch.no_grad():
            vectors = shape.pretrained.to(embedding.weight.dtype)
            missing = torch.isnan(vectors).any(dim=1)
            vectors = torch.where(missing[:, None], torch.randn_like(vectors) * shape.pretrained_scale, vectors)
            embedding.weight.copy_(vectors)
            if shape.padding_idx is not None:
                embedding.weight[shape.padding_idx].zero_()
        embedding.weight.requires_grad_(variant.embed_init != "glove_frozen")
    return embedding


class BagClassifier(nn.Module):
    """Mean of the word embeddings over the real tokens -> dropout -> linear: the order-blind model the lesson
    series teaches right before RNNs. `hidden_size` does not apply."""

    def __init__(self, variant: Variant, params: Params, shape: Shape, seed: int | None = None):
        super().__init__()
        self.variant, self.params = variant, params
        with drawn(seed, "embedding"):
            self.embedding = _embedding(variant, params, shape)
        self.dropout = nn.Dropout(params.dropout)
        with drawn(seed, "head"):
            self.head = nn.Linear(params.embed_dim, shape.n_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(tokens, lengths)[..., None]                             # (B, T, 1)
        mean = (self.embedding(tokens) * mask).sum(1) / mask.sum(1)          # (B, E)
        return self.head(self.dropout(mean))


class TransformerClassifier(nn.Module):
    """Embedding + sinusoidal positions -> `layers` pre-norm encoder layers (self-attention with the padding
    mask; heads: 4, or fewer when embed_dim is not divisible; feed-forward width = hidden_size) -> masked mean
    over the real tokens -> dropout -> linear. Sinusoidal positions need no maximum length."""

    def __init__(self, variant: Variant, params: Params, shape: Shape, seed: int | None = None):
        super().__init__()
        self.variant, self.params = variant, params
        with drawn(seed, "embedding"):
            self.embedding = _embedding(variant, params, shape)
        heads = next(h for h in (4, 2, 1) if params.embed_dim % h == 0)
        with drawn(seed, "body"):
            layer = nn.TransformerEncoderLayer(params.embed_dim, heads, dim_feedforward=params.hidden_size,
                                               dropout=params.dropout, batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, variant.layers, enable_nested_tensor=False)
        self.dropout = nn.Dropout(params.dropout)
        with drawn(seed, "head"):
            self.head = nn.Linear(params.embed_dim, shape.n_classes)

    def positions(self, length: int, device: torch.device) -> torch.Tensor:
        """(T, E) sin/cos positions (Vaswani et al. 2017)."""
        half = self.params.embed_dim // 2
        position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
        rate = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / max(half, 1))
        table = torch.zeros(length, self.params.embed_dim, device=device)
        table[:, 0:2 * half:2], table[:, 1:2 * half:2] = torch.sin(position * rate), torch.cos(position * rate)
        return table

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(tokens, lengths)                                        # (B, T)
        x = self.embedding(tokens) * math.sqrt(self.params.embed_dim) + self.positions(tokens.shape[1], tokens.device)
        x = self.encoder(self.dropout(x), src_key_padding_mask=~mask)        # (B, T, E)
        mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return self.head(self.dropout(mean))


BASELINES: dict[str, type[nn.Module]] = {"bag": BagClassifier, "transformer": TransformerClassifier}


def build(variant: Variant, params: Params, shape: Shape, seed: int | None = None) -> nn.Module:
    """The variant's model; with `seed`, each module drawn from its own stream of it (the module docstring)."""
    return BASELINES.get(variant.cell, RecurrentClassifier)(variant, params, shape, seed)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
