import math

import pytest
from scipy import stats as sp

from bench.report.stats import (aso, bootstrap_ci, expected_max, expected_max_band, holm, mean_ci, seeds_needed, tost,
                                violation_ratio, welch)


def test_mean_ci_is_the_student_t_interval():
    mean, half = mean_ci([0.80, 0.82, 0.84])
    assert mean == pytest.approx(0.82)
    assert half == pytest.approx(sp.t.ppf(0.975, 2) * 0.02 / math.sqrt(3))  # sd 0.02, 3 seeds: ~0.0497


def test_mean_ci_with_one_value_has_no_interval_and_ignores_nan():
    mean, half = mean_ci([0.5, float("nan")])
    assert mean == 0.5 and math.isnan(half)
    assert all(math.isnan(x) for x in mean_ci([]))


def test_welch_matches_scipy_and_its_interval_holds_the_delta():
    a, b = [0.70, 0.72, 0.71, 0.69], [0.80, 0.78, 0.83]
    w = welch(a, b)
    assert w.delta == pytest.approx(sum(b) / 3 - sum(a) / 4)
    assert w.p == pytest.approx(sp.ttest_ind(b, a, equal_var=False).pvalue)
    assert w.low < w.delta < w.high and w.high < 0.2 and 0.005 < w.p < 0.02
    assert w.df == pytest.approx(2.795, abs=0.001)  # Welch-Satterthwaite, worked by hand


def test_welch_says_nothing_with_one_seed_and_handles_constant_sides():
    one = welch([0.5], [0.6, 0.7])
    assert one.delta == pytest.approx(0.15) and math.isnan(one.p) and math.isnan(one.low)
    assert welch([0.25, 0.25], [0.25, 0.25]).p == 1.0
    assert welch([0.25, 0.25], [0.5, 0.5]).p == 0.0


def test_holm_adjusts_in_rank_order_and_keeps_nan():
    adjusted = holm([0.01, float("nan"), 0.04, 0.03])
    assert adjusted[0] == pytest.approx(0.03) and math.isnan(adjusted[1])
    assert adjusted[3] == pytest.approx(0.06) and adjusted[2] == pytest.approx(0.06)  # monotone: max(0.06, 0.04)


# Almost Stochastic Order, checked against the GPL-3.0 package deepsig 1.2.8 run in a scratch environment (not a
# dependency): deepsig.aso(a, b, confidence_level=0.95, num_bootstrap_iterations=2000, seed=s) for s in 0..4 gave
# these ε_min (their spread over seeds < 0.001). Both are bootstrap estimates, so they agree to a tolerance.
DEEPSIG = {
    "clear": ([0.86, 0.87, 0.865, 0.872, 0.868], [0.80, 0.81, 0.79, 0.805, 0.798], 0.0),
    "overlap": ([0.80, 0.81, 0.79, 0.805, 0.798, 0.802], [0.801, 0.809, 0.795, 0.80, 0.79, 0.807], 0.9272),
    "three": ([0.811, 0.806, 0.815], [0.798, 0.809, 0.801], 0.1596),
    "mixed": ([0.70, 0.90, 0.72, 0.88, 0.71, 0.89, 0.73, 0.87], [0.79, 0.80, 0.81, 0.80, 0.78, 0.82, 0.80, 0.81], 0.8666),
}


@pytest.mark.parametrize("case", sorted(DEEPSIG))
def test_aso_matches_deepsig(case):
    a, b, expected = DEEPSIG[case]
    assert aso(a, b, resamples=2000) == pytest.approx(expected, abs=0.03)


def test_violation_ratio_from_its_definition():
    import numpy as np
    assert violation_ratio(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0  # a above b everywhere
    assert violation_ratio(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    # a = {0, 3}, b = {1, 2}: quantile differences -1 on the lower half, +1 on the upper: half the W2 mass violated
    assert violation_ratio(np.array([0.0, 3.0]), np.array([1.0, 2.0])) == pytest.approx(0.5, abs=0.01)
    assert aso([0.8, 0.8], [0.8, 0.8]) == pytest.approx(0.5)  # identical: neither dominates


def test_tost_is_the_one_minus_two_alpha_interval_inside_the_margin():
    a, b = [0.800, 0.802, 0.801, 0.799], [0.801, 0.800, 0.803, 0.800]
    w = welch(a, b)
    inner = welch(a, b, level=0.90)
    assert (tost(w, 0.01) < 0.05) == (-0.01 < inner.low and inner.high < 0.01) and tost(w, 0.01) < 0.05
    assert tost(w, 0.001) > 0.05  # a margin tighter than the noise: not shown
    assert math.isnan(tost(welch([0.8], [0.8, 0.81]), 0.01))


def test_welch_interval_is_the_welch_satterthwaite_formula():
    """Worked by hand: means 0.705 and 0.80333 (difference 0.098333); sample variances 5.0e-4 / 3 = 1.6667e-4 and
    1.2667e-3 / 2 = 6.3333e-4; standard error sqrt(v_a/4 + v_b/3) = sqrt(2.5278e-4) = 0.015899; Satterthwaite's
    df = se^4 / ((v_a/4)^2/3 + (v_b/3)^2/2) = 6.3897e-8 / 2.2863e-8 = 2.7948; t(0.975, 2.7948) = 3.3188 (between a
    t table's 3.182 at df 3 and 4.303 at df 2); so the interval is 0.098333 +- 0.052766."""
    a, b = [0.70, 0.72, 0.71, 0.69], [0.80, 0.78, 0.83]
    w = welch(a, b)
    se = math.sqrt(1.6666667e-4 / 4 + 6.3333333e-4 / 3)
    df = se ** 4 / ((1.6666667e-4 / 4) ** 2 / 3 + (6.3333333e-4 / 3) ** 2 / 2)
    assert se == pytest.approx(0.015899, abs=1e-6) and df == pytest.approx(2.7948, abs=1e-4)
    assert 3.182 < sp.t.ppf(0.975, df) < 4.303 and sp.t.ppf(0.975, df) == pytest.approx(3.3188, abs=1e-4)
    assert (w.low, w.high) == pytest.approx((0.098333 - 0.052766, 0.098333 + 0.052766), abs=1e-5)


def test_bootstrap_ci_is_bca_and_says_nothing_below_three_seeds():
    low, high = bootstrap_ci([0.70, 0.72, 0.71, 0.69, 0.70], [0.80, 0.78, 0.83, 0.81, 0.80])
    assert 0.05 < low < 0.1 < high < 0.13
    assert all(math.isnan(x) for x in bootstrap_ci([0.7, 0.71], [0.8, 0.81]))


def test_seeds_needed_grows_as_the_effect_shrinks():
    noisy = [0.80, 0.81, 0.79]
    far = seeds_needed(noisy, [0.85, 0.86, 0.84], 0.05, 0.01)
    near = seeds_needed(noisy, [0.815, 0.825, 0.805], 0.05, 0.01)
    assert far < near < 100 and far >= 2
    assert math.isnan(seeds_needed([0.8], [0.8, 0.9], 0.05, 0.01))


def test_expected_max_is_tangs_unbiased_estimator():
    values = [0.5, 0.6, 0.7, 0.8]
    assert expected_max(values, 1) == pytest.approx(0.65)  # the mean
    assert expected_max(values, 4) == pytest.approx(0.8)   # the max
    assert expected_max(values, 2) == pytest.approx((0.6 + 0.7 + 0.8 + 0.7 + 0.8 + 0.8) / 6)  # every pair's max
    assert math.isnan(expected_max(values, 5))
    low, high = expected_max_band(values, 2)
    assert low <= expected_max(values, 2) <= high
