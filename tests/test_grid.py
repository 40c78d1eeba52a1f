"""The difficulty grid's cells, breaking points and heatmaps on hand-made runs with known medians
(benchmark/reporting/grid.py, docs/SCIENCE.md §4.3)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from test_figures import layout_faults

from benchmark.reporting import grid
from benchmark.reporting.grid import (
    BREAK_LEVEL,
    breaking_points,
    grid_cells,
    grid_targets,
    heatmaps,
)

SUITE_TARGETS = [
    {"name": f"b_d{d}_s{s}", "kind": "bimodal", "params": {"dim": d, "separation": float(s)}}
    for d in (2, 16)
    for s in (2, 8)
] + [{"name": "four_modes", "kind": "four_modes", "params": {}}]

#: Per target: the three seeds' (model TV, sampler-on-truth TV); NaN: not estimable.
VALUES = {
    "b_d2_s2": [(0.01, 0.001), (0.02, 0.002), (0.03, 0.003)],
    "b_d2_s8": [(0.04, 0.2), (0.06, 0.3), (0.07, 0.1)],  # model median 0.06 > 0.05: breaks
    "b_d16_s2": [(np.nan, 0.01), (np.nan, 0.01), (0.01, 0.01)],  # model: 1 of 3 seeds, n/e
    "b_d16_s8": [(0.02, 0.5), (0.02, 0.5), (0.02, 0.5)],
}


def runs() -> pd.DataFrame:
    rows = [
        {"target": target, "method": "m", "variant": "m", "seed": seed, "status": "ok",
         "mw_tv_model": model, "mw_tv_sampler_true": sampler,
         "converged": float(target != "b_d2_s8" or seed == 0)}
        for target, seeds in VALUES.items()
        for seed, (model, sampler) in enumerate(seeds)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_grid_is_the_bimodal_targets_over_two_axes_and_a_point_is_none():
    targets = grid_targets(SUITE_TARGETS)
    assert sorted(targets.target) == sorted(VALUES)
    assert set(targets.dim) == {2, 16} and set(targets.separation) == {2.0, 8.0}
    assert grid_targets([t for t in SUITE_TARGETS if t["params"].get("dim") == 2]).empty


def test_cells_are_medians_over_seeds_n_e_below_half_and_break_above_the_level():
    cells = grid_cells(runs(), grid_targets(SUITE_TARGETS)).set_index(
        ["track", "dim", "separation"]
    )
    model, sampler = "mw_tv_model", "mw_tv_sampler_true"
    assert cells.loc[(model, 2, 2.0)].value == pytest.approx(0.02)
    assert cells.loc[(model, 2, 8.0)].value == pytest.approx(0.06)
    assert 0.06 > BREAK_LEVEL
    assert cells.loc[(model, 2, 8.0)].breaks and not cells.loc[(model, 2, 2.0)].breaks
    assert math.isnan(cells.loc[(model, 16, 2.0)].value) and cells.loc[(model, 16, 2.0)].seeds == 1
    assert not cells.loc[(model, 16, 2.0)].breaks
    assert cells.loc[(sampler, 16, 8.0)].value == pytest.approx(0.5)
    assert cells.loc[(sampler, 2, 8.0)].breaks and cells.loc[(sampler, 16, 8.0)].breaks
    # b_d2_s8: 1 of 3 seeds settled, most did not; only the EBM's track is marked
    assert cells.loc[(model, 2, 8.0)].unconverged and not cells.loc[(model, 2, 2.0)].unconverged
    assert not cells.loc[(sampler, 2, 8.0)].unconverged


def test_a_failed_run_counts_as_a_seed_without_a_value():
    frame = runs()
    frame.loc[(frame.target == "b_d2_s2") & (frame.seed < 2), "status"] = "failed"
    cells = grid_cells(frame, grid_targets(SUITE_TARGETS))
    cell = cells[(cells.track == "mw_tv_model") & (cells.dim == 2) & (cells.separation == 2.0)]
    assert math.isnan(cell.value.item()) and cell.runs.item() == 3


def test_breaking_points_give_the_first_separation_that_breaks_or_is_not_estimable():
    cells = grid_cells(runs(), grid_targets(SUITE_TARGETS))
    table = breaking_points(cells, {"m": "Method M"})
    model = table.loc[("Method M", "its EBM's weights (training)")]
    sampler = table.loc[("Method M", "its sampler on the true energy")]
    assert model.to_dict() == {"d = 2": "s ≥ 8", "d = 16": "s ≥ 2 (n/e)"}
    assert sampler.to_dict() == {"d = 2": "s ≥ 8", "d = 16": "s ≥ 8"}


def test_the_heatmaps_are_saved_as_png_and_pdf_with_a_clean_layout(tmp_path, monkeypatch):
    save = grid.save_figure

    def checked(fig, out, stem):
        assert layout_faults(fig) == [], stem
        return save(fig, out, stem)

    monkeypatch.setattr(grid, "save_figure", checked)
    cells = grid_cells(runs(), grid_targets(SUITE_TARGETS))
    name = heatmaps(cells, {"m": "Method M"}, ["m"], tmp_path)
    assert name == "difficulty_grid.png"
    assert (tmp_path / name).stat().st_size > 0 and (tmp_path / "difficulty_grid.pdf").exists()
