"""Uncertainty over seeds: Student-t confidence intervals of a mean, and which methods cannot be
told apart from the best (SPEC §7).

Seeds pair the runs of a target: seed s draws the same data set and the same initialisation for
every method, so two methods are compared by a paired t-test on their per-seed differences (the
seeds both finished); a method whose difference to the best is not significant at the 5 % level is
"indistinguishable from the best". With 3 seeds only large differences are significant: the mark
says "not shown to differ", not "equal".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["LEVEL", "t_interval", "indistinguishable_from_best"]

LEVEL = 0.95


def t_interval(values: np.ndarray | pd.Series, level: float = LEVEL) -> tuple[float, float]:
    """Half-width of the Student-t interval of the mean, and the mean, of the finite `values`
    (NaN half-width with fewer than 2).

    Example:
        >>> half, mean = t_interval([1.0, 2.0, 3.0])
        >>> round(mean, 3), round(half, 3)  # t(0.975, 2) · 1 / √3
        (2.0, 2.484)
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) < 2:
        return math.nan, float(x.mean())
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(half), float(x.mean())


def indistinguishable_from_best(
    values: pd.DataFrame, lower_is_better: bool = True, alpha: float = 1 - LEVEL
) -> dict[str, bool]:
    """For a (seed × method) table of one metric on one target: whether each method cannot be
    told apart from the best mean (the best itself included) by a paired t-test at `alpha`.
    Methods with no finite value are absent.

    Example:
        >>> table = pd.DataFrame({"a": [0.10, 0.12, 0.11], "b": [0.11, 0.12, 0.12],
        ...                       "c": [0.50, 0.52, 0.49]})
        >>> indistinguishable_from_best(table)
        {'a': True, 'b': True, 'c': False}
    """
    means = values.mean(skipna=True).dropna()
    if means.empty:
        return {}
    best = means.idxmin() if lower_is_better else means.idxmax()
    verdict = {}
    for method in means.index:
        pairs = values[[best, method]].dropna()
        diff = (pairs[method] - pairs[best]).to_numpy()
        if method == best or len(diff) < 2:  # fewer than 2 pairs: cannot be shown to differ
            verdict[method] = True
        elif np.ptp(diff) == 0:  # a constant difference: zero, or as significant as it gets
            verdict[method] = bool(diff[0] == 0)
        else:
            verdict[method] = bool(stats.ttest_1samp(diff, 0.0).pvalue >= alpha)
    return verdict
