"""The report's tables: statistics over seeds (a long DataFrame per table, saved as CSV) and their
display as Markdown. Every number goes through `format_number`, every cell through `format_cell`.

A cell summarises the runs of one group (e.g. one method on one target): its centre and 95 %
Student-t interval over the seeds that finished and whose value is estimable (`intervals`) — the
geometric mean and the interval of the logs transformed back for the positive quantities in
`LOG_SCALE`, the mean and mean ± t·s/√n for the others; seeds where the metric was not estimable
and runs that failed or are missing are counted beside it, never dropped silently. Where a metric
has a direction (`BETTER`), the groups compared on one target are ranked: the best and those a
paired t-test cannot tell from it are shown in bold, a cell spanning over `INCONCLUSIVE_FACTOR`
is marked ‡ and never bold. A cell with a noise floor (`FLOORS`, the C2ST's chance level) or a
ceiling (ArviZ's ESS cap) prints the bound instead of a number beyond it, and is not ranked
beyond it (docs/SCIENCE.md §6.3, "Floors and bounds"). Each metric's direction, scale, bounds,
floor and place in the summary are its row of `benchmark/metrics/columns.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..metrics.columns import METRICS, SUMMARY_GROUPS, Metric
from .frames import NE_SUFFIX
from .intervals import INCONCLUSIVE_FACTOR, LEVEL, Scale, compare_to_best, t_interval

__all__ = [
    "BETTER",
    "LOG_SCALE",
    "FLOORS",
    "REFERENCE_METHODS",
    "RANKING",
    "Table",
    "stats",
    "present",
    "format_number",
    "format_exact",
    "format_cell",
    "pivot",
    "markdown",
    "make_tables",
]

_SIG = 3  # significant figures of every number

#: The metrics whose cells are ranked, and which way is better.
BETTER: dict[str, Literal["lower", "higher"]] = {m.name: m.better for m in METRICS if m.better}

#: Positive, multiplicative metrics, summarised and compared on the log scale (of the value
#: minus its origin, e.g. R-hat − 1); every other metric (held-out log-likelihood, log Z, C2ST,
#: MMD², modes found) is linear.
LOG_SCALE = frozenset(m.name for m in METRICS if m.scale == "log")

#: The value a log-scale metric is measured from: R-hat's ideal is 1, so R-hat − 1 is the error.
_ORIGIN = {m.name: m.origin for m in METRICS if m.origin}

#: Bounds of a metric where its interval is cut: at most 1 for fractions, differences of weights
#: and their squares, an accuracy (a log-scale interval, symmetric in log, can pass it); at least 0
#: for linear-scale counts and the MMD², whose unbiased estimate can be negative but which measures
#: a squared distance (a t-interval can pass it).
_AT_MOST = {m.name: m.at_most for m in METRICS if m.at_most is not None}
_AT_LEAST = {m.name: m.at_least for m in METRICS if m.at_least is not None}

#: Metric -> the run column holding its noise floor (`Metric.floor`), or a number common to
#: every run. A mode-weight MSE of weights counted from n draws against the EBM's own weights has
#: expectation Σ w(1 − w)/(K n) when the draws follow the EBM exactly
#: (benchmark/metrics/weights.py); below it a difference is sampling noise. The max R-hat of the
#: diagnostic chains fluctuates by a few hundredths even when they sample exactly: the oracle's
#: (flowMC on the true energy) reached 1.039 on the 2-D and 16-D targets of the version-0.3.0
#: quick and tuned reports. Below 1.05, R-hat − 1 is the diagnostic's own noise and would
#: otherwise decide a log-scale ranking; such values tie. The sampler's MMD² and sliced W₂²
#: against exact draws: what two exact samples of the same size read
#: (benchmark/metrics/samples.py).
FLOORS: dict[str, str | float] = {m.name: m.floor for m in METRICS if m.floor is not None}

#: ESS metrics capped by ArviZ at N·log10 N for N draws in all (its autocorrelation time is
#: floored at 1 / log10 N): the ESS itself ("count") or a rate of the bulk ESS ("rate"), its cap
#: rescaled as the rate is from the bulk ESS.
_ESS_CAP = {m.name: m.ess_cap for m in METRICS if m.ess_cap}

#: The C2ST's chance band: accuracy within 0.5 ± z·√(0.25 / (2n)) over 2n held-out draws is what
#: a classifier reaches on identical samples at the 95 % level.
_Z = 1.959963984540054


def scale(metric: str) -> Scale:
    """The scale a metric is summarised on (and compared on, but for `_COMPARED_ON_LOG`)."""
    return "log" if metric in LOG_SCALE else "linear"


#: Linear-scale metrics compared on the log scale of their values raised to the noise floor (all
#: positive then): the MMD² is summarised by its unbiased signed mean, but between methods it is an
#: error spanning orders of magnitude, and a method whose seeds scatter over more than
#: `INCONCLUSIVE_FACTOR` (from its floor up) must not be bold by its noise.
_COMPARED_ON_LOG = frozenset(m.name for m in METRICS if m.compared_on_log)


def comparison_scale(metric: str) -> Scale:
    """The scale two methods' values of a metric are compared on (`_verdicts`)."""
    return "log" if metric in _COMPARED_ON_LOG else scale(metric)


#: Methods shown as references, never ranked: the oracle reads p★ and trains nothing.
REFERENCE_METHODS = frozenset({"oracle"})

#: How cells read, for the captions.
RANKING = (
    f"Cells: centre [{100 * LEVEL:.0f} % Student-t interval over seeds]. Errors, MSEs, TVs, "
    "R-hat − 1, ESS, seconds and evaluations are positive and multiplicative: their centre is the "
    "geometric mean and their interval the t-interval of the logs transformed back, which never "
    "leaves (0, ∞), cut at 1 for quantities at most 1 (TV, MSE, far mass, C2ST); counts and the "
    "MMD² are summarised on the linear scale, their interval cut at 0; held-out "
    "log-likelihoods are "
    "summarised on the linear scale (mean ± t·s/√n). "
    "A cell from one seed has no interval. **Bold**: on each target, the best centre (among "
    "conclusive methods with 2 seeds or more) and every method that a two-sided paired t-test at "
    f"the {100 * (1 - LEVEL):.0f} % level, on the log values where the cell is on the log scale, "
    "over the seeds both have a value for, does not find worse — not shown to differ, which with "
    "few seeds takes a large, consistent gap; no correction for the number of methods. ‡ "
    f"inconclusive: the interval spans more than {INCONCLUSIVE_FACTOR:.0f}× (high / low), the "
    "seeds do not fix the order of magnitude; never bold. `< floor X`: the centre is below the "
    "cell's noise floor X, and values below the floor are ranked at the floor (ties). `≥ X`: "
    "every seed's ESS is at ArviZ's cap N·log10 N for its N draws. `(k unconverged)`: k of the "
    "seeds' training had not settled (its last checkpoints' weights or log-density error still "
    "moving; `converged` in results.csv). The oracle is a reference, not ranked."
)


def format_number(x: float) -> str:
    """3 significant figures; scientific notation below 1e-3 and from 1e5 on ("8.59e-5")."""
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    rounded = float(f"{x:.{_SIG - 1}e}")  # rounding first fixes the exponent (0.9996 -> 1.00)
    exponent = math.floor(math.log10(abs(rounded)))
    if exponent < -3 or exponent >= 5:
        mantissa = rounded / 10**exponent
        return f"{mantissa:.{_SIG - 1}f}e{exponent}"
    return f"{rounded:.{max(0, _SIG - 1 - exponent)}f}"


def format_exact(x: float) -> str:
    """Every digit a float was given with (a paper's number as printed), scientific notation
    below 1e-3 as in `format_number`."""
    if x != 0 and abs(x) < 1e-3:
        return np.format_float_scientific(x, trim="-", exp_digits=1)
    return np.format_float_positional(x, trim="-")


def format_cell(row: pd.Series) -> str:
    """One cell from a `stats` row: "centre [low, high]" (the 95 % t interval; "(1 seed)" instead
    when one seed has a value), "< floor X" when the centre is below its noise floor, "≥ X" when
    every seed is at its ceiling; in bold when its verdict is the best or indistinguishable from
    it, marked ‡ when inconclusive; then the seeds not estimable and the runs that failed;
    "n/e (k of n)" when no ok seed is estimable, "n/a" when the metric does not apply, "—" when
    no run finished."""
    notes = []
    if row.n_ok == 0:
        text = "—"
    elif row.n_values == 0:
        text = f"n/e ({row.n_ne} of {row.n_ok})" if row.n_ne else "n/a"
    else:
        floor, ceiling = row.get("floor", math.nan), row.get("ceiling", math.nan)
        if row["mean"] < floor * (1 - 1e-9):  # below, not at it up to rounding
            text = f"< floor {format_number(floor)}"
        elif row.get("n_at_ceiling", 0) == row.n_values:
            text = f"≥ {format_number(ceiling)}"
        else:
            text = format_number(row["mean"])
            if row.n_values > 1 and math.isfinite(row.ci_low):
                text += f" [{format_number(row.ci_low)}, {format_number(row.ci_high)}]"
            if row.get("n_zero", 0) and row.n_zero < row.n_values:
                notes.append(f"{row.n_zero} at 0")
        if row.n_values == 1:
            notes.append("1 seed")
        if row.get("verdict") in ("best", "indistinguishable"):
            text = f"**{text}**"
        elif row.get("verdict") == "inconclusive":
            text += " ‡"
        if row.n_ne:
            notes.append(f"{row.n_ne} n/e")
    if row.get("n_unconverged", 0):
        notes.append(f"{row.n_unconverged} unconverged")
    if row.n_failed:
        notes.append(f"{row.n_failed} failed")
    return text + (f" ({', '.join(notes)})" if notes else "")


def present(frame: pd.DataFrame, metric: str) -> bool:
    """Whether any run reports `metric` (a value, or a reason it is not estimable)."""
    values = metric in frame and frame[metric].notna().any()
    reasons = f"{metric}{NE_SUFFIX}" in frame and frame[f"{metric}{NE_SUFFIX}"].notna().any()
    return bool(values or reasons)


def _measured(frame: pd.DataFrame, metric: str) -> pd.Series:
    """The values a metric is summarised on: on the log scale measured from its origin (R-hat − 1,
    below 0 taken as 0), raised to its floor where it has one (`ranked`)."""
    values = (frame[metric] if metric in frame else pd.Series(np.nan, frame.index)).astype(float)
    if metric in _ORIGIN:
        values = (values - _ORIGIN[metric]).clip(lower=0.0)
    return values


def _floors(frame: pd.DataFrame, metric: str) -> pd.Series | None:
    """Each run's noise floor of `metric`, in the metric's units (None without one)."""
    floor = FLOORS.get(metric)
    if isinstance(floor, float):
        return pd.Series(floor, frame.index)
    return frame[floor].astype(float) if floor in frame else None


#: Floors that are one number for every run of a target — what two exact samples of the sizes all
#: runs use read — of which each run holds an estimate from a few pairs (±50 %): ranked against
#: their mean over the compared runs, so that the estimates' noise does not order the methods.
_SHARED_FLOORS = frozenset(m.name for m in METRICS if m.shared_floor)


def _ranked(frame: pd.DataFrame, metric: str) -> pd.Series:
    """`_measured` with each value below its run's noise floor (a shared floor's mean over the
    runs of `frame`) raised to it: below the floor methods tie."""
    values, floors = _measured(frame, metric), _floors(frame, metric)
    if floors is not None:
        floors = floors - _ORIGIN.get(metric, 0.0)
        if metric in _SHARED_FLOORS:
            floors = pd.Series(floors.mean(), floors.index)
        values = values.where(~(values < floors), floors)
    return values


def _verdicts(
    frame: pd.DataFrame, metrics: list[str], by: list[str], among: str, factor: float
) -> dict[tuple, str]:
    """(group key, metric) -> verdict (`compare_to_best`, on the metric's scale, values raised to
    their floor, intervals spanning over `factor` inconclusive) of the groups that differ only in
    `among`, for the metrics in `BETTER`; rows of a reference method are left out."""
    within = [key for key in by if key != among]
    ok = frame[frame.status == "ok"]
    if "method" in ok:
        ok = ok[~ok.method.isin(REFERENCE_METHODS)]
    verdicts = {}
    for metric in (m for m in metrics if m in BETTER and m in ok):
        for key, part in ok.groupby(within, sort=False) if within else [((), ok)]:
            part = part.assign(_value=_ranked(part, metric))
            table = part.pivot(index="seed", columns=among, values="_value").astype(float)
            found = compare_to_best(
                table,
                lower_is_better=BETTER[metric] == "lower",
                scale=comparison_scale(metric),
                factor=factor,
            )
            keys = dict(zip(within, key if isinstance(key, tuple) else (key,), strict=True))
            for name, verdict in found.items():
                group = tuple({**keys, among: name}[k] for k in by)
                verdicts[group, metric] = verdict
    return verdicts


def _bounds(ok: pd.DataFrame, metric: str, values: pd.Series) -> dict[str, float]:
    """The noise floor (mean over the seeds with a value; for the C2ST the upper end of its chance
    band), the ESS ceiling (the lowest over those seeds) and how many seeds are at it."""
    has = values.notna()
    floor, ceiling, at_ceiling = math.nan, math.nan, 0
    floors = _floors(ok, metric)
    if floors is not None and has.any():
        floor = float(floors[has].mean())
    if metric == "c2st" and "c2st_n" in ok and has.any():
        band = _Z * np.sqrt(0.25 / (2 * ok.loc[has, "c2st_n"].astype(float)))
        if abs(values[has].mean() - 0.5) < band.mean():
            floor = 0.5 + float(band.mean())  # within chance: printed as below the floor
    if metric in _ESS_CAP and {"n_chains", "sample_draws", "ess_bulk_min"} <= set(ok):
        n = ok.n_chains.astype(float) * ok.sample_draws.astype(float)
        cap = n * np.log10(n)
        if _ESS_CAP[metric] == "rate":  # a rate of the bulk ESS: its units
            cap = cap * values / ok.ess_bulk_min.astype(float)
        at = has & (values >= (1 - 1e-6) * cap)
        ceiling, at_ceiling = (float(cap[at].min()) if at.any() else math.nan), int(at.sum())
    return {"floor": floor, "ceiling": ceiling, "n_at_ceiling": at_ceiling}


def stats(
    frame: pd.DataFrame,
    metrics: list[str],
    by: list[str],
    among: str | None = None,
    factor: float = INCONCLUSIVE_FACTOR,
) -> pd.DataFrame:
    """Long statistics, per group and metric: the centre `mean` (geometric on the log scale),
    std (of the values), the 95 % Student-t interval ci_low, ci_high over the ok seeds with a
    value (NaN with fewer than 2), n_ok, n_values (ok seeds with a value), n_ne (ok seeds where it
    was not estimable), n_failed (failed or missing runs), n_unconverged (ok seeds whose training
    had not settled), the `scale`, n_zero (values at 0 on the
    log scale), the noise `floor`, the ESS `ceiling` and n_at_ceiling (`_bounds`). Groups in order
    of first appearance. With `among` (one of `by`, e.g. "variant"), a `verdict` column ranks the
    groups that share the other keys, for the metrics in `BETTER` (`compare_to_best`, a group
    whose interval spans over `factor` inconclusive; NaN where unranked)."""
    verdicts = _verdicts(frame, metrics, by, among, factor) if among else {}
    rows = []
    for key, group in frame.groupby(by, sort=False):
        ok = group[group.status == "ok"]
        for metric in metrics:
            values = _measured(ok, metric)
            reasons = ok.get(f"{metric}{NE_SUFFIX}")
            n_ne = int(reasons.notna().sum()) if reasons is not None else 0
            interval = t_interval(values, scale=scale(metric))
            origin = _ORIGIN.get(metric, 0.0)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "metric": metric,
                    "mean": interval.mean + origin,
                    "std": values.std(ddof=1) if interval.n > 1 else np.nan,
                    "ci_low": max(interval.low, _AT_LEAST[metric])
                    if metric in _AT_LEAST else interval.low + origin,
                    "ci_high": min(interval.high + origin, _AT_MOST[metric])
                    if metric in _AT_MOST else interval.high + origin,
                    "n_ok": len(ok),
                    "n_values": interval.n,
                    "n_ne": n_ne,
                    "n_failed": len(group) - len(ok),
                    "n_unconverged": int((ok["converged"] == 0).sum()) if "converged" in ok else 0,
                    "verdict": verdicts.get((key, metric), np.nan),
                    "scale": scale(metric),
                    "n_zero": int((values == 0).sum()) if scale(metric) == "log" else 0,
                    **_bounds(ok, metric, values),
                }
            )
    columns = [
        *by, "metric", "mean", "std", "ci_low", "ci_high", "n_ok", "n_values", "n_ne", "n_failed",
        "n_unconverged", "verdict", "scale", "n_zero", "floor", "ceiling", "n_at_ceiling",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def pivot(long: pd.DataFrame, index: str, columns: str) -> pd.DataFrame:
    """Cells from `format_cell`, rows and columns in order of first appearance; "not run" where
    the suite has no such run (e.g. a variant only some targets' tables define)."""
    cells = long.assign(cell=[format_cell(row) for _, row in long.iterrows()])
    table = cells.pivot(index=index, columns=columns, values="cell")
    rows, cols = list(dict.fromkeys(cells[index])), list(dict.fromkeys(cells[columns]))
    return table.loc[rows, cols].fillna("not run").rename_axis(index=index, columns=None)


def markdown(table: pd.DataFrame, max_columns: int) -> str:
    """A display table as Markdown, its row labels as the first column; split into several tables
    of at most `max_columns` value columns so that none runs off a repository page."""
    parts = [
        table.iloc[:, start : start + max_columns]
        .reset_index()
        .to_markdown(index=False, disable_numparse=True)
        for start in range(0, max(1, table.shape[1]), max_columns)
    ]
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Table:
    """A report table: its file name, heading, caption, long statistics (the CSV) and its display
    as sections (a subheading, empty for the only one, and a methods × columns table)."""

    name: str
    heading: str
    caption: str
    long: pd.DataFrame
    sections: list[tuple[str, pd.DataFrame]]
    max_columns: int = 4

    def to_markdown(self) -> str:
        """The sections as Markdown tables (each split to at most `max_columns` columns)."""
        parts = []
        for subheading, display in self.sections:
            if subheading:
                parts.append(f"**{subheading}**")
            parts.append(markdown(display, self.max_columns))
        return "\n\n".join(parts)


#: The paper's tables: (file name, heading, metric, caption).
_PAPER_TABLES = [
    (
        "table1_logdens_err",
        "Table 1 — log-density error",
        "logdens_err",
        "Median over exact target draws of (log p_θ − log p★)², p_θ normalised; lower is better. "
        "The paper's Table 1 (8 Gaussians, rings).",
    ),
    (
        "table2_rhat_max",
        "Table 2 — max R-hat",
        "rhat_max",
        "Max over dimensions of the rank-normalised split R-hat of 128 chains of each method's own "
        "sampler on its trained EBM; 1 is ideal, above 1.01 the chains disagree. On the log scale "
        "of R-hat − 1, with a floor at 1.05: exact chains (the oracle's) reach 1.04 at this "
        "number of draws, so values below it tie. The paper's Table 2 (d = 16, 32, 64).",
    ),
    (
        "table3a_mw_mse_init",
        "Table 3a — mode-weight MSE, initialisation vs E_θ",
        "mw_mse_init",
        "Mode-weight MSE between the method's initialisation of its chains and the EBM's own "
        "density: can the sampler start where the EBM puts its mass? Its floor is `mw_mse_floor`, "
        "the MSE that weights counted from that many exact draws of the EBM would have on "
        "average. The paper's Table 3, first view (four_modes).",
    ),
    (
        "table3b_mw_mse_negatives",
        "Table 3b — mode-weight MSE, negatives vs E_θ",
        "mw_mse_negatives",
        "Mode-weight MSE between the negatives the EBM was trained on and the EBM's own density: "
        "do the negatives represent the model, so that the gradient is unbiased? Its floor is "
        "`mw_mse_floor` (as in Table 3a): below it the negatives are as good as exact draws. The "
        "paper's Table 3, second view.",
    ),
    (
        "table3c_mw_mse_model",
        "Table 3c — mode-weight MSE, E_θ vs p★",
        "mw_mse_model",
        "Mode-weight MSE between the EBM's own density and the truth (the masses of p★ in each "
        "mode region): did the EBM learn the weights? The paper's Table 3, third view.",
    ),
]

def _summary_columns() -> dict[str, list[list[Metric]]]:
    """Per summary group, its columns in `METRICS`' order: each a list of candidate metrics, the
    column's own first, then those that fill it when no run reports it (`Metric.instead_of`)."""
    groups: dict[str, list[list[Metric]]] = {group: [] for group in SUMMARY_GROUPS}
    for m in METRICS:
        if m.summary and m.instead_of is None:
            groups[m.summary].append([m, *(o for o in METRICS if o.instead_of == m.name)])
    return groups


_SUMMARY_CAPTION = (
    "Per target. "
    + " ".join(SUMMARY_GROUPS.values())
    + " C2ST `< floor X`: within the binomial chance band 0.5 ± (X − 0.5) of its 2n held-out "
    "draws at the 95 % level. Columns appear when some run reports them. Ranked (bold) in the "
    "columns with a direction (MMD², W₂²: lower; modes found: higher): not C2ST (best at 0.5) nor "
    "cost. " + RANKING
)


def _displayed(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """`frame` with `display`, each run's variant by its display name (`names`): the tables'
    rows, ranked among each other (`stats(..., among="display")`)."""
    return frame.assign(display=frame.variant.map(names))


def _summary(frame: pd.DataFrame, names: dict[str, str]) -> Table | None:
    groups = {
        group: [next(m for m in c if present(frame, m.name)) for c in candidates
                if any(present(frame, m.name) for m in c)]
        for group, candidates in _summary_columns().items()
    }  # fmt: skip
    labels = {m.name: m.label for columns in groups.values() for m in columns}
    if not labels:
        return None
    long = stats(_displayed(frame, names), list(labels), ["target", "display"], among="display")
    long = long.rename(columns={"display": "method"})
    sections = []
    for target, part in long.groupby("target", sort=False):
        for group, columns in groups.items():
            metrics = [m.name for m in columns]
            if metrics:
                rows = part[part.metric.isin(metrics)].assign(metric=lambda d: d.metric.map(labels))
                sections.append((f"{target}: {group}", pivot(rows, "method", "metric")))
    return Table("summary", "Summary", _SUMMARY_CAPTION, long, sections, max_columns=5)


def make_tables(frame: pd.DataFrame, names: dict[str, str]) -> list[Table]:
    """The paper's tables (methods × targets; Table 3 one table per view), then the per-target
    summary; a row is a variant, named `method` by its display name. `names`: variant name ->
    display name."""
    shown = _displayed(frame, names)
    tables = []
    for name, heading, metric, caption in _PAPER_TABLES:
        long = stats(shown, [metric], ["display", "target"], among="display")
        long = long.rename(columns={"display": "method"})
        display = [("", pivot(long, "method", "target"))]
        tables.append(Table(name, heading, f"{caption} {RANKING}", long, display))
    summary = _summary(frame, names)
    return [*tables, *([summary] if summary else [])]
