"""Random mixtures the sampling field compares on (docs/SCIENCE.md §4.2): any number of modes in any
dimension, means uniform in a box (with an optional minimum separation) or on a grid,
per-component diagonal covariances, and the weight imbalance as a parameter.

`gmm40` is FAB's GMM-40 (Midgley et al. 2023: 40 modes, means uniform in [−40, 40]², identity
covariances, equal weights); `mog32` a mixture in the style of "Beyond ELBOs" (Blessing et al.
2024: random means and diagonal covariances in d = 32), here with unequal weights.

Example:
    >>> target = mog("demo", dim=2, n_modes=5, box=10.0, imbalance=4.0)
    >>> round(float(target.weights.max() / target.weights.min()), 3)
    4.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from ..errors import ParamError
from .base import check_integer, check_positive, check_size
from .gmm import GaussianMixture, gmm

__all__ = ["MOG_EXAMPLES", "mog", "imbalanced_weights"]

_MAX_TRIES = 10_000  # draws per mean before a minimum separation is declared impossible


def imbalanced_weights(n_modes: int, imbalance: float) -> Tensor:
    """Weights ∝ r^k, k = 0 … K−1, with r^(K−1) = `imbalance` (the largest/smallest ratio), (K,).

    Example:
        >>> imbalanced_weights(3, 4.0).tolist()
        [0.14285714285714285, 0.2857142857142857, 0.5714285714285714]
    """
    if n_modes == 1:
        return torch.ones(1, dtype=torch.float64)
    r = imbalance ** (1 / (n_modes - 1))
    w = torch.tensor([r**k for k in range(n_modes)], dtype=torch.float64)
    return w / w.sum()


def _box_means(
    n_modes: int, dim: int, box: float, min_separation: float, generator: torch.Generator
) -> Tensor:
    means = torch.empty(0, dim, dtype=torch.float64)
    for _ in range(n_modes):
        for _ in range(_MAX_TRIES):
            mu = (2 * torch.rand(1, dim, generator=generator, dtype=torch.float64) - 1) * box
            if len(means) == 0 or float(torch.cdist(mu, means).min()) >= min_separation:
                break
        else:
            raise ParamError(
                "min_separation",
                f"{min_separation} is not reachable for {n_modes} means in [−{box}, {box}]^{dim} "
                f"({len(means)} placed); lower it or enlarge the box",
            )
        means = torch.cat([means, mu])
    return means


def _grid_means(n_modes: int, dim: int, box: float, generator: torch.Generator) -> Tensor:
    """`n_modes` distinct nodes, in random order, of the coarsest regular grid over [−box, box]^d
    with at least `n_modes` nodes."""
    per_axis = max(2, math.ceil(n_modes ** (1 / dim) - 1e-9))
    if per_axis**dim > 2**20:
        raise ParamError("layout", f"a grid for {n_modes} modes in d = {dim} is too large")
    axis = torch.linspace(-box, box, per_axis, dtype=torch.float64)
    nodes = torch.cartesian_prod(*[axis] * dim).reshape(-1, dim)
    return nodes[torch.randperm(len(nodes), generator=generator)[:n_modes]]


def mog(
    name: str,
    dim: int,
    n_modes: int,
    layout: Literal["box", "grid"] = "box",
    box: float = 40.0,
    min_separation: float = 0.0,
    variances: float | Sequence[float] = 1.0,
    imbalance: float = 1.0,
    seed: int = 0,
) -> GaussianMixture:
    """A random mixture of `n_modes` Gaussians in `dim` dimensions, drawn from `seed`.

    Arguments:
        layout: "box": means uniform in [−box, box]^d, each at least `min_separation` from the
            others; "grid": distinct nodes of a regular grid over the box.
        variances: One number (every component isotropic with that variance), or [lo, hi]:
            each component's diagonal variances log-uniform in [lo, hi].
        imbalance: Largest/smallest weight ratio (1: equal weights); weights ∝ r^k are given to
            the components in a random order, so the heavy modes sit anywhere.
    """
    check_size(n_modes, dim)
    check_integer("seed", seed)
    check_positive("box", box)
    if not (isinstance(min_separation, int | float) and 0 <= min_separation < math.inf):
        raise ParamError("min_separation", f"must be a number ≥ 0, got {min_separation!r}")
    if not (isinstance(imbalance, int | float) and 1 <= imbalance < math.inf):
        raise ParamError("imbalance", f"must be a number ≥ 1, got {imbalance!r}")
    if layout not in ("box", "grid"):
        raise ParamError("layout", f"must be 'box' or 'grid', got {layout!r}")
    generator = torch.Generator().manual_seed(seed)
    if layout == "box":
        means = _box_means(n_modes, dim, float(box), float(min_separation), generator)
    else:
        means = _grid_means(n_modes, dim, float(box), generator)
    if isinstance(variances, int | float) and not isinstance(variances, bool):
        var = [float(check_positive("variances", variances))] * n_modes
    else:
        if not (isinstance(variances, Sequence) and len(variances) == 2):
            raise ParamError("variances", f"must be a number or [lo, hi], got {variances!r}")
        lo, hi = (check_positive("variances", v) for v in variances)
        if lo > hi:
            raise ParamError("variances", f"[lo, hi] needs lo ≤ hi, got {list(variances)!r}")
        u = torch.rand(n_modes, dim, generator=generator, dtype=torch.float64)
        var = torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))).tolist()
    order = torch.randperm(n_modes, generator=generator)
    weights = imbalanced_weights(n_modes, float(imbalance))[order]
    return gmm(name, means.tolist(), (weights / weights.sum()).tolist(), var)


#: Small parameter sets of the `mog` family, for the contract test: each layout.
MOG_EXAMPLES: tuple[dict[str, Any], ...] = (
    {"dim": 2, "n_modes": 5, "box": 5.0, "variances": [0.2, 0.6], "imbalance": 4.0},
    {"dim": 3, "n_modes": 4, "layout": "grid", "box": 3.0, "variances": [0.5, 2.0]},
)
