"""The report's opening section, from the statistics its tables print (`tables.stats`): per target,
the methods that get the mode weights right (within `WEIGHTS_TOLERANCE` of the oracle) and at what
cost, how each other method fails; then the tally of the verdicts on the paper's claims
(`verdicts`; docs/SCIENCE.md §6.5, "The conclusions")."""

from __future__ import annotations

import math

import pandas as pd

from .frames import NE_SUFFIX, Frames
from .tables import REFERENCE_METHODS, format_cell, format_number, present, stats
from .verdicts import tally

__all__ = [
    "WEIGHTS_TOLERANCE",
    "DROPPED_FRACTION",
    "OUTCOMES",
    "outcomes",
    "conclusions",
]

#: A method gets the weights right on a target when the upper end of its 95 % interval of the
#: mode-weight TV is at most the oracle's centre there plus this: 2 % of the mass in the wrong
#: regions, beyond what the oracle's own weight estimate misses (its Monte Carlo error in high
#: dimension). Without an oracle result on the target, against this alone.
WEIGHTS_TOLERANCE = 0.02

#: A mode is dropped when the EBM's weight of it is below this fraction of its true weight.
DROPPED_FRACTION = 0.1

#: How a method does on a target, in the order they are tried (the first that applies).
OUTCOMES = ("right", "density not normalisable", "a mode dropped", "inconclusive", "weights off")

_TV = "mw_tv_model"
_REASON_CHARS = 40  # a not-estimable reason is quoted up to this length


def _shorten(reason: str) -> str:
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 1].rstrip() + "…"


def _dropped(weights: pd.DataFrame) -> pd.Series:
    """(target, variant) -> the ok seeds on which some mode's EBM weight is below
    `DROPPED_FRACTION` of its true weight (a seed whose weights are not estimable drops none)."""
    below = weights.weight_model < DROPPED_FRACTION * weights.weight_true
    per_seed = below.groupby([weights.target, weights.variant, weights.seed]).any()
    return per_seed.groupby(level=[0, 1]).sum()


def _seconds(runs: pd.DataFrame) -> str:
    """The training-seconds column costs are read from: steady (no compilation) when recorded."""
    return "train_seconds_steady" if present(runs, "train_seconds_steady") else "train_seconds"


def outcomes(frames: Frames) -> pd.DataFrame:
    """One row per target and variant of `frames.runs`: target, variant (its name), outcome
    (one of `OUTCOMES`; "reference" for the oracle, "no run finished"), entry (the method as the
    section lists it: name, then its TV cell, cost or reason), grad_evals (geometric mean over
    seeds), bold (whether its TV cell is), cost (its name and cost), limit (the TV bound of
    "right" on the target), oracle (the oracle's TV centre there, NaN without one), n_failed
    (runs failed or missing), n_unconverged (ok runs whose training had not settled), n_ok,
    n_runs."""
    runs, names = frames.runs, frames.names
    seconds = _seconds(runs)
    cells = stats(runs, [_TV, "grad_evals", seconds], ["target", "variant"], among="variant")
    cells = cells.set_index(["target", "variant", "metric"])
    reference = set(runs.variant[runs.method.isin(REFERENCE_METHODS)])
    dropped = _dropped(frames.weights)
    rows = []
    for target, part in runs.groupby("target", sort=False):
        variants = list(dict.fromkeys(part.variant))
        oracles = [cells.loc[target, v, _TV]["mean"] for v in variants if v in reference]
        oracle = next((c for c in oracles if math.isfinite(c)), math.nan)
        limit = (oracle if math.isfinite(oracle) else 0.0) + WEIGHTS_TOLERANCE
        for variant in variants:
            tv, evals, secs = (cells.loc[target, variant, m] for m in (_TV, "grad_evals", seconds))
            name, cell, n_ok = names.get(variant, variant), format_cell(tv), tv.n_ok
            n_dropped = int(dropped.get((target, variant), 0))
            cost = [f"{format_number(evals['mean'])} grad evals"] if evals.n_values else []
            cost += [f"{format_number(secs['mean'])} s"] if secs.n_values else []
            cost_text = f" ({', '.join(cost)})" if cost else ""
            if variant in reference:
                outcome, entry = "reference", f"{name} {cell}"
            elif n_ok == 0:
                outcome, entry = "no run finished", name
            elif math.isfinite(tv.ci_high) and tv.ci_high <= limit:
                outcome, entry = "right", f"{name} {cell}{cost_text}"
            elif tv.n_ne > n_ok / 2:
                ok = part[(part.variant == variant) & (part.status == "ok")]
                reason = _shorten(str(ok[f"{_TV}{NE_SUFFIX}"].dropna().iloc[0]))
                outcome, entry = OUTCOMES[1], f"{name} (n/e on {tv.n_ne} of {n_ok}: {reason})"
            elif n_dropped > n_ok / 2:
                outcome, entry = OUTCOMES[2], f"{name} ({n_dropped} of {n_ok} seeds)"
            elif tv.n_values < 2 or tv.verdict == "inconclusive":
                outcome, entry = OUTCOMES[3], f"{name} {cell}"
            else:
                outcome, entry = OUTCOMES[4], f"{name} {cell}"
            rows.append(
                {
                    "target": target,
                    "variant": variant,
                    "outcome": outcome,
                    "entry": entry,
                    "grad_evals": evals["mean"],
                    "bold": tv.verdict in ("best", "indistinguishable"),
                    "cost": f"{name}{cost_text}",
                    "limit": limit,
                    "oracle": oracle,
                    "n_failed": int(tv.n_failed),
                    "n_unconverged": int(tv.n_unconverged),
                    "n_ok": int(n_ok),
                    "n_runs": int(tv.n_ok + tv.n_failed),
                }
            )
    return pd.DataFrame(rows)


def _target_lines(target: str, part: pd.DataFrame, names: dict[str, str]) -> list[str]:
    """A target's bullet: the bound of "right", then one sub-bullet per outcome that occurs."""
    limit, oracle = part.limit.iloc[0], part.oracle.iloc[0]
    basis = (
        f"the oracle's {format_number(oracle)} + {WEIGHTS_TOLERANCE:g}"
        if math.isfinite(oracle)
        else f"{WEIGHTS_TOLERANCE:g} alone: no oracle result"
    )
    lines = [f"- **`{target}`** — right: TV's upper end ≤ {format_number(limit)} ({basis})"]
    cheapest = part.sort_values("grad_evals", kind="stable")
    right, closest = cheapest.entry[cheapest.outcome == "right"], cheapest.cost[cheapest.bold]
    lines.append(
        "  - right, cheapest first: "
        + ("; ".join(right) if len(right) else "none")
        + (f" (the lowest TV, bold: {'; '.join(closest)})" if right.empty and len(closest) else "")
    )
    for outcome in OUTCOMES[1:]:
        entries = part.entry[part.outcome == outcome]
        if len(entries):
            lines.append(f"  - {outcome}: " + "; ".join(entries))
    lines += _counted("training not settled", part, "n_unconverged", "n_ok", names)
    lines += _counted("failed or missing", part, "n_failed", "n_runs", names, " runs")
    return lines


def _counted(
    label: str, part: pd.DataFrame, count: str, of: str, names: dict[str, str], unit: str = ""
) -> list[str]:
    """One sub-bullet naming each method whose `count` column is positive, "k of n" with n its
    `of` column, or none when no method has any."""
    rows = part[part[count] > 0]
    entries = [
        f"{names.get(variant, variant)} {k} of {n}{unit}"
        for variant, k, n in zip(rows.variant, rows[count], rows[of], strict=True)
    ]
    return [f"  - {label}: " + "; ".join(entries)] if entries else []


def conclusions(frames: Frames, claims: pd.DataFrame, tuned: bool = False) -> list[str]:
    """The report's opening section: per target the outcome of every method (`outcomes`), then
    the tally of `claims`, the verdicts on the paper's claims (`verdicts.verdicts` of `frames`).
    `tuned`: `frames` is the tuned view (each method at its selected variant), and the text says
    so."""
    names = frames.names
    steady = _seconds(frames.runs) == "train_seconds_steady"
    lines = [
        "",
        "## Conclusions",
        "",
        "Per target, from the mode-weight TV (`mw_tv_model`, the total-variation distance of the "
        "EBM's region weights to p★'s): a method gets the weights **right** when the upper end of "
        "its 95 % interval is at most the oracle's centre on the target + "
        f"{WEIGHTS_TOLERANCE:g} ({100 * WEIGHTS_TOLERANCE:g} % of the mass; "
        f"{WEIGHTS_TOLERANCE:g} alone without an oracle result), listed cheapest first with its "
        "training cost (geometric means over seeds of gradient evaluations and seconds"
        + (", without compilation" if steady else "")
        + "). Every other method fails, for the first reason that applies: **density not "
        "normalisable** (TV n/e on most finished seeds, the first reason quoted), **a mode "
        "dropped** (on most finished seeds, some mode's EBM weight below "
        f"{DROPPED_FRACTION:g} of its true weight), **inconclusive** (its TV cell ‡, or from "
        "fewer than 2 seeds), else **weights off**. **Training not settled**: the finished runs "
        "whose last checkpoints' weights or log-density error were still moving (`converged`). "
        "Cells as in the tables below."
        + (" Each method at the variant the tuned view selects on the target." if tuned else ""),
        "",
    ]
    found = outcomes(frames)
    for target, part in found.groupby("target", sort=False):
        lines += _target_lines(target, part, names)
    lines += [
        "",
        'The paper\'s claims on its own targets (the verdict table in "Against the paper", '
        f"docs/SCIENCE.md §8.1): {tally(claims)}."
        if len(claims)
        else "The paper's claims: none tested (no target of this suite has the paper's modes).",
    ]
    return lines
