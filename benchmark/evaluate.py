"""Every metric of SPEC §4 for one trained method, as functions of a `FittedModel` and the target.

Methods never compute metrics: the runner calls `evaluate` after `fit`. Mode weights are judged
three ways (the EBM's density vs p★, the negatives vs the EBM, the initialisation vs the EBM);
mixing by fresh chains of the method's own sampler, started from its `start` positions.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from sklearn.exceptions import ConvergenceWarning
from torch import Tensor

from .energy import TiltedEBM
from .method import DivergenceError, FittedModel
from .metrics import (
    c2st,
    ess,
    grid_weights,
    importance_weights,
    log_density_error,
    mode_switch_rate,
    model_weights,
    rhat,
    sample_weights,
    weight_max_error,
    weight_mse,
    weight_tv,
)
from .samplers import Info, sample_chains
from .targets import Target

__all__ = ["EvalSettings", "Evaluation", "evaluate", "weight_errors", "density_grid"]

_PREFIXES = 8  # R-hat vs wall-clock: the draws are run in this many timed segments
_DENSITY_GRID = 128  # resolution of the stored 2-D density (for the figures)
_CHECKPOINT_GRID = 128  # cheaper quadrature for the checkpoints' weights
_CHECKPOINT_IS = 2**13  # cheaper importance sampling for the checkpoints' weights


@dataclass(frozen=True)
class EvalSettings:
    """How much work the diagnostics do: chains × draws of the method's sampler, the number of
    exact target draws (log-density error) and the per-side sample size of the C2ST."""

    n_chains: int = 128
    n_draws: int = 200
    n_exact: int = 10_000
    n_c2st: int = 1000
    c2st_max_dim: int = 64


@dataclass
class Evaluation:
    """Scalar metrics (NaN where undefined), per-mode weights and curves, all JSON-ready."""

    metrics: dict[str, float]
    weights: dict[str, list[float]]
    curves: dict[str, Any]


def weight_errors(estimate: Tensor, reference: Tensor, suffix: str) -> dict[str, float]:
    """MSE, TV and max error of two weight vectors (n_modes,), keyed `mw_<kind>_<suffix>`."""
    return {
        f"mw_mse_{suffix}": weight_mse(estimate, reference),
        f"mw_tv_{suffix}": weight_tv(estimate, reference),
        f"mw_max_{suffix}": weight_max_error(estimate, reference),
    }


@torch.no_grad()
def density_grid(ebm: TiltedEBM, target: Target, log_z: float, resolution: int) -> list[list]:
    """The normalised log density log p_θ on a resolution² grid over the target's box, rows = y."""
    lo, hi = target.bounds
    device = ebm.base_std.device
    axis = torch.linspace(lo, hi, resolution, device=device)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)
    log_p = ebm.log_unnormalised(points) - log_z
    return [[round(v, 3) for v in row] for row in log_p.view(resolution, resolution).tolist()]


def _modes(x: Tensor, target: Target) -> Tensor:
    return sample_weights(target.assign_modes(x.detach().cpu()), target.n_modes)


def _checkpoint_curves(
    fitted: FittedModel, target: Target, generator: torch.Generator
) -> list[dict[str, Any]]:
    """Each checkpoint's model weights (a cheaper estimate than the final one) and negatives'."""
    ebm = copy.deepcopy(fitted.ebm)
    rows = []
    for checkpoint in fitted.checkpoints:
        ebm.energy.load_state_dict(checkpoint.energy_state)
        if target.dim == 2:
            found = grid_weights(
                ebm.log_unnormalised, target, _CHECKPOINT_GRID, device=generator.device
            )
        else:
            found = importance_weights(ebm.log_unnormalised, target, generator, _CHECKPOINT_IS)
        rows.append(
            {
                "iteration": checkpoint.iteration,
                "model": found.weights.tolist(),
                "negatives": _modes(checkpoint.negatives, target).tolist(),
            }
        )
    return rows


def _mean_acceptance(infos: list[Info], kind: str) -> float:
    values = [float(info.acceptance[kind].mean()) for info in infos if kind in info.acceptance]
    return sum(values) / len(values) if values else math.nan


def _mixing(
    fitted: FittedModel, target: Target, settings: EvalSettings, generator: torch.Generator
) -> tuple[dict[str, float], dict[str, Any], Tensor]:
    """Fresh chains of the method's sampler: R-hat, ESS, switches, acceptance, cost, and R-hat on
    growing prefixes against wall-clock. Returns metrics, the R-hat curve, draws (c, n, d)."""
    sampler, counter = fitted.sampler, fitted.counter
    start = fitted.start[: settings.n_chains]
    chains = start.shape[0]
    energy0, grad0 = counter.energy, counter.grad
    segments = [
        settings.n_draws * (k + 1) // _PREFIXES - settings.n_draws * k // _PREFIXES
        for k in range(_PREFIXES)
    ]
    draws, infos, seconds = [], [], []
    clock = time.perf_counter()
    with torch.no_grad():
        state = sampler.init(start)
        for length in segments:
            state, block, block_infos = sample_chains(sampler, state, length, generator)
            draws.append(block)
            infos += block_infos
            seconds.append(time.perf_counter() - clock)
    x = torch.cat(draws, dim=1).cpu()
    sample_seconds = seconds[-1]
    grad_evals, energy_evals = counter.grad - grad0, counter.energy - energy0
    labels = target.assign_modes(x.reshape(-1, target.dim)).view(chains, -1)
    lengths = torch.tensor(segments).cumsum(0).tolist()
    with warnings.catch_warnings():  # "more chains than draws": the layout is checked by rhat
        warnings.simplefilter("ignore", UserWarning)
        curve = {
            "draws": lengths,
            "seconds": seconds,
            "rhat": [rhat(x[:, :n], chains=chains) if n >= 4 else math.nan for n in lengths],
        }
        ess_bulk, ess_tail = ess(x, chains=chains), ess(x, chains=chains, kind="tail")
    metrics = {
        "rhat_max": curve["rhat"][-1],
        "ess_bulk_min": ess_bulk,
        "ess_tail_min": ess_tail,
        "ess_per_second": ess_bulk / sample_seconds,
        "ess_per_grad": ess_bulk / grad_evals if grad_evals else math.nan,
        "mode_switch_rate": mode_switch_rate(labels, chains=chains),
        "accept_local": _mean_acceptance(infos, "local"),
        "accept_global": _mean_acceptance(infos, "global"),
        "sample_seconds": sample_seconds,
        "sample_grad_evals": float(grad_evals),
        "sample_energy_evals": float(energy_evals),
        "n_chains": float(chains),
    }
    return metrics, curve, x


def evaluate(
    fitted: FittedModel, target: Target, settings: EvalSettings, generator: torch.Generator
) -> Evaluation:
    """All metrics of one fitted method; `generator` (on the EBM's device) drives every draw."""
    ebm = fitted.ebm
    train_grad, train_energy = fitted.counter.grad, fitted.counter.energy
    truth = target.region_weights()
    found = model_weights(ebm.log_unnormalised, target, generator)
    if not (math.isfinite(found.log_z) and bool(torch.isfinite(found.weights).all())):
        raise DivergenceError(f"non-finite density after training (log Z = {found.log_z})")
    w_model, w_true = found.weights.cpu(), truth.weights.cpu()
    w_neg, w_init = _modes(fitted.negatives, target), _modes(fitted.initial, target)
    metrics: dict[str, float] = {
        **weight_errors(w_model, w_true, "model"),
        **weight_errors(w_neg, w_model, "negatives"),
        **weight_errors(w_init, w_model, "init"),
        "is_ess": math.nan if found.ess is None else found.ess,
        "log_z": found.log_z,
        "grad_evals": float(train_grad),
        "energy_evals": float(train_energy),
    }
    exact = target.sample(settings.n_exact, generator)
    metrics["logdens_err"] = log_density_error(ebm.log_unnormalised, found.log_z, target, exact)
    mixing, rhat_curve, draws = _mixing(fitted, target, settings, generator)
    metrics.update(mixing)
    flat = draws.reshape(-1, target.dim)
    pick = torch.randperm(len(flat), generator=torch.Generator().manual_seed(0))
    n = min(settings.n_c2st, len(flat), len(exact))
    metrics["c2st"] = math.nan
    if target.dim <= settings.c2st_max_dim:
        with warnings.catch_warnings():  # the classifier often stops at max_iter, as in sbibm
            warnings.simplefilter("ignore", ConvergenceWarning)
            metrics["c2st"] = c2st(flat[pick[:n]], exact[:n].cpu())
    checkpoints = _checkpoint_curves(fitted, target, generator)
    metrics["mw_model_spread"] = math.nan
    if checkpoints:  # spread of the model weights over the last 3 checkpoints (SPEC §5)
        last = torch.tensor([row["model"] for row in checkpoints[-3:]])
        metrics["mw_model_spread"] = float((last.max(0).values - last.min(0).values).max())
    curves: dict[str, Any] = {"checkpoints": checkpoints, "rhat_time": rhat_curve}
    if target.dim == 2:
        curves["density"] = density_grid(ebm, target, found.log_z, _DENSITY_GRID)
    weights = {
        "true": w_true.tolist(),
        "model": w_model.tolist(),
        "model_stderr": found.stderr.tolist(),
        "negatives": w_neg.tolist(),
        "initial": w_init.tolist(),
        "sampler": _modes(flat, target).tolist(),
    }
    return Evaluation(metrics, weights, curves)
