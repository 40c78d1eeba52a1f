"""Every metric of docs/SCIENCE.md §7 for one trained method, as functions of a `FittedModel` and
the target.

Methods never compute metrics: the runner calls `evaluate` after `fit`. Mode weights are judged
three ways (the EBM's density vs p★, the negatives vs the EBM, the initialisation vs the EBM), the
EBM's over the whole space; mixing by fresh chains of the method's own sampler, started from its
`start` positions and run for the same cost per chain whatever one step of it costs
(`EvalCounter.cost`: an energy evaluation 1 unit, a gradient evaluation 2), a warm-up discarded.

Where the EBM's weights cannot be trusted (importance-sampling ESS below max(100, 1 % of the
draws) or Pareto k̂ above 0.7, a quadrature box that could not hold the mass or whose error
estimate stayed above its tolerance, an annealed estimate of log Z above the first beyond their
combined error, or a held-out log-likelihood above the truth's own), every metric that depends
on them (`MODEL_METRICS`) is NaN and `Evaluation.not_estimable` says why; so are the chains'
R-hat, ESS and switch rate (`MIXING_METRICS`) when they made fewer than `MIN_DIAGNOSTIC_DRAWS`
draws per chain after warm-up.

With `SuiteSettings.sampler_track`, the same sampler also runs on the true energy (the EBM's
energy swapped for `TrueEnergy`, so the tilted EBM is p★), from the same start and for the same
cost per chain: its draws' weights against p★'s are the sampler's own error, apart from the
training's (`TRACK_METRICS`, docs/SCIENCE.md §7.13). Which metric is which: its `kind` in
`benchmark/metrics/columns.py`, where every metric computed here has its row.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..metrics import (
    FLOOR_PAIRS,
    MIN_DIAGNOSTIC_DRAWS,
    MODE_CONFIDENCE,
    SAMPLE_DRAWS,
    SETTLED_CHECKPOINTS,
    DensityWeights,
    above_truth,
    annealed_log_z,
    c2st,
    convergence,
    defensive_proposal,
    disagreement,
    draw_importance,
    erasures,
    ess,
    far_fraction,
    grid_weights,
    held_out,
    importance_weights,
    log_density_error,
    min_ess,
    mode_switches,
    modes_found,
    rhat,
    sample_distances,
    sample_weights,
    weight_max_error,
    weight_mse,
    weight_mse_floor,
    weight_tv,
)
from ..metrics.columns import METRICS
from ..models.energy import TiltedEBM
from ..samplers import Info, run_for_cost
from ..suite.settings import SuiteSettings
from ..targets import Target, confident_component
from ..training.method import DivergenceError, FittedModel
from ..training.parts import TrueEnergy

__all__ = [
    "MODEL_METRICS",
    "MIXING_METRICS",
    "TRAINING_METRICS",
    "TRACK_METRICS",
    "Evaluation",
    "evaluate",
    "weight_errors",
    "density_grid",
]

_PREFIXES = 8  # R-hat vs cost and wall-clock: on this many growing prefixes of the draws
_MIN_DRAWS = 8  # production steps run even when one step costs more than the budget allows
_MAX_KEPT = 1000  # draws kept per chain for R-hat / ESS (evenly thinned beyond)
_IMPORTANCE = 2**16  # importance draws for the EBM's weights (above 2-D)
_FIT_POINTS = 2048  # sampler draws and negatives, each, that the proposal's Gaussians are fit to
_TILT_COVER = 6.0  # the 2-D quadrature box covers the tilt ρ to ±6σ on each axis
_DENSITY_GRID = 128  # resolution of the stored 2-D density (for the figures)
_GRID = (256, 2**21)  # 2-D quadrature: first grid's cells per axis, evaluations at most
_CHECKPOINT_GRID = (128, 2**19)  # cheaper quadrature for the checkpoints
_CHECKPOINT_PROBES = 2**14  # of the cover's points, those that probe the checkpoints' peaks
_AIS = (1024, 100)  # annealed importance sampling: particles, temperatures
_CHECKPOINT_IS = 2**13  # cheaper importance sampling for the checkpoints' weights

#: Metrics computed from the EBM's estimated weights or log Z (NaN when those are not estimable).
MODEL_METRICS = tuple(m.name for m in METRICS if m.kind == "model")

#: Metrics of the checkpoints' estimates over training (NaN when the last checkpoints' or the final
#: estimate is not estimable).
TRAINING_METRICS = tuple(m.name for m in METRICS if m.kind == "training")

#: Metrics of the diagnostic chains' draws (NaN below `MIN_DIAGNOSTIC_DRAWS` draws per chain).
MIXING_METRICS = tuple(m.name for m in METRICS if m.kind == "mixing")

#: Metrics of the sampler track: the method's sampler on the true energy (NaN without
#: `SuiteSettings.sampler_track`; R-hat and switch rate also below `MIN_DIAGNOSTIC_DRAWS` draws).
TRACK_METRICS = tuple(m.name for m in METRICS if m.kind == "track")


@dataclass
class Evaluation:
    """Scalar metrics (NaN where undefined or not estimable), per-mode weights and curves, all
    JSON-ready, and why each not-estimable metric is NaN."""

    metrics: dict[str, float]
    weights: dict[str, list[float]]
    curves: dict[str, Any]
    not_estimable: dict[str, str] = field(default_factory=dict)


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


def _spaced(x: Tensor, n: int) -> Tensor:
    """At most n rows of x (m, d), evenly spaced."""
    return x[:: max(1, math.ceil(len(x) / n))]


Estimator = Callable[[Callable[[Tensor], Tensor], bool], DensityWeights]


def _estimator(
    fitted: FittedModel, target: Target, draws: Tensor, generator: torch.Generator
) -> Estimator:
    """`estimate(log_density, cheap)`: an EBM's weights over the whole space, from where the
    method says its mass may be — the sampler's draws (n, d), the negatives (final and at each
    checkpoint), the initial draws, the tilt ρ and the flow. 2-D: quadrature over a box that
    covers them (ρ to ±6σ); above: importance sampling from the defensive mixture, its draws made
    once (cheap, for the checkpoints: fewer draws; in 2-D a coarser grid and fewer probes,
    docs/SCIENCE.md §7.2)."""
    sigma = float(fitted.ebm.base_std)
    device = generator.device
    negatives = [fitted.negatives, *(c.negatives for c in fitted.checkpoints)]
    negatives = torch.cat([x.detach().cpu() for x in negatives])
    if target.dim == 2:
        tilt = _TILT_COVER * sigma * torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
        cover = torch.cat([draws, negatives, fitted.initial.detach().cpu(), tilt])

        def by_quadrature(log_density: Callable[[Tensor], Tensor], cheap: bool) -> DensityWeights:
            cells, budget = _CHECKPOINT_GRID if cheap else _GRID
            probes = _spaced(cover, _CHECKPOINT_PROBES) if cheap else cover
            return grid_weights(log_density, target, cover, cells, budget, device, probes=probes)

        return by_quadrature
    seen = torch.cat([_spaced(draws, _FIT_POINTS), _spaced(negatives, _FIT_POINTS)])
    proposal = defensive_proposal(target, sigma, seen, fitted.proposal, generator)
    full = draw_importance(proposal, target, _IMPORTANCE, generator)
    small = draw_importance(proposal, target, _CHECKPOINT_IS, generator)

    def by_importance(log_density: Callable[[Tensor], Tensor], cheap: bool) -> DensityWeights:
        return importance_weights(log_density, target, small if cheap else full)

    return by_importance


def _checkpoint_curves(
    fitted: FittedModel, target: Target, estimate: Estimator, exact: Tensor
) -> list[dict[str, Any]]:
    """Each checkpoint's model weights with their standard errors and its log-density error on
    the exact draws (n, d) (a cheaper estimate than the final one; NaN when not estimable, with
    the reason), its negatives' weights, and training's cost up to it: gradient and energy
    evaluations and flow passes (the runner adds the seconds)."""
    ebm = copy.deepcopy(fitted.ebm)
    rows = []
    for checkpoint in fitted.checkpoints:
        ebm.energy.load_state_dict(checkpoint.energy_state)
        found = estimate(ebm.log_unnormalised, True)
        fail = 1.0 if found.not_estimable is None else math.nan
        with torch.no_grad():
            error = log_density_error(ebm.log_unnormalised, found.log_z, target, exact)
        rows.append(
            {
                "iteration": checkpoint.iteration,
                "model": (found.weights.cpu() * fail).tolist(),
                "model_stderr": (found.stderr.cpu() * fail).tolist(),
                "logdens_err": error * fail,
                "not_estimable": found.not_estimable,
                "negatives": _modes(checkpoint.negatives, target).tolist(),
                "grad_evals": float(checkpoint.spent.grad),
                "energy_evals": float(checkpoint.spent.energy),
                "flow_passes": float(checkpoint.spent.flow),
            }
        )
    return rows


def _training_curve(
    checkpoints: list[dict[str, Any]], w_true: Tensor
) -> tuple[dict[str, float], dict[str, str]]:
    """From the checkpoints' estimates: the weights' spread over the last 3 (docs/SCIENCE.md §1.1),
    whether training converged and from which iteration on, erase-and-recreate events and the
    largest drop of a mode's weight (`TRAINING_METRICS`), and why any of them is not estimable."""
    metrics = {key: math.nan for key in TRAINING_METRICS}
    if not checkpoints:
        return metrics, {}
    last = checkpoints[-SETTLED_CHECKPOINTS:]
    failed = [
        f"checkpoint {r['iteration']}: {r['not_estimable']}" for r in last if r["not_estimable"]
    ]
    if failed:
        return metrics, {key: failed[-1] for key in TRAINING_METRICS}
    weights = torch.tensor([r["model"] for r in checkpoints])
    stderr = torch.tensor([r["model_stderr"] for r in checkpoints])
    logdens = torch.tensor([r["logdens_err"] for r in checkpoints])
    tail = weights[-SETTLED_CHECKPOINTS:]
    metrics["mw_model_spread"] = float((tail.max(0).values - tail.min(0).values).max())
    # convergence: the final stretch of estimable checkpoints; erasures: all estimable ones
    usable = [i for i, r in enumerate(checkpoints) if not r["not_estimable"]]
    first = max((i + 1 for i, r in enumerate(checkpoints) if r["not_estimable"]), default=0)
    erased = erasures(weights[usable], stderr[usable], w_true)
    metrics["mode_erasures"] = float(erased.events)
    metrics["mw_largest_drop"] = erased.largest_drop
    if len(checkpoints) < SETTLED_CHECKPOINTS:
        reason = f"{len(checkpoints)} checkpoints, fewer than {SETTLED_CHECKPOINTS}"
        return metrics, {"converged": reason, "converged_at": reason}
    settled = convergence(weights[first:], stderr[first:], logdens[first:])
    metrics["converged"] = float(settled.converged)
    if settled.settled_from is not None:
        metrics["converged_at"] = float(checkpoints[first + settled.settled_from]["iteration"])
    return metrics, {}


@dataclass
class _Chains:
    """What the diagnostic chains produced: kept draws (chains, kept, d), their production step
    numbers (kept,), the component each chain is confidently in at every production step
    (chains, steps; −1: none), per kept draw the cost
    per chain and the seconds since the start, and the mean acceptance of each kind of move."""

    draws: Tensor
    steps: list[int]
    modes: Tensor
    cost: list[float]
    seconds: list[float]
    acceptance: dict[str, float]


def _run_chains(
    fitted: FittedModel, target: Target, settings: SuiteSettings, generator: torch.Generator
) -> tuple[_Chains, dict[str, float]]:
    """Fresh chains of the method's sampler from its `start`, run until each has cost
    `sample_cost` units (the initialisation and `warmup_fraction` of them are warm-up), at least
    `_MIN_DRAWS` production steps; draws thinned to `_MAX_KEPT` per chain."""
    sampler, counter = fitted.sampler, fitted.counter
    start = fitted.start[: settings.n_chains]
    chains = start.shape[0]
    energy0, grad0, flow0, cost0 = counter.energy, counter.grad, counter.flow, counter.cost
    warmup = settings.warmup_fraction * settings.sample_cost
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def note(info: Info) -> None:
        for kind, accepted in info.acceptance.items():
            sums[kind] = sums.get(kind, 0.0) + float(accepted.float().mean())
            counts[kind] = counts.get(kind, 0) + 1

    clock = time.perf_counter()
    with torch.no_grad():
        state = sampler.init(start)
        left = warmup - (counter.cost - cost0) / chains
        for warm in run_for_cost(sampler, state, counter, left, generator, min_steps=0):
            state = warm[0]
        warmup_cost, warmup_seconds = (counter.cost - cost0) / chains, time.perf_counter() - clock
        kept, steps, modes, cost, seconds = [], [], [], [], []
        stride = 1
        production = max(settings.sample_cost - warmup_cost, 0.0)
        chain_run = run_for_cost(sampler, state, counter, production, generator, _MIN_DRAWS)
        for step, (current, info, spent) in enumerate(chain_run):
            if step == 0:  # thin to at most _MAX_KEPT draws, judged from the first step's cost
                stride = max(1, math.ceil(production / max(spent, 1e-12) / _MAX_KEPT))
            x = sampler.position(current).detach().cpu()
            modes.append(confident_component(target, x, MODE_CONFIDENCE))
            note(info)
            if step % stride == stride - 1:
                kept.append(x)
                steps.append(step + 1)
                cost.append(warmup_cost + spent)
                seconds.append(time.perf_counter() - clock)
    total_seconds = time.perf_counter() - clock
    run = _Chains(
        torch.stack(kept, dim=1),
        steps,
        torch.stack(modes, dim=1),
        cost,
        seconds,
        {kind: sums[kind] / counts[kind] for kind in sums},
    )
    budget = {
        "sample_cost": (counter.cost - cost0) / chains,
        "warmup_cost": warmup_cost,
        "sample_seconds": total_seconds,
        "warmup_seconds": warmup_seconds,
        "sample_draws": float(len(modes)),
        "sample_grad_evals": float(counter.grad - grad0),
        "sample_energy_evals": float(counter.energy - energy0),
        "sample_flow_passes": float(counter.flow - flow0),
        "n_chains": float(chains),
    }
    return run, budget


def _mixing(
    fitted: FittedModel, target: Target, settings: SuiteSettings, generator: torch.Generator
) -> tuple[dict[str, float], dict[str, str], dict[str, Any], Tensor]:
    """R-hat, ESS, mode switches and acceptance of the diagnostic chains after warm-up, per 1000
    cost units and per second of production, and R-hat on growing prefixes against cost units
    and wall-clock. Returns metrics, why the `MIXING_METRICS` are not estimable (fewer than
    `MIN_DIAGNOSTIC_DRAWS` draws per chain), the R-hat curve and the kept draws
    (chains, kept, d)."""
    run, budget = _run_chains(fitted, target, settings, generator)
    chains, kept = run.draws.shape[:2]
    production_cost = budget["sample_cost"] - budget["warmup_cost"]
    production_seconds = budget["sample_seconds"] - budget["warmup_seconds"]
    ends = sorted({max(1, kept * (k + 1) // _PREFIXES) for k in range(_PREFIXES)})
    with warnings.catch_warnings():  # "more chains than draws": the layout is checked by rhat
        warnings.simplefilter("ignore", UserWarning)
        curve = {
            "draws": [run.steps[n - 1] for n in ends],
            "cost": [run.cost[n - 1] for n in ends],
            "seconds": [run.seconds[n - 1] for n in ends],
            "rhat": [rhat(run.draws[:, :n], chains=chains) if n >= 4 else math.nan for n in ends],
        }
        enough = kept >= 4
        ess_bulk = ess(run.draws, chains=chains) if enough else math.nan
        ess_tail = ess(run.draws, chains=chains, kind="tail") if enough else math.nan
    switches = float(mode_switches(run.modes, chains=chains).sum())
    metrics = {
        "rhat_max": curve["rhat"][-1],
        "ess_bulk_min": ess_bulk,
        "ess_tail_min": ess_tail,
        "ess_per_second": ess_bulk / production_seconds,
        "ess_bulk_per_kcost": 1000 * ess_bulk / (chains * production_cost),
        "switch_rate": 1000 * switches / (chains * production_cost),
        "accept_local": run.acceptance.get("local", math.nan),
        "accept_global": run.acceptance.get("global", math.nan),
        "accept_swap": run.acceptance.get("swap", math.nan),
        "mass_far_sampler": far_fraction(run.draws.reshape(-1, target.dim), target),
        **budget,
    }
    not_estimable: dict[str, str] = {}
    drawn = run.modes.shape[1]
    if drawn < MIN_DIAGNOSTIC_DRAWS:
        reason = (
            f"{drawn} draws per chain after warm-up, fewer than {MIN_DIAGNOSTIC_DRAWS}: raise "
            f"sample_cost (one step costs {production_cost / drawn:.0f} units)"
        )
        for key in MIXING_METRICS:
            metrics[key] = math.nan
            not_estimable[key] = reason
    return metrics, not_estimable, curve, run.draws


@contextmanager
def _true_energy(fitted: FittedModel, target: Target) -> Iterator[None]:
    """Within: the EBM's energy is `TrueEnergy`, so that `fitted.sampler`, whose potential reads
    the EBM, samples p★ itself; the trained energy is put back on leaving."""
    ebm = fitted.ebm
    trained = ebm.energy
    ebm.energy = TrueEnergy(target, float(ebm.base_std)).to(ebm.base_std.device)
    try:
        yield
    finally:
        ebm.energy = trained


#: The diagnostic chains' metrics the sampler track keeps, and their names there.
_TRACKED = {
    "rhat_max": "rhat_max_sampler_true",
    "switch_rate": "switch_rate_sampler_true",
    "mass_far_sampler": "mass_far_sampler_true",
}


def _sampler_track(
    fitted: FittedModel, target: Target, settings: SuiteSettings, generator: torch.Generator
) -> tuple[dict[str, float], dict[str, str], list[float]]:
    """The method's sampler on the true energy, from its `start`, for `sample_cost` units per
    chain (`_mixing`'s chains, docs/SCIENCE.md §7.13): its draws' region weights against p★'s,
    R-hat, switch rate and far mass (`TRACK_METRICS`), why any is not estimable, and its weights
    (n_modes,)."""
    with _true_energy(fitted, target):
        mixing, reasons, _, draws = _mixing(fitted, target, settings, generator)
    weights = _modes(draws.reshape(-1, target.dim), target)
    metrics = weight_errors(weights, target.region_weights().weights.cpu(), "sampler_true")
    not_estimable = {}
    for key, track in _TRACKED.items():
        metrics[track] = mixing[key]
        if key in reasons:
            not_estimable[track] = reasons[key]
    return metrics, not_estimable, weights.tolist()


def _draws_vs_truth(
    draws: Tensor, w_sampler: Tensor, w_true: Tensor, target: Target, generator: torch.Generator
) -> dict[str, float]:
    """The diagnostic chains' draws (n, d) against exact draws of p★ (docs/SCIENCE.md §7.12): the
    MMD² and sliced W₂² of `SAMPLE_DRAWS` of them with their noise floors (`FLOOR_PAIRS` pairs of
    exact samples of that size), and how many regions their weights (n_modes,) find."""
    n = min(SAMPLE_DRAWS, len(draws))
    exact = torch.stack([target.sample(n, generator).cpu() for _ in range(2 * FLOOR_PAIRS + 1)])
    return {
        **sample_distances(draws, exact, generator)._asdict(),
        "modes_found": float(modes_found(w_sampler, w_true)),
        "n_modes": float(target.n_modes),
    }


def evaluate(
    fitted: FittedModel, target: Target, settings: SuiteSettings, generator: torch.Generator
) -> Evaluation:
    """All metrics of one fitted method; `generator` (on the EBM's device) drives every draw."""
    ebm = fitted.ebm
    spent = fitted.counter.snapshot()  # training's, before the diagnostics count on it
    mixing, not_estimable, rhat_curve, draws = _mixing(fitted, target, settings, generator)
    flat = draws.reshape(-1, target.dim)
    estimate = _estimator(fitted, target, flat, generator)
    found = estimate(ebm.log_unnormalised, False)
    if not (math.isfinite(found.log_z) and bool(torch.isfinite(found.weights).all())):
        raise DivergenceError(f"non-finite density after training (log Z = {found.log_z})")
    w_true = target.region_weights().weights.cpu()
    w_model = found.weights.cpu()
    w_neg, w_init = _modes(fitted.negatives, target), _modes(fitted.initial, target)
    metrics: dict[str, float] = {
        **weight_errors(w_model, w_true, "model"),
        **weight_errors(w_neg, w_model, "negatives"),
        **weight_errors(w_init, w_model, "init"),
        "mw_mse_floor": weight_mse_floor(w_model, min(len(fitted.negatives), len(fitted.initial))),
        "is_ess": math.nan if found.ess is None else found.ess,
        "is_khat": math.nan if found.khat is None else found.khat,
        "quad_edge_mass": math.nan if found.edge_mass is None else found.edge_mass,
        "log_z": found.log_z,
        "mass_far_model": found.mass_far,
        "mass_far_negatives": far_fraction(fitted.negatives, target),
        "grad_evals": float(spent.grad),
        "energy_evals": float(spent.energy),
        "flow_passes": float(spent.flow),
        "train_cost": float(spent.cost),
    }
    exact = target.sample(settings.n_data, generator)
    metrics["logdens_err"] = log_density_error(ebm.log_unnormalised, found.log_z, target, exact)
    with torch.no_grad():
        heldout = held_out(ebm.log_unnormalised(exact), found.log_z, target.log_prob(exact))
    metrics["heldout_loglik"] = heldout.loglik
    metrics["heldout_loglik_truth"] = heldout.truth
    metrics["heldout_loglik_truth_stderr"] = heldout.truth_stderr
    metrics["log_z_stderr"] = found.log_z_stderr
    particles, temperatures = _AIS
    annealed = annealed_log_z(
        ebm.potential_and_grad, float(ebm.base_std), target.dim, particles, temperatures, generator
    )
    metrics["log_z_ais"] = annealed.log_z
    metrics["log_z_ais_stderr"] = annealed.log_z_stderr
    metrics["ais_ess"] = annealed.ess
    primary = "quadrature" if target.dim == 2 else "IS"
    reason = found.not_estimable
    if reason is None and annealed.ess >= min_ess(particles):
        reason = disagreement(
            primary, found.log_z, found.log_z_stderr, "AIS", annealed.log_z, annealed.log_z_stderr
        )
    if reason is None:
        reason = above_truth(heldout, found.log_z_stderr)
    metrics.update(mixing)
    pick = torch.randperm(len(flat), generator=torch.Generator().manual_seed(0))
    n = min(settings.n_c2st, len(flat), len(exact))
    metrics["c2st"] = math.nan
    if target.dim <= settings.c2st_max_dim:
        metrics["c2st"] = c2st(flat[pick[:n]], exact[:n].cpu())
    w_sampler = _modes(flat, target)
    metrics.update(_draws_vs_truth(flat, w_sampler, w_true, target, generator))
    checkpoints = _checkpoint_curves(fitted, target, estimate, exact)
    curve_metrics, curve_reasons = _training_curve(checkpoints, w_true)
    metrics.update(curve_metrics)
    not_estimable.update(curve_reasons)
    stderr = found.stderr.cpu()
    if reason is not None:  # the final normaliser failed: its checkpoints' curve is not trusted
        for key in (*MODEL_METRICS, *(TRAINING_METRICS if checkpoints else ())):
            metrics[key] = math.nan
            not_estimable[key] = reason
        w_model, stderr = w_model * math.nan, stderr * math.nan
    if settings.sampler_track:
        track, track_reasons, weights_track = _sampler_track(fitted, target, settings, generator)
        metrics.update(track)
        not_estimable.update(track_reasons)
    curves: dict[str, Any] = {"checkpoints": checkpoints, "rhat_time": rhat_curve}
    if target.dim == 2:
        curves["density"] = density_grid(ebm, target, found.log_z, _DENSITY_GRID)
    weights = {
        "true": w_true.tolist(),
        "model": w_model.tolist(),
        "model_stderr": stderr.tolist(),
        "negatives": w_neg.tolist(),
        "initial": w_init.tolist(),
        "sampler": w_sampler.tolist(),
    }
    if settings.sampler_track:
        weights["sampler_true"] = weights_track
    return Evaluation(metrics, weights, curves, not_estimable)
