"""A synthetic long-range task, generated offline and deterministically from a seed.

Each text is a run of noise words `w0..wV`; one key word `k0..k{C-1}` sits `distance` positions
before the end and decides the label. With distance 0 the answer is the last token; as it grows,
the model must carry the key across `distance` noise steps: the vanishing-gradient test the
lesson's claim about vanilla RNNs needs.
"""

from __future__ import annotations

import random

from bench.record import Note
from bench.data.base import RawDataset


def fingerprint(cfg) -> dict:
    s = cfg.synthetic
    return {"seed": s.seed, "n_train": s.n_train, "n_test": s.n_test, "n_classes": s.n_classes,
            "vocab": s.vocab, "min_len": s.min_len, "max_len": s.max_len, "distance": s.distance}


def _generate(n: int, rng: random.Random, s) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for _ in range(n):
        length = rng.randint(max(s.min_len, s.distance + 1), max(s.max_len, s.distance + 1))
        words = [f"w{rng.randrange(s.vocab)}" for _ in range(length)]
        label = rng.randrange(s.n_classes)
        words[length - 1 - s.distance] = f"k{label}"
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def read(cfg) -> RawDataset:
    s = cfg.synthetic
    rng = random.Random(s.seed)  # one stream: the test split depends on the same seed
    train_texts, train_labels = _generate(s.n_train, rng, s)
    test_texts, test_labels = _generate(s.n_test, rng, s)
    return RawDataset("synthetic", train_texts, train_labels, test_texts, test_labels,
                      [f"k{i}" for i in range(s.n_classes)],
                      notes=[Note(kind="rows", text=
                          f"synthetic: key {s.distance} tokens before the end, length {s.min_len}-{s.max_len}")])
