"""Paper-style figures (seaborn/matplotlib, Agg backend), each saved as PNG and as vector PDF.

Every figure is a function of the long DataFrames of `frames` (never of a record) and of the
variants frame (name, method, display name, colour, marker): one colour and one marker per
variant, the same in every figure and every report (`benchmark/reporting/palette.py`). Legends and
colour bars stand outside the panels; an axis that one outlier would flatten is fitted to the bulk
of its values instead, the points beyond drawn as triangles on its edge (`_bulk`, `_edge_marks`).
In a suite with a grid, the figures show each method once, at the variant the tuned view selects
on each target (`tuned_view`); the sensitivity figures show every variant.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FixedLocator,
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
)

from ..metrics.training import ERASED, PRESENT  # noqa: E402
from .frames import Frames  # noqa: E402
from .intervals import Interval, t_interval  # noqa: E402
from .palette import Colour  # noqa: E402
from .selection import CRITERION, select_variants  # noqa: E402
from .tables import REFERENCE_METHODS, format_number  # noqa: E402

__all__ = [
    "Figure",
    "save_figure",
    "cost_curves",
    "sensitivity",
    "tuned_view",
    "make_figures",
]

Figure = tuple[str, str]  # (PNG file name, caption); the PDF has the same stem

_DPI = 150
_RHAT_FLOOR = 1e-3  # R-hat − 1 is drawn on a log axis, values below 1.001 at 1.001
_DENSITY_RANGE = 10.0  # nats of log density shown below the target's highest value
_DENSITY_COLUMNS = 7  # panels of the density figure per row
_PAPER_PAIR = ("flowmc_ebm", "ula_ebm")  # the paper's Fig. 1
_FENCE = 3.0  # an axis fitted to its values' bulk leaves out those this many IQRs beyond


def save_figure(fig: plt.Figure, out: Path, stem: str) -> str:
    """PNG and PDF (no creation date: the same figure gives the same bytes); the PNG's name."""
    fig.savefig(out / f"{stem}.png", dpi=_DPI, bbox_inches="tight")
    fig.savefig(out / f"{stem}.pdf", bbox_inches="tight", metadata={"CreationDate": None})
    plt.close(fig)
    return f"{stem}.png"


def _shown(variants: pd.DataFrame, present: pd.Series) -> pd.DataFrame:
    """The rows of `variants` (in suite order) that appear in `present` (variant names)."""
    return variants[variants.variant.isin(set(present))]


def _method_legend(
    fig: plt.Figure, variants: pd.DataFrame, ncol: int, dashed: frozenset[str] = frozenset()
) -> None:
    """One entry per variant (its colour and marker; a dashed line for those in `dashed`), above
    the figure, clear of every panel."""
    handles = [
        Line2D([], [], color=row.colour, lw=2, label=row.display,
               **({"ls": "--"} if row.variant in dashed else {"marker": row.marker}))
        for row in variants.itertuples()
    ]  # fmt: skip
    fig.legend(handles=handles, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0),
               ncol=ncol)  # fmt: skip


def _reference_level(ax: plt.Axes, level: float, label: str, colour: object, lw: float) -> None:
    """A reference's level (the oracle's) as a dashed line within the axis' y range, else as a
    note in the corner it lies beyond (↓ or ↑), so that it never sets the range."""
    low, high = ax.get_ylim()
    if low <= level <= high:
        ax.axhline(level, color=colour, lw=lw, ls="--")
        return
    below = level < low
    note = f"{label}: {format_number(level)} {'↓' if below else '↑'}"
    ax.text(0.02, 0.03 if below else 0.97, note, transform=ax.transAxes, fontsize=7,
            color=colour, va="bottom" if below else "top")  # fmt: skip


def _tick_label(value: float, _: object) -> str:
    """A log axis' tick: plain below 1e4 (down to 0.01), else a power of ten."""
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:g}"
    exponent = int(np.floor(np.log10(value)))
    mantissa = value / 10**exponent
    power = f"10^{{{exponent}}}"
    return f"${power}$" if np.isclose(mantissa, 1) else f"${mantissa:g}\\cdot{power}$"


def _log_ticks(axis: matplotlib.axis.Axis, values: pd.Series, decades: bool = False) -> None:
    """Readable labels on a log axis: the sparsest of one tick per decade, 1, 2 and 5 per decade,
    1, 2, 3, 5 and 7 per decade, or up to 5 round numbers that puts 3 ticks (2 with `decades`,
    for long labels) within the range of the positive `values`; no minor labels."""
    positive = values[values > 0]
    if len(positive):
        low, high = positive.min(), positive.max()
        for locator in (LogLocator(), LogLocator(subs=(1.0, 2.0, 5.0)),
                        LogLocator(subs=(1.0, 2.0, 3.0, 5.0, 7.0))):  # fmt: skip
            ticks = locator.tick_values(low, high)
            if ((ticks >= low) & (ticks <= high)).sum() >= (2 if decades else 3):
                break
        else:  # round numbers, fixed (a linear locator on a wider view would reach 0)
            ticks = MaxNLocator(5).tick_values(low, high)
            locator = FixedLocator(ticks[ticks > 0])
        axis.set_major_locator(locator)
    axis.set_major_formatter(FuncFormatter(_tick_label))
    axis.set_minor_formatter(NullFormatter())


def _bulk(values: object, log: bool, include: tuple[float, ...] = ()) -> tuple[float, float]:
    """An axis' limits fitted to the bulk of `values`: their range within `_FENCE` interquartile
    ranges of the quartiles (at least half the median's size; on a log axis all of it on the
    logs, values ≤ 0 left out), widened to hold `include`, padded 6 % each side."""
    v = np.asarray(values, dtype=float)
    v = np.log10(v[v > 0]) if log else v[np.isfinite(v)]
    if v.size:
        q1, median, q3 = np.percentile(v, [25, 50, 75])
        reach = max(_FENCE * (q3 - q1), 0.5 if log else 0.5 * abs(median))
        v = v[(v >= q1 - reach) & (v <= q3 + reach)]
    v = np.concatenate([v, np.log10(include) if log else np.asarray(include, dtype=float)])
    if not v.size:
        return (0.1, 10.0) if log else (0.0, 1.0)
    low, high = float(v.min()), float(v.max())
    pad = 0.06 * (high - low) or (0.25 if log else 0.1 * abs(low) or 1.0)
    low, high = low - pad, high + pad
    return (10**low, 10**high) if log else (low, high)


def _edge_marks(
    ax: plt.Axes, axis: str, points: list[tuple[float, float, Colour]],
    limits: tuple[float, float], label: bool,
) -> None:  # fmt: skip
    """Each point (position, value, colour) whose value lies beyond `limits` on `axis` ("x" or
    "y") as a triangle on that edge of the panel, pointing out, and its value beside it when
    `label` (labels of points within a tenth of the panel of each other stacked inwards)."""
    low, high = limits
    beyond = sorted((value > high, position, value, colour) for position, value, colour in points
                    if value < low or value > high)  # fmt: skip
    other = ax.get_xlim() if axis == "y" else ax.get_ylim()  # the positions' axis
    scale = ax.get_xscale() if axis == "y" else ax.get_yscale()
    where = np.log10 if scale == "log" else np.asarray
    span = float(where(other[1]) - where(other[0])) or 1.0
    start, stacked = None, 0
    for above, position, value, colour in beyond:
        edge = high if above else low
        marker = {("y", True): "^", ("y", False): "v", ("x", True): ">", ("x", False): "<"}[
            (axis, above)
        ]
        xy = (position, edge) if axis == "y" else (edge, position)
        ax.plot(*xy, marker=marker, color=colour, ms=6, mec="white", mew=0.5, clip_on=False,
                zorder=4)  # fmt: skip
        if not label:
            continue
        at = (above, float(where(position)) / span)
        if start is not None and start[0] == at[0] and at[1] - start[1] < 0.1:
            stacked += 1
        else:
            start, stacked = at, 0
        step = -7 * stacked if above else 7 * stacked  # inwards from the edge, 7 points a label
        ax.annotate(format_number(value), xy, xytext=(5, step) if axis == "y" else (0, 5 + step),
                    textcoords="offset points", fontsize=6, color=colour, ha="left",
                    va="center", annotation_clip=False,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.3})  # fmt: skip


def _grid(rows: int, cols: int, width: float, height: float, **kwargs: object) -> tuple:
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kwargs)


_MAX_MODE_LINES = 8  # up to this many modes, one line each in a colour of Dark2; more: a heatmap
_RATIO_COLOURS = 8.0  # the heatmap's colours span weight / true weight from 1/8 to 8


def _mode_lines(ax: plt.Axes, runs: pd.DataFrame, colours: list[Colour]) -> None:
    """One line per mode, the median over seeds of its weight per iteration, its band min–max,
    its true weight dashed in the same colour."""
    for k, colour in enumerate(colours):
        mode = runs[runs["mode"] == k]
        by = mode.groupby("iteration").weight
        ax.fill_between(by.min().index, by.min(), by.max(), color=colour, alpha=0.2)
        ax.plot(by.median().index, by.median(), color=colour, lw=1.5)
        ax.axhline(mode.weight_true.iloc[0], color=colour, lw=1, ls="--")


def _mode_heatmap(ax: plt.Axes, runs: pd.DataFrame, order: list[int]) -> QuadMesh:
    """Rows = modes in `order` (bottom up), columns = checkpoints: the median over seeds of each
    mode's weight over its true weight, on a log colour scale clipped to [1/8, 8]."""
    ratio = runs.assign(ratio=runs.weight / runs.weight_true)
    grid = ratio.pivot_table(index="mode", columns="iteration", values="ratio", aggfunc="median")
    grid = grid.reindex(order)
    clipped = np.clip(grid.to_numpy(), 1 / _RATIO_COLOURS, _RATIO_COLOURS)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.8")
    norm = matplotlib.colors.LogNorm(1 / _RATIO_COLOURS, _RATIO_COLOURS)
    return ax.pcolormesh(grid.columns, np.arange(len(order)), np.ma.masked_invalid(clipped),
                         cmap=cmap, norm=norm, shading="nearest")  # fmt: skip


def weights_over_training(ckpt: pd.DataFrame, variants: pd.DataFrame, out: Path) -> list[Figure]:
    """Per target: one panel per method whose weights are estimable, the EBM's own weights against
    training iteration: up to `_MAX_MODE_LINES` modes as lines (`_mode_lines`), more as a heatmap
    of weight / true weight (`_mode_heatmap`, modes sorted by true weight); the legend or colour
    bar right of the panels, the methods with no estimable weight named in the title."""
    figures: list[Figure] = []
    described: set[bool] = set()  # the kinds (heatmap or not) whose caption was given in full
    model = ckpt[ckpt.source == "model"]
    for target, part in model.groupby("target", sort=False):
        estimable = set(part.variant[part.weight.notna()])
        every = _shown(variants, part.variant)
        shown = every[every.variant.isin(estimable)]
        if shown.empty:
            continue
        truths = part.groupby("mode").weight_true.first()
        n_modes = len(truths)
        heatmap = n_modes > _MAX_MODE_LINES
        colours = sns.color_palette("Dark2", n_modes) if not heatmap else []
        order = list(truths.sort_values(kind="stable").index)  # lightest first (bottom)
        cols = min(5, len(shown))
        rows = -(-len(shown) // cols)
        fig, axes = _grid(rows, cols, 2.6, 2.6 if heatmap else 2.1, sharex=True, sharey=True)
        for ax, variant in zip(axes.flat, shown.itertuples(), strict=False):
            runs = part[part.variant == variant.variant]
            if heatmap:
                mesh = _mode_heatmap(ax, runs, order)
            else:
                _mode_lines(ax, runs, colours)
            ax.set_title(variant.display, fontsize=9, color=variant.colour, fontweight="bold")
        for ax in axes.flat[len(shown) :]:
            fig.delaxes(ax)
        for i, ax in enumerate(axes.flat[: len(shown)]):
            if i + cols >= len(shown):  # the lowest panel of its column
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel("training iteration")
        equal = bool(np.allclose(truths, truths.iloc[0], rtol=1e-3))
        if heatmap:
            step = -(-n_modes // 8)
            axes[0, 0].set_yticks(range(0, n_modes, step),
                                  [f"{order[i]} ({format_number(truths[order[i]])})"
                                   for i in range(0, n_modes, step)])  # fmt: skip
            axes[0, 0].set_ylim(-0.5, n_modes - 0.5)
            for ax in axes[:, 0]:
                ax.set_ylabel("mode (true weight),\nlightest at the bottom")
        else:
            high = max(part.weight.max(), part.weight_true.max())
            axes[0, 0].set_ylim(0, min(1.0, 1.1 * high))
            for ax in axes[:, 0]:
                ax.set_ylabel("mode weight")
        title = f"{target}: the EBM's mode weights over training"
        if equal:
            title += f" (true weight {format_number(truths.iloc[0])} each)"
        missing = every[~every.variant.isin(estimable)].display
        if len(missing):
            title += f"\nnot estimable: {', '.join(missing)}"
        fig.suptitle(title)
        fig.tight_layout()
        if heatmap:
            bar = fig.colorbar(mesh, ax=axes, shrink=0.9, pad=0.02, extend="both")
            bar.set_label("weight / true weight")
            ticks = [2.0**k for k in range(-3, 4)]
            bar.set_ticks(ticks, labels=[f"{t:g}" if t >= 1 else f"1/{1 / t:g}" for t in ticks])
            bar.minorticks_off()
        else:
            handles = [
                Line2D([], [], color=c, lw=1.5, label=f"mode {k}" if equal
                       else f"mode {k} (true {format_number(truths[k])})")
                for k, c in enumerate(colours)
            ]  # fmt: skip
            fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5),
                       frameon=False)  # fmt: skip
        name = save_figure(fig, out, f"weights_over_training_{target}")
        if heatmap in described:
            caption = f"The same on {target}."
        elif heatmap:
            caption = (
                f"The EBM's own mode weights on {target} over training, one panel per method: "
                f"with more than {_MAX_MODE_LINES} modes, one row per mode (sorted by true "
                "weight, the lightest at the bottom), one column per checkpoint, the colour the "
                "median over seeds of the mode's weight over its true weight (white: learned; "
                f"red: too heavy, blue: too light, clipped at {_RATIO_COLOURS:g}× and "
                f"1/{_RATIO_COLOURS:g}; grey: not estimable). A method has learned the weights "
                "when its panel turns white; one red row in a blue panel is a collapse onto one "
                "mode; a row that turns deep blue and back is a mode erased and recreated."
            )
        else:
            caption = (
                f"The EBM's own mode weights on {target} over training, one panel per method: "
                "one colour per mode, its true weight dashed in the same colour; the line is "
                "the median over seeds, the band spans the seeds. A method has learned the "
                "weights when every line lies on its dashed line at the end; lines that cross "
                "or swap mean the EBM moves mass between modes; a line that falls to 0 and "
                "comes back means a mode was erased and recreated."
            )
        if len(missing):
            caption += f" Not estimable on {target} (no panel): {', '.join(missing)}."
        described.add(heatmap)
        figures.append((name, caption))
    return figures


def lightest_mode(ckpt: pd.DataFrame, variants: pd.DataFrame, out: Path) -> list[Figure]:
    """The paper's Fig. 1: the lightest mode's weight over training for flowMC-EBM and ULA-EBM,
    one line per seed; top row the EBM's density (± 2 standard errors, and the thresholds of a
    mode erasure, docs/SCIENCE.md §7.10), bottom row its negatives (the truth ± 2 binomial
    standard errors of as many exact draws)."""
    pair = ckpt[ckpt.variant.isin(_PAPER_PAIR)]
    if pair.empty:
        return []
    lightest = pair.loc[pair.groupby("target", sort=False).weight_true.idxmin(), ["target", "mode"]]
    pair = pair.merge(lightest, on=["target", "mode"])
    targets = list(dict.fromkeys(pair.target))
    shown = _shown(variants, pair.variant)
    fig, axes = _grid(2, len(targets), 3.0, 2.3, sharex="col", sharey="row")
    for col, target in enumerate(targets):
        part = pair[pair.target == target]
        for row, (source, label) in enumerate(
            (("model", "EBM density"), ("negatives", "negatives"))
        ):
            ax = axes[row, col]
            for variant in shown.itertuples():
                runs = part[(part.variant == variant.variant) & (part.source == source)]
                for _, run in runs.groupby("seed"):
                    ax.plot(run.iteration, run.weight, color=variant.colour, lw=1.2, alpha=0.85)
                    band = 2 * run.stderr.fillna(0.0)
                    ax.fill_between(run.iteration, run.weight - band, run.weight + band,
                                    color=variant.colour, alpha=0.15, lw=0)  # fmt: skip
            true = part.weight_true.iloc[0]
            ax.axhline(true, color="black", lw=1, ls="--")
            n = part.n_negatives.median()
            if source == "negatives" and n > 0:  # where n exact draws' share of the mode falls
                noise = 2 * np.sqrt(true * (1 - true) / n)
                ax.axhspan(true - noise, true + noise, color="grey", alpha=0.2, lw=0)
            if source == "model":  # a mode is erased below the lower line, present above the upper
                for share in (ERASED, PRESENT):
                    ax.axhline(share * true, color="grey", lw=0.8, ls=":")
            if row == 0:
                ax.set_title(f"{target}: mode {part['mode'].iloc[0]}", fontsize=9)
            else:
                ax.set_xlabel("training iteration")
            if col == 0:
                ax.set_ylabel(f"weight ({label})")
    for row, source in enumerate(("model", "negatives")):
        high = max(pair[pair.source == source].weight.max(), pair.weight_true.max())
        axes[row, 0].set_ylim(0, min(1.0, 1.08 * high))
    fig.tight_layout()
    _method_legend(fig, shown, ncol=len(shown))
    name = save_figure(fig, out, "fig1_lightest_mode")
    caption = (
        "The paper's Fig. 1: the weight of each target's lightest mode over training, one line "
        "per seed, for flowMC-EBM and ULA-EBM; top: the EBM's own density, bottom: the negatives "
        "it was trained on; dashed: the true weight w; shaded: ± 2 standard errors of the EBM's "
        "weight estimate (top); grey: w ± 2√(w(1 − w)/n), where the share of n exact draws falls, "
        "n the negatives a checkpoint keeps (bottom: a line moving within it is sampling noise); "
        f"dotted: {ERASED:g} and {PRESENT:g} of the true weight, the thresholds "
        "of a mode erasure (`mode_erasures`: below the lower line after being above the upper, "
        "then above it again, each beyond 2 standard errors). The paper's claim is that ULA-EBM "
        "erases and recreates modes (lines dropping to 0 and rising again) while flowMC-EBM's "
        "weights stay near the truth: read it off the spread and the excursions of the lines, and "
        "count them in the summary's erasures."
    )
    return [(name, caption)]


def _image(frame: pd.DataFrame) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A long (x, y, log_p) grid as an image (rows = y) and its extent."""
    grid = frame.pivot(index="y", columns="x", values="log_p").sort_index()
    x, y = grid.columns.to_numpy(), grid.index.to_numpy()
    return grid.to_numpy(), (x[0], x[-1], y[0], y[-1])


def _mark_modes(ax: plt.Axes, modes: pd.DataFrame) -> None:
    for mode in modes.itertuples():
        if np.isfinite(mode.radius):
            ax.add_patch(plt.Circle((0, 0), mode.radius, fill=False, color="white", lw=0.7, ls=":"))
        elif np.isfinite(mode.x):
            ax.plot(mode.x, mode.y, marker="+", color="white", ms=6, mew=1.0)


def densities(
    density: pd.DataFrame, truth: pd.DataFrame, modes: pd.DataFrame, variants: pd.DataFrame,
    out: Path,
) -> list[Figure]:  # fmt: skip
    """Per 2-D target a block of panels, at most `_DENSITY_COLUMNS` a row: the target's log
    density, then each method's learned one (its lowest seed), on the block's own colour scale
    (`_DENSITY_RANGE` nats below the target's highest value, its colour bar beside the block); the
    true modes marked."""
    if density.empty:
        return []
    targets = list(dict.fromkeys(density.target))
    shown = _shown(variants, density.variant)
    first = density.groupby(["target", "variant"]).seed.transform("min") == density.seed
    density = density[first]
    columns = min(_DENSITY_COLUMNS, len(shown) + 1)
    block = -(-(len(shown) + 1) // columns)  # rows of panels per target
    fig, axes = _grid(block * len(targets), columns, 2.2, 2.2)
    for ax in axes.flat:
        ax.set_axis_off()
    blocks = []  # per target: an image on its scale and the axes of its block
    for t, target in enumerate(targets):
        top = float(truth[truth.target == target].log_p.max())
        scale = {"vmin": top - _DENSITY_RANGE, "vmax": top, "cmap": "viridis", "origin": "lower"}
        panels = [("target", truth[truth.target == target], None)]
        panels += [
            (v.display, density[(density.target == target) & (density.variant == v.variant)],
             v.colour)
            for v in shown.itertuples()
        ]  # fmt: skip
        image = None
        for i, (title, frame, colour) in enumerate(panels):
            ax = axes[t * block + i // columns, i % columns]
            ax.set_axis_on()
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"{target}: {title}" if i == 0 else title, fontsize=8)
            if frame.empty:
                continue
            shown_image, extent = _image(frame)
            image = ax.imshow(shown_image, extent=extent, interpolation="bilinear", **scale)
            _mark_modes(ax, modes[modes.target == target])
            for spine in ax.spines.values():
                spine.set(color=colour or "black", linewidth=2 if colour else 1)
        if image is not None:
            blocks.append((image, list(axes[t * block : (t + 1) * block].flat)))
    fig.tight_layout()
    for image, block_axes in blocks:
        bar = fig.colorbar(image, ax=block_axes, shrink=0.9, pad=0.01, extend="both")
        bar.set_label("log density")
    name = save_figure(fig, out, "densities")
    caption = (
        "Learned log densities (normalised) after each 2-D target (its first panel), one colour "
        f"scale per target, from its highest value down {_DENSITY_RANGE:.0f} nats (clipped at both "
        "ends); + marks the true means, dotted circles the rings' radii; each method's "
        "panel is framed in its colour (lowest seed shown). Look for modes that are missing, "
        "merged or "
        "smeared along a ridge, and for mass where the target has none; the brightness of a "
        "mode against its neighbours is its weight."
    )
    return [(name, caption)]


_MIXING_AXES = [
    ("cost", "cost units per chain"),
    ("grad_evals", "gradient evaluations per chain"),
    ("seconds", "sampling wall-clock (s)"),
]


def mixing(rhat: pd.DataFrame, variants: pd.DataFrame, out: Path) -> list[Figure]:
    """R-hat of each method's diagnostic chains on growing prefixes against cost units (when the
    records have them), gradient evaluations and wall-clock: median over seeds, band min–max."""
    rhat = rhat.dropna(subset=["rhat"])
    axes_shown = [(x, label) for x, label in _MIXING_AXES if rhat[x].notna().any()]
    if rhat.empty or not axes_shown:
        return []
    targets = list(dict.fromkeys(rhat.target))
    shown = _shown(variants, rhat.variant)
    excess = rhat.assign(excess=(rhat.rhat - 1).clip(lower=_RHAT_FLOOR))
    fig, axes = _grid(len(targets), len(axes_shown), 3.4, 2.6, sharey="row")
    for row, target in enumerate(targets):
        for col, (x, label) in enumerate(axes_shown):
            ax = axes[row, col]
            for variant in shown.itertuples():
                runs = excess[(excess.target == target) & (excess.variant == variant.variant)]
                if runs.empty or runs[x].isna().all():
                    continue
                by = runs.groupby("draws")
                where = by[x].median()
                ax.fill_between(where, by.excess.min(), by.excess.max(), color=variant.colour,
                                alpha=0.15, lw=0)  # fmt: skip
                ax.plot(where, by.excess.median(), color=variant.colour, marker=variant.marker,
                        ms=4.5, mec="white", mew=0.5, lw=1.3)  # fmt: skip
            ax.axhline(0.01, color="black", lw=1, ls="--")
            ax.set(xscale="log", yscale="log")
            _log_ticks(ax.xaxis, excess[excess.target == target][x])
            _log_ticks(ax.yaxis, pd.Series([*excess[excess.target == target].excess, 0.01]))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{1 + v:g}"))
            if row == len(targets) - 1:
                ax.set_xlabel(label)
            if col == 0:
                ax.set_ylabel(f"{target}\nmax R-hat")
    fig.tight_layout()
    _method_legend(fig, shown, ncol=min(5, len(shown)))
    name = save_figure(fig, out, "mixing")
    labels = [label for _, label in axes_shown]
    per = " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
    caption = (
        f"Mixing of each method's own sampler on its trained EBM: max R-hat of its diagnostic "
        f"chains on growing prefixes of their draws, against {per} (log axes; R-hat is drawn as "
        "R-hat − 1 on a log scale, values below 1.001 at 1.001; median over seeds, band over "
        "seeds). Gradient evaluations are the run's total pro rata over the draws. The dashed "
        "line is R-hat = 1.01: a method mixes when its curve falls below it, and the further "
        "left, the cheaper; a flat curve high above it means chains stuck in different modes."
    )
    return [(name, caption)]


_SOURCES = [("weight_model", "EBM density"), ("weight_negatives", "negatives")]


_RATIO_MIN_RANGE = (0.8, 1.25)  # a ratio axis spans at least this, whatever the spread,
_RATIO_MAX_RANGE = (1e-2, 1e2)  # and at most this (a ratio of 1/100 is a mode lost)


def mode_weights(weights: pd.DataFrame, variants: pd.DataFrame, out: Path) -> list[Figure]:
    """Dot-and-interval: per target and source, each method's weight of each mode as a ratio to
    the true weight (mean over seeds, interval min–max), on a log axis fitted to the bulk of the
    panel's ratios (`_bulk`; beyond it, triangles on the edge); "n/e" in a method's row where no
    seed's weights are estimable, "no result" where it has no finished run (or, in a suite with a
    grid, no variant the tuned view selects)."""
    if weights.empty:
        return []
    targets = list(dict.fromkeys(weights.target))
    shown = _shown(variants, weights.variant)
    row_of = {v: i for i, v in enumerate(shown.variant)}
    colour_of = dict(zip(shown.variant, shown.colour, strict=True))
    n_modes = [weights[weights.target == t]["mode"].nunique() for t in targets]
    heights = [len(shown) * (0.32 + 0.012 * n) + 1.0 for n in n_modes]  # room for many modes
    fig, axes = plt.subplots(len(targets), len(_SOURCES), figsize=(3.6 * len(_SOURCES),
                             sum(heights)), squeeze=False, sharey=True,
                             gridspec_kw={"height_ratios": heights})  # fmt: skip
    for row, target in enumerate(targets):
        part = weights[weights.target == target]
        modes = n_modes[row]
        offsets = np.linspace(-0.3, 0.3, modes) if modes > 1 else np.zeros(1)
        ms = 3.5 if modes <= 10 else 2.0
        for col, (source, label) in enumerate(_SOURCES):
            ax = axes[row, col]
            ratio = part.assign(ratio=part[source] / part.weight_true)
            summary = ratio.groupby(["variant", "mode"]).ratio.agg(["mean", "min", "max"])
            summary = summary[summary["mean"].notna()]
            low, high = _bulk(summary["mean"], log=True, include=_RATIO_MIN_RANGE)
            limits = (max(low, _RATIO_MAX_RANGE[0]), min(high, _RATIO_MAX_RANGE[1]))
            ax.set_xscale("log")
            ax.set_xlim(limits)
            beyond = []
            for (variant, mode), s in summary.iterrows():
                y, colour = row_of[variant] + offsets[mode], colour_of[variant]
                ax.plot(np.clip([s["min"], s["max"]], *limits), [y, y], color=colour, lw=1.2)
                if limits[0] <= s["mean"] <= limits[1]:
                    ax.plot(s["mean"], y, "o", color=colour, ms=ms)
                else:
                    beyond.append((y, s["mean"], colour))
            _edge_marks(ax, "x", beyond, limits, label=False)
            ax.axvline(1.0, color="black", lw=1)
            estimable = set(summary.index.get_level_values("variant"))
            for variant, i in row_of.items():
                if variant not in estimable:
                    text = "n/e" if variant in set(part.variant) else "no result"
                    ax.text(np.sqrt(limits[0] * limits[1]), i, text, ha="center", va="center",
                            fontsize=7, style="italic", color="0.35",
                            bbox={"fc": "white", "ec": "0.6", "lw": 0.5, "pad": 1.5})  # fmt: skip
            _log_ticks(ax.xaxis, pd.Series(limits))
            ax.set_title(f"{target}: {label}", fontsize=9)
            ax.set_xlabel("mode weight / true weight")
            ax.grid(axis="y", visible=False)
            for i in range(len(shown) - 1):
                ax.axhline(i + 0.5, color="0.85", lw=0.6)
        axes[row, 0].set_yticks(range(len(shown)), shown.display)
        axes[row, 0].set_ylim(len(shown) - 0.5, -0.5)
    fig.tight_layout()
    name = save_figure(fig, out, "mode_weights")
    caption = (
        "Final mode weights against the truth, as the ratio of each mode's weight to its true "
        "weight (log axis; 1, the black line, is a weight learned): one row per method, within "
        "it one dot per mode (mode 0 at the top; mean over seeds, the bar spans the seeds). Each "
        "panel's range is fitted to the bulk of its ratios (within "
        f"{_FENCE:g} interquartile ranges of the quartiles of their logs, and at least "
        f"{_RATIO_MIN_RANGE[0]:g}–{_RATIO_MIN_RANGE[1]:g}, at most "
        f"{_RATIO_MAX_RANGE[0]:g}–{_RATIO_MAX_RANGE[1]:g}): a ratio beyond it, a mode the EBM "
        "lost (ratio 0) or one that took the mass of others, is a triangle on the edge. Left: "
        "the EBM's own density; right: its negatives. `n/e`: no seed's weights estimable; `no "
        "result`: no finished run, or in a suite with a grid no variant the tuned view could "
        "select (its normaliser refused on a seed); a "
        "row whose dots sit at both edges is a method that put all its mass in a few modes; "
        "negatives far from the EBM's weights are a biased training signal."
    )
    return [(name, caption)]


_COSTS = [("grad_evals", "training gradient evaluations"), ("train_seconds", "training seconds")]
_DODGE_COST = 0.04  # decades between methods whose median costs agree within 1 %


def _dodged(costs: pd.Series) -> pd.Series:
    """A factor per method (index) on a log cost axis that sets apart, by `_DODGE_COST` decades
    each, methods whose median `costs` agree within 1 % (the gradient evaluations of methods
    with the same steps per iteration); 1 for the others."""
    order = costs.dropna().sort_values()
    group = (order / order.shift()).gt(1.01).cumsum()  # a new group where the cost moves on
    rank = order.groupby(group).cumcount()
    size = order.groupby(group).transform("size")
    return (10 ** (_DODGE_COST * (rank - (size - 1) / 2))).reindex(costs.index)


def error_vs_cost(runs: pd.DataFrame, variants: pd.DataFrame, out: Path) -> list[Figure]:
    """Mode-weight TV of the EBM against training cost: one point per run, each method's median
    (larger marker) joined to its runs; methods at one median cost set apart (`_dodged`); the
    reference methods' (the oracle's) median TV a dashed line, or a note where it lies beyond the
    others' range, so that it never sets the axis."""
    ok = runs[(runs.status == "ok") & (runs.mw_tv_model > 0)]
    if ok.empty:
        return []
    targets = list(dict.fromkeys(ok.target))
    shown = _shown(variants, ok.variant)
    fig, axes = _grid(len(targets), len(_COSTS), 3.4, 2.6, sharey="row")
    for row, target in enumerate(targets):
        part = ok[ok.target == target]
        trained = ~part.method.isin(REFERENCE_METHODS)
        references = part[~trained] if trained.any() else part.iloc[:0]
        part = part[trained] if trained.any() else part
        for col, (cost, label) in enumerate(_COSTS):
            ax = axes[row, col]
            factor = _dodged(part.groupby("variant")[cost].median())
            for variant in shown.itertuples():
                points = part[part.variant == variant.variant]
                if points.empty:
                    continue
                x = points[cost] * factor[variant.variant]
                cx, cy = x.median(), points.mw_tv_model.median()
                for px, py in zip(x, points.mw_tv_model, strict=True):
                    ax.plot([cx, px], [cy, py], color=variant.colour, lw=0.7, alpha=0.6)
                ax.plot(x, points.mw_tv_model, variant.marker, color=variant.colour, ms=3,
                        alpha=0.7)  # fmt: skip
                ax.plot(cx, cy, variant.marker, color=variant.colour, ms=8, mec="white", mew=1)
            ax.set(xscale="log", yscale="log")
            _log_ticks(ax.xaxis, part[cost])
            if row == len(targets) - 1:
                ax.set_xlabel(label)
            if col == 0:
                ax.set_ylabel(f"{target}\nmode-weight TV")
        low, high = axes[row, 0].get_ylim()  # the trained methods' range, shared by the row
        for ax in axes[row]:
            ax.set_ylim(low, high)
            _log_ticks(ax.yaxis, pd.Series([low, high]))
            for variant in shown[shown.variant.isin(set(references.variant))].itertuples():
                tv = references[references.variant == variant.variant].mw_tv_model.median()
                _reference_level(ax, tv, variant.display, variant.colour, lw=1.2)
    fig.tight_layout()
    dashed = frozenset(shown.variant[shown.method.isin(REFERENCE_METHODS)])
    _method_legend(fig, shown, ncol=min(5, len(shown)), dashed=dashed)
    name = save_figure(fig, out, "error_vs_cost")
    caption = (
        "Accuracy against cost: total-variation distance of the EBM's mode weights to the truth "
        "against training gradient evaluations (hardware-independent) and seconds (this "
        "machine), one small point per run, the large point each method's median, joined to its "
        "runs; methods whose median costs agree within 1 % are set apart by "
        f"{_DODGE_COST:g} decades each (same cost, side by side). The oracle trains nothing: its "
        "median TV is a dashed line, or, below the trained methods' range, a note in the corner. "
        "Lower left is better; a method is worth its cost when no other method lies below "
        "and to the left of it; a long spread of spokes is a method that depends on its seed."
    )
    return [(name, caption)]


#: The cost curves' panels: (metric, its label), (cumulative cost, its label).
_COST_PANELS = [
    (metric, cost)
    for cost in (("grad_evals", "training gradient evaluations"), ("seconds", "training seconds"))
    for metric in (("mw_tv_model", "mode-weight TV"), ("logdens_err", "log-density error"))
]


def cost_curves(costs: pd.DataFrame, variants: pd.DataFrame, out: Path) -> list[Figure]:
    """Per target (rows): the checkpoints' mode-weight TV and log-density error against
    cumulative training gradient evaluations, then against seconds (columns), log axes; one line
    per method (median over seeds at each checkpoint, band min–max), the oracle's median a
    dashed reference (the checkpoint estimate's own error on p★)."""
    if costs.empty:
        return []
    targets = list(dict.fromkeys(costs.target))
    shown = _shown(variants, costs.variant)
    trained = shown[~shown.method.isin(REFERENCE_METHODS)]
    fig, axes = _grid(len(targets), len(_COST_PANELS), 3.2, 2.5)
    for row, target in enumerate(targets):
        part = costs[costs.target == target]
        for col, ((metric, label), (cost, cost_label)) in enumerate(_COST_PANELS):
            ax = axes[row, col]
            drawn = part[(part[metric] > 0) & (part[cost] > 0)]
            for variant in trained.itertuples():
                runs = drawn[drawn.variant == variant.variant]
                if runs.empty:
                    continue
                at = runs.groupby("iteration")
                x, y = at[cost].median(), at[metric]
                ax.fill_between(x, y.min(), y.max(), color=variant.colour, alpha=0.15, lw=0)
                ax.plot(x, y.median(), color=variant.colour, lw=1.4, marker=variant.marker,
                        ms=3.5)  # fmt: skip
            ax.set(xscale="log", yscale="log")
            _log_ticks(ax.xaxis, drawn[cost], decades=True)  # the cost labels are long
            trained_values = drawn[~drawn.method.isin(REFERENCE_METHODS)][metric]
            if len(trained_values):  # the trained methods' range; the oracle never squeezes it
                low, high = _bulk(trained_values, log=True)
                ax.set_ylim(low, high)
                _log_ticks(ax.yaxis, pd.Series([low, high]))
            oracle = drawn[drawn.method.isin(REFERENCE_METHODS)][metric]
            if len(oracle):
                _reference_level(ax, oracle.median(), "oracle", "black", lw=1.0)
            ax.set_xlabel(cost_label)
            ax.set_ylabel(f"{target}\n{label}" if col == 0 else label)
    handles = [
        Line2D([], [], color=v.colour, lw=1.4, marker=v.marker, ms=3.5, label=v.display)
        for v in trained.itertuples()
    ]
    if shown.method.isin(REFERENCE_METHODS).any():
        handles.append(
            Line2D([], [], color="black", lw=1, ls="--", label="oracle (p★: the estimate's error)")
        )
    fig.tight_layout()
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    name = save_figure(fig, out, "cost_curves")
    caption = (
        "Accuracy against cost over training: at every checkpoint, the mode-weight TV of the "
        "EBM's weights to the truth and its log-density error (the checkpoints' cheap estimates, "
        "docs/SCIENCE.md §7.10), against the gradient evaluations (U and ∇U at one point) and "
        "the seconds training had spent up to it, log axes; one line per method, the median over "
        "seeds (markers at the checkpoints), the band the range of the seeds. Read methods at "
        "equal cost, along a vertical line, not at equal iterations: the lower line there is the "
        "better buy. The dashed line is the oracle's median (the true energy): the estimates' "
        "own error, below which a line is noise — a note in the corner where it lies below the "
        "trained methods' range. Points not estimable are left out; y axes fitted to the bulk "
        "of the trained methods' values."
    )
    return [(name, caption)]


#: The sensitivity figure's rows: metric, axis label, log scale.
_SENSITIVITY = [
    ("heldout_loglik", "held-out log-lik.\n(selection, higher better)", False),
    ("mw_tv_model", "mode-weight TV", True),
    ("logdens_err", "log-density error", True),
]
_LINE_STYLES = ["-", "--", ":", "-."]
_DODGE = 0.012  # lines of a sensitivity panel are set apart by this share of the x range


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _numeric(values: list[object]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _swept_lines(
    part: pd.DataFrame, others: list[str], names: dict[str, str]
) -> list[tuple[str, str, pd.DataFrame]]:
    """The lines of one panel: (method, legend label, its runs), one per method and value of the
    method's other swept hyperparameters, in order of appearance; `names`: the methods' display
    names."""
    lines = []
    for method, runs_of in part.groupby("method", sort=False):
        display = names[method]
        swept_too = [o for o in others if runs_of[o].notna().any()]
        groups = runs_of.groupby(swept_too, sort=False) if swept_too else [((), runs_of)]
        for key, line in groups:
            keys = key if isinstance(key, tuple) else (key,)
            detail = ", ".join(f"{o}={_show(k)}" for o, k in zip(swept_too, keys, strict=True))
            lines.append((method, f"{display} [{detail}]" if detail else display, line))
    return lines


def _draw_sweep(
    ax: plt.Axes, line: pd.DataFrame, name: str, metric: str, position: dict, log: bool,
    chosen: set[str], **style: object,
) -> list[tuple[float, float]]:  # fmt: skip
    """One line: per value of `name`, the centre of `metric` over seeds and its t interval (on a
    log axis the geometric mean and the interval of the logs, as in the tables); a ring on a
    variant in `chosen`. Returns the (position, centre) points drawn: none when no value has a
    number."""
    points = sorted(
        (position[value], t_interval(at[metric], scale="log" if log else "linear"),
         at.variant.iloc[0])
        for value, at in line.groupby(name, sort=False)
    )  # fmt: skip
    points = [p for p in points if p[1].n]
    if not points:
        return []
    x = [p[0] for p in points]
    mean, low, high = (np.array([getattr(p[1], k) for p in points]) for k in Interval._fields[:3])
    ax.plot(x, mean, marker="o", ms=3.5, lw=1.3, **style)
    ax.vlines(x, low, high, lw=1, alpha=0.6, color=style["color"])
    for px, py, (_, _, variant) in zip(x, mean, points, strict=True):
        if variant in chosen:
            ax.plot(px, py, "o", ms=9, mfc="none", mec=style["color"], mew=1.4)
    return list(zip(x, mean.tolist(), strict=True))


def sensitivity(
    runs: pd.DataFrame, methods: pd.DataFrame, swept: list[str], out: Path
) -> list[Figure]:
    """Per swept hyperparameter: rows = headline metrics, columns = targets, each method's metric
    against the hyperparameter's value (centre over seeds, its 95 % t interval as a bar), one line
    per method and value of its other swept hyperparameters; a ring on the variant the tuned view
    selects. `runs`: `frames.runs`; `methods`: `frames.methods` (display names, colours)."""
    if not swept or CRITERION not in runs:  # nothing swept, or no criterion to select by
        return []
    chosen = select_variants(runs)
    ok = runs[runs.status == "ok"]
    names = dict(zip(methods.method, methods.display, strict=True))
    colours = dict(zip(methods.method, methods.colour, strict=True))
    rows = [
        (m, label, log and bool((ok[m].dropna() >= 0).all()))  # a log axis for a metric ≥ 0
        for m, label, log in _SENSITIVITY
        if m in ok and ok[m].notna().any()
    ]
    figures = []
    for name in swept:
        if not rows or name not in ok or ok[name].isna().all():
            continue
        part = ok[ok[name].notna()]
        others = [o for o in swept if o != name and o in part]
        values = list(dict.fromkeys(part[name]))
        numeric = _numeric(values)
        position = {v: v for v in values} if numeric else {v: i for i, v in enumerate(values)}
        logx = numeric and min(values) > 0
        spread = 1.0 if not numeric else np.ptp(np.log10(values) if logx else values) or 1.0
        targets = list(dict.fromkeys(part.target))
        fig, axes = _grid(len(rows), len(targets), 2.9, 2.2, sharex=True)
        legend = {}
        for col, target in enumerate(targets):
            lines = _swept_lines(part[part.target == target], others, names)
            picked = set(chosen[chosen.target == target].variant)
            for row, (metric, label, log) in enumerate(rows):
                ax = axes[row, col]
                styles: dict[str, int] = {}  # per method, the lines drawn so far
                centres: list[tuple[float, float, Colour]] = []
                for j, (method, text, line) in enumerate(lines):
                    styles[method] = styles.get(method, -1) + 1
                    ls = _LINE_STYLES[styles[method] % len(_LINE_STYLES)]
                    style = {"color": colours[method], "ls": ls}
                    shift = _DODGE * spread * (j - (len(lines) - 1) / 2)  # lines side by side
                    at = {v: x * 10**shift if logx else x + shift for v, x in position.items()}
                    drawn = _draw_sweep(ax, line, name, metric, at, log, picked, **style)
                    if drawn:
                        legend.setdefault(text, Line2D([], [], marker="o", ms=3.5, label=text,
                                                       **style))  # fmt: skip
                        centres += [(px, py, colours[method]) for px, py in drawn]
                if log:
                    ax.set_yscale("log")
                # the bulk of the centres sets the range, so that one diverged variant does not
                # flatten the others: the centres beyond it are triangles on the edge, labelled
                limits = _bulk([c[1] for c in centres], log)
                ax.set_ylim(limits)
                _edge_marks(ax, "y", centres, limits, label=True)
                if log:
                    _log_ticks(ax.yaxis, pd.Series(limits))
                if logx:
                    ax.set_xscale("log")
                    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
                ax.set_xticks(list(position.values()), [_show(v) for v in position])
                if row == 0:
                    ax.set_title(target, fontsize=9)
                if row == len(rows) - 1:
                    ax.set_xlabel(name)
                if col == 0:
                    ax.set_ylabel(label)
        fig.tight_layout()
        fig.legend(handles=list(legend.values()), loc="lower center", frameon=False,
                   ncol=min(4, len(legend)), bbox_to_anchor=(0.5, 1.0))  # fmt: skip
        file = save_figure(fig, out, f"sensitivity_{name}")
        caption = (
            f"Sensitivity to `{name}`: per target (columns), each headline metric (rows) against "
            f"the value of `{name}` ({'log axis' if logx else 'as listed'}), one colour per "
            "method, dashed or dotted for another value of its other swept hyperparameters (in "
            "the legend); the point is the mean over seeds, the bar its 95 % Student-t interval "
            "(none from one seed; on a log axis the geometric mean and the t-interval of the logs "
            "transformed back, as in the tables). Each panel's range is fitted to the bulk of its "
            f"points (within {_FENCE:g} interquartile ranges of the quartiles, on a log axis of "
            "the logs): a point beyond it is a triangle on the panel's edge, labelled with its "
            "value, and bars running off the panel are cut. A ring marks "
            "the variant the tuned view selects by held-out log-likelihood (top row) alone. A "
            "method whose ring also sits at its lowest mode-weight TV and log-density error is "
            "tuned well without the truth; a flat line is a setting that does not matter; a "
            "missing point lost its seeds to failed or not-estimable runs."
        )
        figures.append((file, caption))
    return figures


def tuned_view(frames: Frames) -> Frames:
    """`frames` keeping, per target and method, the runs of the variant the tuned view selects
    (`select_variants`), each labelled by its method (`variant` set to the method, the variants
    frame the methods frame): one entry per method, shown once per target."""
    chosen = select_variants(frames.runs)
    keep = pd.MultiIndex.from_arrays([chosen.target, chosen.variant])

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        kept = frame[pd.MultiIndex.from_arrays([frame.target, frame.variant]).isin(keep)]
        return kept.assign(variant=kept.method)

    variants = frames.methods.assign(variant=frames.methods.method)
    return dataclasses.replace(
        frames,
        runs=only(frames.runs),
        weights=only(frames.weights),
        checkpoints=only(frames.checkpoints),
        costs=only(frames.costs),
        rhat=only(frames.rhat),
        density=only(frames.density),
        variants=variants[list(frames.variants.columns)],
    )


def make_figures(frames: Frames, out: Path, swept: list[str] | None = None) -> list[Figure]:
    """Every figure into `out` (PNG and PDF); returns (PNG file name, caption) pairs. `swept`:
    the hyperparameters a grid sweeps: the figures then show the tuned view's variants, and one
    sensitivity figure per swept hyperparameter shows them all."""
    out.mkdir(parents=True, exist_ok=True)
    swept = list(swept or [])
    shown = tuned_view(frames) if swept and CRITERION in frames.runs else frames
    variants = shown.variants
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return [
            *mode_weights(shown.weights, variants, out),
            *lightest_mode(shown.checkpoints, variants, out),
            *weights_over_training(shown.checkpoints, variants, out),
            *densities(shown.density, shown.truth_density, shown.modes, variants, out),
            *mixing(shown.rhat, variants, out),
            *error_vs_cost(shown.runs, variants, out),
            *cost_curves(shown.costs, variants, out),
            *sensitivity(frames.runs, frames.methods, swept, out),
        ]
