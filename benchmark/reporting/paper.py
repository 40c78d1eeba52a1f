"""The paper's Tables 1–3 as data (Grenioux, Moulines, Gabrié 2023; docs/SCIENCE.md §8), and their
match with a suite's cells: same target (same family, dimension, mode geometry and weights), same
method.

A suite target with the paper's modes but other weights (e.g. the `hd16` preset, weights
0.1/0.2/0.3/0.4, against the paper's equal weights) is a *near* match: reported apart, never
counted as the paper's target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau

from ..targets import Target, make_target

__all__ = [
    "PaperTarget",
    "PaperCell",
    "PAPER_TARGETS",
    "PAPER_METHODS",
    "PAPER_CELLS",
    "VIEWS",
    "Match",
    "match_target",
    "paper_frame",
    "compare",
    "ordering",
]

Match = Literal["same", "other weights"]


@dataclass(frozen=True)
class PaperTarget:
    """A target of the paper: how the paper names it, and the suite's family or preset with the
    parameters that rebuild it."""

    label: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Target:
        return make_target(self.kind, **self.params)


@dataclass(frozen=True)
class PaperCell:
    """One number of the paper's tables: which table, the suite metric it corresponds to, the
    paper target (a key of PAPER_TARGETS), the suite method's code name and the value."""

    table: str
    metric: str
    target: str
    method: str
    value: float


_EQUAL = [0.25, 0.25, 0.25, 0.25]

#: The paper's targets (docs/SCIENCE.md §4).
PAPER_TARGETS: dict[str, PaperTarget] = {
    "eight_gaussians": PaperTarget("8 Gaussians", "eight_gaussians"),
    "rings": PaperTarget("rings", "rings"),
    "hd16": PaperTarget("d = 16", "paper_hd", {"dim": 16, "a": 0.5919, "weights": _EQUAL}),
    "hd32": PaperTarget("d = 32", "paper_hd", {"dim": 32, "a": 0.5919, "weights": _EQUAL}),
    "hd64": PaperTarget("d = 64", "paper_hd", {"dim": 64, "a": 0.5919, "weights": _EQUAL}),
    "four_modes": PaperTarget("extended 2-D example", "four_modes"),
}


#: The paper's methods as it names them (the suite's code name -> the paper's name), for the
#: paper's side of a comparison where the suite did not run the method.
PAPER_METHODS: dict[str, str] = {
    "ula_ebm": "ULA-EBM",
    "nt_ebm": "NT-EBM",
    "coopflow": "CoopFlow",
    "flowmc_ebm": "flowMC-EBM",
}


def _cells(table: str, metric: str, targets: list[str], values: dict[str, list[float]]) -> list:
    return [
        PaperCell(table, metric, target, method, value)
        for method, row in values.items()
        for target, value in zip(targets, row, strict=True)
    ]


#: Every number of the paper's Tables 1–3 (docs/SCIENCE.md §8).
PAPER_CELLS: list[PaperCell] = [
    *_cells(
        "Table 1",
        "logdens_err",
        ["eight_gaussians", "rings"],
        {
            "ula_ebm": [1.86, 5.39],
            "nt_ebm": [0.97, 0.62],
            "coopflow": [58.75, 7.78],
            "flowmc_ebm": [0.94, 0.40],
        },
    ),
    *_cells(
        "Table 2",
        "rhat_max",
        ["hd16", "hd32", "hd64"],
        {
            "coopflow": [20.5, 44.1, 51.7],
            "nt_ebm": [2.02, 2.50, 3.10],
            "ula_ebm": [7.30, 9.29, 90.9],
            "flowmc_ebm": [1.01, 1.01, 1.05],
        },
    ),
    *[
        cell
        for metric, column in (("mw_mse_init", 0), ("mw_mse_negatives", 1), ("mw_mse_model", 2))
        for cell in _cells(
            "Table 3",
            metric,
            ["four_modes"],
            {
                method: [row[column]]
                for method, row in {
                    "ula_ebm": [1.19e-3, 1.79e-3, 1.24e-3],
                    "coopflow": [1.21e-1, 1.11e-1, 1.24e-1],
                    "nt_ebm": [9.27e-4, 3.85e-4, 9.87e-4],
                    "flowmc_ebm": [5.19e-4, 3.12e-5, 4.29e-4],
                }.items()
            },
        )
    ],
]


#: How each metric of the paper's tables is named beside them.
VIEWS = {
    "logdens_err": "log-density error",
    "rhat_max": "max R-hat",
    "mw_mse_init": "init vs E_θ",
    "mw_mse_negatives": "negatives vs E_θ",
    "mw_mse_model": "E_θ vs p★",
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
    return a == b


def match_target(suite: Target, paper: Target) -> Match | None:
    """ "same" when the two targets are one distribution, "other weights" when they share the
    family, dimension and every mode's location and shape but not the weights, else None."""
    if type(suite) is not type(paper) or suite.dim != paper.dim:
        return None
    ignore = {"name", "bounds", "weights"}
    fields_a = {k: v for k, v in vars(suite).items() if k not in ignore}
    fields_b = {k: v for k, v in vars(paper).items() if k not in ignore}
    if fields_a.keys() != fields_b.keys():
        return None
    if not all(_same(fields_a[k], fields_b[k]) for k in fields_a):
        return None
    return "same" if _same(suite.weights, paper.weights) else "other weights"


def paper_frame(suite_targets: dict[str, Target]) -> pd.DataFrame:
    """The paper's cells matched to the suite's targets: table, metric, paper_target (key),
    paper_label, method, paper (value), target (the suite's name), match. A paper cell with no
    matching suite target has target NaN; one matched by several suite targets appears once per
    target."""
    built = {key: t.build() for key, t in PAPER_TARGETS.items()}
    matches = {
        key: [(name, m) for name, t in suite_targets.items() if (m := match_target(t, paper))]
        for key, paper in built.items()
    }
    rows = []
    for cell in PAPER_CELLS:
        base = {
            "table": cell.table,
            "metric": cell.metric,
            "paper_target": cell.target,
            "paper_label": PAPER_TARGETS[cell.target].label,
            "method": cell.method,
            "paper": cell.value,
        }
        found = matches[cell.target] or [(np.nan, np.nan)]
        rows += [{**base, "target": name, "match": m} for name, m in found]
    return pd.DataFrame(rows)


def compare(paper: pd.DataFrame, long_stats: pd.DataFrame) -> pd.DataFrame:
    """The matched paper cells beside the suite's statistics (`stats` rows keyed by target,
    method, metric): every column of `paper_frame` and of the statistics; cells the suite did not
    run are dropped."""
    matched = paper.dropna(subset=["target"])
    return matched.merge(long_stats, on=["target", "method", "metric"], how="inner")


def ordering(paper_values: pd.Series, suite_values: pd.Series) -> dict[str, float]:
    """How well the suite orders methods as the paper does, over the methods both report (two
    Series indexed by method): Kendall's tau-b, and the pairs ordered alike out of all pairs."""
    both = pd.concat([paper_values, suite_values], axis=1, keys=["paper", "suite"]).dropna()
    pairs = list(combinations(both.index, 2))
    agree = sum(
        np.sign(both.paper[a] - both.paper[b]) == np.sign(both.suite[a] - both.suite[b])
        for a, b in pairs
    )
    tau = kendalltau(both.paper, both.suite).statistic if len(both) >= 2 else math.nan
    return {
        "n_methods": len(both),
        "tau": float(tau),
        "pairs_agree": int(agree),
        "pairs": len(pairs),
    }
