"""Gaussian mixtures with diagonal covariances: explicit, generated, and the paper's 4 modes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import torch
from scipy.stats import chi2, norm
from torch import Tensor

from ..errors import ParamError
from .base import (
    MAX_DIM,
    ModeMarkers,
    RegionWeights,
    check_integer,
    check_positive,
    check_size,
    check_weights,
)

__all__ = [
    "GMM_EXAMPLES",
    "PAPER_HD_EXAMPLES",
    "GaussianMixture",
    "PaperHD",
    "gmm",
    "generated_gmm",
    "paper_hd",
]

_REGION_DRAWS = 2**20  # ≥ 10⁶ Monte Carlo draws for the region masses
_CHUNK = 2**16


class GaussianMixture:
    """p★(x) = Σ_k w_k N(x; μ_k, diag v_k).

    Mode region k is where the *unweighted* density N(x; μ_k, diag v_k) is highest, so the
    partition never depends on the weights being estimated. When the mixture is symmetric — equal
    weights, one isotropic variance, and the centred means' Gram matrix unchanged by the cyclic
    shift k -> k + 1, so that an isometry maps each component onto the next and its region onto
    the next region — every region holds exactly 1/K (eight_gaussians); otherwise the masses are
    estimated by Monte Carlo.

    Arguments:
        name: A name for tables.
        means: Component means, (K, d).
        weights: Mixture weights, (K,), positive and summing to 1.
        variances: Component variances, (K, d) (diagonal) or (K,) (isotropic).
    """

    def __init__(self, name: str, means: Tensor, weights: Tensor, variances: Tensor) -> None:
        self.name = name
        self.means = means.to(torch.float32)
        self.weights = weights.to(torch.float32)
        self.variances = variances.to(torch.float32)
        self.n_modes, self.dim = self.means.shape
        self.symmetric = _cyclic_symmetry(means, weights, variances)
        spread = 5.0 * float(self.variances.max().sqrt())
        edge = max(abs(float(self.means.min())), abs(float(self.means.max()))) + spread
        self.bounds = (-edge, edge)

    def __repr__(self) -> str:
        return f"GaussianMixture(name={self.name!r}, dim={self.dim}, n_modes={self.n_modes})"

    def mode_markers(self) -> ModeMarkers:
        """Each mode's mean in the first two coordinates, no rings."""
        return ModeMarkers(self.means[:, :2].clone(), torch.full((self.n_modes,), math.nan))

    def component_log_prob(self, x: Tensor) -> Tensor:
        """Unweighted log N(x; μ_k, diag v_k), (n, d) -> (n, K)."""
        mu, var = self.means.to(x), self.variances.to(x)
        sq = ((x[:, None, :] - mu) ** 2 / var).sum(-1)
        return -0.5 * (sq + torch.log(2 * math.pi * var).sum(-1))

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log density, (n, d) -> (n,)."""
        return torch.logsumexp(self.component_log_prob(x) + self.weights.to(x).log(), dim=-1)

    def log_prob_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """log p★(x) and ∇ log p★(x) = Σ_k r_k(x) (μ_k − x) / v_k with r the components'
        responsibilities, ((n,), (n, d)): a third of autograd's time for 256 points."""
        mu, var = self.means.to(x), self.variances.to(x)
        logits = self.component_log_prob(x) + self.weights.to(x).log()
        log_p = torch.logsumexp(logits, dim=-1)
        responsibilities = torch.softmax(logits, dim=-1)
        score = (responsibilities[..., None] * (mu - x[:, None, :]) / var).sum(1)
        return log_p, score

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Exact draws on the generator's device, (n, d)."""
        device = generator.device
        k = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, device=device)
        return self.means.to(device)[k] + self.variances.to(device)[k].sqrt() * noise

    def assign_modes(self, x: Tensor) -> Tensor:
        """Mode region of each point, (n, d) -> (n,)."""
        return self.component_log_prob(x).argmax(dim=-1)

    @cached_property
    def _confusion(self) -> tuple[Tensor, int]:
        """P(region k | component j), (K, K), by Monte Carlo from each component separately."""
        generator = torch.Generator().manual_seed(0)
        per_component = math.ceil(_REGION_DRAWS / self.n_modes)
        counts = torch.zeros(self.n_modes, self.n_modes, dtype=torch.float64)
        for j in range(self.n_modes):
            for start in range(0, per_component, _CHUNK):
                m = min(_CHUNK, per_component - start)
                x = self.means[j] + self.variances[j].sqrt() * torch.randn(
                    m, self.dim, generator=generator
                )
                counts[j] += torch.bincount(self.assign_modes(x), minlength=self.n_modes)
        return counts / per_component, per_component

    def region_weights(self) -> RegionWeights:
        """Masses of p★ in each region: exactly 1/K for a symmetric mixture; otherwise
        Σ_j w_j P(region k | j), stratified over components (≥ 10⁶ draws in all), with the Monte
        Carlo standard error."""
        if self.symmetric:
            equal = torch.full((self.n_modes,), 1 / self.n_modes)
            return RegionWeights(equal, torch.zeros(self.n_modes))
        p, m = self._confusion
        w = self.weights.to(torch.float64)
        weights = w @ p
        stderr = ((w[:, None] ** 2 * p * (1 - p) / m).sum(0)).sqrt()
        return RegionWeights(weights.float(), stderr.float())

    def level_regions(self, x: Tensor, level: float) -> Tensor:
        """Inside component k's `level` ellipsoid: Mahalanobis distance² to μ_k at most the
        χ²_d quantile at `level`, (n, d) -> BoolTensor (n, K)."""
        mu, var = self.means.to(x), self.variances.to(x)
        squared = ((x[:, None, :] - mu) ** 2 / var).sum(-1)
        return squared <= float(chi2.ppf(level, self.dim))

    @property
    def overlap(self) -> float:
        """Largest probability that a draw of one component falls outside its own region."""
        p, _ = self._confusion
        return float(1 - p.diagonal().min())


class PaperHD(GaussianMixture):
    """The paper's 4 modes (see `paper_hd`), whose region masses have a closed form.

    With S₁ the sum of the first ⌊d/2⌋ coordinates and S₂ that of the rest, x·μ_k = a(±S₁ ± S₂):
    the nearest mean is the quadrant of (S₁, S₂). Under component j, S₁ and S₂ are independent
    normals, so P(region k | j) = Φ(s₁ t₁ a√h₁) Φ(s₂ t₂ a√h₂), with (s, t) the block signs of
    μ_k and μ_j and h₁, h₂ the block lengths.

    Arguments:
        name: A name for tables.
        dim: Dimension d ≥ 2.
        a: The means' coordinate magnitude.
        weights: Mixture weights, (4,), float64.
    """

    def __init__(self, name: str, dim: int, a: float, weights: Tensor) -> None:
        mu1 = torch.full((dim,), float(a), dtype=torch.float64)
        mu2 = mu1.clone()
        mu2[: dim // 2] = -a
        means = torch.stack([mu1, mu2, -mu2, -mu1])
        super().__init__(name, means, weights, torch.ones(4, dim, dtype=torch.float64))
        self.a = float(a)

    @cached_property
    def _confusion(self) -> tuple[Tensor, float]:
        a = self.a
        halves = torch.tensor([self.dim // 2, self.dim - self.dim // 2], dtype=torch.float64)
        signs = self.means[:, [0, -1]].sign().double()  # (K, 2): block signs of each mean
        agree = signs[:, None, :] * signs[None, :, :]  # (j, k, block)
        p = torch.from_numpy(norm.cdf((agree * a * halves.sqrt()).numpy())).prod(-1)
        return p, math.inf

    def region_weights(self) -> RegionWeights:
        """Exact masses Σ_j w_j P(region k | j) (closed form), standard error 0."""
        p, _ = self._confusion
        weights = self.weights.to(torch.float64) @ p
        return RegionWeights(weights.float(), torch.zeros(self.n_modes))


def _cyclic_symmetry(means: Tensor, weights: Tensor, variances: Tensor) -> bool:
    """Equal weights, one isotropic variance, and a centred Gram matrix G with
    G[i+1, j+1] = G[i, j] (indices mod K): then an orthogonal map about the centroid sends each
    component onto the next (float64 inputs, checked to 1e-9 relative)."""
    if means.shape[0] < 2:
        return False
    if not (bool((weights == weights[0]).all()) and bool((variances == variances[0, 0]).all())):
        return False
    centred = means - means.mean(0)
    gram = centred @ centred.T
    shifted = gram.roll((1, 1), (0, 1))
    return bool((gram - shifted).abs().max() <= 1e-9 * max(float(gram.abs().max()), 1e-300))


def gmm(
    name: str,
    means: Sequence[Sequence[float]],
    weights: Sequence[float] | None = None,
    variances: Sequence[float] | Sequence[Sequence[float]] | float = 1.0,
) -> GaussianMixture:
    """An explicit mixture; `variances` is one scalar per component (isotropic), one vector per
    component (diagonal), or a single scalar for all."""
    try:
        mu = torch.tensor(means, dtype=torch.float64)
    except (ValueError, TypeError) as err:
        raise ParamError("means", f"must be a list of equal-length lists, got {means!r}") from err
    if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
        raise ParamError("means", f"must be a non-empty list of points, got {means!r}")
    n_modes, dim = mu.shape
    try:
        check_size(n_modes, dim)
    except ParamError as err:
        raise ParamError("means", f"{n_modes} means in d = {dim}: {err}") from err
    w = check_weights([1 / n_modes] * n_modes if weights is None else weights, n_modes)
    try:
        v = torch.as_tensor(variances, dtype=torch.float64)
    except (ValueError, TypeError) as err:
        raise ParamError("variances", f"not a number or list of numbers: {variances!r}") from err
    if v.ndim == 0:
        v = v.expand(n_modes)
    if v.ndim == 1:
        if len(v) != n_modes:
            raise ParamError("variances", f"expected {n_modes} values, got {v.tolist()}")
        v = v[:, None].expand(n_modes, dim)
    if v.shape != (n_modes, dim):
        raise ParamError(
            "variances", f"expected shape ({n_modes},) or ({n_modes}, {dim}), got {tuple(v.shape)}"
        )
    if not bool((v > 0).all()) or not bool(torch.isfinite(v).all()):
        raise ParamError("variances", f"must all be positive, got {v.tolist()}")
    if not bool(torch.isfinite(mu).all()):
        raise ParamError("means", f"must be finite, got {means!r}")
    return GaussianMixture(name, mu, w, v.clone())


def generated_gmm(
    name: str,
    dim: int,
    n_modes: int,
    separation: float,
    weights: Sequence[float] | None = None,
    variance: float = 1.0,
    seed: int = 0,
) -> GaussianMixture:
    """K equidistant modes: μ_k = separation/√2 · q_k with q_k orthonormal (a random rotation
    drawn from `seed`), so every pair of means is `separation` apart; isotropic `variance`.
    The nearest-mean mis-assignment between two modes is Φ(−separation / (2√variance))."""
    check_integer("dim", dim, 1, MAX_DIM)
    check_integer("seed", seed)
    if not isinstance(n_modes, int) or isinstance(n_modes, bool) or not 1 <= n_modes <= dim:
        raise ParamError("n_modes", f"must be an integer in [1, dim={dim}], got {n_modes!r}")
    check_size(n_modes, dim)
    check_positive("separation", separation)
    check_positive("variance", variance)
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    means = separation / math.sqrt(2) * q.T[:n_modes]
    return gmm(name, means.tolist(), weights, [variance] * n_modes)


def paper_hd(
    name: str, dim: int, a: float = 0.5919, weights: Sequence[float] | None = None
) -> GaussianMixture:
    """The paper's 4 modes N(μ_i, I_d): μ1 = a·1, μ2 = a·(−1 on the first half, +1 on the rest),
    μ3 = −μ2, μ4 = −μ1. Neighbours are a√(2d) apart: mis-assignment Φ(−a√(d/2))."""
    check_integer("dim", dim, 2)
    check_size(4, dim)
    check_positive("a", a)
    return PaperHD(name, dim, a, check_weights([0.25] * 4 if weights is None else weights, 4))


#: Small parameter sets of the `gmm` family, for the contract test: explicit means (2-D, unequal
#: weights, diagonal variances, modes that overlap) and generated ones.
GMM_EXAMPLES: tuple[dict[str, Any], ...] = (
    {
        "means": [[-1.5, 0.0], [0.0, 1.0], [1.5, 0.0]],
        "weights": [0.2, 0.3, 0.5],
        "variances": [[0.3, 0.2], [0.2, 0.3], [0.25, 0.25]],
    },
    {"dim": 5, "n_modes": 3, "separation": 3.0, "weights": [0.5, 0.3, 0.2]},
)
#: A small parameter set of the `paper_hd` family, for the contract test.
PAPER_HD_EXAMPLES: tuple[dict[str, Any], ...] = ({"dim": 8, "weights": [0.4, 0.3, 0.2, 0.1]},)
