"""A vocabulary built from the training split: frequency order, ties alphabetical.

Default: `<pad>` = 0 and `<unk>` = 1, distinct. Lesson mode (`shared_pad_unk`): only `<unk>`
at index 0, and padding reuses index 0, as the lesson's torchtext code did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

PAD, UNK = "<pad>", "<unk>"


@dataclass
class Vocab:
    itos: list[str]
    pad_index: int
    unk_index: int
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> list[int]:
        get, unk = self.stoi.get, self.unk_index
        return [get(token, unk) for token in tokens]


def build_vocab(token_lists: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None,
                shared_pad_unk: bool = False) -> Vocab:
    """Count tokens; keep those seen >= min_freq, most frequent first, ties alphabetical;
    at most `max_size` tokens besides the specials."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    specials = [UNK] if shared_pad_unk else [PAD, UNK]
    ranked = sorted((item for item in counts.items() if item[1] >= min_freq and item[0] not in specials),
                    key=lambda item: (-item[1], item[0]))
    if max_size is not None:
        ranked = ranked[:max_size]
    itos = specials + [token for token, _ in ranked]
    if shared_pad_unk:
        return Vocab(itos, pad_index=0, unk_index=0)
    return Vocab(itos, pad_index=0, unk_index=1)
