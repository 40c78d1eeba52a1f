"""What every sampler shares: a counted potential, the chain state, the step info, a driver."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..models.energy import autograd_value_and_grad

__all__ = [
    "GRAD_COST",
    "EvalCounter",
    "Potential",
    "State",
    "Info",
    "Sampler",
    "run_for_cost",
    "sample_chains",
    "select",
]

#: Cost units of one gradient evaluation: its forward pass and a backward pass, the usual price
#: of reverse-mode differentiation; an energy-only evaluation (e.g. an i-SIR pool) costs 1.
GRAD_COST = 2


@dataclass
class EvalCounter:
    """Per-point evaluations of the potential and of its x-gradient, and per-point passes of a
    normalizing flow (hardware-independent cost, docs/SCIENCE.md §7.7).

    Every gradient evaluation also counts as an energy evaluation (`value_and_grad` returns both).
    A flow pass is one point through a flow in one direction (T or T⁻¹, with its log-determinant:
    a draw, a log density, a latent position), differentiated or not.
    """

    energy: int = 0
    grad: int = 0
    flow: int = 0

    @property
    def cost(self) -> int:
        """Cost units: 1 per energy-only evaluation, `GRAD_COST` per gradient evaluation, i.e.
        (energy − grad) + GRAD_COST · grad. Flow passes are counted apart (`flow`), not here."""
        return self.energy - self.grad + GRAD_COST * self.grad

    def add(self, energy: int = 0, grad: int = 0, flow: int = 0) -> None:
        """Count `energy` evaluations of U, `grad` of which with their gradient, and `flow`
        flow passes."""
        self.energy += energy
        self.grad += grad
        self.flow += flow

    def snapshot(self) -> EvalCounter:
        """A copy of the counts so far, which later counting leaves as it is."""
        return EvalCounter(self.energy, self.grad, self.flow)


class Potential:
    """U(x) = −log π(x) up to a constant, batched (n, d) -> (n,), with counted evaluations.

    Arguments:
        fn: The potential; may depend on parameters that change between calls.
        counter: Where evaluations are counted (shared between potentials if given).
        value_and_grad: A faster way to get U(x) and ∇U(x) (e.g. `TiltedEBM.potential_and_grad`);
            autograd through `fn` if not given.
    """

    def __init__(
        self,
        fn: Callable[[Tensor], Tensor],
        counter: EvalCounter | None = None,
        value_and_grad: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None,
    ) -> None:
        self.fn = fn
        self.counter = counter if counter is not None else EvalCounter()
        self._value_and_grad = value_and_grad or functools.partial(autograd_value_and_grad, fn)

    def count(self, energy: int = 0, grad: int = 0, flow: int = 0) -> None:
        """Count `energy` evaluations of U, `grad` of which with their gradient, and `flow` passes
        of a flow that a kernel on this potential made (e.g. an i-SIR pool's draws)."""
        self.counter.add(energy, grad, flow)

    @torch.no_grad()
    def value(self, x: Tensor) -> Tensor:
        """U(x), (n, d) -> (n,)."""
        self.count(x.shape[0])
        return self.fn(x)

    def value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """U(x) and ∇_x U(x), ((n,), (n, d)); gradients never reach the parameters of `fn`."""
        self.count(x.shape[0], x.shape[0])
        return self.uncounted_value_and_grad(x)

    def uncounted_value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """`value_and_grad` without counting: for kernels that count their steps themselves
        (`count`), so that a compiled step holds no Python counter."""
        return self._value_and_grad(x.detach())


@dataclass
class State:
    """A batch of chains: positions x (n, d), the potential U(x) (n,) and its gradient (n, d)."""

    x: Tensor
    potential: Tensor
    grad: Tensor


def select(mask: Tensor, new: State, old: State) -> State:
    """Per-chain choice between two states: `new` where mask (n,) is true."""
    m = mask[:, None]
    return State(
        torch.where(m, new.x, old.x),
        torch.where(mask, new.potential, old.potential),
        torch.where(m, new.grad, old.grad),
    )


@dataclass
class Info:
    """What one step did: per-chain acceptance (n,) for each kind of move it made."""

    acceptance: dict[str, Tensor] = field(default_factory=dict)


class Sampler(Protocol):
    """A Markov kernel over a batch of chains (BlackJAX's shape)."""

    def init(self, x: Tensor) -> State:
        """The state at positions x (n, d)."""

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        """One transition of every chain."""

    def position(self, state: State) -> Tensor:
        """Data-space positions of the chains, (n, d)."""


def sample_chains(
    sampler: Sampler, state: State, n_draws: int, generator: torch.Generator
) -> tuple[State, Tensor, list[Info]]:
    """Run `n_draws` steps, keeping every position: returns the last state, the draws
    (chains, draws, dim) and each step's info."""
    draws, infos = [], []
    for _ in range(n_draws):
        state, info = sampler.step(state, generator)
        draws.append(sampler.position(state))
        infos.append(info)
    return state, torch.stack(draws, dim=1), infos


def run_for_cost(
    sampler: Sampler,
    state: State,
    counter: EvalCounter,
    budget: float,
    generator: torch.Generator,
    min_steps: int = 1,
) -> Iterator[tuple[State, Info, float]]:
    """Step every chain until each has cost `budget` units (`EvalCounter.cost` of `counter`,
    which the sampler's potential counts on, divided by the chains), and at least `min_steps`
    steps; after each step yield (state, info, cost per chain so far)."""
    chains, start = state.x.shape[0], counter.cost
    spent, steps = 0.0, 0
    while spent < budget or steps < min_steps:
        state, info = sampler.step(state, generator)
        steps += 1
        spent = (counter.cost - start) / chains
        if spent <= 0:
            raise ValueError("run_for_cost: the sampler's steps are not counted on `counter`")
        yield state, info, spent
