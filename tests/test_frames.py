"""The long frames of the report, on hand-written records with known contents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic_records import DENSITY_GRID, failed_record, ok_record, suite_json

from benchmark.reporting.frames import (
    RESULT_COLUMNS,
    build_frames,
    checkpoints_frame,
    density_frame,
    methods_frame,
    modes_frame,
    rhat_frame,
    runs_frame,
    truth_density_frame,
    variants_frame,
)
from benchmark.targets import make_target


def test_runs_frame_keeps_every_run_and_the_reasons_a_metric_is_not_estimable():
    records = [
        ok_record("hd16", "a", 0, metrics={"mass_far_model": 0.01}),
        ok_record("hd16", "a", 1, not_estimable={"mass_far_model": "IS ESS 3 < 100"}),
        failed_record("hd16", "a", 2),
        {"target": "hd16", "method": "a", "variant": "a", "seed": 3, "status": "missing",
         "error": "no record"},
    ]  # fmt: skip
    frame = runs_frame(records)
    assert list(frame.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert frame.columns[-1] == "error"
    assert list(frame.status) == ["ok", "ok", "failed", "missing"]
    assert frame.mass_far_model.iloc[0] == 0.01 and np.isnan(frame.mass_far_model.iloc[1])
    reasons = frame.mass_far_model_ne
    assert reasons.iloc[1] == "IS ESS 3 < 100"
    assert reasons.drop(index=1).isna().all()
    assert list(frame.columns).index("mass_far_model_ne") > list(frame.columns).index("n_chains")


def test_checkpoints_frame_has_each_checkpoint_source_and_mode():
    model = [0.7, 0.1, 0.1, 0.1]
    frame = checkpoints_frame([ok_record("four_modes", "a", 0, model_weights=model)])
    assert len(frame) == 2 * 2 * 4  # checkpoints × sources × modes
    last = frame[(frame.iteration == 20) & (frame.source == "negatives")]
    assert last.weight.tolist() == model
    first = frame[(frame.iteration == 10) & (frame.source == "negatives")]
    assert first.weight.tolist() == pytest.approx(first.weight_true.tolist())
    # standard errors where the record holds them (0.5.0's model weights), NaN where not
    assert frame.stderr.isna().all()
    record = ok_record("four_modes", "a", 0, model_weights=model)
    record["curves"]["checkpoints"][0]["model_stderr"] = [0.01, 0.02, 0.03, 0.04]
    frame = checkpoints_frame([record])
    first = frame[(frame.iteration == 10) & (frame.source == "model")]
    assert first.stderr.tolist() == [0.01, 0.02, 0.03, 0.04]
    assert frame[frame.iteration == 20].stderr.isna().all()


def test_rhat_frame_spreads_the_gradient_evaluations_over_the_draws():
    record = ok_record("four_modes", "a", 0)  # 64 gradient evaluations, 8 chains, 8 draws
    frame = rhat_frame([record])
    assert frame.grad_evals.tolist() == [4.0, 8.0]  # 64 / 8 chains = 8 per chain, pro rata
    assert frame.cost.isna().all()
    record["curves"]["rhat_time"]["cost"] = [10.0, 20.0]
    assert rhat_frame([record]).cost.tolist() == [10.0, 20.0]


def test_density_frame_lays_the_grid_out_over_the_targets_box_rows_by_y():
    record = ok_record("four_modes", "a", 0)
    record["curves"]["density"] = [[float(i)] * DENSITY_GRID for i in range(DENSITY_GRID)]
    frame = density_frame([record, ok_record("hd16", "a", 0)])  # no density in 16-D
    lo, hi = make_target("four_modes").bounds
    assert len(frame) == DENSITY_GRID**2
    assert frame.x.min() == pytest.approx(lo) and frame.y.max() == pytest.approx(hi)
    rows = np.round((frame.y - lo) / (hi - lo) * (DENSITY_GRID - 1))
    assert np.array_equal(frame.log_p.to_numpy(), rows.to_numpy())


def test_truth_density_is_the_normalised_target_density():
    targets = suite_json(["four_modes", "hd16"], ["a"], [0])["targets"]
    frame = truth_density_frame(targets, resolution=200)
    assert set(frame.target) == {"four_modes"}
    lo, hi = make_target("four_modes").bounds
    cell = ((hi - lo) / 199) ** 2
    # Riemann sum of a density whose mass lies well inside the box: 1 up to the grid's error
    assert float(np.exp(frame.log_p).sum() * cell) == pytest.approx(1.0, abs=0.02)
    point = frame.iloc[12345]
    expected = make_target("four_modes").log_prob(torch.tensor([[point.x, point.y]]))
    assert point.log_p == pytest.approx(float(expected), abs=1e-4)


def test_modes_frame_places_means_and_radii():
    frame = modes_frame(suite_json(["four_modes", "rings"], ["a"], [0])["targets"])
    four = frame[frame.target == "four_modes"]
    assert four.x.tolist() == [-3.0, -1.0, 1.0, 3.0] and (four.y == 0).all()
    assert frame[frame.target == "rings"].radius.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_variants_keep_the_suite_order_and_a_display_name_for_every_variant():
    records = [
        ok_record("hd16", "known", 0),
        {"target": "hd16", "method": "lost", "variant": "lost", "seed": 0, "status": "missing",
         "display": "lost"},
        ok_record("hd16", "other", 0, swept={"lr": 0.1}),
    ]  # fmt: skip
    variants = {"other[lr=0.1]": "other", "known": "known", "lost": "lost", "twin": "twin"}
    frame = variants_frame(variants, records, {"known": "Twin", "twin": "Twin"}, {"known": "K"})
    assert frame.variant.tolist() == ["other[lr=0.1]", "known", "lost", "twin"]
    assert frame.method.tolist() == ["other", "known", "lost", "twin"]
    assert frame.display.tolist() == ["OTHER", "Twin (known)", "lost", "Twin (twin)"]
    # the registered method takes the registry's first colour and marker, the others the next
    assert frame.marker.tolist() == ["s", "o", "^", "D"]
    assert frame.colour.iloc[1] != frame.colour.iloc[0]


def test_methods_are_shown_by_their_registered_display_name_and_colour():
    frame = methods_frame(["b", "a", "c"], {"a": "A", "b": "B"})
    assert frame.display.tolist() == ["B", "A", "c"]
    assert frame.marker.tolist() == ["s", "o", "^"]  # the registry's order, then the others


def test_build_frames_with_no_finished_run_gives_empty_frames():
    suite = suite_json(["four_modes"], ["a"], [0, 1])
    frames = build_frames([failed_record("four_modes", "a", s) for s in (0, 1)], suite, {})
    assert len(frames.runs) == 2
    for frame in (frames.weights, frames.checkpoints, frames.rhat, frames.density):
        assert frame.empty
    assert len(frames.modes) == 4 and not frames.truth_density.empty
