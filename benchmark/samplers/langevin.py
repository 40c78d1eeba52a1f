"""Langevin samplers: ULA and MALA, with the proper parameterisation x′ = x − h∇U + √(2h) ξ."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Info, Potential, State, select

__all__ = ["ULA", "MALA"]


def _langevin_proposal(state: State, step_size: float, generator: torch.Generator) -> Tensor:
    noise = torch.randn(
        state.x.shape, generator=generator, device=state.x.device, dtype=state.x.dtype
    )
    return state.x - step_size * state.grad + math.sqrt(2 * step_size) * noise


class ULA:
    """Unadjusted Langevin: x′ = x − h∇U(x) + √(2h) ξ (no hidden temperature)."""

    def __init__(self, potential: Potential, step_size: float) -> None:
        self.potential = potential
        self.step_size = step_size

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        x = _langevin_proposal(state, self.step_size, generator)
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

    def _log_q(self, to: Tensor, start: State) -> Tensor:
        """log q(to | start) up to a constant shared by both directions, (n,)."""
        diff = to - start.x + self.step_size * start.grad
        return -(diff**2).sum(-1) / (4 * self.step_size)

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        proposal = self.init(_langevin_proposal(state, self.step_size, generator))
        log_ratio = (
            state.potential
            - proposal.potential
            + self._log_q(state.x, proposal)
            - self._log_q(proposal.x, state)
        )
        u = torch.rand(log_ratio.shape, generator=generator, device=log_ratio.device)
        accept = torch.log(u) < log_ratio
        return select(accept, proposal, state), Info({"local": accept.float()})

    def adapt(self, info: Info) -> None:
        """Warm-up only: h ← h · exp(rate · (acceptance − target))."""
        if self.target_accept is not None:
            rate = float(info.acceptance["local"].mean())
            self.step_size *= math.exp(self.adapt_rate * (rate - self.target_accept))

    def position(self, state: State) -> Tensor:
        return state.x
