"""Paper-style figures (seaborn/matplotlib, Agg backend), each saved as PNG and as vector PDF.

Every figure is a function of the long DataFrames of `frames` (never of a record) and of the
methods frame (code name, display name, colour): one colour per method code name, the same in
every figure and every report (`method_palette`). In a suite with a grid, the figures show each
method once, at the variant the tuned view selects on each target (`tuned_view`); the
sensitivity figures show every variant.
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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FuncFormatter,
    LogLocator,
    NullFormatter,
)

from .frames import Frames  # noqa: E402
from .intervals import Interval, t_interval  # noqa: E402
from .metrics.training import ERASED, PRESENT  # noqa: E402
from .registry import METHODS  # noqa: E402
from .selection import CRITERION, select_variants  # noqa: E402
from .tables import REFERENCE_METHODS, format_number  # noqa: E402

__all__ = [
    "Figure",
    "method_palette",
    "cost_curves",
    "sensitivity",
    "tuned_view",
    "make_figures",
]

Figure = tuple[str, str]  # (PNG file name, caption); the PDF has the same stem
Colour = tuple[float, float, float]

_DPI = 150
_RHAT_FLOOR = 1e-3  # R-hat − 1 is drawn on a log axis, values below 1.001 at 1.001
_DENSITY_RANGE = 10.0  # nats of log density shown below the target's highest value
_PAPER_PAIR = ("flowmc_ebm", "ula_ebm")  # the paper's Fig. 1


def method_palette(methods: list[str]) -> dict[str, Colour]:
    """Colour of each method code name: the built-in methods by their place in the registry (so a
    method has its colour in every report), then the others in the order given."""
    known = [*METHODS, *[m for m in methods if m not in METHODS]]
    colours = sns.color_palette("tab10" if len(known) <= 10 else "husl", len(known))
    return {m: colours[known.index(m)] for m in methods}


def _save(fig: plt.Figure, out: Path, stem: str) -> str:
    """PNG and PDF (no creation date: the same figure gives the same bytes); the PNG's name."""
    fig.savefig(out / f"{stem}.png", dpi=_DPI, bbox_inches="tight")
    fig.savefig(out / f"{stem}.pdf", bbox_inches="tight", metadata={"CreationDate": None})
    plt.close(fig)
    return f"{stem}.png"


def _shown(methods: pd.DataFrame, present: pd.Series) -> pd.DataFrame:
    """The rows of `methods` (in suite order) that appear in `present` (code names)."""
    return methods[methods.method.isin(set(present))]


def _method_legend(fig: plt.Figure, methods: pd.DataFrame, **kwargs: object) -> None:
    handles = [
        Line2D([], [], color=row.colour, marker="o", lw=2, label=row.display)
        for row in methods.itertuples()
    ]
    fig.legend(handles=handles, frameon=False, **kwargs)


def _tick_label(value: float, _: object) -> str:
    """A log axis' tick: plain below 1e4 (down to 0.01), else a power of ten."""
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:g}"
    exponent = int(np.floor(np.log10(value)))
    mantissa = value / 10**exponent
    power = f"10^{{{exponent}}}"
    return f"${power}$" if np.isclose(mantissa, 1) else f"${mantissa:g}\\cdot{power}$"


def _log_ticks(axis: matplotlib.axis.Axis, values: pd.Series) -> None:
    """Readable labels on a log axis: ticks at 1, 2 and 5 per decade when the values span less
    than two decades (else one per decade), no minor labels."""
    positive = values[values > 0]
    if len(positive) and positive.max() / positive.min() < 100:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_tick_label))
    axis.set_minor_formatter(NullFormatter())


def _grid(rows: int, cols: int, width: float, height: float, **kwargs: object) -> tuple:
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kwargs)


def weights_over_training(ckpt: pd.DataFrame, methods: pd.DataFrame, out: Path) -> list[Figure]:
    """Per target: one panel per method, one line per mode (median over seeds, band min–max), the
    EBM's own weights against training iteration; the true weights dashed."""
    figures = []
    model = ckpt[ckpt.source == "model"]
    for target, part in model.groupby("target", sort=False):
        shown = _shown(methods, part.method)
        n_modes = part["mode"].nunique()
        mode_colours = sns.color_palette("viridis", n_modes)
        cols = min(5, len(shown))
        rows = -(-len(shown) // cols)
        fig, axes = _grid(rows, cols, 2.6, 2.1, sharex=True, sharey=True)
        for ax, method in zip(axes.flat, shown.itertuples(), strict=False):
            runs = part[part.method == method.method]
            for k, colour in zip(range(n_modes), mode_colours, strict=True):
                mode = runs[runs["mode"] == k].groupby("iteration").weight
                ax.fill_between(mode.min().index, mode.min(), mode.max(), color=colour, alpha=0.2)
                ax.plot(mode.median().index, mode.median(), color=colour, lw=1.5)
                truth = runs[runs["mode"] == k].weight_true.iloc[0]
                ax.axhline(truth, color=colour, lw=1, ls="--")
            ax.set_title(method.display, fontsize=9, color=method.colour, fontweight="bold")
        high = max(part.weight.max(), part.weight_true.max())
        axes[0, 0].set_ylim(0, min(1.0, 1.1 * high))
        for i, ax in enumerate(axes.flat):
            if i >= len(shown):
                ax.set_axis_off()
            elif i + cols >= len(shown):  # the lowest panel of its column
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel("training iteration")
        for ax in axes[:, 0]:
            ax.set_ylabel("mode weight")
        truths = part.groupby("mode").weight_true.first()
        equal = bool(np.allclose(truths, truths.iloc[0], rtol=1e-3))
        handles = [
            Line2D([], [], color=c, lw=1.5,
                   label=f"mode {k}" if equal else f"mode {k} (true {format_number(truths[k])})")
            for k, c in enumerate(mode_colours)
        ]  # fmt: skip
        title = f"{target}: the EBM's mode weights over training"
        if equal:
            title += f" (true weight {format_number(truths.iloc[0])} each)"
        fig.suptitle(title)
        fig.tight_layout()
        if len(shown) < axes.size:  # in the first empty panel, else right of the figure
            axes.flat[len(shown)].legend(handles=handles, loc="center", frameon=False)
        else:
            fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
        name = _save(fig, out, f"weights_over_training_{target}")
        caption = (
            f"The EBM's own mode weights on {target} over training, one panel per method: one "
            "colour per mode, its true weight dashed in the same colour; the line is the median "
            "over seeds, the band spans the seeds. A method has learned the weights when every "
            "line lies on its dashed line at the end; lines that cross or swap mean the EBM moves "
            "mass between modes; a line that falls to 0 and comes back means a mode was erased "
            "and recreated."
            if not figures
            else f"The same on {target}."
        )
        figures.append((name, caption))
    return figures


def lightest_mode(ckpt: pd.DataFrame, methods: pd.DataFrame, out: Path) -> list[Figure]:
    """The paper's Fig. 1: the lightest mode's weight over training for flowMC-EBM and ULA-EBM,
    one line per seed; top row the EBM's density (± 2 standard errors, and the thresholds of a
    mode erasure, docs/SCIENCE.md §7.10), bottom row its negatives."""
    pair = ckpt[ckpt.method.isin(_PAPER_PAIR)]
    if pair.empty:
        return []
    lightest = pair.loc[pair.groupby("target", sort=False).weight_true.idxmin(), ["target", "mode"]]
    pair = pair.merge(lightest, on=["target", "mode"])
    targets = list(dict.fromkeys(pair.target))
    shown = _shown(methods, pair.method)
    fig, axes = _grid(2, len(targets), 3.0, 2.3, sharex="col", sharey="row")
    for col, target in enumerate(targets):
        part = pair[pair.target == target]
        for row, (source, label) in enumerate(
            (("model", "EBM density"), ("negatives", "negatives"))
        ):
            ax = axes[row, col]
            for method in shown.itertuples():
                runs = part[(part.method == method.method) & (part.source == source)]
                for _, run in runs.groupby("seed"):
                    ax.plot(run.iteration, run.weight, color=method.colour, lw=1.2, alpha=0.85)
                    band = 2 * run.stderr.fillna(0.0)
                    ax.fill_between(run.iteration, run.weight - band, run.weight + band,
                                    color=method.colour, alpha=0.15, lw=0)  # fmt: skip
            true = part.weight_true.iloc[0]
            ax.axhline(true, color="black", lw=1, ls="--")
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
    _method_legend(fig, shown, loc="upper center", ncol=len(shown), bbox_to_anchor=(0.5, 1.06))
    fig.tight_layout()
    name = _save(fig, out, "fig1_lightest_mode")
    caption = (
        "The paper's Fig. 1: the weight of each target's lightest mode over training, one line "
        "per seed, for flowMC-EBM and ULA-EBM; top: the EBM's own density, bottom: the negatives "
        "it was trained on; dashed: the true weight; shaded: ± 2 standard errors of the EBM's "
        f"weight estimate; dotted: {ERASED:g} and {PRESENT:g} of the true weight, the thresholds "
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
    density: pd.DataFrame, truth: pd.DataFrame, modes: pd.DataFrame, methods: pd.DataFrame,
    out: Path,
) -> list[Figure]:  # fmt: skip
    """One row per 2-D target: the target's log density, then each method's learned one (its
    lowest seed), on one colour scale; the true modes marked."""
    if density.empty:
        return []
    targets = list(dict.fromkeys(density.target))
    shown = _shown(methods, density.method)
    first = density.groupby(["target", "method"]).seed.transform("min") == density.seed
    density = density[first]
    top = float(truth[truth.target.isin(targets)].log_p.max())
    scale = {"vmin": top - _DENSITY_RANGE, "vmax": top, "cmap": "viridis", "origin": "lower"}
    fig, axes = _grid(len(targets), len(shown) + 1, 1.7, 1.75)
    for row, target in enumerate(targets):
        panels = [("target", truth[truth.target == target])]
        panels += [
            (m.display, density[(density.target == target) & (density.method == m.method)])
            for m in shown.itertuples()
        ]
        for col, (title, frame) in enumerate(panels):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if frame.empty:
                ax.set_axis_off()
                continue
            image, extent = _image(frame)
            drawn = ax.imshow(image, extent=extent, interpolation="bilinear", **scale)
            _mark_modes(ax, modes[modes.target == target])
            if row == 0:
                ax.set_title(title, fontsize=8)
            if col == 0:
                ax.set_ylabel(target, fontsize=9)
            if col > 0:
                colour = shown.colour.iloc[col - 1]
                for spine in ax.spines.values():
                    spine.set(color=colour, linewidth=2)
    fig.tight_layout()
    bar = fig.colorbar(drawn, ax=axes, shrink=0.8, pad=0.01, extend="min")
    bar.set_label("log density")
    name = _save(fig, out, "densities")
    caption = (
        "Learned log densities (normalised) beside each 2-D target (left column), one colour "
        f"scale for all panels, clipped {_DENSITY_RANGE:.0f} nats below the targets' highest "
        "value; + marks the true means, dotted circles the rings' radii; each method's panel is "
        "framed in its colour (lowest seed shown). Look for modes that are missing, merged or "
        "smeared along a ridge, and for mass where the target has none; the brightness of a "
        "mode against its neighbours is its weight."
    )
    return [(name, caption)]


_MIXING_AXES = [
    ("cost", "cost units per chain"),
    ("grad_evals", "gradient evaluations per chain"),
    ("seconds", "sampling wall-clock (s)"),
]


def mixing(rhat: pd.DataFrame, methods: pd.DataFrame, out: Path) -> list[Figure]:
    """R-hat of each method's diagnostic chains on growing prefixes against cost units (when the
    records have them), gradient evaluations and wall-clock: median over seeds, band min–max."""
    rhat = rhat.dropna(subset=["rhat"])
    axes_shown = [(x, label) for x, label in _MIXING_AXES if rhat[x].notna().any()]
    if rhat.empty or not axes_shown:
        return []
    targets = list(dict.fromkeys(rhat.target))
    shown = _shown(methods, rhat.method)
    excess = rhat.assign(excess=(rhat.rhat - 1).clip(lower=_RHAT_FLOOR))
    fig, axes = _grid(len(targets), len(axes_shown), 3.4, 2.6, sharey="row")
    for row, target in enumerate(targets):
        for col, (x, label) in enumerate(axes_shown):
            ax = axes[row, col]
            for method in shown.itertuples():
                runs = excess[(excess.target == target) & (excess.method == method.method)]
                if runs.empty or runs[x].isna().all():
                    continue
                by = runs.groupby("draws")
                where = by[x].median()
                ax.fill_between(where, by.excess.min(), by.excess.max(), color=method.colour,
                                alpha=0.15, lw=0)  # fmt: skip
                ax.plot(where, by.excess.median(), color=method.colour, marker="o", ms=2.5, lw=1.3)
            ax.axhline(0.01, color="black", lw=1, ls="--")
            ax.set(xscale="log", yscale="log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{1 + v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            if row == len(targets) - 1:
                ax.set_xlabel(label)
            if col == 0:
                ax.set_ylabel(f"{target}\nmax R-hat")
    _method_legend(fig, shown, loc="upper center", ncol=min(5, len(shown)),
                   bbox_to_anchor=(0.5, 1.0 + 0.035 * -(-len(shown) // 5)))  # fmt: skip
    fig.tight_layout()
    name = _save(fig, out, "mixing")
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


def mode_weights(weights: pd.DataFrame, methods: pd.DataFrame, out: Path) -> list[Figure]:
    """Dot-and-interval: per target and source, each method's weight of each mode (mean over
    seeds, interval min–max) beside the true weight."""
    if weights.empty:
        return []
    targets = list(dict.fromkeys(weights.target))
    shown = _shown(methods, weights.method)
    row_of = {m: i for i, m in enumerate(shown.method)}
    fig, axes = _grid(len(targets), len(_SOURCES), 3.6, 0.32 * len(shown) + 1.0, sharey=True)
    for row, target in enumerate(targets):
        part = weights[weights.target == target]
        n_modes = part["mode"].nunique()
        offsets = np.linspace(-0.3, 0.3, n_modes) if n_modes > 1 else np.zeros(1)
        truth = part.groupby("mode").weight_true.first()
        for col, (source, label) in enumerate(_SOURCES):
            ax = axes[row, col]
            summary = part.groupby(["method", "mode"])[source].agg(["mean", "min", "max"])
            for (method, mode), s in summary.iterrows():
                y = row_of[method] + offsets[mode]
                colour = shown.set_index("method").colour[method]
                ax.plot([s["min"], s["max"]], [y, y], color=colour, lw=1.2)
                ax.plot(s["mean"], y, "o", color=colour, ms=3.5)
                ax.plot(truth[mode], y, "|", color="black", ms=5, mew=1.2)
            high = max(float(part[[s for s, _ in _SOURCES]].max().max()), float(truth.max()))
            ax.set_xlim(-0.02, min(1.02, 1.15 * high))
            ax.set_title(f"{target}: {label}", fontsize=9)
            ax.set_xlabel("mode weight")
            ax.grid(axis="y", visible=False)
            for i in range(len(shown) - 1):
                ax.axhline(i + 0.5, color="0.85", lw=0.6)
        axes[row, 0].set_yticks(range(len(shown)), shown.display)
        axes[row, 0].set_ylim(len(shown) - 0.5, -0.5)
    fig.tight_layout()
    name = _save(fig, out, "mode_weights")
    caption = (
        "Final mode weights against the truth: one row per method, within it one dot per mode "
        "(mode 0 at the top; mean over seeds, the bar spans the seeds) and a black tick at that "
        "mode's true weight. Left: the EBM's own density; right: its negatives. A dot on its tick "
        "is a weight learned; a row whose dots sit at 0 and 1 is a method that put all its mass "
        "in one mode; negatives far from the EBM's weights are a biased training signal."
    )
    return [(name, caption)]


_COSTS = [("grad_evals", "training gradient evaluations"), ("train_seconds", "training seconds")]


def error_vs_cost(runs: pd.DataFrame, methods: pd.DataFrame, out: Path) -> list[Figure]:
    """Mode-weight TV of the EBM against training cost: one point per run, each method's median
    (larger marker) joined to its runs."""
    ok = runs[(runs.status == "ok") & (runs.mw_tv_model > 0)]
    if ok.empty:
        return []
    targets = list(dict.fromkeys(ok.target))
    shown = _shown(methods, ok.method)
    fig, axes = _grid(len(targets), len(_COSTS), 3.4, 2.6, sharey="row")
    for row, target in enumerate(targets):
        part = ok[ok.target == target]
        for col, (cost, label) in enumerate(_COSTS):
            ax = axes[row, col]
            for method in shown.itertuples():
                points = part[part.method == method.method]
                if points.empty:
                    continue
                cx, cy = points[cost].median(), points.mw_tv_model.median()
                for px, py in zip(points[cost], points.mw_tv_model, strict=True):
                    ax.plot([cx, px], [cy, py], color=method.colour, lw=0.7, alpha=0.6)
                ax.plot(points[cost], points.mw_tv_model, "o", color=method.colour, ms=3, alpha=0.7)
                ax.plot(cx, cy, "o", color=method.colour, ms=8, mec="white", mew=1)
            ax.set(xscale="log", yscale="log")
            _log_ticks(ax.xaxis, part[cost])
            if row == len(targets) - 1:
                ax.set_xlabel(label)
            if col == 0:
                ax.set_ylabel(f"{target}\nmode-weight TV")
    _method_legend(fig, shown, loc="upper center", ncol=min(5, len(shown)),
                   bbox_to_anchor=(0.5, 1.0 + 0.035 * -(-len(shown) // 5)))  # fmt: skip
    fig.tight_layout()
    name = _save(fig, out, "error_vs_cost")
    caption = (
        "Accuracy against cost: total-variation distance of the EBM's mode weights to the truth "
        "against training gradient evaluations (hardware-independent) and seconds (this "
        "machine), one small point per run, the large point each method's median, joined to its "
        "runs. Lower left is better; a method is worth its cost when no other method lies below "
        "and to the left of it; a long spread of spokes is a method that depends on its seed."
    )
    return [(name, caption)]


#: The cost curves' panels: (metric, its label), (cumulative cost, its label).
_COST_PANELS = [
    (metric, cost)
    for cost in (("grad_evals", "training gradient evaluations"), ("seconds", "training seconds"))
    for metric in (("mw_tv_model", "mode-weight TV"), ("logdens_err", "log-density error"))
]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]


def cost_curves(costs: pd.DataFrame, methods: pd.DataFrame, out: Path) -> list[Figure]:
    """Per target (rows): the checkpoints' mode-weight TV and log-density error against
    cumulative training gradient evaluations, then against seconds (columns), log axes; one line
    per method (median over seeds at each checkpoint, band min–max), the oracle's median a
    dashed reference (the checkpoint estimate's own error on p★)."""
    if costs.empty:
        return []
    targets = list(dict.fromkeys(costs.target))
    shown = _shown(methods, costs.method)
    trained = shown[~shown.method.isin(REFERENCE_METHODS)]
    fig, axes = _grid(len(targets), len(_COST_PANELS), 3.2, 2.5)
    for row, target in enumerate(targets):
        part = costs[costs.target == target]
        for col, ((metric, label), (cost, cost_label)) in enumerate(_COST_PANELS):
            ax = axes[row, col]
            drawn = part[(part[metric] > 0) & (part[cost] > 0)]
            for i, method in enumerate(trained.itertuples()):
                runs = drawn[drawn.method == method.method]
                if runs.empty:
                    continue
                at = runs.groupby("iteration")
                x, y = at[cost].median(), at[metric]
                ax.fill_between(x, y.min(), y.max(), color=method.colour, alpha=0.15, lw=0)
                ax.plot(x, y.median(), color=method.colour, lw=1.4,
                        marker=_MARKERS[i % len(_MARKERS)], ms=3.5)  # fmt: skip
            oracle = drawn[drawn.method.isin(REFERENCE_METHODS)][metric]
            if len(oracle):
                ax.axhline(oracle.median(), color="black", lw=1, ls="--")
            ax.set(xscale="log", yscale="log")
            if not drawn.empty:
                _log_ticks(ax.xaxis, drawn[cost])
                _log_ticks(ax.yaxis, drawn[metric])
            ax.set_xlabel(cost_label)
            ax.set_ylabel(f"{target}\n{label}" if col == 0 else label)
    handles = [
        Line2D([], [], color=m.colour, lw=1.4, marker=_MARKERS[i % len(_MARKERS)], ms=3.5,
               label=m.display)
        for i, m in enumerate(trained.itertuples())
    ]  # fmt: skip
    if shown.method.isin(REFERENCE_METHODS).any():
        handles.append(
            Line2D([], [], color="black", lw=1, ls="--", label="oracle (p★: the estimate's error)")
        )
    fig.tight_layout()
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    name = _save(fig, out, "cost_curves")
    caption = (
        "Accuracy against cost over training: at every checkpoint, the mode-weight TV of the "
        "EBM's weights to the truth and its log-density error (the checkpoints' cheap estimates, "
        "docs/SCIENCE.md §7.10), against the gradient evaluations (U and ∇U at one point) and "
        "the seconds training had spent up to it, log axes; one line per method, the median over "
        "seeds (markers at the checkpoints), the band the range of the seeds. Read methods at "
        "equal cost, along a vertical line, not at equal iterations: the lower line there is the "
        "better buy. The dashed line is the oracle's median (the true energy): the estimates' "
        "own error, below which a line is noise. Points not estimable are left out."
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


def _swept_lines(part: pd.DataFrame, others: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """The lines of one panel: (method, legend label, its runs), one per method and value of the
    method's other swept hyperparameters, in order of appearance."""
    lines = []
    for method, runs_of in part.groupby("method", sort=False):
        display = METHODS[method].display if method in METHODS else method
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
) -> bool:  # fmt: skip
    """One line: per value of `name`, the centre of `metric` over seeds and its t interval (on a
    log axis the geometric mean and the interval of the logs, as in the tables); a ring on a
    variant in `chosen`. False when no value has a number."""
    points = sorted(
        (position[value], t_interval(at[metric], scale="log" if log else "linear"),
         at.variant.iloc[0])
        for value, at in line.groupby(name, sort=False)
    )  # fmt: skip
    points = [p for p in points if p[1].n]
    if not points:
        return False
    x = [p[0] for p in points]
    mean, low, high = (np.array([getattr(p[1], k) for p in points]) for k in Interval._fields[:3])
    ax.plot(x, mean, marker="o", ms=3.5, lw=1.3, **style)
    ax.vlines(x, low, high, lw=1, alpha=0.6, color=style["color"])
    for px, py, (_, _, variant) in zip(x, mean, points, strict=True):
        if variant in chosen:
            ax.plot(px, py, "o", ms=9, mfc="none", mec=style["color"], mew=1.4)
    return True


def sensitivity(runs: pd.DataFrame, swept: list[str], out: Path) -> list[Figure]:
    """Per swept hyperparameter: rows = headline metrics, columns = targets, each method's metric
    against the hyperparameter's value (centre over seeds, its 95 % t interval as a bar), one line
    per method and value of its other swept hyperparameters; a ring on the variant the tuned view
    selects. `runs`: `frames.runs` (the variant as "method", the method as "base_method")."""
    results = runs.rename(columns={"method": "variant", "base_method": "method"})
    if not swept or CRITERION not in results:  # nothing swept, or no criterion to select by
        return []
    chosen = select_variants(results)
    ok = results[results.status == "ok"]
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
        colours = method_palette(list(dict.fromkeys(part.method)))
        fig, axes = _grid(len(rows), len(targets), 2.9, 2.2, sharex=True)
        legend = {}
        for col, target in enumerate(targets):
            lines = _swept_lines(part[part.target == target], others)
            picked = set(chosen[chosen.target == target].variant)
            for row, (metric, label, log) in enumerate(rows):
                ax = axes[row, col]
                styles: dict[str, int] = {}  # per method, the lines drawn so far
                for j, (method, text, line) in enumerate(lines):
                    styles[method] = styles.get(method, -1) + 1
                    ls = _LINE_STYLES[styles[method] % len(_LINE_STYLES)]
                    style = {"color": colours[method], "ls": ls}
                    shift = _DODGE * spread * (j - (len(lines) - 1) / 2)  # lines side by side
                    at = {v: x * 10**shift if logx else x + shift for v, x in position.items()}
                    if _draw_sweep(ax, line, name, metric, at, log, picked, **style):
                        legend.setdefault(text, Line2D([], [], marker="o", ms=3.5, label=text,
                                                       **style))  # fmt: skip
                if log:
                    ax.set_yscale("log")
                else:  # a log-likelihood: linear within ±1, log beyond, so outliers stay legible
                    ax.set_yscale("symlog", linthresh=1.0)
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
        fig.legend(handles=list(legend.values()), loc="upper center", frameon=False,
                   ncol=min(4, len(legend)),
                   bbox_to_anchor=(0.5, 1.0 + 0.03 * -(-len(legend) // 4)))  # fmt: skip
        fig.tight_layout()
        file = _save(fig, out, f"sensitivity_{name}")
        caption = (
            f"Sensitivity to `{name}`: per target (columns), each headline metric (rows) against "
            f"the value of `{name}` ({'log axis' if logx else 'as listed'}), one colour per "
            "method, dashed or dotted for another value of its other swept hyperparameters (in "
            "the legend); the point is the mean over seeds, the bar its 95 % Student-t interval "
            "(none from one seed; on a log axis the geometric mean and the t-interval of the logs "
            "transformed back, as in the tables). A ring marks "
            "the variant the tuned view selects by held-out log-likelihood (top row) alone. A "
            "method whose ring also sits at its lowest mode-weight TV and log-density error is "
            "tuned well without the truth; a flat line is a setting that does not matter; a "
            "missing point lost its seeds to failed or not-estimable runs."
        )
        figures.append((file, caption))
    return figures


def tuned_view(frames: Frames) -> Frames:
    """`frames` keeping, per target and method, the runs of the variant the tuned view selects
    (`select_variants`), labelled by the method: one per target, so each method is shown once.
    `frames.runs` holds the variant as "method", the method as "base_method"."""
    chosen = select_variants(frames.runs.rename(columns={"method": "variant",
                                                         "base_method": "method"}))  # fmt: skip
    keep = pd.MultiIndex.from_arrays([chosen.target, chosen.variant])
    base = dict(zip(frames.runs.method, frames.runs.base_method, strict=True))

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        kept = frame[pd.MultiIndex.from_arrays([frame.target, frame.method]).isin(keep)]
        return kept.assign(method=kept.method.map(base))

    methods = list(dict.fromkeys(base[v] for v in frames.methods.method if v in base))
    display = [METHODS[m].display if m in METHODS else m for m in methods]
    return dataclasses.replace(
        frames,
        runs=only(frames.runs),
        weights=only(frames.weights),
        checkpoints=only(frames.checkpoints),
        costs=only(frames.costs),
        rhat=only(frames.rhat),
        density=only(frames.density),
        methods=pd.DataFrame({"method": methods, "display": display}),
    )


def make_figures(frames: Frames, out: Path, swept: list[str] | None = None) -> list[Figure]:
    """Every figure into `out` (PNG and PDF); returns (PNG file name, caption) pairs. `swept`:
    the hyperparameters a grid sweeps: the figures then show the tuned view's variants, and one
    sensitivity figure per swept hyperparameter shows them all."""
    out.mkdir(parents=True, exist_ok=True)
    swept = list(swept or [])
    shown = tuned_view(frames) if swept and CRITERION in frames.runs else frames
    methods = shown.methods.assign(
        colour=shown.methods.method.map(method_palette(list(shown.methods.method)))
    )
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return [
            *mode_weights(shown.weights, methods, out),
            *lightest_mode(shown.checkpoints, methods, out),
            *weights_over_training(shown.checkpoints, methods, out),
            *densities(shown.density, shown.truth_density, shown.modes, methods, out),
            *mixing(shown.rhat, methods, out),
            *error_vs_cost(shown.runs, methods, out),
            *cost_curves(shown.costs, methods, out),
            *sensitivity(frames.runs, swept, out),
        ]
