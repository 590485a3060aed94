"""Statistics over seeds: confidence intervals, Welch's t-test, Holm's correction.

Seeds are few (1-5), so intervals use Student's t, not the normal approximation, and every
function says plainly when there is too little data (nan, never a made-up number).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from scipy import stats

LEVEL = 0.95


def mean_ci(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """(mean, half-width) of a Student-t interval; half-width nan below 2 values."""
    values = [float(v) for v in values if not math.isnan(float(v))]
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    sem = statistics.stdev(values) / math.sqrt(len(values))
    return mean, float(sem * stats.t.ppf(0.5 + level / 2, len(values) - 1))


@dataclass(frozen=True)
class Welch:
    """Difference of means b - a with Welch's interval and two-sided p-value."""

    delta: float
    low: float
    high: float
    p: float
    df: float


def welch(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Welch:
    """Welch's unequal-variance t-test of mean(b) - mean(a); nan interval and p with < 2 values on a
    side. Two sides that are both constant give p = 1 when equal and p = 0 when not."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    delta = (sum(b) / len(b) - sum(a) / len(a)) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return Welch(delta, math.nan, math.nan, math.nan, math.nan)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        p = 1.0 if delta == 0 else 0.0
        return Welch(delta, delta, delta, p, math.inf)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    p = float(2 * stats.t.sf(abs(delta) / se, df))  # = scipy.stats.ttest_ind(b, a, equal_var=False)
    return Welch(delta, delta - half, delta + half, p, df)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over one table); nan stays nan."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        adjusted[i] = running
    return adjusted
