"""A second, independent estimate of an EBM's log Z: annealed importance sampling (Neal 2001) from
the tilt ρ = N(0, σ² I) to p̃ = exp(−E)·ρ (docs/SCIENCE.md §7.3, "Cross-checked normalisers").

Particles drawn from ρ (normalised, so Z₀ = 1) move along π_β ∝ ρ^{1−β} p̃^β, β from 0 to 1, by
MALA steps that leave each π_β invariant; each carries the weight Π_t (p̃/ρ)^{β_t − β_{t−1}} at
its positions, and log Z = log mean weight. It reaches mass by another route than the importance
proposal or the quadrature: wherever the annealing path carries particles from ρ — broad mass
around ρ that no draw of the method visits — and, like them, not mass that ρ and the path never
come near (an isolated mode far from ρ that every π_β with β < 1 leaves empty).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.special import logsumexp
from torch import Tensor

__all__ = ["Annealed", "annealed_log_z"]

ValueAndGrad = Callable[[Tensor], tuple[Tensor, Tensor]]
_TARGET_ACCEPT = 0.6  # MALA's step size is adapted toward this acceptance at every temperature


class Annealed(NamedTuple):
    """AIS's log Z, its standard error √(1/ESS − 1/n) (delta method), the weights' ESS, the
    particles n, the final particles (n, d) and their normalised weights (n,)."""

    log_z: float
    log_z_stderr: float
    ess: float
    particles: int
    x: Tensor
    weights: np.ndarray


@torch.no_grad()
def annealed_log_z(
    potential_and_grad: ValueAndGrad,
    base_std: float,
    dim: int,
    particles: int,
    temperatures: int,
    generator: torch.Generator,
    steps: int = 2,
) -> Annealed:
    """AIS from ρ = N(0, base_std² I) to exp(−U) with U the potential of `potential_and_grad`
    (x (n, d) -> U (n,), ∇U (n, d)), over `temperatures` β's spaced as (t/T)⁴ (dense near ρ, where
    the weights change fastest), `steps` MALA steps at each."""
    device = generator.device
    var = float(base_std) ** 2
    x = float(base_std) * torch.randn(particles, dim, generator=generator, device=device)
    log_normaliser = 0.5 * dim * math.log(2 * math.pi * var)

    def log_ratio(x: Tensor, u: Tensor) -> Tensor:  # log p̃ − log ρ
        return -u.double() + 0.5 * (x**2).sum(-1).double() / var + log_normaliser

    def path(x: Tensor, u: Tensor, grad: Tensor, beta: float) -> tuple[Tensor, Tensor]:
        """−log π_β (up to a constant) and its gradient."""
        return (
            (1 - beta) * 0.5 * (x**2).sum(-1) / var + beta * u,
            (1 - beta) * x / var + beta * grad,
        )

    u, grad = potential_and_grad(x)
    log_w = torch.zeros(particles, dtype=torch.float64, device=device)
    h = 0.5 * var * dim ** (-1 / 3)
    betas = (np.arange(temperatures + 1) / temperatures) ** 4
    for previous, beta in zip(betas[:-1], betas[1:], strict=True):
        log_w += (beta - previous) * log_ratio(x, u)
        for _ in range(steps):
            v, g = path(x, u, grad, beta)
            noise = torch.randn(x.shape, generator=generator, device=device)
            y = x - h * g + math.sqrt(2 * h) * noise
            u_y, grad_y = potential_and_grad(y)
            v_y, g_y = path(y, u_y, grad_y, beta)
            back = ((x - y + h * g_y) ** 2).sum(-1) / (-4 * h)
            log_accept = v - v_y + back + 0.5 * (noise**2).sum(-1)
            uniform = torch.rand(particles, generator=generator, device=device)
            accept = (uniform.log() < log_accept.nan_to_num(nan=-math.inf))[:, None]
            x, grad = torch.where(accept, y, x), torch.where(accept, grad_y, grad)
            u = torch.where(accept[:, 0], u_y, u)
            h *= math.exp(accept.float().mean().item() - _TARGET_ACCEPT)
    values = log_w.nan_to_num(nan=-math.inf).cpu().numpy()
    log_total = float(logsumexp(values))
    weights = np.exp(values - log_total)
    squares = float((weights**2).sum())
    ess = 1 / squares if math.isfinite(log_total) else 0.0
    stderr = math.sqrt(max(squares - 1 / particles, 0.0))
    return Annealed(log_total - math.log(particles), stderr, ess, particles, x.cpu(), weights)
