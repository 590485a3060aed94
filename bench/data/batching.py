"""Numericalized splits and the one batch format every model reads.

A split is stored flat (all token ids in one tensor + offsets), which makes the on-disk cache one
small file and lets a batch be gathered with a few vectorized ops instead of a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch


@dataclass
class Encoded:
    tokens: torch.Tensor   # (sum of lengths,) int64: every sequence back to back
    offsets: torch.Tensor  # (N,) int64: where sequence i starts in `tokens`
    lengths: torch.Tensor  # (N,) int64, all >= 1
    labels: torch.Tensor   # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_lists(cls, ids: list[list[int]], labels: list[int]) -> "Encoded":
        lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
        offsets = torch.zeros_like(lengths)
        if len(lengths) > 1:
            offsets[1:] = torch.cumsum(lengths, 0)[:-1]
        flat = torch.tensor([t for x in ids for t in x], dtype=torch.long)
        return cls(flat, offsets, lengths, torch.tensor(labels, dtype=torch.long))

    def state(self) -> dict:
        return {"tokens": self.tokens, "offsets": self.offsets, "lengths": self.lengths, "labels": self.labels}


@dataclass
class Batch:
    tokens: torch.Tensor   # (B, T) int64, padded with pad_index to the batch's longest
    lengths: torch.Tensor  # (B,) int64, on the CPU (pack_padded_sequence needs them there)
    labels: torch.Tensor   # (B,) int64

    @property
    def real_tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def padded_tokens(self) -> int:
        return self.tokens.numel()


def collate(data: Encoded, index: torch.Tensor, pad_index: int) -> Batch:
    lengths = data.lengths[index]
    width = int(lengths.max())
    steps = torch.arange(width)
    mask = steps[None, :] < lengths[:, None]  # (B, T) True on real tokens
    positions = (data.offsets[index][:, None] + steps[None, :]).clamp_(max=len(data.tokens) - 1)
    tokens = torch.where(mask, data.tokens[positions], torch.full_like(positions, pad_index))
    return Batch(tokens, lengths, data.labels[index])


BUCKET_POOL = 50  # bucketed batching sorts pools of this many batches by length


def batches(data: Encoded, batch_size: int, pad_index: int, generator: torch.Generator | None = None,
            bucketed: bool = False) -> Iterator[Batch]:
    """Batches in order, or shuffled when a generator is given (seeded by the caller).

    `bucketed`: the shuffled rows are cut into pools of BUCKET_POOL batches, each pool sorted by length
    and cut into batches, and the batches' order shuffled: a batch holds texts of similar length (little
    padding), while every epoch still sees every row once, in a seeded random order of batches."""
    order = torch.randperm(len(data), generator=generator) if generator is not None else torch.arange(len(data))
    if not bucketed:
        for start in range(0, len(data), batch_size):
            yield collate(data, order[start:start + batch_size], pad_index)
        return
    pool = batch_size * BUCKET_POOL
    groups = []
    for start in range(0, len(data), pool):
        chunk = order[start:start + pool]
        chunk = chunk[torch.argsort(data.lengths[chunk], stable=True)]
        groups += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(groups), generator=generator) if generator is not None else range(len(groups))
    for g in shuffled:
        yield collate(data, groups[int(g)], pad_index)
