"""Seeded, stratified selection of rows: the training cap and the validation split."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Hashable, Sequence


def stratified_take(labels: Sequence[Hashable], amount: float | int, rng: random.Random) -> list[int]:
    """Indices of a class-stratified sample: `amount` rows if an int, else that fraction.

    Each class gives its share (largest remainders settle the rounding), so the sample keeps the
    class balance; the indices come back sorted, so the original order survives.
    """
    by_class: dict[Hashable, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    total = len(labels)
    n = round(amount * total) if isinstance(amount, float) else min(int(amount), total)
    exact = {c: n * len(ix) / total for c, ix in by_class.items()} if total else {}
    quota = {c: int(x) for c, x in exact.items()}
    for c in sorted(exact, key=lambda c: (quota[c] - exact[c], str(c)))[: n - sum(quota.values())]:
        quota[c] += 1
    picked: list[int] = []
    for c in sorted(by_class, key=str):
        picked += rng.sample(by_class[c], quota[c])
    return sorted(picked)
