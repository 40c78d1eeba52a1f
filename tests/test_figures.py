"""The figures drawn and looked at as a reader would: every figure of the committed quick report and
of a planted suite renders, no legend lies over a panel, every panel's axes carry at least two
tick labels in view; and the known answers of the pieces that fit an axis to its data."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import to_hex
from synthetic_records import ok_record, suite_json, true_weights, write_suite

from benchmark.reporting import figures, palette
from benchmark.reporting.report import read_dir
from benchmark.reporting.tables import format_number
from benchmark.suite.registry import METHODS, load_methods

QUICK = Path(__file__).parents[1] / "reports" / "quick"
QUICK_FIGURES = {
    "mode_weights", "fig1_lightest_mode", "weights_over_training_four_modes",
    "weights_over_training_eight_gaussians", "densities", "mixing",
    "error_vs_cost", "cost_curves",
}  # fmt: skip


def _labelled(axis) -> int:
    """How many of `axis`' ticks within its view carry a visible, non-empty label."""
    low, high = sorted(axis.get_view_interval())
    count = 0
    for locs, ticks in ((axis.get_majorticklocs(), axis.get_major_ticks),
                        (axis.get_minorticklocs(), axis.get_minor_ticks)):  # fmt: skip
        for loc, tick in zip(locs, ticks(len(locs)), strict=True):
            if low <= loc <= high and tick.label1.get_visible() and tick.label1.get_text():
                count += 1
    return count


def layout_faults(fig: plt.Figure) -> list[str]:
    """What a reader would find wrong with the drawn `fig`: a legend over a panel or colour bar, a
    panel's axis (or every axis it shares, the one showing the labels) with fewer than 2 tick
    labels in view. Image panels (no ticks, by design) and hidden ones are not read."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    faults = []
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend, ax in itertools.product(legends, fig.axes):
        if legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)):
            faults.append(f"a legend overlaps the panel {ax.get_title()!r}")
    panels = [ax for ax in fig.axes
              if ax.axison and not ax.images and ax.get_label() != "<colorbar>"]  # fmt: skip
    for ax, name in itertools.product(panels, "xy"):
        shared = getattr(ax, f"get_shared_{name}_axes")().get_siblings(ax)
        if max(_labelled(getattr(s, f"{name}axis")) for s in shared) < 2:
            faults.append(f"the {name} axis of the panel {ax.get_title()!r} has < 2 tick labels")
    return faults


def draw_all(frames, out: Path, swept: list[str] | None = None) -> dict[str, plt.Figure]:
    """Every figure `make_figures` saves into `out`, by file stem, each checked by
    `layout_faults` as it is saved; the stems are those of the (PNG, caption) pairs returned."""
    saved: dict[str, plt.Figure] = {}
    save = figures.save_figure

    def checked(fig: plt.Figure, out: Path, stem: str) -> str:
        assert layout_faults(fig) == [], stem
        saved[stem] = fig
        return save(fig, out, stem)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_figure", checked)
        made = figures.make_figures(frames, out, swept)
    assert [Path(file).stem for file, _ in made] == list(saved)
    for stem in saved:
        assert (out / f"{stem}.png").stat().st_size > 1000
    return saved


def test_every_figure_of_the_committed_report_renders_readably(tmp_path):
    frames = read_dir(QUICK).frames
    drawn = draw_all(frames, tmp_path)
    assert set(drawn) == QUICK_FIGURES
    # Fig. 1's negatives: four_modes' lightest mode (its region's true mass w ≈ 0.1) in a band
    # w ± 2√(w(1 − w)/256), where the share of a checkpoint's 256 exact draws falls (≈ ± 0.0375)
    ckpt = frames.checkpoints
    w = ckpt[(ckpt.target == "four_modes") & (ckpt["mode"] == 0)].weight_true.iloc[0]
    fig = drawn["fig1_lightest_mode"]
    (ax,) = [a for a in fig.axes if a.get_ylabel() == "weight (negatives)"]
    (band,) = [p for p in ax.patches if p.get_facecolor()[3] == pytest.approx(0.2)]
    low, high = band.get_y(), band.get_y() + band.get_height()
    noise = 2 * np.sqrt(w * (1 - w) / 256)
    assert (low, high) == pytest.approx((w - noise, w + noise), rel=1e-6)


def _weights(target: str, method: str, seed: int) -> list[float] | None:
    """The planted final weights: flowMC-EBM a few % off the truth, ULA-EBM collapsed onto mode
    `seed`, VERA all in the last mode on four_modes and not estimable on gmm40 (None), the oracle
    1e-4 off (a TV far below everyone's)."""
    true = np.array(true_weights(target))
    if method == "ula_ebm":
        weights = np.eye(len(true))[seed]
    elif method == "vera":
        if target == "gmm40":
            return None
        weights = np.eye(len(true))[-1]
    else:
        wiggle = 1 + (0.05 if method == "flowmc_ebm" else 1e-4) * np.cos(np.arange(len(true)))
        weights = true * wiggle
    return (weights / weights.sum()).tolist()


OUTLIER = 1.7e4  # VERA's held-out log-likelihood at lr = 0.01 on four_modes, every seed


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A swept suite written by hand: four_modes and gmm40 (40 modes), flowMC-EBM, ULA-EBM and VERA
    at lr ∈ {1e-3, 1e-2}, the oracle once, 3 seeds; its frames and its figures (`draw_all`)."""
    methods = ["flowmc_ebm", "ula_ebm", "vera", "oracle"]
    grid = [{"lr": 1e-3}, {"lr": 1e-2}]
    grids = {m: grid for m in methods[:3]}
    suite = suite_json(["four_modes", "gmm40"], methods, [0, 1, 2], grids)
    records = []
    for target, method, seed in itertools.product(["four_modes", "gmm40"], methods, range(3)):
        for point in grids.get(method, [{}]):
            weights = _weights(target, method, seed)
            big = method == "vera" and point.get("lr") == 1e-2 and target == "four_modes"
            metrics = {"heldout_loglik": OUTLIER if big else -2.0 - 0.1 * seed - len(records) % 3,
                       "logdens_err": 0.5 + 0.1 * seed}  # fmt: skip
            record = ok_record(target, method, seed, metrics, weights or true_weights(target),
                               swept=point or None)  # fmt: skip
            if weights is None:  # the EBM's weights not estimable, at every checkpoint
                record["weights"]["model"] = [None] * len(record["weights"]["true"])
                for checkpoint in record["curves"]["checkpoints"]:
                    checkpoint["model"] = [None] * len(record["weights"]["true"])
                record["metrics"]["mw_tv_model"] = None
            records.append(record)
    out = write_suite(tmp_path_factory.mktemp("planted") / "out", suite, records)
    frames = read_dir(out).frames
    return frames, draw_all(frames, out / "figures", ["lr"])


def test_every_figure_of_a_planted_suite_renders_readably(planted):
    _, drawn = planted
    assert set(drawn) == {
        "mode_weights", "fig1_lightest_mode", "weights_over_training_four_modes",
        "weights_over_training_gmm40", "densities", "mixing", "error_vs_cost", "cost_curves",
        "sensitivity_lr",
    }  # fmt: skip

    # gmm40's 40 modes: a heatmap per method whose weights are estimable, VERA's named instead
    gmm40 = drawn["weights_over_training_gmm40"]
    panels = [ax for ax in gmm40.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == ["flowMC-EBM", "ULA-EBM", "Oracle (true energy)"]
    assert all(any(isinstance(c, QuadMesh) for c in ax.collections) for ax in panels)
    assert gmm40.get_suptitle().endswith("\nnot estimable: VERA")
    # four_modes: one line per mode, 4 different colours, the legend right of every panel
    four = drawn["weights_over_training_four_modes"]
    colours = {to_hex(line.get_color()) for line in four.axes[0].lines if line.get_ls() == "-"}
    assert len(colours) == 4
    assert len(four.legends) == 1 and not any(ax.get_legend() for ax in four.axes)


def _panel(fig: plt.Figure, title: str) -> plt.Axes:
    (ax,) = [ax for ax in fig.axes if ax.get_title() == title]
    return ax


def test_mode_weights_are_ratios_on_a_fitted_axis_with_n_e_marked(planted):
    fig = planted[1]["mode_weights"]
    ax = _panel(fig, "gmm40: EBM density")
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows == ["flowMC-EBM", "ULA-EBM", "VERA", "Oracle (true energy)"]
    (mark,) = [t for t in ax.texts if t.get_text() == "n/e"]
    assert mark.get_position()[1] == rows.index("VERA")
    low, high = ax.get_xlim()
    assert low <= 1 <= high and 1e-2 <= low and high <= 1e2
    # ULA-EBM put all its mass in mode `seed` (mean ratio 40/3 on modes 0-2, else 0): its modes 3
    # to 39 (ratio 0) are triangles on the left edge
    left = [line for line in ax.lines if line.get_marker() == "<"]
    assert len(left) >= 37 and all(line.get_xdata()[0] == low for line in left)
    # four_modes: the axis spans the ratios from flowMC-EBM's 0.95 to ULA-EBM's (1/3)/0.1 (well
    # under 2 decades, where a 0-1 weight axis would hold them); VERA's lost modes (ratio 0) are
    # triangles on the left edge
    ax = _panel(fig, "four_modes: EBM density")
    low, high = ax.get_xlim()
    assert low < 0.95 and 10 / 3 < high and np.log10(high / low) < 1
    assert "<" in {line.get_marker() for line in ax.lines}


def test_sensitivity_clips_an_outlier_to_a_labelled_edge_triangle(planted):
    fig = planted[1]["sensitivity_lr"]
    ax = fig.axes[0]  # four_modes, held-out log-likelihood
    assert ax.get_title() == "four_modes" and ax.get_yscale() == "linear"
    low, high = ax.get_ylim()
    assert high < 0  # the bulk: every other centre is about −2 to −4.2
    (up,) = [line for line in ax.lines if line.get_marker() == "^"]
    assert up.get_ydata()[0] == high
    assert format_number(OUTLIER) in [t.get_text() for t in ax.texts]


def test_error_vs_cost_draws_the_oracle_as_a_reference_and_sets_stacked_methods_apart(planted):
    frames, drawn = planted
    ax = drawn["error_vs_cost"].axes[0]  # four_modes, gradient evaluations: 1000 for every run
    oracle = frames.runs[(frames.runs.method == "oracle")
                         & (frames.runs.target == "four_modes")].mw_tv_model.median()  # fmt: skip
    low, _ = ax.get_ylim()
    assert oracle < low  # the oracle's TV (~1e-5) does not set the range
    assert [t.get_text() for t in ax.texts] == [f"Oracle (true energy): {format_number(oracle)} ↓"]
    centres = {line.get_xdata()[0] for line in ax.lines if line.get_markersize() == 8}
    assert len(centres) == 3  # three trained methods at one cost, side by side


def test_densities_have_one_colour_scale_per_target(planted):
    frames, drawn = planted
    fig = drawn["densities"]
    for target in ("four_modes", "gmm40"):
        top = frames.truth_density[frames.truth_density.target == target].log_p.max()
        (ax,) = [ax for ax in fig.axes if ax.get_title() == f"{target}: target"]
        assert ax.images[0].get_clim() == pytest.approx((top - 10, top))
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 2


def test_a_fitted_axis_leaves_out_what_lies_beyond_three_iqrs():
    # 1..4 and 100: quartiles 2 and 4, reach 3 × 2 = 6: 100 is out; 1..4 padded by 6 % of 3
    assert figures._bulk([1, 2, 3, 4, 100], log=False) == pytest.approx((0.82, 4.18))
    # log: the logs −2..1 and 9; quartiles −1 and 1, reach 6: 1e9 is out; 0 is left out
    low, high = figures._bulk([0.0, 0.01, 0.1, 1, 10, 1e9], log=True)
    assert (np.log10(low), np.log10(high)) == pytest.approx((-2.18, 1.18))
    # `include` widens the range; identical values get a range of their own
    assert figures._bulk([1.0, 1.0], log=True, include=(0.8, 1.25)) == pytest.approx(
        (0.8 * 10**-0.0116, 1.25 * 10**0.0116), rel=1e-3
    )
    assert figures._bulk([-2.0, -2.0], log=False) == pytest.approx((-2.2, -1.8))


def test_methods_at_one_cost_are_set_apart_and_others_kept():
    factor = figures._dodged(pd.Series({"a": 100.0, "b": 100.5, "c": 200.0, "d": np.nan}))
    step = figures._DODGE_COST
    assert factor[["a", "b", "c"]].tolist() == pytest.approx(
        [10 ** -(step / 2), 10 ** (step / 2), 1]
    )
    assert np.isnan(factor["d"])


@pytest.mark.parametrize("limits", [(0.766, 1.73), (0.45, 2.5), (3700, 13000), (1e-3, 10),
                                    (1.1, 1.4), (0.02, 0.7)])  # fmt: skip
def test_a_log_axis_gets_three_tick_labels_whatever_its_span(limits):
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(limits)
    figures._log_ticks(ax.xaxis, pd.Series(limits))
    fig.canvas.draw()
    assert _labelled(ax.xaxis) >= 3
    plt.close(fig)


def test_the_method_colours_are_far_apart():
    """The built-in methods' colours differ by ≥ 0.2 in RGB (husl's 12 came within 0.11: PCD
    beside PT-EBM, the oracle beside PCD); each method keeps its colour and marker alone."""
    load_methods()
    builtin = [m for m, spec in METHODS.items() if spec.fit.__module__.startswith("baselines.")]
    assert len(builtin) == 12
    colours = palette.method_palette(builtin, METHODS)
    distance = min(np.linalg.norm(np.subtract(colours[a], colours[b]))
                   for a, b in itertools.combinations(colours, 2))  # fmt: skip
    assert distance >= 0.2
    markers = palette.method_markers(builtin, METHODS)
    assert len(set(markers.values())) == len(builtin)
    assert palette.method_markers(["vera"], METHODS) == {"vera": markers["vera"]}
