"""Does a fresh run of a suite agree with a reference run of it (e.g. the committed
`reports/quick`)? On the same processor with the same package versions a run reproduces its
reference bit for bit; on another, rounding differs, training amplifies the difference, and the
two agree only in distribution (`benchmark.execution.machine`). So each cell — a (target,
method variant, metric) — is tested, not compared digit by digit:

- *identical* when both DIRs hold the same seeds and every value is equal;
- otherwise Welch's t-test between the two sets of per-seed values (on log values for a metric
  that is positive in every run, where errors live; on the values for a signed one), with the
  p-values of all cells adjusted together by Holm's method, so that the comparison as a whole
  calls a difference by chance with probability at most `LEVEL`;
- *not testable* with fewer than 2 estimable seeds on a side.

A (target, variant) line agrees when none of its cells differs. The verdict says nothing about
which DIR is right: it says whether the two are draws of the same runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .tables import BETTER, format_number

__all__ = ["LEVEL", "AGREEMENT_METRICS", "agreement", "verdicts", "agreement_markdown"]

#: Family-wise error rate of the whole comparison.
LEVEL = 0.05

#: The metrics tested: every ranked metric but the timed ones, and the negatives' TV and the C2ST.
AGREEMENT_METRICS = [m for m in BETTER if "second" not in m] + ["mw_tv_negatives", "c2st"]


def _cell(here: pd.Series, there: pd.Series) -> dict[str, object]:
    """One metric of one (target, variant): the two seeds' sets (indexed by seed) tested."""
    a, b = here.dropna(), there.dropna()
    row: dict[str, object] = {"n_here": len(a), "n_reference": len(b)}
    row |= {"mean_here": a.mean(), "mean_reference": b.mean()}
    if len(a) and set(a.index) == set(b.index) and (a == b.loc[a.index]).all():
        return row | {"test": "identical", "p": 1.0}
    if len(a) < 2 or len(b) < 2:
        return row | {"test": "not testable", "p": math.nan}
    log = bool((a > 0).all() and (b > 0).all())
    x, y = (np.log(a), np.log(b)) if log else (a, b)
    if x.std() == 0 and y.std() == 0:  # both constant: equal or surely different
        return row | {"test": "welch (log)" if log else "welch", "p": float(x.iloc[0] == y.iloc[0])}
    p = stats.ttest_ind(x, y, equal_var=False).pvalue
    return row | {"test": "welch (log)" if log else "welch", "p": float(p)}


def agreement(here: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """One row per (target, variant, metric) the two runs frames (`frames.runs_frame`) share:
    seeds and means on each side, the test, its p-value, the Holm-adjusted one (`p_holm`) and
    whether the cell `differs`."""
    rows = []
    ok_here, ok_there = here[here.status == "ok"], reference[reference.status == "ok"]
    keys = here[["target", "variant"]].drop_duplicates().itertuples(index=False)
    for target, variant in keys:
        mine = ok_here[(ok_here.target == target) & (ok_here.variant == variant)]
        theirs = ok_there[(ok_there.target == target) & (ok_there.variant == variant)]
        mine, theirs = mine.set_index("seed"), theirs.set_index("seed")
        for metric in AGREEMENT_METRICS:
            if metric in mine and metric in theirs:
                cell = _cell(mine[metric].astype(float), theirs[metric].astype(float))
                rows.append({"target": target, "variant": variant, "metric": metric, **cell})
    cells = pd.DataFrame(rows)
    if cells.empty:
        return cells
    tested = cells.p.notna() & (cells.test != "identical")
    p = cells.p[tested].to_numpy()
    # Holm: the i-th smallest of m p-values times (m − i), cumulative maximum, capped at 1
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    holm = np.empty_like(p)
    holm[order] = adjusted
    cells["p_holm"] = cells.p
    cells.loc[tested, "p_holm"] = holm
    cells["differs"] = cells.p_holm < LEVEL
    return cells


def verdicts(cells: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One row per (target, variant), `method` its display name (`names`): `verdict` (identical,
    agrees, DIFFERS, not testable) and `detail`, from the cells of `agreement`."""
    rows = []
    for (target, variant), group in cells.groupby(["target", "variant"], sort=False):
        differing = group[group.differs]
        testable = group[group.test != "not testable"]
        if len(differing):
            verdict = "DIFFERS"
            detail = "; ".join(
                f"{r.metric} {format_number(r.mean_here)} here vs "
                f"{format_number(r.mean_reference)} (adjusted p {r.p_holm:.2g})"
                for r in differing.itertuples()
            )
        elif testable.empty:
            verdict, detail = "not testable", "fewer than 2 estimable seeds on a side"
        elif (testable.test == "identical").all():
            seeds = int(testable.n_here.max())
            verdict, detail = "identical", f"{len(testable)} metrics, {seeds} seeds bit for bit"
        else:
            smallest = testable.p_holm.min()
            verdict = "agrees"
            detail = f"{len(testable)} metrics, smallest adjusted p {smallest:.2g}"
        display = names.get(variant, variant)
        rows.append({"target": target, "method": display, "verdict": verdict, "detail": detail})
    return pd.DataFrame(rows, columns=["target", "method", "verdict", "detail"])


def agreement_markdown(
    lines: pd.DataFrame, reference: str, machine_differences: list[str]
) -> list[str]:
    """The report section: what differs between the machines, the rule, one row per line."""
    counts = lines.verdict.value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    where = (
        "computed with " + ", ".join(machine_differences)
        if machine_differences
        else "the same processor and package versions as these runs"
    )
    return [
        "",
        f"## Agreement with the reference `{reference}`",
        "",
        f"The reference's records were {where}. Per target, method and metric, the seeds' values "
        "here and there are tested with Welch's t-test (on log values for a positive metric), "
        f"the p-values of all cells adjusted together by Holm's method (family-wise {LEVEL:g}); "
        "a line differs when one of its metrics does (`benchmark/reporting/agreement.py`; every "
        f"cell in `agreement.csv`). {summary}.",
        "",
        lines.to_markdown(index=False, disable_numparse=True),
    ]
