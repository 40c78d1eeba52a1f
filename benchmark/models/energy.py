"""Energy networks and the tilted EBM p_θ(x) ∝ exp(−E_θ(x)) ρ(x)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .batching import map_rows

__all__ = [
    "MLPEnergy",
    "TiltedEBM",
    "autograd_value_and_grad",
    "base_std_from_data",
    "log_isotropic_normal",
]


def log_isotropic_normal(x: Tensor, std: Tensor) -> Tensor:
    """log N(x; 0, std² I), (n, d) -> (n,)."""
    var = std**2
    return -0.5 * (x**2).sum(-1) / var - 0.5 * x.shape[-1] * torch.log(2 * math.pi * var)


def autograd_value_and_grad(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """fn(x) and ∇ₓ Σ fn(x) by autograd, detached, ((n,), (n, d)); no gradient reaches the
    parameters of fn."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        value = fn(x)
        (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


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
        self._linears: list[nn.Linear] = list(self.net)[::2]  # Linear, SiLU, …, Linear

    def forward(self, x: Tensor) -> Tensor:
        """E_θ(x), (n, d) -> (n,); a large batch is evaluated in row blocks on a CPU."""
        return map_rows(self._forward, x)

    def _forward(self, x: Tensor) -> Tensor:
        *hidden, last = self._linears
        for layer in hidden:  # in place: one activation buffer per layer, not two
            x = F.silu(F.linear(x, layer.weight, layer.bias), inplace=not torch.is_grad_enabled())
        return F.linear(x, last.weight, last.bias).squeeze(-1)

    @torch.no_grad()
    def value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """E_θ(x) and ∇ₓE_θ(x), ((n,), (n, d)), by a written-out backward pass: the operations
        autograd would run (so the same numbers), without building a graph or touching the
        parameters' gradients."""
        *hidden, last = self._linears
        pre_activations, h = [], x
        for layer in hidden:
            a = F.linear(h, layer.weight, layer.bias)
            pre_activations.append(a)
            h = F.silu(a)
        energy = F.linear(h, last.weight, last.bias).squeeze(-1)
        grad = last.weight.expand(x.shape[0], -1)
        for layer, a in zip(reversed(hidden), reversed(pre_activations), strict=True):
            grad = torch.ops.aten.silu_backward(grad, a).mm(layer.weight)
        return energy, grad


class TiltedEBM(nn.Module):
    """log p̃_θ(x) = −E_θ(x) + log ρ(x), with ρ = N(0, σ² I) (the flow's base density).

    `potential(x)` = −log p̃_θ(x) is what samplers target; with E_θ ≡ 0 the EBM is ρ itself.
    """

    def __init__(self, energy: nn.Module, dim: int, base_std: float) -> None:
        super().__init__()
        self.energy = energy
        self.dim = dim
        self.register_buffer("base_std", torch.tensor(float(base_std)))
        # σ is fixed: log ρ's constants, computed once in float32 as `log_isotropic_normal` does
        # (the same numbers, fewer tensor operations per potential and gradient); tensors, not
        # floats, so that a compiled sampler does not recompile for each σ
        var = self.base_std**2
        self.register_buffer("_var", var, persistent=False)
        self.register_buffer("_inv_var", 1 / var, persistent=False)
        self.register_buffer(
            "_log_normaliser", 0.5 * dim * torch.log(2 * math.pi * var), persistent=False
        )

    def log_base(self, x: Tensor) -> Tensor:
        """log ρ(x) = log N(x; 0, σ² I), (n, d) -> (n,), normalised."""
        return -0.5 * (x**2).sum(-1) / self._var - self._log_normaliser

    def log_unnormalised(self, x: Tensor) -> Tensor:
        """log p̃_θ(x) = −E_θ(x) + log ρ(x), (n, d) -> (n,)."""
        return -self.energy(x) + self.log_base(x)

    def potential(self, x: Tensor) -> Tensor:
        """U(x) = E_θ(x) − log ρ(x), (n, d) -> (n,)."""
        return -self.log_unnormalised(x)

    def potential_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """U(x) and ∇ₓU(x), ((n,), (n, d)), without gradients to the parameters; through the
        energy's own `value_and_grad(x) -> (E, ∇E)` when it has one (`MLPEnergy`), else autograd."""
        value_and_grad = getattr(self.energy, "value_and_grad", None)
        if value_and_grad is None:
            return autograd_value_and_grad(self.potential, x)
        energy, grad = value_and_grad(x)
        u = energy - self.log_base(x)  # exactly −(−E + log ρ), the value of `potential`
        return u, grad + x * self._inv_var  # ∇(−log ρ)(x) = x / σ²


def base_std_from_data(data: Tensor) -> float:
    """σ with σ² the largest per-dimension variance of the data (docs/SCIENCE.md §1)."""
    return float(data.var(dim=0).max().sqrt())
