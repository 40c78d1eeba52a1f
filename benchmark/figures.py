"""Paper-style figures from the run records (seaborn/matplotlib, Agg backend), one colour per
method throughout: a fixed palette keyed by the registry order."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402

from .registry import METHODS  # noqa: E402
from .targets import make_target  # noqa: E402

__all__ = ["method_palette", "make_figures"]

Record = dict[str, Any]
Figure = tuple[str, str]  # (file name, caption)


def method_palette(methods: list[str]) -> dict[str, tuple[float, float, float]]:
    """Colour of each method code name, by its place in the registry (then as given)."""
    known = [*METHODS, *[m for m in methods if m not in METHODS]]
    colours = sns.color_palette("tab10" if len(known) <= 10 else "husl", len(known))
    return {m: colours[known.index(m)] for m in methods}


def _save(fig: plt.Figure, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def _ok(records: list[Record]) -> list[Record]:
    return [r for r in records if r["status"] == "ok"]


def _target_info(record: Record) -> tuple[tuple[float, float], Any]:
    cfg = record["config"]["target"]
    target = make_target(cfg["kind"], name=cfg["name"], **cfg["params"])
    return target.bounds, target


def densities(records: list[Record], order: list[str], out: Path) -> list[Figure]:
    """Per 2-D target: the target's density beside each method's learned density (first seed)."""
    figures = []
    for target_name in dict.fromkeys(r["target"] for r in _ok(records) if r.get("dim") == 2):
        runs = [r for r in _ok(records) if r["target"] == target_name and "density" in r["curves"]]
        first: dict[str, Record] = {}
        for r in sorted(runs, key=lambda r: r["seed"]):
            first.setdefault(r["method"], r)
        shown = [first[m] for m in order if m in first]
        (lo, hi), target = _target_info(shown[0])
        res = len(shown[0]["curves"]["density"])
        axis = np.linspace(lo, hi, res)
        gx, gy = np.meshgrid(axis, axis)
        grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], -1), dtype=torch.float32)
        truth = target.log_prob(grid).view(res, res).numpy()
        panels = [("target", truth)]
        panels += [(r["display"], np.array(r["curves"]["density"])) for r in shown]
        cols = min(5, len(panels))
        rows = math.ceil(len(panels) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.4 * rows), squeeze=False)
        for ax, (title, log_p) in zip(axes.flat, panels, strict=False):
            ax.imshow(np.exp(log_p), origin="lower", extent=(lo, hi, lo, hi), cmap="viridis")
            ax.set_title(title, fontsize=9)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        name = _save(fig, out, f"density_{target_name}.png")
        seed = shown[0]["seed"]
        figures.append(
            (name, f"Learned densities on {target_name} beside the target (seed {seed}).")
        )
    return figures


def weight_vs_iteration(records: list[Record], palette: dict, out: Path) -> list[Figure]:
    """The lightest true mode's weight vs iteration: EBM density (solid), negatives (dashed)."""
    rows = []
    truth = {}
    for r in _ok(records):
        mode = int(np.argmin(r["weights"]["true"]))
        truth[r["target"]] = (mode, r["weights"]["true"][mode])
        for c in r["curves"]["checkpoints"]:
            for source in ("model", "negatives"):
                rows.append(
                    {
                        "target": r["target"],
                        "method": r["display"],
                        "iteration": c["iteration"],
                        "source": "EBM density" if source == "model" else "negatives",
                        "weight": c[source][mode],
                    }
                )
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    targets = list(truth)
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.4), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        sns.lineplot(
            frame[frame.target == target],
            x="iteration",
            y="weight",
            hue="method",
            style="source",
            palette=palette,
            errorbar="sd",
            ax=ax,
            legend=ax is axes[0][-1],
        )
        mode, weight = truth[target]
        ax.axhline(weight, color="black", lw=1, ls=":")
        ax.set_title(f"{target}: mode {mode}")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=8)
    name = _save(fig, out, "mode_weight_vs_iteration.png")
    return [
        (
            name,
            "Weight of the lightest mode vs training iteration (mean ± sd over seeds); "
            "solid: the EBM's density, dashed: the negatives; dotted: the truth (paper Fig. 1).",
        )
    ]


def rhat_vs_time(records: list[Record], palette: dict, out: Path) -> list[Figure]:
    """R-hat of the method's own sampler on growing prefixes of the draws vs wall-clock."""
    rows = [
        {"target": r["target"], "method": r["display"], "seconds": s, "rhat": h}
        for r in _ok(records)
        for s, h in zip(
            r["curves"]["rhat_time"]["seconds"], r["curves"]["rhat_time"]["rhat"], strict=True
        )
        if h is not None
    ]
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    targets = list(dict.fromkeys(frame.target))
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.4), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        sns.lineplot(
            frame[frame.target == target],
            x="seconds",
            y="rhat",
            hue="method",
            palette=palette,
            errorbar="sd",
            marker="o",
            ax=ax,
            legend=ax is axes[0][-1],
        )
        ax.set_yscale("log")
        ax.axhline(1.01, color="black", lw=1, ls=":")
        ax.set(title=target, xlabel="sampling wall-clock (s)", ylabel="max R-hat")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=8)
    name = _save(fig, out, "rhat_vs_time.png")
    return [(name, "Max R-hat of each method's sampler's chains vs wall-clock (paper Fig. 6).")]


def mode_weights(records: list[Record], palette: dict, out: Path) -> list[Figure]:
    """Per target: each mode's weight, true vs the EBM's density vs the negatives."""
    rows = []
    for r in _ok(records):
        w = r["weights"]
        for k in range(len(w["true"])):
            rows.append(
                {
                    "target": r["target"],
                    "method": r["display"],
                    "mode": k,
                    "EBM density": w["model"][k],
                    "negatives": w["negatives"][k],
                    "true": w["true"][k],
                }
            )
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    targets = list(dict.fromkeys(frame.target))
    fig, axes = plt.subplots(len(targets), 2, figsize=(10, 3.0 * len(targets)), squeeze=False)
    for row, target in zip(axes, targets, strict=True):
        part = frame[frame.target == target]
        truth = part.groupby("mode")["true"].first()
        for ax, column in zip(row, ("EBM density", "negatives"), strict=True):
            sns.barplot(
                part,
                x="mode",
                y=column,
                hue="method",
                palette=palette,
                errorbar="sd",
                ax=ax,
                legend=ax is axes[0][-1],
            )
            ax.scatter(truth.index, truth.values, color="black", marker="_", s=400, zorder=3)
            ax.set(title=f"{target}: {column}", ylabel="weight")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=8)
    name = _save(fig, out, "mode_weights.png")
    return [
        (
            name,
            "Per-mode weights (mean ± sd over seeds) of the EBM's density and of the negatives; "
            "black bars: the true region masses.",
        )
    ]


def error_vs_cost(frame: pd.DataFrame, palette: dict, out: Path) -> list[Figure]:
    """Mode-weight TV of the EBM vs training seconds and gradient evaluations, every ok run."""
    ok = frame[(frame.status == "ok") & frame.mw_tv_model.notna()]
    if ok.empty:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, cost in zip(axes, ("train_seconds", "grad_evals"), strict=True):
        sns.scatterplot(
            ok,
            x=cost,
            y="mw_tv_model",
            hue="method",
            style="target",
            palette=palette,
            ax=ax,
            legend=ax is axes[-1],
        )
        ax.set(xscale="log", yscale="log", ylabel="mode-weight TV (EBM vs truth)")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no crowded labels
    if axes[-1].get_legend() is not None:
        sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1, 1), fontsize=8)
    name = _save(fig, out, "error_vs_cost.png")
    return [(name, "Mode-weight TV of the EBM's density vs training cost, one point per run.")]


def make_figures(
    records: list[Record], frame: pd.DataFrame, order: list[str], out: Path
) -> list[Figure]:
    """Every figure into `out`; returns (file name, caption) pairs."""
    out.mkdir(parents=True, exist_ok=True)
    names = {r["method"]: r["display"] for r in records}
    palette = {names.get(m, m): c for m, c in method_palette(order).items()}
    frame = frame.assign(method=frame.method.map(lambda m: names.get(m, m)))
    sns.set_theme(style="whitegrid", context="paper")
    return [
        *densities(records, order, out),
        *weight_vs_iteration(records, palette, out),
        *rhat_vs_time(records, palette, out),
        *mode_weights(records, palette, out),
        *error_vs_cost(frame, palette, out),
    ]
