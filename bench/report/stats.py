"""Statistics over seeds: intervals, the tests behind a verdict, and the lenses beside them.

Seeds are few (3-20), so intervals use Student's t, not the normal approximation, and every function says
plainly when there is too little data (nan, never a made-up number). scipy does the arithmetic: Welch's test
(`ttest_ind(equal_var=False)`) for sides trained at their own settings, the paired t-test (`ttest_rel`) for sides
that share settings and seed numbers, the BCa bootstrap (`scipy.stats.bootstrap`). Three pieces have no scipy
function and are written here from their papers:

- O'Brien-Fleming α spending (Lan & DeMets 1983): `spending_levels`, the nominal level at each look of a seed
  schedule, calibrated by simulating the looks' t statistics.

- Almost Stochastic Order (del Barrio et al. 2018; Dror et al., ACL 2019; Ulmer et al. 2022): `aso`.
  The GPL-3.0 package `deepsig` implements it too; this project is MIT, so it is not a dependency: the
  values in tests/report/test_stats.py were computed with deepsig in a scratch environment.
- The expected best validation score after k tuning trials (Dodge et al., EMNLP 2019), with Tang et al.'s
  (2020) unbiased estimator: `expected_max`.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

LEVEL = 0.95
ALPHA = 0.05      # the study's default significance level (measure.alpha)
MARGIN = 0.01     # the default practical margin in accuracy for "equivalent" (measure.margin)
TAU = 0.2         # ASO: epsilon_min below this = almost stochastically dominant (Ulmer et al. 2022)
POWER = 0.8       # the power seeds_needed plans for


def _clean(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if not math.isnan(float(v))]


def mean_ci(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """(mean, half-width) of a Student-t interval; half-width nan below 2 values."""
    values = _clean(values)
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    sem = statistics.stdev(values) / math.sqrt(len(values))
    return mean, float(sem * stats.t.ppf(0.5 + level / 2, len(values) - 1))


@dataclass(frozen=True)
class TTest:
    """Difference of means b - a with its t interval, two-sided p-value, degrees of freedom and standard error
    (Welch's for two independent samples, the paired t's for per-seed differences)."""

    delta: float
    low: float
    high: float
    p: float
    df: float
    se: float = math.nan


def welch(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> TTest:
    """Welch's unequal-variance t-test of mean(b) - mean(a) (scipy's `ttest_ind(b, a, equal_var=False)`); nan
    interval and p with < 2 values on a side. Two sides that are both constant give p = 1 when equal and p = 0
    when not (scipy answers nan there)."""
    a, b = _clean(a), _clean(b)
    delta = (sum(b) / len(b) - sum(a) / len(a)) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return TTest(delta, math.nan, math.nan, math.nan, math.nan)
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    if se == 0:
        return TTest(delta, delta, delta, 1.0 if delta == 0 else 0.0, math.inf, 0.0)
    test = stats.ttest_ind(b, a, equal_var=False)
    interval = test.confidence_interval(level)
    return TTest(delta, float(interval.low), float(interval.high), float(test.pvalue), float(test.df), se)


def paired(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> TTest:
    """The paired t-test of the per-seed differences b[i] - a[i] (scipy's `ttest_rel(b, a)`): seed i of both sides
    shares its initial weights, batch order and dropout masks, so the seed-to-seed spread common to both cancels.
    nan interval and p below 2 pairs. Differences that are all equal give a zero-width interval, p = 1 when they
    are 0 (the same score at every seed) and 0 otherwise (scipy answers nan there)."""
    pairs = [(float(x), float(y)) for x, y in zip(a, b) if not (math.isnan(float(x)) or math.isnan(float(y)))]
    d = [y - x for x, y in pairs]
    delta = sum(d) / len(d) if d else math.nan
    if len(d) < 2:
        return TTest(delta, math.nan, math.nan, math.nan, math.nan)
    se = statistics.stdev(d) / math.sqrt(len(d))
    if se == 0:
        return TTest(delta, delta, delta, 1.0 if delta == 0 else 0.0, float(len(d) - 1), 0.0)
    test = stats.ttest_rel([y for _, y in pairs], [x for x, _ in pairs])
    interval = test.confidence_interval(level)
    return TTest(delta, float(interval.low), float(interval.high), float(test.pvalue), float(test.df), se)


def correlation(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson's r of matched seeds (a reading of how much pairing removed; never what decides the design); nan
    below 3 pairs or when a side does not vary."""
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return math.nan
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


def posterior(test: TTest, margin: float) -> tuple[float, float, float]:
    """A Bayesian reading of the same t (flat prior on Δ: Δ ~ delta + se * t_df): P(Δ < -margin),
    P(|Δ| <= margin), P(Δ > margin). A reading beside the verdict, never the decision; nan without a test."""
    if math.isnan(test.p):
        return math.nan, math.nan, math.nan
    if test.se == 0:
        below, above = float(test.delta < -margin), float(test.delta > margin)
        return below, 1.0 - below - above, above
    below = float(stats.t.cdf((-margin - test.delta) / test.se, test.df))
    above = float(stats.t.sf((margin - test.delta) / test.se, test.df))
    return below, 1.0 - below - above, above


def tost(test: TTest, margin: float) -> float:
    """p-value of the two one-sided tests (Schuirmann's TOST) that |Δ| < margin, on the same t: small = the
    difference is shown to lie inside ±margin. The equivalence verdict at level α is the (1 - 2α) interval
    inside the margin, which is this p < α."""
    if math.isnan(test.p):
        return math.nan
    if test.se == 0:
        return 0.0 if abs(test.delta) < margin else 1.0
    lower = stats.t.sf((test.delta + margin) / test.se, test.df)   # H0: Δ <= -margin
    upper = stats.t.cdf((test.delta - margin) / test.se, test.df)  # H0: Δ >= +margin
    return float(max(lower, upper))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over one family); nan stays nan."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        adjusted[i] = running
    return adjusted


def seeds_needed(a: Sequence[float], b: Sequence[float], alpha: float, margin: float,
                 power: float = POWER, is_paired: bool = False) -> float:
    """About how many seeds per side would decide a pair at the spread observed, taking the observed Δ as the
    true one: equivalence within ±margin (TOST at `alpha`) when |Δ| is inside the margin, else a difference
    (two-sided at `alpha`); the normal approximation n = k s² (z_a + z_power)² / d², plus one for the t
    distribution's heavier tails, with k s² = 2 s² (the two sides' pooled variance) unpaired and s_d² (the
    variance of the per-seed differences) paired. nan with < 2 seeds a side; inf when neither can be shown."""
    a, b = (list(a), list(b)) if is_paired else (_clean(a), _clean(b))
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if is_paired:
        d = [y - x for x, y in zip(a, b)]
        spread, delta = statistics.variance(d), abs(sum(d) / len(d))
    else:
        spread = statistics.variance(a) + statistics.variance(b)  # 2 x the pooled variance
        delta = abs(sum(b) / len(b) - sum(a) / len(a))
    z_power = stats.norm.ppf(power)
    if delta < margin:  # equivalence first, as the verdict decides
        need = spread * (stats.norm.ppf(1 - alpha) + z_power) ** 2 / (margin - delta) ** 2
    elif delta > 0:
        need = spread * (stats.norm.ppf(1 - alpha / 2) + z_power) ** 2 / delta ** 2
    else:
        return math.inf
    return float(max(2, math.ceil(need) + 1))


def bootstrap_ci(a: Sequence[float], b: Sequence[float], level: float = LEVEL, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap interval of mean(b) - mean(a), each side resampled on its own (scipy.stats.bootstrap);
    (nan, nan) below 3 seeds a side or when the resamples do not vary."""
    a, b = _clean(a), _clean(b)
    if len(a) < 3 or len(b) < 3:
        return math.nan, math.nan
    if len(set(a)) == 1 and len(set(b)) == 1:
        delta = b[0] - a[0]
        return delta, delta
    with np.errstate(all="ignore"):
        try:
            result = stats.bootstrap((np.array(b), np.array(a)), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                                     confidence_level=level, n_resamples=resamples, method="BCa",
                                     random_state=np.random.default_rng(seed))
        except ValueError:
            return math.nan, math.nan
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], level: float = LEVEL, resamples: int = 2000,
                        seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap interval of the mean per-seed difference b[i] - a[i] (the seeds resampled as pairs);
    (nan, nan) below 3 pairs; a zero-width interval when every difference is the same."""
    d = np.array([y - x for x, y in zip(a, b)], dtype=float)
    if len(d) < 3:
        return math.nan, math.nan
    if np.all(d == d[0]):
        return float(d[0]), float(d[0])
    with np.errstate(all="ignore"):
        try:
            result = stats.bootstrap((d,), np.mean, confidence_level=level, n_resamples=resamples, method="BCa",
                                     random_state=np.random.default_rng(seed))
        except ValueError:
            return math.nan, math.nan
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


SPENDING_DRAWS = 200_000  # simulated schedules behind each schedule's levels (they vary by ~1e-4 or less)


def obrien_fleming(fraction: float, alpha: float = ALPHA) -> float:
    """Lan-DeMets' O'Brien-Fleming-like spending function: the two-sided α spent by information `fraction`
    (here: seeds a side / the cap), 2 - 2 Φ(z_(1-α/2) / sqrt(fraction)). Almost nothing early, α at the cap."""
    return float(2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(fraction)))


@functools.lru_cache(maxsize=64)
def spending_levels(sizes: tuple[int, ...], alpha: float = ALPHA, seed: int = 0) -> tuple[float, ...]:
    """The nominal two-sided level of each look of a seed schedule (`sizes`: seeds a side at each look), so that
    the chance of any false claim over all the looks is `alpha`, spent by `obrien_fleming` at each look's share
    of the cap. Calibrated by simulation for the test the verdicts use, Student's t on the seeds (the paired t
    exactly; Welch's nearly): later looks reuse the earlier seeds, so the looks' t statistics are simulated on
    shared normal samples (the t's law does not depend on their mean or spread), and the level of look k is the
    p below which, among the samples that crossed no earlier look, a share α(t_k) - α(t_(k-1)) cross. numpy,
    seeded; one look: α itself."""
    if len(sizes) <= 1:
        return (alpha,)
    rng = np.random.default_rng(seed)
    draws = rng.standard_normal((SPENDING_DRAWS, sizes[-1]))
    alive = np.ones(SPENDING_DRAWS, dtype=bool)
    levels, spent = [], 0.0
    for size in sizes:
        sample = draws[:, :size]
        t = sample.mean(axis=1) / (sample.std(axis=1, ddof=1) / math.sqrt(size))
        p = 2 * stats.t.sf(np.abs(t), size - 1)
        target = obrien_fleming(size / sizes[-1], alpha) - spent  # what this look may spend
        spent += target
        ordered = np.sort(p[alive])
        count = int(round(target * SPENDING_DRAWS))
        level = float(ordered[count]) if 0 <= count < len(ordered) else 1.0  # crossings among the samples alive
        alive &= p >= level
        levels.append(level)
    return tuple(levels)


def ratio_ci(a: Sequence[float], b: Sequence[float], level: float = LEVEL, resamples: int = 2000,
             seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of median(b) / median(a): a time ratio from its samples (the steps of the
    timing passes, or the epochs), each side resampled on its own; (nan, nan) below 3 samples a side."""
    a, b = _clean(a), _clean(b)
    if len(a) < 3 or len(b) < 3 or min(a) <= 0:
        return math.nan, math.nan
    with np.errstate(all="ignore"):
        result = stats.bootstrap((np.array(b), np.array(a)),
                                 lambda x, y, axis=-1: np.median(x, axis) / np.median(y, axis),
                                 confidence_level=level, n_resamples=resamples, method="percentile",
                                 random_state=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _quantiles(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The empirical quantile function F^-1(t) = inf{x: F(x) >= t} on `grid` (one row per sample)."""
    ordered = np.sort(values, axis=-1)
    n = ordered.shape[-1]
    index = np.clip(np.ceil(grid * n).astype(int) - 1, 0, n - 1)
    return ordered[..., index]


def violation_ratio(a: np.ndarray, b: np.ndarray, dt: float = 0.005) -> np.ndarray:
    """ε_W2(F_a, F_b): the share of the squared 2-Wasserstein distance between the two score distributions
    that lies where a's quantile function is below b's (where 'a is stochastically larger' is violated);
    0 = a dominates b, 1 = b dominates a, 0.5 when they are equal. Rows of 2-d inputs are separate samples."""
    grid = np.arange(dt, 1.0, dt)
    diff = _quantiles(a, grid) - _quantiles(b, grid)
    total = (diff ** 2).sum(axis=-1)
    violated = np.where(diff < 0, diff ** 2, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, violated / np.where(total > 0, total, 1.0), 0.5)


def aso(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, resamples: int = 1000, seed: int = 0,
        dt: float = 0.005) -> float:
    """ε_min of Almost Stochastic Order for "a is better than b": the upper (1 - α) confidence bound of the
    violation ratio, ε_W2(F_n, G_m) - sqrt((n + m) / (n m)) σ̂ Φ^-1(α), with σ̂ the bootstrap standard deviation
    of sqrt(n m / (n + m)) (ε*(resampled) - ε) (Dror et al. 2019, after del Barrio et al. 2018). ε_min < τ
    (0.2) reads "a is almost stochastically larger than b"; near 0.5, neither. nan below 2 seeds a side."""
    a, b = np.array(_clean(a)), np.array(_clean(b))
    n, m = len(a), len(b)
    if n < 2 or m < 2:
        return math.nan
    rng = np.random.default_rng(seed)
    observed = float(violation_ratio(a, b, dt))
    resampled = violation_ratio(rng.choice(a, (resamples, n)), rng.choice(b, (resamples, m)), dt)
    scale = math.sqrt(n * m / (n + m))
    sigma = float(np.std(scale * (resampled - observed)))
    return float(np.clip(observed - sigma / scale * stats.norm.ppf(alpha), 0.0, 1.0))


def expected_max(values: Sequence[float], k: int) -> float:
    """The expected best of k trials drawn without replacement from the n observed ones: Tang et al.'s (2020)
    unbiased estimator of Dodge et al.'s expected validation performance, Σ_{i>=k} v_(i) C(i-1, k-1) / C(n, k)
    over the sorted values. nan when k > n."""
    ordered = sorted(_clean(values))
    n = len(ordered)
    if not 1 <= k <= n:
        return math.nan
    total = math.comb(n, k)
    return sum(v * math.comb(i - 1, k - 1) for i, v in enumerate(ordered, 1) if i >= k) / total


def expected_max_band(values: Sequence[float], k: int, level: float = LEVEL, resamples: int = 500,
                      seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap band of `expected_max(values, k)` (the trials resampled with replacement)."""
    values = _clean(values)
    if len(values) < 2 or k > len(values):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = [expected_max(list(rng.choice(values, len(values))), k) for _ in range(resamples)]
    return float(np.quantile(draws, (1 - level) / 2)), float(np.quantile(draws, (1 + level) / 2))
