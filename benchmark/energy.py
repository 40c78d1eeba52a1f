"""Energy networks and the tilted EBM p_θ(x) ∝ exp(−E_θ(x)) ρ(x)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["MLPEnergy", "TiltedEBM", "base_std_from_data", "log_isotropic_normal"]


def log_isotropic_normal(x: Tensor, std: Tensor) -> Tensor:
    """log N(x; 0, std² I), (n, d) -> (n,)."""
    var = std**2
    return -0.5 * (x**2).sum(-1) / var - 0.5 * x.shape[-1] * torch.log(2 * math.pi * var)


class MLPEnergy(nn.Module):
    """An MLP energy in the style of Nijkamp et al. (2020): SiLU activations, a scalar output whose
    last layer is zero-initialised so that E ≡ 0 at start.

    Arguments:
        dim: Input dimension d.
        hidden: Width of each hidden layer.
        depth: Number of hidden layers.
    """

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        last = nn.Linear(width, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: Tensor) -> Tensor:
        """E_θ(x), (n, d) -> (n,)."""
        return self.net(x).squeeze(-1)


class TiltedEBM(nn.Module):
    """log p̃_θ(x) = −E_θ(x) + log ρ(x), with ρ = N(0, σ² I) (the flow's base density).

    `potential(x)` = −log p̃_θ(x) is what samplers target; with E_θ ≡ 0 the EBM is ρ itself.
    """

    def __init__(self, energy: nn.Module, dim: int, base_std: float) -> None:
        super().__init__()
        self.energy = energy
        self.dim = dim
        self.register_buffer("base_std", torch.tensor(float(base_std)))

    def log_base(self, x: Tensor) -> Tensor:
        """log ρ(x), (n, d) -> (n,), normalised."""
        return log_isotropic_normal(x, self.base_std)

    def log_unnormalised(self, x: Tensor) -> Tensor:
        """log p̃_θ(x) = −E_θ(x) + log ρ(x), (n, d) -> (n,)."""
        return -self.energy(x) + self.log_base(x)

    def potential(self, x: Tensor) -> Tensor:
        """U(x) = E_θ(x) − log ρ(x), (n, d) -> (n,)."""
        return -self.log_unnormalised(x)


def base_std_from_data(data: Tensor) -> float:
    """σ with σ² the largest per-dimension variance of the data (SPEC §2)."""
    return float(data.var(dim=0).max().sqrt())
