import math

import pytest
from scipy import stats as sp

from bench.report.stats import holm, mean_ci, welch


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
