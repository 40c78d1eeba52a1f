"""Concentric rings: the radius is a 1-D Gaussian mixture, the angle is uniform."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from scipy.stats import norm
from torch import Tensor

from ..errors import ParamError
from .base import MAX_MODES, ModeMarkers, RegionWeights, check_positive, check_weights

__all__ = ["RINGS_EXAMPLES", "Rings", "rings"]


def _normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


class Rings:
    """p★(x) = Σ_k w_k N(|x|; r_k, s²) / (2π|x|) in 2-D.

    The mass the radial Gaussians put below zero (Φ(−r_1/s), 1e-11 for the preset) is neglected:
    draws reflect it onto positive radii. Mode regions are the annuli where component k's
    unweighted radial density is highest (boundaries half-way between radii); their masses are
    exact (normal CDFs). Component k's `level` region is the band |r − r_k| ≤ s·Φ⁻¹((1 + level)/2);
    its Gaussian description (for importance proposals) is the moment-matched N(0, (r_k² + s²)/2 I).
    """

    dim = 2

    def __init__(self, name: str, radii: Tensor, weights: Tensor, std: float) -> None:
        self.name = name
        self.radii = radii.to(torch.float32)
        self.weights = weights.to(torch.float32)
        self.std = std
        self.n_modes = len(radii)
        self.means = torch.zeros(self.n_modes, 2)
        self.variances = ((self.radii**2 + std**2) / 2)[:, None].expand(-1, 2).clone()
        edge = float(self.radii.max()) + 4 * std
        self.bounds = (-edge, edge)

    def __repr__(self) -> str:
        return f"Rings(name={self.name!r}, n_modes={self.n_modes})"

    def mode_markers(self) -> ModeMarkers:
        """Each ring's radius, no centre (every ring is about the origin)."""
        return ModeMarkers(torch.full((self.n_modes, 2), math.nan), self.radii.clone())

    def _radial_log_prob(self, r: Tensor) -> Tensor:
        """Unweighted log N(r; r_k, s²), (n,) -> (n, K)."""
        z = (r[:, None] - self.radii.to(r)) / self.std
        return -0.5 * z**2 - math.log(self.std * math.sqrt(2 * math.pi))

    def component_log_prob(self, x: Tensor) -> Tensor:
        """Unweighted log density of each ring in the plane, N(r; r_k, s²) / (2πr):
        (n, 2) -> (n, K)."""
        r = x.norm(dim=-1).clamp_min(1e-12)
        return self._radial_log_prob(r) - torch.log(2 * math.pi * r)[:, None]

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log density, (n, 2) -> (n,)."""
        return torch.logsumexp(self.component_log_prob(x) + self.weights.to(x).log(), dim=-1)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Exact draws on the generator's device, (n, 2)."""
        device = generator.device
        k = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        r = self.radii.to(device)[k] + self.std * torch.randn(n, generator=generator, device=device)
        theta = 2 * math.pi * torch.rand(n, generator=generator, device=device)
        return r.abs()[:, None] * torch.stack([theta.cos(), theta.sin()], dim=-1)

    def assign_modes(self, x: Tensor) -> Tensor:
        """Annulus of each point, (n, 2) -> (n,)."""
        return self._radial_log_prob(x.norm(dim=-1)).argmax(dim=-1)

    def level_regions(self, x: Tensor, level: float) -> Tensor:
        """Inside component k's `level` band of radii, (n, 2) -> BoolTensor (n, K)."""
        half_width = self.std * float(norm.ppf((1 + level) / 2))
        return (x.norm(dim=-1)[:, None] - self.radii.to(x)).abs() <= half_width

    def region_weights(self) -> RegionWeights:
        """Exact masses of p★ in each annulus (normal CDFs), standard error 0."""
        r = self.radii.to(torch.float64)
        mid = (r[1:] + r[:-1]) / 2
        edges = torch.cat([r.new_tensor([-math.inf]), mid, r.new_tensor([math.inf])])
        cdf = _normal_cdf((edges[None, :] - r[:, None]) / self.std)  # (K, K+1)
        p = cdf[:, 1:] - cdf[:, :-1]  # P(annulus k | component j)
        weights = self.weights.to(torch.float64) @ p
        return RegionWeights(weights.float(), torch.zeros(self.n_modes))


def rings(
    name: str,
    radii: Sequence[float] = (1.0, 2.0, 3.0, 4.0),
    weights: Sequence[float] | None = None,
    std: float = 0.15,
) -> Rings:
    """Rings at the given radii (increasing, positive) with radial std `std`."""
    r = torch.as_tensor(radii, dtype=torch.float64)
    if r.ndim != 1 or len(r) < 1 or not bool((r > 0).all()) or not bool((r.diff() > 0).all()):
        raise ParamError("radii", f"must be positive and increasing, got {list(radii)!r}")
    if not bool(torch.isfinite(r).all()) or len(r) > MAX_MODES:
        raise ParamError(
            "radii", f"must be at most {MAX_MODES} finite numbers, got {list(radii)!r}"
        )
    w = check_weights([1 / len(r)] * len(r) if weights is None else weights, len(r))
    return Rings(name, r, w, check_positive("std", std))


#: A small parameter set of the `rings` family, for the contract test.
RINGS_EXAMPLES: tuple[dict[str, Any], ...] = (
    {"radii": [1.0, 2.5], "weights": [0.3, 0.7], "std": 0.2},
)
