"""The paper's claims judged on a suite's runs (docs/SCIENCE.md §8.1): the lowest method of each of
its Tables 1–3, its Fig. 1 (the lightest mode's weight, flowMC-EBM against ULA-EBM) and its two
claims about training (ULA-EBM erases and recreates modes; flowMC-EBM's weights stay stable), each
**reproduced**, **refuted** or **inconclusive**, with the paper's and the suite's numbers side by
side and the reason when it does not conclude."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .frames import Frames, suite_target
from .intervals import compare_to_best, t_interval
from .paper import PAPER_METHODS, PAPER_TARGETS, VIEWS, paper_frame
from .tables import format_cell, format_exact, format_number, stats

__all__ = ["VERDICTS", "COLUMNS", "verdicts", "tally"]

#: The verdicts, in the order the tally prints them.
VERDICTS = ("reproduced", "refuted", "inconclusive", "not run")

#: The columns of `verdicts`' frame.
COLUMNS = ["claim", "target", "match", "paper", "here", "verdict", "why"]

_FLOWMC, _ULA = "flowmc_ebm", "ula_ebm"
_FIG1_TARGET = "four_modes"  # the paper's key of the target its Fig. 1 and Table 3 are on
_UNTESTED = " (a zero on the log scale, or fewer than 2 paired seeds)"


def _n_unsettled(ok: pd.DataFrame) -> int:
    """How many of these finished runs had not settled (`converged` = 0)."""
    return int((ok["converged"] == 0).sum()) if "converged" in ok else 0


def _unsettled(runs: pd.DataFrame, methods: list[str], names: dict[str, str]) -> str | None:
    """Why a verdict on these methods' runs cannot conclude because training had not settled
    (`converged` = 0 on most of a method's finished seeds), or None."""
    ok = runs[runs.status == "ok"]
    late = []
    for method in methods:
        mine = ok[ok.variant == method]
        k = _n_unsettled(mine)
        if k > len(mine) / 2:
            late.append(f"{names.get(method, method)} {k} of {len(mine)}")
    return "training not settled: " + ", ".join(late) if late else None


def _table_claim(
    part: pd.DataFrame, runs: pd.DataFrame, names: dict[str, str]
) -> tuple[str, str, str, str]:
    """One table's claim on one suite target (`part`: its paper cells, one row per method):
    (paper, here, verdict, why). The comparison is among the paper's methods of the table that
    the suite ran, by the report's paired test on the metric's scale (`tables.stats`), a cell
    spanning over 10× compared too: the paired test over seeds accounts for its spread."""
    metric = part.metric.iloc[0]
    ranked = part.sort_values("paper")
    claimed, runner_up = ranked.iloc[0], ranked.iloc[1]
    paper_names = PAPER_METHODS | names
    paper = (
        f"{paper_names[claimed.method]} {format_exact(claimed.paper)}; next "
        f"{paper_names[runner_up.method]} {format_exact(runner_up.paper)}"
    )
    mine = runs[runs.variant.isin(part.method)]
    cells = stats(mine, [metric], ["variant"], among="variant", factor=math.inf)
    cells = cells.set_index("variant")
    name = names.get(claimed.method, claimed.method)
    if claimed.method not in cells.index:
        return paper, "—", "not run", f"{name} not run here"
    row = cells.loc[claimed.method]
    others = cells.drop(claimed.method)
    others = others[others.n_values > 0]
    best_other = others.loc[others["mean"].idxmin()] if len(others) else None
    here = f"{name} {format_cell(row)}"
    if best_other is not None:
        here += f"; lowest other {names.get(best_other.name, best_other.name)} "
        here += format_cell(best_other)
    if row.n_values < 2:
        why = ("n/e" if row.n_ne else "no value") if row.n_values == 0 else "fewer than 2 seeds"
        return paper, here, "inconclusive", why
    if best_other is None:
        return paper, here, "inconclusive", "no other method of the table measured here"
    best = others.index[others.verdict == "best"]  # the one the claimed method is tested against
    if row.verdict == "worse":
        verdict, why = "refuted", f"{names.get(best[0], best[0])} lower (paired test)"
        decisive = [claimed.method, str(best[0])]
    elif row.verdict == "best":
        untested = [names.get(m, m) for m in others.index if others.verdict[m] == "untested"]
        tied = [names.get(m, m) for m in others.index
                if others.verdict[m] not in ("worse", "untested")]  # fmt: skip
        if tied:
            return paper, here, "inconclusive", "not separated from " + ", ".join(tied)
        if untested:
            why = "untested against " + ", ".join(untested) + _UNTESTED
            return paper, here, "inconclusive", why
        verdict, why, decisive = "reproduced", "", [claimed.method, *others.index]
    elif row.verdict == "indistinguishable":
        return paper, here, "inconclusive", f"{names.get(best[0], best[0])} lower, not separated"
    else:
        return paper, here, "inconclusive", "not ranked"
    late = _unsettled(runs, decisive, names)
    return (paper, here, "inconclusive", late) if late else (paper, here, verdict, why)


def _erasure_counts(runs: pd.DataFrame) -> tuple[int, int, int, int]:
    """(seeds with an erasure, seeds with a count, finished seeds, finished seeds unsettled)."""
    ok = runs[runs.status == "ok"]
    counts = ok["mode_erasures"].dropna() if "mode_erasures" in ok else pd.Series(dtype=float)
    return int((counts >= 1).sum()), len(counts), len(ok), _n_unsettled(ok)


def _erases(runs: pd.DataFrame) -> tuple[str, str, str]:
    """The claim "ULA-EBM erases and recreates modes": (here, verdict, why), from `mode_erasures`
    (docs/SCIENCE.md §7.10) on ULA-EBM's seeds."""
    k, n, n_ok, _ = _erasure_counts(runs)
    here = f"erasures on {k} of {n} seeds" if n else f"n/e on {n_ok} seeds"
    if n < 2:
        return here, "inconclusive", "fewer than 2 seeds with a count"
    if k > n / 2:
        return here, "reproduced", ""
    if k == 0:
        return here, "refuted", "no erasure between any two checkpoints"
    return here, "inconclusive", f"on {k} of {n} seeds only"


def _stable(runs: pd.DataFrame) -> tuple[str, str, str]:
    """The claim "flowMC-EBM's weights stay stable": (here, verdict, why): no erasure, and training
    settled (`converged`) on most seeds."""
    k, n, n_ok, late = _erasure_counts(runs)
    here = f"erasures on {k} of {n} seeds, not settled on {late} of {n_ok}"
    if n < 2:
        return here, "inconclusive", "fewer than 2 seeds with a count"
    if k > n / 2:
        return here, "refuted", f"erasures on {k} of {n} seeds"
    if k > 0:
        return here, "inconclusive", f"erasures on {k} of {n} seeds"
    if late > n_ok / 2:
        return here, "inconclusive", f"training not settled on {late} of {n_ok} seeds"
    return here, "reproduced", ""


def _lightest(
    frames: Frames, target: str, runs: pd.DataFrame, names: dict[str, str]
) -> tuple[str, str, str]:
    """Fig. 1: the lightest mode's final EBM weight nearer its true weight for flowMC-EBM than for
    ULA-EBM. (here, verdict, why), from the relative errors |w − w★| / w★ per seed compared by
    the report's paired test on logs; `runs`: the target's runs."""
    weights = frames.weights[frames.weights.target == target]
    truth = weights.groupby("mode").weight_true.first()
    if truth.empty:
        return "no weights", "inconclusive", "no finished run with weights"
    mode = truth.idxmin()
    light = weights[(weights["mode"] == mode) & weights.variant.isin([_FLOWMC, _ULA])]
    error = (light.weight_model - light.weight_true).abs() / light.weight_true
    table = light.assign(error=error).pivot(index="seed", columns="variant", values="error")
    table = table.reindex(columns=[_FLOWMC, _ULA]).astype(float)
    cells = []
    for method in (_FLOWMC, _ULA):
        interval = t_interval(table[method].dropna(), scale="log")
        span = (
            ""
            if np.isnan(interval.low)
            else (f" [{format_number(interval.low)}, {format_number(interval.high)}]")
        )
        cells.append(f"{names.get(method, method)} {format_number(interval.mean)}{span}")
    here = f"mode {mode} (w★ {format_number(truth[mode])}), relative error: " + "; ".join(cells)
    found = compare_to_best(table.dropna(how="all"), scale="log", factor=math.inf)
    flowmc, ula = found.get(_FLOWMC), found.get(_ULA)
    late = _unsettled(runs, [_FLOWMC, _ULA], names)
    if flowmc == "best" and ula == "worse":
        return (here, "inconclusive", late) if late else (here, "reproduced", "")
    if ula == "best" and flowmc == "worse":
        why = f"{names.get(_ULA, _ULA)} nearer (paired test)"
        return (here, "inconclusive", late) if late else (here, "refuted", why)
    if flowmc is None or ula is None:
        return here, "inconclusive", "a method's weights not estimable"
    if "untested" in (flowmc, ula):
        return here, "inconclusive", "untested" + _UNTESTED
    return here, "inconclusive", "not separated by the paired test"


def verdicts(frames: Frames, suite_targets: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per claim of the paper on each suite target that is the paper's (or has its
    modes, `match` "other weights": a reference, not a test), in `COLUMNS`. Claims on targets or
    methods the suite did not run are absent (`paper.paper_frame` names them)."""
    built = {entry["name"]: suite_target(entry) for entry in suite_targets}
    matched = paper_frame(built).dropna(subset=["target"])
    names = frames.names
    runs = frames.runs
    rows = []
    for (table, key, target, metric), part in matched.groupby(
        ["table", "paper_target", "target", "metric"], sort=False
    ):
        paper, here, verdict, why = _table_claim(part, runs[runs.target == target], names)
        lowest = part.loc[part.paper.idxmin()].method
        label = f"{table}, {PAPER_TARGETS[key].label}, {VIEWS[metric]}"
        claim = f"{label}: {names.get(lowest, lowest)} lowest"
        rows.append([claim, target, part["match"].iloc[0], paper, here, verdict, why])
    fig1 = matched[matched.paper_target == _FIG1_TARGET]
    for target, match in dict.fromkeys(zip(fig1.target, fig1["match"], strict=True)):
        on = runs[runs.target == target]
        ula, flowmc = on[on.variant == _ULA], on[on.variant == _FLOWMC]
        if len(ula) and len(flowmc):
            here, verdict, why = _lightest(frames, target, on, names)
            rows.append(["Fig. 1: flowMC-EBM's lightest mode nearer its weight than ULA-EBM's",
                         target, match, "shown", here, verdict, why])  # fmt: skip
        if len(ula):
            here, verdict, why = _erases(ula)
            rows.append(["ULA-EBM erases and recreates modes", target, match, "shown (Fig. 1)",
                         here, verdict, why])  # fmt: skip
        if len(flowmc):
            here, verdict, why = _stable(flowmc)
            rows.append(["flowMC-EBM's weights stay stable", target, match, "shown (Fig. 1)",
                         here, verdict, why])  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def tally(found: pd.DataFrame) -> str:
    """The verdicts counted, "k reproduced, k refuted, …", over the claims on the paper's own
    targets (`match` "same"); the claims on targets with other weights are counted apart."""
    own = found[found["match"] == "same"].verdict.value_counts()
    parts = [f"{int(own[v])} {v}" for v in VERDICTS if v in own]
    text = ", ".join(parts) if parts else "none on the paper's own targets"
    other = int((found["match"] != "same").sum())
    return text + (f" ({other} more on targets with other weights, a reference)" if other else "")
