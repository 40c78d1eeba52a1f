"""Run records written by hand (no training), shaped as the runner writes them, for the report's
tests: every number in them is chosen, so the tables and frames have known answers."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark import __version__
from benchmark.execution.store import run_id, write_json
from benchmark.suite.variants import variant_name
from benchmark.targets import make_target

DENSITY_GRID = 16  # small, the figures only need a grid

#: The suite settings of every synthetic suite and record.
SETTINGS = {
    "iterations": 20, "plugins": [], "n_data": 100, "n_chains": 8, "sample_cost": 40,
    "warmup_fraction": 0.25, "n_c2st": 10, "c2st_max_dim": 0, "energy_hidden": 0,
    "energy_depth": 3,
}  # fmt: skip


def suite_json(
    targets: list[str],
    methods: list[str],
    seeds: list[int],
    grids: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A suite.json content: preset targets by name, every method with no hyperparameters, or
    one variant per point of `grids[method]` (the swept values at each point)."""
    suite = {"name": "synthetic", "seeds": seeds, "methods": methods, **SETTINGS}
    return {
        "suite": suite,
        "targets": [{"name": t, "kind": t, "params": {}} for t in targets],
        "variants": {
            t: [
                {"name": variant_name(m, point), "method": m, "swept": point, "params": point}
                for m in methods
                for point in (grids or {}).get(m, [{}])
            ]
            for t in targets
        },
    }


@functools.cache
def true_weights(target: str) -> list[float]:
    """The preset's region masses (computed once: Monte Carlo in high dimension)."""
    return make_target(target).region_weights().weights.tolist()


def _header(
    target: str, method: str, seed: int, swept: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What every record starts with: a method at a point `swept` of its grid (none: the method
    is its own variant)."""
    variant = variant_name(method, swept or {})
    return {
        "run_id": run_id(target, variant, seed),
        "target": target,
        "method": method,
        "variant": variant,
        "swept": swept or {},
        "display": method.upper(),
        "seed": seed,
        "config": {
            "suite": SETTINGS,
            "target": {"name": target, "kind": target, "params": {}},
            "method": swept or {},
        },
        "versions": {"benchmark": __version__, "torch": "2", "numpy": "2", "python": "3"},
    }


def ok_record(
    target: str,
    method: str,
    seed: int,
    metrics: dict[str, float | None] | None = None,
    model_weights: list[float] | None = None,
    not_estimable: dict[str, str] | None = None,
    swept: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A finished run (of the variant at `swept`): the EBM's weights `model_weights` (default: the
    truth), two checkpoints (with half and all of the training cost), an R-hat curve over 2
    prefixes, and for a 2-D target the true log density as the learned one."""
    built = make_target(target)
    true = true_weights(target)
    model = model_weights or true
    cost = {"energy_evals": 500.0, "flow_passes": 0.0}
    curves: dict[str, Any] = {
        "checkpoints": [
            {"iteration": 10, "model": model, "negatives": true, "seconds": 1.0,
             "grad_evals": 500.0, **cost},
            {"iteration": 20, "model": model, "negatives": model, "seconds": 2.0,
             "grad_evals": 1000.0, **{k: 2 * v for k, v in cost.items()}},
        ],
        "rhat_time": {"draws": [4, 8], "seconds": [0.1, 0.2], "rhat": [1.5, 1.05]},
    }
    if built.dim == 2:
        axis = torch.linspace(*built.bounds, DENSITY_GRID)
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        log_p = built.log_prob(torch.stack([x.reshape(-1), y.reshape(-1)], -1))
        curves["density"] = log_p.view(DENSITY_GRID, DENSITY_GRID).tolist()
    tv = 0.5 * sum(abs(a - b) for a, b in zip(model, true, strict=True))
    record = {
        **_header(target, method, seed, swept),
        "status": "ok",
        "error": None,
        "dim": built.dim,
        "metrics": {
            "mw_tv_model": tv,
            "mw_mse_model": float(np.mean((np.array(model) - np.array(true)) ** 2)),
            "train_seconds": 1.0 + seed,
            "grad_evals": 1000.0,
            "sample_grad_evals": 64.0,
            "n_chains": 8.0,
            "rhat_max": 1.05,
            **(metrics or {}),
        },
        "weights": {"true": true, "model": model, "negatives": model},
        "curves": curves,
    }
    if not_estimable:
        record["not_estimable"] = not_estimable
        record["metrics"].update(dict.fromkeys(not_estimable))
    return record


def failed_record(
    target: str, method: str, seed: int, swept: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        **_header(target, method, seed, swept),
        "status": "failed",
        "error": "diverged: non-finite energies at iteration 3",
    }


def write_suite(out: Path, suite: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    """DIR with suite.json and the records (as the runner writes them: strict JSON)."""
    (out / "runs").mkdir(parents=True)
    write_json(out / "suite.json", suite)
    for record in records:
        write_json(out / "runs" / f"{record['run_id']}.json", record)
    return out
