"""The cost curves: accuracy at every checkpoint against cumulative training cost, from planted
records whose checkpoint errors and costs are chosen (a power law in the cost per method)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_records import ok_record, suite_json, true_weights

from benchmark.reporting.figures import cost_curves, make_figures
from benchmark.reporting.frames import build_frames, costs_frame, variants_frame

TARGETS = ["four_modes", "eight_gaussians"]
SEEDS = [0, 1, 2]
ITERATIONS = [20, 40, 60, 80, 100]
#: Per method: gradient evaluations and seconds per iteration, and the error at 10⁴ gradients.
PLANTED = {
    "flowmc_ebm": (3000, 0.05, 0.1), "ula_ebm": (8000, 0.02, 0.3), "nt_ebm": (1000, 0.2, 0.2),
}  # fmt: skip
ORACLE_TV = 1e-3


def planted_tv(method: str, seed: int, iteration: int) -> float:
    """TV ∝ (gradient evaluations)^−½, seeds apart by 20 %; the oracle's constant."""
    if method == "oracle":
        return ORACLE_TV
    per_iteration, _, at_1e4 = PLANTED[method]
    return at_1e4 * (per_iteration * iteration / 1e4) ** -0.5 * (1 + 0.2 * seed)


def planted_record(target: str, method: str, seed: int) -> dict:
    """An ok record whose checkpoints hold the planted TV (mode 0 too heavy by it, mode 1 too
    light), log-density error 10 × TV², and costs; flow passes for the flow methods."""
    per_iteration, seconds, _ = PLANTED.get(method, (5000, 0.1, 0.0))
    record = ok_record(target, method, seed)
    true = true_weights(target)
    rows = []
    for iteration in ITERATIONS:
        tv = planted_tv(method, seed, iteration)
        model = [true[0] + tv, true[1] - tv, *true[2:]]
        rows.append({
            "iteration": iteration, "model": model, "negatives": model,
            "logdens_err": 10 * tv**2, "grad_evals": float(per_iteration * iteration),
            "energy_evals": float(2 * per_iteration * iteration),
            "flow_passes": float(iteration * 64 if method != "ula_ebm" else 0),
            "seconds": seconds * iteration * (1 + 0.1 * seed),
        })  # fmt: skip
    record["curves"]["checkpoints"] = rows
    return record


@pytest.fixture(scope="module")
def records() -> list[dict]:
    methods = [*PLANTED, "oracle"]
    return [planted_record(t, m, s) for t in TARGETS for m in methods for s in SEEDS]


def variants_of(names: list[str]) -> pd.DataFrame:
    """The variants frame of `names`, each a method of its own, displayed by its name."""
    return variants_frame({n: n for n in names}, [], {}, {})


def test_costs_frame_holds_each_checkpoints_error_and_cost(records):
    frame = costs_frame(records)
    assert len(frame) == len(TARGETS) * 4 * len(SEEDS) * len(ITERATIONS)
    expected = [planted_tv(r.method, r.seed, r.iteration) for r in frame.itertuples()]
    # ½ Σ|ŵ − w| of weights off by ±TV in two modes, in float64: TV to rounding
    assert frame.mw_tv_model.to_numpy() == pytest.approx(expected, rel=1e-9)
    assert frame.logdens_err.to_numpy() == pytest.approx(10 * np.square(expected), rel=1e-9)
    ula = frame[(frame.method == "ula_ebm") & (frame.seed == 0) & (frame.target == "four_modes")]
    assert ula.grad_evals.tolist() == [8000.0 * i for i in ITERATIONS]
    assert (ula.flow_passes == 0).all() and ula.seconds.tolist() == pytest.approx(
        [0.02 * i for i in ITERATIONS]
    )


def test_a_record_without_checkpoint_costs_gives_no_rows_and_no_figure(tmp_path):
    old = planted_record("four_modes", "ula_ebm", 0)
    for row in old["curves"]["checkpoints"]:  # as the records before checkpoints held costs
        for key in ("grad_evals", "energy_evals", "flow_passes"):
            del row[key]
    assert costs_frame([old]).empty
    assert cost_curves(costs_frame([old]), variants_of(["ula_ebm"]), tmp_path) == []
    # a not-estimable checkpoint (null weights and error) stays a row, its errors NaN
    record = planted_record("four_modes", "ula_ebm", 0)
    record["curves"]["checkpoints"][0] |= {"model": [None] * 4, "logdens_err": None}
    frame = costs_frame([record])
    assert frame.mw_tv_model.isna().tolist() == [True, False, False, False, False]
    assert frame.logdens_err.isna().tolist() == [True, False, False, False, False]


def test_cost_curves_render_for_every_target_and_in_the_report(tmp_path, records):
    frame = costs_frame(records)
    names = [*PLANTED, "oracle"]
    figures = cost_curves(frame, variants_of(names), tmp_path)
    assert [name for name, _ in figures] == ["cost_curves.png"]
    assert (tmp_path / "cost_curves.png").stat().st_size > 20_000
    assert (tmp_path / "cost_curves.pdf").read_bytes().startswith(b"%PDF")
    assert "equal cost" in figures[0][1] and "oracle" in figures[0][1]
    suite = suite_json(TARGETS, names, SEEDS)
    frames = build_frames(records, suite, {})
    made = [name for name, _ in make_figures(frames, tmp_path / "all")]
    assert "cost_curves.png" in made
