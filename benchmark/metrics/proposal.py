"""Importance proposals with exact densities: mixtures of diagonal Gaussians, and the defensive
mixture that estimates an EBM's normalising constant above 2-D.

The defensive mixture proposes wherever some source says the EBM may have mass — Gaussians at the
target's modes, the tilt ρ, Gaussians fitted to draws of the method's own samplers, the method's
flow — so that mass any of them reaches is counted. Its density is the exact mixture density, so
self-normalised importance sampling from it stays consistent wherever the mass is; mass that none
of them reaches stays invisible (the effective sample size cannot tell).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from torch import Tensor

from ..samplers import Proposal
from ..targets import Target

__all__ = ["DiagonalGaussians", "DefensiveMixture", "fitted_gaussians", "defensive_proposal"]

#: Shares of the defensive mixture's draws (renormalised over the parts present).
SHARES = {"modes": 0.25, "tilt": 0.1, "draws": 0.35, "flow": 0.3}


class DiagonalGaussians:
    """Σ_j π_j N(m_j, diag s_j²).

    Arguments:
        means: Component means, (J, d).
        variances: Component variances, (J, d).
        weights: Component weights, (J,), summing to 1.
    """

    def __init__(self, means: Tensor, variances: Tensor, weights: Tensor) -> None:
        self.means = means.double()
        self.variances = variances.double()
        self.weights = weights.double()

    def log_prob(self, x: Tensor) -> Tensor:
        """log density, (n, d) -> (n,), float64."""
        mu, var = self.means.to(x.device), self.variances.to(x.device)
        log_w = self.weights.to(x.device).log()
        out = []
        for chunk in x.double().split(4096):
            sq = ((chunk[:, None, :] - mu) ** 2 / var).sum(-1)
            comp = -0.5 * (sq + torch.log(2 * math.pi * var).sum(-1))
            out.append(torch.logsumexp(comp + log_w, dim=1))
        return torch.cat(out)

    @torch.no_grad()
    def sample_and_log_prob(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draws (n, d), float32 on the generator's device, and their log density (n,)."""
        device = generator.device
        k = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, device=device)
        mu, std = self.means.to(device), self.variances.to(device).sqrt()
        x = (mu[k] + std[k] * noise.double()).float()
        return x, self.log_prob(x)


class DefensiveMixture:
    """Σ_g α_g q_g with stratified draws: part g gets n_g = round(share_g · n) draws and α_g is
    that realised fraction n_g / n, so Σ p̃/q over all draws is exactly unbiased for Z.

    Arguments:
        parts: (share, proposal) pairs; shares are renormalised.
    """

    def __init__(self, parts: Sequence[tuple[float, Proposal]]) -> None:
        if not parts:
            raise ValueError("DefensiveMixture: needs at least one part")
        total = sum(share for share, _ in parts)
        self.shares = [share / total for share, _ in parts]
        self.parts = [part for _, part in parts]

    def _counts(self, n: int) -> list[int]:
        edges = [round(n * c) for c in np.cumsum([0.0, *self.shares])]
        return [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]

    @torch.no_grad()
    def sample_and_log_prob(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draws (n, d) and their exact mixture log density (n,), float64."""
        counts = self._counts(n)
        x = torch.cat(
            [
                p.sample_and_log_prob(m, generator)[0]
                for p, m in zip(self.parts, counts, strict=True)
                if m
            ]
        )
        return x, self._log_prob(x, counts, n)

    def _log_prob(self, x: Tensor, counts: list[int], n: int) -> Tensor:
        terms = [  # a part whose density is undefined at a point (NaN) proposes nothing there
            math.log(m / n) + part.log_prob(x).double().nan_to_num(nan=-math.inf)
            for part, m in zip(self.parts, counts, strict=True)
            if m
        ]
        return torch.logsumexp(torch.stack(terms), dim=0)


def fitted_gaussians(
    x: Tensor, components: int, inflation: float, floor: float, generator: torch.Generator
) -> DiagonalGaussians | None:
    """A diagonal Gaussian mixture fitted by EM (scikit-learn) to the finite rows of x (n, d),
    variances inflated by `inflation` and at least `floor`; None with too few points."""
    finite = x[torch.isfinite(x).all(-1)].detach().cpu().double().numpy()
    components = min(components, len(finite) // 10)
    if components < 1:
        return None
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device))
    model = GaussianMixture(components, covariance_type="diag", reg_covar=floor, random_state=seed)
    with warnings.catch_warnings():  # an unconverged fit is still a valid proposal
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(finite)
    return DiagonalGaussians(
        torch.from_numpy(model.means_),
        (inflation * torch.from_numpy(model.covariances_)).clamp_min(floor),
        torch.from_numpy(model.weights_ / model.weights_.sum()),
    )


def defensive_proposal(
    target: Target,
    tilt_std: float,
    draws: Tensor,
    flow: Proposal | None,
    generator: torch.Generator,
) -> DefensiveMixture:
    """The defensive mixture for an EBM p̃ = exp(−E)·ρ on `target`'s space: N(μ_k, c Σ_k) at the
    target's modes (equal weights) with c = 1 + 2/√d, the tilt ρ = N(0, tilt_std² I), a diagonal
    mixture of max(8, 2K) components fitted to `draws` (n, d) of the method's samplers (variances
    inflated by c), and `flow` when the method has one."""
    dim, k = target.dim, target.n_modes
    inflation = 1 + 2 / math.sqrt(dim)
    floor = 1e-3 * float(target.variances.min())
    modes = DiagonalGaussians(target.means, inflation * target.variances, torch.full((k,), 1 / k))
    tilt = DiagonalGaussians(
        torch.zeros(1, dim), torch.full((1, dim), float(tilt_std) ** 2), torch.ones(1)
    )
    parts: list[tuple[float, Proposal]] = [(SHARES["modes"], modes), (SHARES["tilt"], tilt)]
    fitted = fitted_gaussians(draws, max(8, 2 * k), inflation, floor, generator)
    if fitted is not None:
        parts.append((SHARES["draws"], fitted))
    if flow is not None:
        parts.append((SHARES["flow"], flow))
    return DefensiveMixture(parts)
