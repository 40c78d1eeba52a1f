"""Where each method breaks: a suite over the `bimodal` family's dimension × separation grid, read
as one heatmap per method and track (docs/SCIENCE.md §4.3, §7.13).

Two tracks per run: the EBM's own region weights against p★'s (`mw_tv_model`, training's error),
and the method's sampler run on the true energy (`mw_tv_sampler_true`, the sampler's own error).
A cell is the median over seeds; it *breaks* when that median is above `BREAK_LEVEL`, and it is
`n/e` when fewer than half of its seeds have an estimable value (a failed run counts as none). A
cell of the EBM's track where most seeds' training had not settled (`converged` 0 or n/e) is
marked `*`: its value is where training stood, not where it would settle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .figures import save_figure  # noqa: E402
from .tables import format_number  # noqa: E402

__all__ = [
    "BREAK_LEVEL",
    "TRACKS",
    "grid_targets",
    "grid_cells",
    "breaking_points",
    "heatmaps",
    "grid_section",
]

#: A method breaks where the median over seeds of its mode-weight TV exceeds this: 5 % of the mass
#: in the wrong mode (with weights 2:1, a lighter mode at ≤ 0.283 or ≥ 0.383 instead of 1/3).
BREAK_LEVEL = 0.05

#: The two tracks: (column, title).
TRACKS = (
    ("mw_tv_model", "its EBM's weights (training)"),
    ("mw_tv_sampler_true", "its sampler on the true energy"),
)

_CELL = 0.62  # inches per heatmap cell
_COLOURS = (1e-3, 0.3)  # the shared log colour scale of the TV


def grid_targets(suite_targets: list[dict[str, Any]]) -> pd.DataFrame:
    """The suite's `bimodal` targets: target, dim, separation; empty unless they span at least
    two dimensions and two separations (a grid, not a point)."""
    rows = [
        {"target": t["name"], "dim": int(t["params"]["dim"]),
         "separation": float(t["params"]["separation"])}
        for t in suite_targets if t["kind"] == "bimodal"
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["target", "dim", "separation"])
    if frame.dim.nunique() < 2 or frame.separation.nunique() < 2:
        return frame.iloc[:0]
    return frame


def grid_cells(runs: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """One row per variant (`method`: a method without a grid), track, dimension and separation:
    the median over seeds of the track's TV (`value`, NaN when n/e), the seeds with a value and
    in all, whether it breaks, and whether most seeds' training had not settled (EBM track)."""
    rows = []
    placed = runs.merge(targets, on="target")
    for (method, dim, separation), group in placed.groupby(
        ["variant", "dim", "separation"], sort=False
    ):
        for column, _ in TRACKS:
            values = group[column] if column in group else pd.Series(dtype=float)
            values = values.where(group.status == "ok").dropna()
            estimable = 2 * len(values) >= len(group) and len(values) > 0
            value = float(values.median()) if estimable else np.nan
            breaks = bool(estimable and value > BREAK_LEVEL)
            settled = group.converged if "converged" in group else pd.Series(dtype=float)
            unsettled = column == "mw_tv_model" and 2 * int((settled == 1).sum()) < len(group)
            rows.append({"method": method, "track": column, "dim": dim,
                         "separation": separation, "value": value, "seeds": len(values),
                         "runs": len(group), "breaks": breaks,
                         "unconverged": unsettled})  # fmt: skip
    return pd.DataFrame(rows)


def breaking_points(cells: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Per method and track, per dimension: the smallest separation at which it breaks or is
    n/e (`s ≥ X`, with "n/e" when the first such cell is n/e), "—" where it holds throughout."""
    table = {}
    for (method, track), group in cells.groupby(["method", "track"], sort=False):
        row = {}
        for dim, line in group.sort_values("separation").groupby("dim"):
            failing = line[line.breaks | line.value.isna()]
            if failing.empty:
                row[f"d = {dim}"] = "—"
                continue
            first = failing.iloc[0]
            note = " (n/e)" if np.isnan(first.value) else ""
            row[f"d = {dim}"] = f"s ≥ {first.separation:g}{note}"
        title = dict(TRACKS)[track]
        table[(names.get(method, method), title)] = row
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.names = ["method", "track"]
    return frame


def heatmaps(cells: pd.DataFrame, names: dict[str, str], order: list[str], out: Path) -> str:
    """One panel per method (rows) and track (columns): the median TV over (separation, dimension)
    on one log colour scale, its value written in each cell, broken cells outlined, n/e cells
    grey with "n/e". Saved as PNG and PDF in `out`; returns the PNG's name."""
    methods = [m for m in order if m in set(cells.method)]
    dims = sorted(cells.dim.unique())
    separations = sorted(cells.separation.unique())
    width = len(TRACKS) * (_CELL * len(separations) + 1.2)
    height = len(methods) * (_CELL * len(dims) + 0.7)
    fig, axes = plt.subplots(len(methods), len(TRACKS), squeeze=False, figsize=(width, height))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    norm = matplotlib.colors.LogNorm(*_COLOURS)
    mesh = None
    for i, method in enumerate(methods):
        for j, (column, title) in enumerate(TRACKS):
            ax = axes[i, j]
            part = cells[(cells.method == method) & (cells.track == column)]
            grid = part.pivot(index="dim", columns="separation", values="value")
            grid = grid.reindex(index=dims, columns=separations)
            shown = np.clip(grid.to_numpy(dtype=float), *_COLOURS)
            mesh = ax.pcolormesh(np.arange(len(separations)), np.arange(len(dims)),
                                 np.ma.masked_invalid(shown), cmap=cmap, norm=norm,
                                 shading="nearest")  # fmt: skip
            indexed = part.set_index(["dim", "separation"])
            broken, unsettled = indexed.breaks, indexed.unconverged
            for r, dim in enumerate(dims):
                for c, separation in enumerate(separations):
                    value = grid.loc[dim, separation]
                    text = "n/e" if np.isnan(value) else format_number(value)
                    text += "*" if unsettled.get((dim, separation), False) else ""
                    dark = np.isnan(value) or norm(np.clip(value, *_COLOURS)) > 0.6
                    ax.text(c, r, text, ha="center", va="center", fontsize=6.5,
                            color="black" if dark else "white")  # fmt: skip
                    if broken.get((dim, separation), False):
                        ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                                   ec="red", lw=1.6))  # fmt: skip
            ax.set_xticks(range(len(separations)), [f"{s:g}" for s in separations])
            ax.set_yticks(range(len(dims)), [str(d) for d in dims])
            ax.set_xlabel("separation (component s.d.)")
            ax.set_ylabel("dimension")
            ax.set_title(f"{names.get(method, method)}: {title}", fontsize=8)
    fig.tight_layout()
    bar = fig.colorbar(mesh, ax=axes, shrink=0.6, pad=0.02)
    bar.set_label(f"mode-weight TV (median over seeds); red: > {BREAK_LEVEL:g}")
    return save_figure(fig, out, "difficulty_grid")


def grid_section(
    runs: pd.DataFrame,
    suite_targets: list[dict[str, Any]],
    names: dict[str, str],
    order: list[str],
    folder: Path,
) -> list[str]:
    """The report's "Where each method breaks" section (markdown lines) and its heatmaps, saved
    in `folder`; nothing when the suite has no grid of `bimodal` targets."""
    targets = grid_targets(suite_targets)
    if targets.empty:
        return []
    cells = grid_cells(runs, targets)
    figure = heatmaps(cells, names, order, folder)
    table = breaking_points(cells, names).reset_index()
    return [
        "",
        "## Where each method breaks",
        "",
        f"Two modes of weights 2:1 (`bimodal`, docs/SCIENCE.md §4.3) over dimension × separation. "
        "Per method, track and dimension: the smallest separation (in component standard "
        f"deviations) at which the median over seeds of the mode-weight TV exceeds {BREAK_LEVEL:g} "
        "or fewer than half of the seeds have an estimable value (n/e); — where it holds at every "
        "separation. Tracks: the EBM's own weights (training's error) and the method's sampler "
        "run on the true energy from the same start for the same cost (the sampler's error, "
        "docs/SCIENCE.md §7.13).",
        "",
        table.to_markdown(index=False, disable_numparse=True),
        "",
        f"![{figure}](figures/{figure})",
        "",
        f"Mode-weight TV, the median over seeds, per method (rows) and track (columns), over "
        f"separation × dimension on one log colour scale; outlined in red: above {BREAK_LEVEL:g}; "
        "grey: n/e; `*`: most seeds' training had not settled (`converged`, docs/SCIENCE.md "
        "§1.1), the value is where it stood at the end of the budget.",
    ]
