"""RealNVP flows (zuko) with a base ρ = N(0, σ² I), initialised at the identity, sampled with an
explicit `torch.Generator`."""

from __future__ import annotations

import torch
import zuko
from torch import Tensor, nn
from zuko.distributions import DiagNormal
from zuko.flows import UnconditionalDistribution

__all__ = ["Flow", "default_flow_shape", "maximum_likelihood_step"]


def default_flow_shape(dim: int) -> tuple[int, tuple[int, ...]]:
    """(couplings, hidden widths) of the paper: 4 couplings with MLPs 3×16 in 2-D; in high
    dimension 2 blocks of 2 couplings, hidden 32/39/51 for d = 16/32/64 (else 2d)."""
    if dim <= 2:
        return 4, (16, 16, 16)
    width = {16: 32, 32: 39, 64: 51}.get(dim, 2 * dim)
    return 4, (width, width)


class Flow(nn.Module):
    """A RealNVP flow λ_α = T_# ρ, with T = identity at initialisation.

    Arguments:
        dim: Dimension d.
        base_std: σ of the base ρ = N(0, σ² I).
        couplings: Number of affine couplings (alternating masks).
        hidden: Hidden widths of each coupling's MLP.
    """

    def __init__(
        self,
        dim: int,
        base_std: float,
        couplings: int | None = None,
        hidden: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        default_couplings, default_hidden = default_flow_shape(dim)
        self.dim = dim
        self.net = zuko.flows.RealNVP(
            dim,
            transforms=couplings or default_couplings,
            hidden_features=tuple(hidden or default_hidden),
        )
        self.net.base = UnconditionalDistribution(
            DiagNormal,
            torch.zeros(dim),
            torch.full((dim,), float(base_std)),
            buffer=True,
        )
        for coupling in self.net.transform.transforms:
            last = coupling.hyper[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def _transform(self) -> torch.distributions.Transform:
        """The map x -> z (data to latent)."""
        return self.net.transform()

    def base_log_prob(self, z: Tensor) -> Tensor:
        """log ρ(z), (n, d) -> (n,)."""
        return self.net.base().log_prob(z)

    def log_prob(self, x: Tensor) -> Tensor:
        """log λ_α(x), (n, d) -> (n,)."""
        z, ladj = self._transform().call_and_ladj(x)
        return self.base_log_prob(z) + ladj

    def to_latent(self, x: Tensor) -> Tensor:
        """z = T⁻¹(x), (n, d) -> (n, d)."""
        return self._transform()(x)

    def from_latent(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """x = T(z) and log|det ∂T/∂z|, (n, d) -> ((n, d), (n,))."""
        return self._transform().inv.call_and_ladj(z)

    def rsample_and_log_prob(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Reparameterised draws x ~ λ_α and log λ_α(x), ((n, d), (n,))."""
        base = self.net.base()
        z = base.mean + base.stddev * torch.randn(
            n, self.dim, generator=generator, device=generator.device
        )
        x, ladj = self.from_latent(z)
        return x, self.base_log_prob(z) - ladj

    @torch.no_grad()
    def sample_and_log_prob(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draws x ~ λ_α and log λ_α(x), without gradients, ((n, d), (n,))."""
        return self.rsample_and_log_prob(n, generator)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Draws x ~ λ_α without gradients, (n, d)."""
        return self.sample_and_log_prob(n, generator)[0]


def maximum_likelihood_step(flow: Flow, optimizer: torch.optim.Optimizer, x: Tensor) -> None:
    """One optimizer step of maximum likelihood of the flow on x (n, d): minimise −mean log λ(x)."""
    loss = -flow.log_prob(x.detach()).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
