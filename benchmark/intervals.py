"""Uncertainty over seeds (SPEC §7): Student-t confidence intervals of a mean over seeds, and which
methods a paired t-test cannot tell apart from the best.

Seeds pair the runs of a target: seed s draws the same data set for every method (and a method's
variants share their random stream), so two methods are compared on their per-seed differences,
over the seeds where both have a value (failed and not-estimable seeds are left out of the pairs),
by a two-sided paired t-test at level 1 − `LEVEL` = 5 %. The best is the method with the best mean
among those with values on at least 2 seeds; a method is *indistinguishable* from it when the test
does not find it worse. With 3 seeds only large, consistent differences are significant (the
t quantile at 2 degrees of freedom is 4.3): "indistinguishable" says "not shown to differ", not
"equal". No correction is made for the number of methods compared.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["LEVEL", "Interval", "Verdict", "t_interval", "compare_to_best"]

LEVEL = 0.95

#: A method's standing against the best of its comparison: the best itself, not shown worse,
#: shown worse, or fewer than 2 seeds paired with the best (no test).
Verdict = Literal["best", "indistinguishable", "worse", "untested"]


class Interval(NamedTuple):
    """The mean of `n` values and its Student-t interval [low, high] (NaN when n < 2)."""

    mean: float
    low: float
    high: float
    n: int


def t_interval(values: np.ndarray | pd.Series | list[float], level: float = LEVEL) -> Interval:
    """The Student-t confidence interval at `level` of the mean of the `values` that are not NaN
    (missing): mean ± t(1 − (1 − level)/2, n − 1) · s / √n, s the sample standard deviation.

    Example:
        >>> mean, low, high, n = t_interval([1.0, 2.0, 3.0, float("nan")])
        >>> n, mean, round(high - mean, 3)  # t(0.975, 2) · 1 / √3
        (3, 2.0, 2.484)
        >>> t_interval([5.0])
        Interval(mean=5.0, low=nan, high=nan, n=1)
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if len(x) < 2 or not np.isfinite(x).all():  # an infinite value: no finite interval
        return Interval(mean, math.nan, math.nan, len(x))
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return Interval(mean, mean - half, mean + half, len(x))


def compare_to_best(
    values: pd.DataFrame, lower_is_better: bool = True, level: float = LEVEL
) -> dict[str, Verdict]:
    """Each method's verdict against the best, from a (seed × method) table of one metric on one
    target (NaN where a seed has no value). Methods without any finite value are absent; when no
    method has 2 finite values, every method is "untested".

    Example:
        >>> table = pd.DataFrame({"a": [0.10, 0.12, 0.11], "b": [0.11, 0.12, 0.12],
        ...                       "c": [0.50, 0.52, 0.49]})
        >>> compare_to_best(table)
        {'a': 'best', 'b': 'indistinguishable', 'c': 'worse'}
    """
    sign = 1.0 if lower_is_better else -1.0
    counts = values.notna().sum()
    present = [m for m in values.columns if counts[m] > 0]
    candidates = [m for m in present if counts[m] >= 2]
    if not candidates:
        return dict.fromkeys(present, "untested")
    means = sign * values[candidates].mean()
    best = candidates[int(np.argmin(means.to_numpy()))]  # the first listed among equal means
    verdicts: dict[str, Verdict] = {}
    for method in present:
        pairs = values[[best, method]].dropna()
        worse_by = sign * (pairs[method] - pairs[best]).to_numpy()  # > 0: the method is worse
        if method == best:
            verdicts[method] = "best"
        elif len(worse_by) < 2:
            verdicts[method] = "untested"
        elif np.ptp(worse_by) <= 1e-9 * np.abs(worse_by).max():  # constant up to rounding: the
            # difference has no spread, its sign decides
            verdicts[method] = "worse" if worse_by[0] > 0 else "indistinguishable"
        else:
            shown = stats.ttest_1samp(worse_by, 0.0).pvalue < 1 - level and worse_by.mean() > 0
            verdicts[method] = "worse" if shown else "indistinguishable"
    return verdicts
