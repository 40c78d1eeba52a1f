"""Two Gaussian modes whose separation sets the difficulty (docs/SCIENCE.md §4.3).

p★(x) = w₀ N(x; −½δ e₁, v I) + w₁ N(x; +½δ e₁, v I), δ = separation · √v: the means lie on the
first axis, symmetric about the origin, `separation` component standard deviations apart.
Equal isotropic covariances make the mode regions (the nearest unweighted density, §4) the two
half-spaces x₁ < 0 and x₁ ≥ 0. Under either component x₁ ~ N(±½δ, v) and the other coordinates do
not matter, so a draw of a component falls in the other's region with probability

    P(region 1 | component 0) = P(region 0 | component 1) = Φ(−δ / (2√v)) = Φ(−separation / 2),

the nearest-mean mis-assignment probability (`overlap`), and the exact region masses are

    m₀ = w₀ Φ(separation / 2) + w₁ Φ(−separation / 2),   m₁ = 1 − m₀.

Both parametrisations of the difficulty: separation 2, 4, 6, 8 standard deviations is a
mis-assignment of 0.16, 0.023, 1.3e-3, 3.2e-5; conversely separation = −2 Φ⁻¹(mis-assignment).
The density half-way between the means is exp(−separation² / 8) of a mode's peak (unweighted):
the barrier a local sampler has to cross, in any dimension.

Example:
    >>> target = bimodal("demo", dim=2, separation=4.0)
    >>> round(target.overlap, 4), [round(w, 4) for w in target.region_weights().weights.tolist()]
    (0.0228, [0.6591, 0.3409])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import torch
from scipy.stats import norm
from torch import Tensor

from .base import MAX_DIM, check_integer, check_positive, check_weights
from .gmm import GaussianMixture

__all__ = ["BIMODAL_EXAMPLES", "Bimodal", "bimodal"]


class Bimodal(GaussianMixture):
    """Two isotropic Gaussians N(∓½δ e₁, v I), δ = separation · √v, with exact region masses.

    Arguments:
        name: A name for tables.
        dim: Dimension d ≥ 1.
        separation: Distance between the means in component standard deviations.
        weights: Mixture weights, (2,), float64.
        variance: The components' variance v.
    """

    def __init__(
        self, name: str, dim: int, separation: float, weights: Tensor, variance: float
    ) -> None:
        half = 0.5 * separation * math.sqrt(variance)
        means = torch.zeros(2, dim, dtype=torch.float64)
        means[:, 0] = torch.tensor([-half, half], dtype=torch.float64)
        super().__init__(name, means, weights, torch.full((2, dim), variance, dtype=torch.float64))
        self.separation = float(separation)

    def __repr__(self) -> str:
        return f"Bimodal(name={self.name!r}, dim={self.dim}, separation={self.separation})"

    @cached_property
    def _confusion(self) -> tuple[Tensor, float]:
        """P(region k | component j), (2, 2): Φ(separation/2) on the diagonal, Φ(−separation/2)
        off it (closed form), as from infinitely many draws: `GaussianMixture.region_weights`
        then gives the exact masses w₀ Φ(±separation/2) + w₁ Φ(∓separation/2), standard error 0."""
        stay, leave = norm.cdf(self.separation / 2), norm.cdf(-self.separation / 2)
        return torch.tensor([[stay, leave], [leave, stay]], dtype=torch.float64), math.inf


def bimodal(
    name: str,
    dim: int,
    separation: float,
    weights: Sequence[float] | None = None,
    variance: float = 0.05,
) -> Bimodal:
    """Two modes `separation` standard deviations apart on the first axis (weights default 2:1,
    the heavier at −½δ e₁); nearest-mean mis-assignment Φ(−separation / 2)."""
    check_integer("dim", dim, 1, MAX_DIM)
    check_positive("separation", separation)
    check_positive("variance", variance)
    w = check_weights([2 / 3, 1 / 3] if weights is None else weights, 2)
    return Bimodal(name, dim, float(separation), w, float(variance))


#: A small parameter set of the `bimodal` family, for the contract test.
BIMODAL_EXAMPLES: tuple[dict[str, Any], ...] = (
    {"dim": 3, "separation": 3.0, "weights": [0.6, 0.4]},
)
