"""Mode weights, normalising constant and far mass of an unnormalised density p̃ (e.g. an EBM) over
the whole space, and its log-density error to the target.

In 2-D, adaptive quadrature (`quadrature.py`) over a box that covers given points (the tilt's
high-probability region, the method's own draws), the target's box and the mass a wide scan over
8 times that box finds, grown while its edge cells carry mass; its error estimate is log Z's
standard error. In higher dimension, self-normalised importance sampling from a proposal with an
exact density (the defensive mixture of `proposal.py`), with its effective sample size (ESS) and
the Pareto k̂ of its weights (Vehtari et al. 2024, through ArviZ's PSIS).

An estimate is *not estimable* — a reason instead of a number — when its ESS is below
max(100, 1 % of the draws), when k̂ > 0.7 (the weights' tail is so heavy that the estimate and its
standard error cannot be trusted, however large the ESS looks), when the quadrature box kept
more than 1e-4 of the mass on its edge, or when its error estimate stayed above `QUAD_TOL`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.special import logsumexp
from torch import Tensor

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..samplers import Proposal
from ..targets import Target
from .quadrature import adaptive_quadrature

__all__ = [
    "FAR_LEVEL",
    "DensityWeights",
    "ImportanceDraws",
    "draw_importance",
    "far_fraction",
    "grid_weights",
    "importance_weights",
    "log_density_error",
    "heldout_log_likelihood",
    "pareto_khat",
    "min_ess",
    "MAX_KHAT",
]

LogDensity = Callable[[Tensor], Tensor]
FAR_LEVEL = 0.999  # "far": outside every component's 99.9 % region
_CHUNK = 2**16
_GROWTH = 8  # at most this many enlargements of the box
_EDGE_TOL = 1e-6  # grow while the edge cells hold more than this fraction of the mass
_EDGE_MAX = 1e-4  # not estimable when the edge still holds more than this
_WIDE = 8.0  # the wide scan covers this many times the box's width
_QUAD_BUDGET = 2**21  # density evaluations the adaptive quadrature may spend
QUAD_TOL = 1e-3  # the quadrature refines until its error estimate is at most this of the mass
MAX_KHAT = 0.7  # importance weights with a larger Pareto k̂ are not trusted (Vehtari et al. 2024)


class DensityWeights(NamedTuple):
    """An estimate over the whole space.

    Attributes:
        weights: Mass in each mode region, (n_modes,).
        stderr: Their standard errors (importance sampling: delta method; quadrature: its
            error estimate), (n_modes,).
        log_z: log of the normalising constant.
        mass_far: Mass outside every component's `FAR_LEVEL` region.
        ess: Importance-sampling ESS (None for quadrature).
        khat: Pareto k̂ of the importance weights (None for quadrature).
        draws: Importance draws, or quadrature points.
        edge_mass: Mass in the outermost cells of the quadrature box (None for importance).
        not_estimable: Why the estimate cannot be trusted, or None.
        log_z_stderr: Standard error of log Z (importance sampling: delta method, √(1/ESS −
            1/n); quadrature: its relative error estimate).
    """

    weights: Tensor
    stderr: Tensor
    log_z: float
    mass_far: float
    ess: float | None
    khat: float | None
    draws: int
    edge_mass: float | None
    not_estimable: str | None
    log_z_stderr: float = math.nan


def min_ess(draws: int) -> float:
    """The smallest importance-sampling ESS trusted: max(100, 1 % of the draws)."""
    return max(100.0, 0.01 * draws)


def far_fraction(x: Tensor, target: Target) -> float:
    """Fraction of points x (n, d) outside every component's `FAR_LEVEL` region."""
    return float((~target.level_regions(x.detach().cpu(), FAR_LEVEL).any(-1)).float().mean())


@torch.no_grad()
def _evaluate(log_density: LogDensity, x: Tensor) -> Tensor:
    return torch.cat([log_density(chunk) for chunk in x.split(_CHUNK)])


def _normalised(log_mass: Tensor) -> tuple[float, np.ndarray]:
    """log Σ exp(log_mass) and the normalised masses (n,), float64 — summed by NumPy in a fixed
    order, so the numbers do not depend on the number of torch threads."""
    values = log_mass.detach().cpu().double().numpy()
    log_total = float(logsumexp(values))
    return log_total, np.exp(values - log_total)


def _midpoints(lo: Tensor, hi: Tensor, cells: int) -> tuple[Tensor, float]:
    """Cell midpoints (cells², 2) of a cells × cells grid over [lo, hi] (2,), and the cell area."""
    step = (hi - lo) / cells
    axes = [torch.linspace(lo[i] + step[i] / 2, hi[i] - step[i] / 2, cells) for i in range(2)]
    return torch.cartesian_prod(*axes), float(step.prod())


def _grow(
    log_density: LogDensity, lo: Tensor, hi: Tensor, cells: int, device: torch.device
) -> tuple[Tensor, Tensor, float]:
    """Enlarge [lo, hi] (by half its width on each heavy side) until the outermost coarse cells
    hold at most `_EDGE_TOL` of the mass, at most `_GROWTH` times. Returns lo, hi and the edge
    mass fraction."""
    for attempt in range(_GROWTH + 1):
        points, area = _midpoints(lo, hi, cells)
        log_mass = _evaluate(log_density, points.to(device)).double().cpu() + math.log(area)
        log_mass = log_mass.view(cells, cells)  # [i, j]: x-cell i, y-cell j
        mass = _normalised(log_mass.reshape(-1))[1].reshape(cells, cells)
        sides = np.array([mass[0].sum(), mass[:, 0].sum(), mass[-1].sum(), mass[:, -1].sum()])
        edge = float(mass[0].sum() + mass[-1].sum() + mass[1:-1, 0].sum() + mass[1:-1, -1].sum())
        if not math.isfinite(edge) or edge <= _EDGE_TOL or attempt == _GROWTH:
            return lo, hi, edge
        heavy = torch.from_numpy(sides > _EDGE_TOL / 4)  # low x, low y, high x, high y
        width = hi - lo
        lo = lo - torch.where(heavy[:2], width / 2, 0.0)
        hi = hi + torch.where(heavy[2:], width / 2, 0.0)
    raise AssertionError("unreachable: the last attempt returns")


def _wide_scan(
    log_density: LogDensity, lo: Tensor, hi: Tensor, cells: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """[lo, hi] enlarged to every cell of a cells² grid over a box `_WIDE` times as wide (same
    centre) that holds more than `_EDGE_TOL` of that grid's mass: mass far outside the box that
    no draw has visited."""
    centre, half = (lo + hi) / 2, _WIDE * (hi - lo) / 2
    points, area = _midpoints(centre - half, centre + half, cells)
    log_mass = _evaluate(log_density, points.to(device)).double().cpu() + math.log(area)
    log_total, mass = _normalised(log_mass)
    if not math.isfinite(log_total):
        return lo, hi
    heavy = points[torch.from_numpy(mass > _EDGE_TOL)]
    cell = (2 * half / cells).float()
    return torch.minimum(lo, (heavy - cell).min(0).values), torch.maximum(
        hi, (heavy + cell).max(0).values
    )


def _finite_rows(x: Tensor) -> Tensor:
    """The rows of x (n, 2) with every coordinate finite, float32 on the CPU."""
    x = x.detach().cpu().float()
    return x[torch.isfinite(x).all(-1)]


def grid_weights(
    log_density: LogDensity,
    target: Target,
    cover: Tensor | None = None,
    cells: int = 256,
    budget: int = _QUAD_BUDGET,
    device: str | torch.device = "cpu",
    tol: float = QUAD_TOL,
    probes: Tensor | None = None,
) -> DensityWeights:
    """Quadrature over the whole plane (2-D targets): a box holding the target's box and every
    point of `cover` (n, 2) with a 10 % margin, enlarged to the mass a wide scan finds and grown
    while its edge carries mass, then integrated adaptively from a cells² grid until its error
    estimate is at most `tol` of the mass (`adaptive_quadrature`, `probes` (m, 2) — by default
    `cover` — its probes for peaks narrower than a cell) or `budget` evaluations are spent."""
    if target.dim != 2:
        raise ValueError(f"grid_weights: needs a 2-D target, {target.name!r} has dim {target.dim}")
    lo, hi = torch.full((2,), float(target.bounds[0])), torch.full((2,), float(target.bounds[1]))
    finite = None
    if cover is not None:
        finite = _finite_rows(cover)
        if len(finite):
            lo, hi = (
                torch.minimum(lo, finite.min(0).values),
                torch.maximum(hi, finite.max(0).values),
            )
    margin = 0.1 * (hi - lo)
    device = torch.device(device)
    lo, hi = _wide_scan(log_density, lo - margin, hi + margin, cells, device)
    lo, hi, edge = _grow(log_density, lo, hi, cells, device)
    if probes is not None:
        finite = _finite_rows(probes)
    quad = adaptive_quadrature(log_density, lo, hi, cells, finite, tol, budget, device)
    log_z, w = _normalised(torch.from_numpy(quad.log_mass))
    if not math.isfinite(log_z):
        nan = torch.full((target.n_modes,), math.nan)
        return DensityWeights(
            nan, nan, math.nan, math.nan, None, None, quad.evaluations, edge, None, math.nan
        )
    labels = target.assign_modes(quad.points).numpy()
    weights = torch.from_numpy(np.bincount(labels, weights=w, minlength=target.n_modes))
    stderr = np.bincount(labels, weights=quad.point_error, minlength=target.n_modes)
    far = (~target.level_regions(quad.points, FAR_LEVEL).any(-1)).numpy()
    reason = None
    if edge > _EDGE_MAX:
        reason = f"quadrature edge mass {edge:.1g} > {_EDGE_MAX:g}"
    elif not quad.converged:
        reason = (
            f"quadrature error estimate {quad.relative_error:.2g} of the mass > {tol:g} after "
            f"{quad.evaluations} evaluations"
        )
    return DensityWeights(
        weights.float(),
        torch.from_numpy(stderr).float(),
        log_z,
        float(w[far].sum()),
        None,
        None,
        quad.evaluations,
        edge,
        reason,
        quad.relative_error,
    )


class ImportanceDraws(NamedTuple):
    """Draws x (n, d) of a proposal, their log density (n,), mode regions (n,) and whether each
    is far from every component (n,) — reusable for several densities."""

    x: Tensor
    log_q: Tensor
    labels: Tensor
    far: Tensor


def draw_importance(
    proposal: Proposal, target: Target, n: int, generator: torch.Generator
) -> ImportanceDraws:
    """n draws of `proposal` with everything the estimate needs but the density itself."""
    x, log_q = proposal.sample_and_log_prob(n, generator)
    cpu = x.cpu()
    far = ~target.level_regions(cpu, FAR_LEVEL).any(-1)
    return ImportanceDraws(x, log_q.double().cpu(), target.assign_modes(cpu), far)


def importance_weights(
    log_density: LogDensity, target: Target, draws: ImportanceDraws
) -> DensityWeights:
    """Self-normalised importance sampling: weights w_i ∝ p̃(x_i)/q(x_i); mode weights and the far
    mass with delta-method standard errors √(Σ w̄_i² (1_i − ŵ)²); log Z = log mean w_i."""
    n = len(draws.x)
    log_w = _evaluate(log_density, draws.x).double().cpu() - draws.log_q
    log_w = log_w.nan_to_num(nan=math.inf, posinf=math.inf)  # undefined is not small
    log_total, w = _normalised(log_w)
    log_z = log_total - math.log(n)
    labels, k = draws.labels.numpy(), target.n_modes
    weights = np.bincount(labels, weights=w, minlength=k)
    # Σ_i w_i² (1[i ∈ k] − ŵ_k)² = (1 − ŵ_k)² S_k + ŵ_k² (S − S_k), with S_k = Σ_{i ∈ k} w_i²
    squares, total = np.bincount(labels, weights=w**2, minlength=k), float((w**2).sum())
    stderr = np.sqrt((1 - weights) ** 2 * squares + weights**2 * (total - squares))
    ess = 1 / total
    khat = pareto_khat(log_w)
    reason = None
    if not ess >= min_ess(n):  # also when the weights are NaN
        reason = f"IS ESS {ess:.3g} < {min_ess(n):.0f}"
    elif not khat <= MAX_KHAT:
        reason = f"IS Pareto k̂ {khat:.2f} > {MAX_KHAT}"
    far = float(w[draws.far.numpy()].sum())
    weights_t, stderr_t = torch.from_numpy(weights).float(), torch.from_numpy(stderr).float()
    log_z_stderr = math.sqrt(max(total - 1 / n, 0.0))  # Var(w) / (n E[w]²) = (n Σw̄² − 1) / n
    return DensityWeights(weights_t, stderr_t, log_z, far, ess, khat, n, None, reason, log_z_stderr)


def pareto_khat(log_w: Tensor) -> float:
    """Pareto k̂ of importance log-weights (n,) (PSIS, ArviZ); NaN for non-finite weights."""
    if not bool(torch.isfinite(log_w).all()):
        return math.nan
    with warnings.catch_warnings():  # ArviZ warns when k̂ is large: that is what is measured
        warnings.simplefilter("ignore")
        _, khat = az.psislw(log_w.double().numpy().copy())
    return float(khat)


@torch.no_grad()
def heldout_log_likelihood(log_density: LogDensity, log_z: float, x: Tensor) -> float:
    """Mean over held-out target draws x (n, d) of log p̃(x) − log Z: what a practitioner with a
    validation set can compute, the criterion that picks a method's variant."""
    return float((_evaluate(log_density, x) - log_z).mean())


@torch.no_grad()
def log_density_error(log_density: LogDensity, log_z: float, target: Target, x: Tensor) -> float:
    """Median over points x (n, d) of (log p̃(x) − log Z − log p★(x))²."""
    diff = _evaluate(log_density, x) - log_z - target.log_prob(x)
    return float((diff**2).median())
