"""Distances between a sampler's draws and exact draws of p★, each beside the noise floor two
exact samples of the same size show, and the modes the draws find (docs/SCIENCE.md §7.12).

- `mmd2`: the unbiased estimate of the squared maximum mean discrepancy with the Gaussian kernel
  k(x, y) = exp(−|x − y|² / (2h²)), h the median heuristic: the median distance between two
  distinct points of the pooled sample. h is a symmetric function of the pool, so between two
  samples of one distribution the estimate stays unbiased (given the pool every split is equally
  likely, and the three kernel means have the same expectation); it is negative about half the
  time there.
- `sliced_w2`: the sliced Wasserstein-2 distance, squared: the mean over random unit directions θ
  of W₂² between the projections θ·x and θ·y, each the mean squared difference of the sorted
  projections (equal sample sizes).
- `noise_floor`: the root mean square of a statistic over pairs of independent exact samples of
  the size it is measured at; a value at or below it is indistinguishable from exact draws at
  that size.
- `modes_found`: the regions holding at least half their true weight among the draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "SAMPLE_DRAWS",
    "DIRECTIONS",
    "FLOOR_PAIRS",
    "FOUND_SHARE",
    "SampleDistances",
    "subsample",
    "mmd2",
    "random_directions",
    "sliced_w2",
    "noise_floor",
    "sample_distances",
    "modes_found",
]

#: Draws a side of the MMD² and the sliced W₂²: the pooled 2n × 2n kernel, 4·10⁶ entries, takes
#: ~30 ms, and a run's 5 of each (the sampler's and 4 floor pairs) 0.15–0.3 s on a loaded core.
SAMPLE_DRAWS = 1000
#: Random directions of the sliced W₂².
DIRECTIONS = 256
#: Pairs of exact samples whose root mean square statistic is the noise floor.
FLOOR_PAIRS = 4
#: A region is found when the draws give it at least this share of its true weight.
FOUND_SHARE = 0.5


class SampleDistances(NamedTuple):
    """The MMD² and the sliced W₂² of a sample against exact draws, and their noise floors."""

    mmd: float
    mmd_floor: float
    sw2: float
    sw2_floor: float


def subsample(x: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """At most n rows of x (m, d), drawn without replacement, in random order."""
    pick = torch.randperm(len(x), generator=generator, device=generator.device)[:n]
    return x[pick.to(x.device)]


def mmd2(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD² between x (n, d) and y (m, d), n, m ≥ 2, with the Gaussian kernel of
    bandwidth the median distance of the pooled sample; NaN when a draw is not finite."""
    if len(x) < 2 or len(y) < 2 or x.shape[1] != y.shape[1]:
        shapes = f"{tuple(x.shape)}, {tuple(y.shape)}"
        raise ValueError(f"mmd2 needs samples (n, d), (m, d), n, m ≥ 2; got {shapes}")
    pooled = torch.cat([x, y]).float()
    if not bool(torch.isfinite(pooled).all()):
        return math.nan
    n, m = len(x), len(y)
    distances = torch.cdist(pooled, pooled).fill_diagonal_(0.0)
    # The median of the distinct pairs: in the full matrix the n + m zeros of the diagonal come
    # first and every pair twice, so it is the entry of rank n + m + 2 · middle, selected in
    # linear time (numpy's partition; torch sorts).
    middle = ((n + m) * (n + m - 1) // 2 - 1) // 2  # the lower median
    rank = n + m + 2 * middle
    bandwidth = float(np.partition(distances.cpu().numpy().ravel(), rank)[rank])
    kernel = distances.square_().div_(-2 * bandwidth**2).exp_().fill_diagonal_(0.0)
    xx = kernel[:n, :n].sum() / (n * (n - 1))
    yy = kernel[n:, n:].sum() / (m * (m - 1))
    xy = kernel[:n, n:].mean()
    return float(xx + yy - 2 * xy)


def random_directions(dim: int, count: int, generator: torch.Generator) -> Tensor:
    """`count` directions uniform on the unit sphere in `dim` dimensions, (count, dim)."""
    z = torch.randn(count, dim, generator=generator, device=generator.device)
    return z / z.norm(dim=-1, keepdim=True)


def sliced_w2(x: Tensor, y: Tensor, directions: Tensor) -> float:
    """Sliced W₂² between x (n, d) and y (n, d) along `directions` (k, d): the mean over
    directions of the mean squared difference of the sorted projections; NaN when a draw is not
    finite."""
    if x.shape != y.shape or x.ndim != 2 or directions.shape[1:] != x.shape[1:]:
        shapes = f"{tuple(x.shape)}, {tuple(y.shape)}, {tuple(directions.shape)}"
        raise ValueError(
            f"sliced_w2 needs samples (n, d), (n, d) and directions (k, d); got {shapes}"
        )
    if not bool(torch.isfinite(x).all() and torch.isfinite(y).all()):
        return math.nan
    theta = directions.to(x.device).float().T
    # sorted by numpy: torch's CPU sort, which also makes the indices, is several times slower
    px = np.sort((x.float() @ theta).cpu().numpy(), axis=0)
    py = np.sort((y.float() @ theta).cpu().numpy(), axis=0)
    return float(np.mean((px - py) ** 2))


def noise_floor(
    statistic: Callable[[Tensor, Tensor], float], pairs: Sequence[tuple[Tensor, Tensor]]
) -> float:
    """Root mean square of `statistic` over pairs of independent exact samples ((n, d), (n, d)):
    what it reads between two samples of p★ of that size."""
    return math.sqrt(sum(statistic(a, b) ** 2 for a, b in pairs) / len(pairs))


def sample_distances(
    draws: Tensor, exact: Tensor, generator: torch.Generator, directions: int = DIRECTIONS
) -> SampleDistances:
    """MMD² and sliced W₂² of n draws subsampled from `draws` (m, d) against exact[0], and their
    floors over the pairs (exact[1], exact[2]), (exact[3], exact[4]), …: `exact` holds 2p + 1
    independent exact samples (2p + 1, n, d), n ≤ m."""
    sets, n = exact.shape[0], exact.shape[1]
    if sets < 3 or sets % 2 == 0 or n > len(draws):
        shape = tuple(exact.shape)
        raise ValueError(f"exact: expected (2p + 1, n ≤ {len(draws)}, d), p ≥ 1, got {shape}")
    x = subsample(draws, n, generator)
    theta = random_directions(draws.shape[1], directions, generator)
    pairs = [(exact[i], exact[i + 1]) for i in range(1, sets, 2)]
    return SampleDistances(
        mmd=mmd2(x, exact[0]),
        mmd_floor=noise_floor(mmd2, pairs),
        sw2=sliced_w2(x, exact[0], theta),
        sw2_floor=noise_floor(lambda a, b: sliced_w2(a, b, theta), pairs),
    )


def modes_found(weights: Tensor, reference: Tensor, share: float = FOUND_SHARE) -> int:
    """How many regions hold at least `share` of their true weight: region weights of the draws
    (n_modes,) (`sample_weights`) against p★'s (n_modes,) (`Target.region_weights`)."""
    return int((weights.cpu() >= share * reference.cpu()).sum())
