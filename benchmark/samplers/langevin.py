"""Langevin samplers: ULA and MALA, with the proper parameterisation x′ = x − h∇U + √(2h) ξ."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Info, Potential, State, select

__all__ = ["ULA", "MALA"]


def _langevin_proposal(state: State, step_size: float, noise: Tensor) -> Tensor:
    """x − h∇U(x) + √(2h) ξ, (n, d)."""
    drift = torch.add(state.x, state.grad, alpha=-step_size)
    return drift.add_(noise, alpha=math.sqrt(2 * step_size))


def _noise(state: State, generator: torch.Generator) -> Tensor:
    x = state.x
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


class ULA:
    """Unadjusted Langevin: x′ = x − h∇U(x) + √(2h) ξ (no hidden temperature)."""

    def __init__(self, potential: Potential, step_size: float) -> None:
        self.potential = potential
        self.step_size = step_size

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        x = _langevin_proposal(state, self.step_size, _noise(state, generator))
        ones = torch.ones(x.shape[0], device=x.device)
        return self.init(x), Info({"local": ones})

    def position(self, state: State) -> Tensor:
        return state.x


class MALA:
    """Metropolis-adjusted Langevin with a scalar step size h.

    With `target_accept` set, `adapt(info)` moves log h toward that acceptance (Robbins–Monro);
    call it during warm-up only: `step` itself never changes h.
    """

    def __init__(
        self,
        potential: Potential,
        step_size: float,
        target_accept: float | None = None,
        adapt_rate: float = 0.05,
    ) -> None:
        self.potential = potential
        self.step_size = step_size
        self.target_accept = target_accept
        self.adapt_rate = adapt_rate

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        h, noise = self.step_size, _noise(state, generator)
        proposal = self.init(_langevin_proposal(state, h, noise))
        # log q(y | x) = −|y − x + h∇U(x)|² / 4h = −|ξ|² / 2, as y − x + h∇U(x) = √(2h) ξ
        back = torch.add(state.x, proposal.grad, alpha=h).sub_(proposal.x)  # x − y + h∇U(y)
        log_q_forward = noise.square().sum(-1).mul_(-0.5)
        log_q_backward = back.square().sum(-1).mul_(-1 / (4 * h))
        log_ratio = (state.potential - proposal.potential).add_(log_q_backward).sub_(log_q_forward)
        u = torch.rand(log_ratio.shape, generator=generator, device=log_ratio.device)
        accept = u.log_() < log_ratio
        return select(accept, proposal, state), Info({"local": accept.float()})

    def adapt(self, info: Info) -> None:
        """Warm-up only: h ← h · exp(rate · (acceptance − target))."""
        if self.target_accept is not None:
            rate = float(info.acceptance["local"].mean())
            self.step_size *= math.exp(self.adapt_rate * (rate - self.target_accept))

    def position(self, state: State) -> Tensor:
        return state.x
