"""Uncertainty over seeds (docs/SCIENCE.md §6, "Reading the tables"): Student-t confidence intervals
over seeds, and which methods a paired t-test cannot tell apart from the best.

Two scales. A signed quantity (a held-out log-likelihood, a log Z) is summarised on the linear
scale: the arithmetic mean and mean ± t·s/√n. A positive, multiplicative quantity (an error, an
MSE, a TV distance, R-hat − 1, seconds, an ESS) is summarised on the log scale: the t-interval of
the logs transformed back, [g / f, g · f] around the geometric mean g, which never leaves (0, ∞),
and two methods are compared on the per-seed log ratios. A value of exactly 0 (the quantity's
bound: no error at all) has no logarithm: a group holding one has geometric mean 0, no interval and
no test.

Seeds pair the runs of a target: seed s draws the same data set for every method (and a method's
variants share their random stream), so two methods are compared on their per-seed differences
(of logs, on the log scale), over the seeds where both have a value, by a two-sided paired t-test
at level 1 − `LEVEL` = 5 %. On the log scale a method whose interval spans more than
`INCONCLUSIVE_FACTOR` (high / low) is *inconclusive*: its seeds do not fix the quantity's order of
magnitude, so it is neither the best nor "not shown worse". The best is the method with the best
mean (geometric on the log scale) among the conclusive ones with values on at least 2 seeds; a
method is *indistinguishable* from it when the test does not find it worse. With 3 seeds only
large, consistent differences are significant (t at 2 degrees of freedom is 4.3): it says "not
shown to differ", not "equal". No correction is made for the number of methods compared.

What a seed count can separate is a power calculation (`detectable_ratio`, `seeds_needed`): for
per-seed log ratios of standard deviation s, the paired test above finds a true ratio r with
probability `POWER` when the noncentral t with n − 1 degrees of freedom and noncentrality
log(r)·√n / s exceeds the test's critical value that often.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import integrate, optimize, stats

__all__ = [
    "LEVEL",
    "INCONCLUSIVE_FACTOR",
    "Scale",
    "Interval",
    "Verdict",
    "t_interval",
    "spread_factor",
    "compare_to_best",
    "POWER",
    "detectable_ratio",
    "seeds_needed",
]

LEVEL = 0.95

#: On the log scale, a 95 % interval wider than this factor (high / low: one decade) leaves the
#: order of magnitude open; the report's methods differ by decades, so such a cell decides nothing.
INCONCLUSIVE_FACTOR = 10.0

#: The probability of finding a true difference that `detectable_ratio` asks for (the usual 80 %).
POWER = 0.8

#: How a metric is summarised: "linear" (signed quantities) or "log" (positive, multiplicative).
Scale = Literal["linear", "log"]

#: A method's standing against the best of its comparison: the best itself, not shown worse,
#: shown worse, an interval over `INCONCLUSIVE_FACTOR` (log scale), or no test (fewer than 2
#: seeds paired with the best, or a value at 0 on the log scale).
Verdict = Literal["best", "indistinguishable", "worse", "inconclusive", "untested"]


class Interval(NamedTuple):
    """The centre of `n` values (the mean; on the log scale the geometric mean) and its Student-t
    interval [low, high] (NaN when n < 2)."""

    mean: float
    low: float
    high: float
    n: int


def _linear(x: np.ndarray, level: float) -> Interval:
    mean = float(x.mean())
    if len(x) < 2 or not np.isfinite(x).all():  # an infinite value: no finite interval
        return Interval(mean, math.nan, math.nan, len(x))
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return Interval(mean, mean - half, mean + half, len(x))


def t_interval(
    values: np.ndarray | pd.Series | list[float], level: float = LEVEL, scale: Scale = "linear"
) -> Interval:
    """The Student-t confidence interval at `level` of the values that are not NaN (missing):
    mean ± t(1 − (1 − level)/2, n − 1) · s / √n, s the sample standard deviation; on the log scale
    the same of log values, transformed back (geometric mean, interval [g / f, g · f]).

    Example:
        >>> mean, low, high, n = t_interval([1.0, 2.0, 3.0, float("nan")])
        >>> n, mean, round(high - mean, 3)  # t(0.975, 2) · 1 / √3
        (3, 2.0, 2.484)
        >>> g, low, high, n = t_interval([1.0, 10.0, 100.0], scale="log")
        >>> round(g, 6), round(low, 4)  # 10^(1 ∓ t(0.975, 2) · 1 / √3)
        (10.0, 0.0328)
        >>> t_interval([5.0])
        Interval(mean=5.0, low=nan, high=nan, n=1)
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    if scale == "linear":
        return _linear(x, level)
    if (x < 0).any():
        raise ValueError(f"a log-scale interval needs values >= 0; got {x.min()}")
    if (x == 0).any():  # the bound: geometric mean 0, an interval only when every value is 0
        exact = bool((x == 0).all()) and len(x) > 1
        return Interval(0.0, 0.0 if exact else math.nan, 0.0 if exact else math.nan, len(x))
    logs = _linear(np.log(x), level)
    return Interval(*(float(np.exp(v)) for v in logs[:3]), logs.n)


def spread_factor(interval: Interval) -> float:
    """high / low of a log-scale interval (NaN without one): how many-fold the seeds leave the
    centre open."""
    if not interval.low > 0:
        return math.nan
    return interval.high / interval.low


def compare_to_best(
    values: pd.DataFrame,
    lower_is_better: bool = True,
    level: float = LEVEL,
    scale: Scale = "linear",
    factor: float = INCONCLUSIVE_FACTOR,
) -> dict[str, Verdict]:
    """Each method's verdict against the best, from a (seed × method) table of one metric on one
    target (NaN where a seed has no value). Methods without any finite value are absent; when no
    method can be the best (2 finite values, conclusive), every other one is "untested". On the
    log scale the test is on log values, and a method whose interval spans over `factor` is
    "inconclusive".

    Example:
        >>> table = pd.DataFrame({"a": [0.10, 0.12, 0.11], "b": [0.11, 0.12, 0.12],
        ...                       "c": [0.50, 0.52, 0.49], "d": [0.01, 0.5, 0.2]})
        >>> compare_to_best(table)
        {'a': 'best', 'b': 'indistinguishable', 'c': 'worse', 'd': 'indistinguishable'}
        >>> compare_to_best(table, scale="log")
        {'a': 'best', 'b': 'indistinguishable', 'c': 'worse', 'd': 'inconclusive'}
    """
    sign = 1.0 if lower_is_better else -1.0
    counts = values.notna().sum()
    present = [m for m in values.columns if counts[m] > 0]
    verdicts: dict[str, Verdict] = {}
    if scale == "log":
        at_zero = [m for m in present if (values[m] <= 0).any()]
        verdicts |= dict.fromkeys(at_zero, "untested")
        for m in present:
            if m not in at_zero and spread_factor(t_interval(values[m], level, "log")) > factor:
                verdicts[m] = "inconclusive"
        values = np.log(values[[m for m in present if m not in at_zero]])
    candidates = [m for m in present if counts[m] >= 2 and m not in verdicts]
    if not candidates:
        return {m: verdicts.get(m, "untested") for m in present}
    means = sign * values[candidates].mean()
    best = candidates[int(np.argmin(means.to_numpy()))]  # the first listed among equal means
    for method in present:
        if method in verdicts:
            continue
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
    return {m: verdicts[m] for m in present}


def _power(effect: float, sd: float, n: int, level: float) -> float:
    """Probability that the two-sided paired t-test at `level` over n pairs finds a mean
    difference `effect` of differences with standard deviation `sd`: with T = (Z + λ) / √(V / k),
    Z standard normal, V chi-squared with k = n − 1 degrees of freedom and λ = effect·√n / sd,
    P(|T| > c) = E_V[Φ(λ − c√(V/k)) + Φ(−λ − c√(V/k))] (one integral over V; scipy's noncentral t
    returns NaN far in its tail)."""
    k = n - 1
    critical = stats.t.ppf(0.5 + level / 2, k)
    shift = effect * math.sqrt(n) / sd

    def found(v: float) -> float:
        c = critical * math.sqrt(v / k)
        return (stats.norm.cdf(shift - c) + stats.norm.cdf(-shift - c)) * stats.chi2.pdf(v, k)

    return float(integrate.quad(found, 0.0, math.inf)[0])


def detectable_ratio(sd: float, n: int, level: float = LEVEL, power: float = POWER) -> float:
    """The smallest ratio of two methods' values that the paired test on log values finds with
    probability `power` from `n` seeds, when the per-seed log ratios have standard deviation `sd`
    (NaN for n < 2 or a non-positive `sd`).

    Example:
        >>> round(detectable_ratio(0.5, 3), 2), round(detectable_ratio(0.5, 5), 2)
        (5.11, 2.32)
        >>> round(detectable_ratio(0.5, 10), 2)  # → exp((1.96 + 0.84) · 0.5 / √n) for large n
        1.65
    """
    if n < 2 or not sd > 0:
        return math.nan
    high = sd / math.sqrt(n)
    while _power(high, sd, n, level) < power:
        high *= 2.0
    effect = optimize.brentq(lambda d: _power(d, sd, n, level) - power, 0.0, high)
    return float(math.exp(effect))


def seeds_needed(
    sd: float, ratio: float, level: float = LEVEL, power: float = POWER, most: int = 1000
) -> int | None:
    """The fewest seeds at which `detectable_ratio(sd, n)` ≤ `ratio`; None above `most`.

    Example:
        >>> seeds_needed(0.5, 2.0), seeds_needed(0.5, 1.5)
        (7, 14)
    """
    if not sd > 0:
        return 2
    for n in range(2, most + 1):
        if detectable_ratio(sd, n, level, power) <= ratio:
            return n
    return None
