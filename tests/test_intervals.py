"""Intervals over seeds and the verdicts against the best, against scipy, hand-computed cases and
planted ones."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.reporting.intervals import (
    INCONCLUSIVE_FACTOR,
    POWER,
    compare_to_best,
    detectable_ratio,
    seeds_needed,
    spread_factor,
    t_interval,
)


def test_t_interval_by_hand_and_against_scipy():
    # [0.3, 0.1, 0.5, 0.4]: mean 0.325, s² = (0.025² + 0.225² + 0.175² + 0.075²) / 3 = 0.029167
    x = np.array([0.3, 0.1, 0.5, 0.4])
    half = stats.t.ppf(0.975, 3) * math.sqrt(0.0875 / 3) / 2  # t(0.975, 3) = 3.182
    mean, low, high, n = t_interval(x)
    assert n == 4 and mean == pytest.approx(0.325)
    assert (low, high) == pytest.approx((0.325 - half, 0.325 + half))
    assert (low, high) == pytest.approx(stats.t.interval(0.95, 3, loc=x.mean(), scale=stats.sem(x)))
    # another level: 90 %
    _, low90, high90, _ = t_interval(x, level=0.90)
    assert high90 - low90 == pytest.approx(2 * stats.t.ppf(0.95, 3) * stats.sem(x))


def test_t_interval_covers_at_its_level():
    # Normal samples of size 3: the share of intervals holding the true mean is binomial(4000,
    # 0.95); 4 of its standard deviations is ±0.014.
    rng = np.random.default_rng(0)
    covered = [
        interval.low <= 1.0 <= interval.high
        for interval in map(t_interval, rng.normal(1.0, 2.0, size=(4000, 3)))
    ]
    assert abs(np.mean(covered) - 0.95) < 4 * math.sqrt(0.95 * 0.05 / 4000)


def test_t_interval_leaves_out_missing_values_and_needs_two():
    interval = t_interval([1.0, np.nan, 3.0])
    assert interval.n == 2 and interval.mean == 2.0
    assert interval.high - interval.mean == pytest.approx(stats.t.ppf(0.975, 1) * 1.0)  # s/√2 = 1
    one = t_interval([5.0])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.low) and math.isnan(one.high)
    none = t_interval([])
    assert none.n == 0 and math.isnan(none.mean)
    infinite = t_interval([1.0, np.inf])  # kept: an infinite value is a result, not a gap
    assert infinite.n == 2 and infinite.mean == np.inf and math.isnan(infinite.high)


def test_a_planted_clear_winner_and_a_planted_tie():
    # a: 0.1 on average; b: a + 0.001·noise (a tie: differences with mean ≈ 0 and spread);
    # c: a + 0.2 ± 0.01 on every seed (clearly worse).
    a = np.array([0.10, 0.14, 0.08, 0.12, 0.11])
    b = a + [0.001, -0.002, 0.002, -0.001, 0.0005]
    table = pd.DataFrame({"a": a, "b": b, "c": a + [0.2, 0.21, 0.19, 0.2, 0.2]})
    assert compare_to_best(table) == {"a": "best", "b": "indistinguishable", "c": "worse"}
    # the same p-value by hand: t = mean / (s / √n) of c − a
    diff = table.c - table.a
    t = diff.mean() / (diff.std(ddof=1) / math.sqrt(5))
    assert 2 * stats.t.sf(t, 4) < 1e-6


def test_paired_differences_decide_not_the_spread_of_each_method():
    # b is worse than a on every seed by 0.01 ± 0.001 though both vary a lot across seeds: paired,
    # the difference is clear; an unpaired test would not see it.
    a = np.array([0.1, 0.5, 0.9, 0.3])
    table = pd.DataFrame({"a": a, "b": a + [0.010, 0.011, 0.009, 0.010], "c": a[::-1]})
    assert compare_to_best(table) == {"a": "best", "b": "worse", "c": "indistinguishable"}
    assert stats.ttest_ind(table.a, table.b).pvalue > 0.05


def test_higher_is_better_missing_seeds_and_constant_differences():
    table = pd.DataFrame(
        {"x": [0.9, 0.8, np.nan], "y": [0.5, 0.4, 0.45], "z": [np.nan] * 3, "w": [0.9, 0.8, 0.7]}
    )
    verdict = compare_to_best(table, lower_is_better=False)
    assert "z" not in verdict
    assert verdict["x"] == "best"  # mean 0.85 over its 2 seeds
    assert verdict["y"] == "worse"  # paired on seeds 0 and 1: a constant difference of 0.4
    assert verdict["w"] == "indistinguishable"  # equal to x on the seeds both have


def test_a_method_with_one_seed_is_neither_best_nor_tested():
    table = pd.DataFrame({"lucky": [0.001, np.nan, np.nan], "steady": [0.2, 0.21, 0.19]})
    assert compare_to_best(table) == {"lucky": "untested", "steady": "best"}
    assert compare_to_best(table.iloc[:1]) == {"lucky": "untested", "steady": "untested"}


def test_better_than_the_best_on_the_shared_seeds_is_not_worse():
    # the best by mean (a, over 3 seeds) is beaten by b on the 2 seeds b has, consistently
    table = pd.DataFrame({"a": [0.30, 0.31, 0.0], "b": [0.20, 0.2101, np.nan]})  # means .203, .205
    assert compare_to_best(table) == {"a": "best", "b": "indistinguishable"}
    assert stats.ttest_1samp([0.20 - 0.30, 0.2101 - 0.31], 0.0).pvalue < 0.05  # significant, but
    # in b's favour: b is not shown worse


def test_log_scale_interval_is_scipys_on_the_logs_transformed_back_and_stays_positive():
    # a TV over 3 seeds whose linear interval goes below 0: 0.0322 ± t(0.975, 2) · s / √3
    x = np.array([0.005, 0.02, 0.09])
    assert t_interval(x).low < 0
    g, low, high, n = t_interval(x, scale="log")
    logs = np.log(x)
    expected = np.exp(stats.t.interval(0.95, 2, loc=logs.mean(), scale=stats.sem(logs)))
    assert n == 3 and g == pytest.approx(stats.gmean(x), rel=1e-12)
    assert (low, high) == pytest.approx(tuple(expected), rel=1e-12)
    assert 0 < low < g < high and g * g == pytest.approx(low * high, rel=1e-12)  # symmetric in log
    assert spread_factor(t_interval(x, scale="log")) == pytest.approx(high / low)


def test_log_scale_values_at_zero_have_no_interval_and_no_test():
    assert t_interval([0.0, 0.0], scale="log") == (0.0, 0.0, 0.0, 2)
    g, low, _, n = t_interval([0.0, 0.1, 0.2], scale="log")
    assert g == 0.0 and n == 3 and math.isnan(low)
    with pytest.raises(ValueError):
        t_interval([-0.1, 0.2], scale="log")
    table = pd.DataFrame({"a": [0.1, 0.12, 0.11], "z": [0.0, 0.1, 0.2]})
    assert compare_to_best(table, scale="log") == {"a": "best", "z": "untested"}


def test_a_noisy_method_over_the_factor_is_inconclusive_not_tied_with_the_best():
    # "noisy" spans three decades over its seeds: on the linear scale a paired t-test cannot find
    # it worse than "best"; on the log scale its interval spans far over 10×: inconclusive.
    table = pd.DataFrame({"best": [0.28, 0.281, 0.282], "noisy": [0.5, 80.0, 1000.0]})
    assert compare_to_best(table) == {"best": "best", "noisy": "indistinguishable"}
    assert compare_to_best(table, scale="log") == {"best": "best", "noisy": "inconclusive"}
    assert spread_factor(t_interval(table.noisy, scale="log")) > INCONCLUSIVE_FACTOR
    # the lowest geometric mean is inconclusive: the best is the lowest among the conclusive ones
    lucky = table.assign(lucky=[1e-4, 0.5, 0.01])
    assert compare_to_best(lucky, scale="log")["lucky"] == "inconclusive"
    assert compare_to_best(lucky, scale="log")["best"] == "best"


def test_a_small_consistent_ratio_is_significant_on_the_log_scale():
    # b = a · 1.24 ± 1 % on every seed while a varies twofold across seeds (each interval spans
    # 5.7×, under the factor): the log ratios ln 1.23, ln 1.24, ln 1.25 have
    # t = mean / (s / √3) = 0.215 / (0.00806 / 1.732) = 46, p = 4.7e-4; the linear differences
    # 0.023, 0.0312, 0.05 grow with a, p = 0.049, at the edge of the 5 % level.
    a = np.array([0.1, 0.13, 0.2])
    table = pd.DataFrame({"a": a, "b": a * [1.23, 1.24, 1.25]})
    assert compare_to_best(table, scale="log") == {"a": "best", "b": "worse"}
    ratios = np.log(table.b / table.a)
    assert stats.ttest_1samp(ratios, 0.0).statistic == pytest.approx(46.19, abs=0.01)
    linear = stats.ttest_1samp(table.b - table.a, 0.0).pvalue
    assert stats.ttest_1samp(ratios, 0.0).pvalue < 1e-3 < linear
    assert spread_factor(t_interval(table.b, scale="log")) < INCONCLUSIVE_FACTOR


@pytest.mark.parametrize("n", [3, 5, 8])
def test_detectable_ratio_is_found_with_its_power(n: int) -> None:
    """Simulated paired experiments at the detectable ratio: the t-test on log ratios finds it in
    a fraction POWER of them, within 4 binomial standard errors of `repeats` trials."""
    sd, repeats = 0.7, 20_000
    effect = math.log(detectable_ratio(sd, n))
    logs = np.random.default_rng(n).normal(effect, sd, size=(repeats, n))
    found = (stats.ttest_1samp(logs, 0.0, axis=1).pvalue < 0.05).mean()
    assert abs(found - POWER) < 4 * math.sqrt(POWER * (1 - POWER) / repeats)


def test_seeds_needed_is_the_first_count_that_detects_the_ratio() -> None:
    sd = 0.4
    n = seeds_needed(sd, 1.5)
    assert n is not None
    assert detectable_ratio(sd, n) <= 1.5 < detectable_ratio(sd, n - 1)
    assert math.isnan(detectable_ratio(sd, 1)) and math.isnan(detectable_ratio(0.0, 5))
    assert seeds_needed(sd, 1.0 + 1e-9, most=50) is None
