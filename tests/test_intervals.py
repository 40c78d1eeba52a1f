"""Intervals over seeds and the 'indistinguishable from the best' marks, against scipy and
hand-computed cases."""

import math

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.intervals import indistinguishable_from_best, t_interval


def test_t_interval_matches_scipy_and_covers_at_its_level():
    x = np.array([0.3, 0.1, 0.5, 0.4])
    half, mean = t_interval(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert math.isclose(mean - half, lo) and math.isclose(mean + half, hi)
    # Coverage on normal samples of size 3: the fraction of intervals holding the true mean is
    # binomial(4000, 0.95) — 4 standard errors is ±0.014.
    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 2.0, size=(4000, 3))
    covered = [abs(t_interval(s)[1] - 1.0) <= t_interval(s)[0] for s in samples]
    assert abs(np.mean(covered) - 0.95) < 4 * math.sqrt(0.95 * 0.05 / 4000)


def test_t_interval_ignores_non_finite_values_and_needs_two():
    half, mean = t_interval([1.0, np.nan, 3.0])
    assert mean == 2.0 and math.isclose(half, stats.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2))
    assert math.isnan(t_interval([5.0])[0]) and t_interval([5.0])[1] == 5.0
    assert all(math.isnan(v) for v in t_interval([]))


def test_paired_differences_decide_not_the_spread_of_each_method():
    # b is worse than a on every seed by exactly 0.01 ± 0.001 though both vary a lot across seeds:
    # paired, the difference is clear; unpaired it would not be.
    a = np.array([0.1, 0.5, 0.9, 0.3])
    table = pd.DataFrame({"a": a, "b": a + [0.010, 0.011, 0.009, 0.010], "c": a[::-1]})
    verdict = indistinguishable_from_best(table)
    assert verdict == {"a": True, "b": False, "c": True}
    assert stats.ttest_ind(table.a, table.b).pvalue > 0.05  # what an unpaired test would say


def test_higher_is_better_and_missing_values():
    table = pd.DataFrame({"x": [0.9, 0.8, np.nan], "y": [0.5, 0.4, 0.45], "z": [np.nan] * 3})
    verdict = indistinguishable_from_best(table, lower_is_better=False)
    assert verdict["x"] is True and "z" not in verdict
    # x vs y paired on seeds 0 and 1: differences 0.4 and 0.4, a constant nonzero difference
    assert verdict["y"] is False
