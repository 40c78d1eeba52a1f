"""Langevin samplers: ULA and MALA, with the proper parameterisation x′ = x − h∇U + √(2h) ξ."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Info, Potential, State, select

__all__ = ["ULA", "MALA"]


def _noise(state: State, generator: torch.Generator) -> Tensor:
    x = state.x
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


class ULA:
    """Unadjusted Langevin: x′ = x − h∇U(x) + √(2h) ξ (no hidden temperature). A step is `draw`
    (the noise ξ) then `move`, which a driver may run compiled (`run_ula`)."""

    def __init__(self, potential: Potential, step_size: float) -> None:
        self.potential = potential
        self.step_size = step_size

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        self.count(state.x.shape[0])
        return self.move(state, self.step_size, self.draw(state, generator))

    def draw(self, state: State, generator: torch.Generator) -> Tensor:
        """One step's randomness: the noise ξ, (n, d)."""
        return _noise(state, generator)

    def count(self, chains: int) -> None:
        """Count one step's evaluations (one gradient per chain) on the potential's counter."""
        self.potential.count(chains, chains)

    def move(self, state: State, step_size: float | Tensor, noise: Tensor) -> tuple[State, Info]:
        """The step given its noise, with step size h (a float, or a 0-d tensor in a compiled
        graph); evaluations are not counted here (`count`)."""
        h = step_size
        x = state.x - h * state.grad + (2 * h) ** 0.5 * noise
        accepted = torch.ones(x.shape[0], device=x.device)
        return State(x, *self.potential.uncounted_value_and_grad(x)), Info({"local": accepted})

    def moves(self, state: State, step_size: float | Tensor, noises: Tensor) -> State:
        """`move` once per noise of `noises` (k, n, d): k steps in one call, e.g. one compiled
        graph (`benchmark.training.parts.run_ula`)."""
        for noise in noises.unbind():
            state, _ = self.move(state, step_size, noise)
        return state

    def position(self, state: State) -> Tensor:
        return state.x


class MALA:
    """Metropolis-adjusted Langevin with a scalar step size h.

    With `target_accept` set, `adapt(info)` moves log h toward that acceptance (Robbins–Monro);
    call it during warm-up only: `step` itself never changes h. A step is `draw` (its randomness)
    then `move` (deterministic given the draws), so that a driver may draw several steps' noise
    first and run their moves as one compiled graph (`FlowMC`).
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
        self.count(state.x.shape[0])
        return self.move(state, self.step_size, *self.draw(state, generator))

    def draw(self, state: State, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One step's randomness: the noise ξ (n, d) and the acceptance uniforms (n,)."""
        noise = _noise(state, generator)
        uniform = torch.rand(noise.shape[0], generator=generator, device=noise.device)
        return noise, uniform

    def count(self, chains: int) -> None:
        """Count one step's evaluations (one gradient per chain) on the potential's counter."""
        self.potential.count(chains, chains)

    def move(
        self, state: State, step_size: float | Tensor, noise: Tensor, uniform: Tensor
    ) -> tuple[State, Info]:
        """The step given its draws (`draw`), with step size h (a float, or a 0-d tensor in a
        compiled graph); evaluations are not counted here (`count`)."""
        h = step_size
        y = state.x - h * state.grad + (2 * h) ** 0.5 * noise
        u_y, grad_y = self.potential.uncounted_value_and_grad(y)
        # log q(y | x) = −|y − x + h∇U(x)|² / 4h = −|ξ|² / 2, as y − x + h∇U(x) = √(2h) ξ
        back = state.x - y + h * grad_y  # x − y + h∇U(y)
        log_q_forward = -0.5 * noise.square().sum(-1)
        log_q_backward = back.square().sum(-1) / (-4 * h)
        log_ratio = state.potential - u_y + log_q_backward - log_q_forward
        accept = uniform.log() < log_ratio
        return select(accept, State(y, u_y, grad_y), state), Info({"local": accept.float()})

    def adapt(self, info: Info) -> None:
        """Warm-up only: h ← h · exp(rate · (acceptance − target))."""
        if self.target_accept is not None:
            rate = float(info.acceptance["local"].mean())
            self.step_size *= math.exp(self.adapt_rate * (rate - self.target_accept))

    def position(self, state: State) -> Tensor:
        return state.x
