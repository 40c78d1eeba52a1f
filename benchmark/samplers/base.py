"""What every sampler shares: a counted potential, the chain state, the step info, a driver."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..energy import autograd_value_and_grad

__all__ = ["EvalCounter", "Potential", "State", "Info", "Sampler", "sample_chains", "select"]


@dataclass
class EvalCounter:
    """Per-point evaluations of the potential and of its x-gradient (hardware-independent cost)."""

    energy: int = 0
    grad: int = 0


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

    @torch.no_grad()
    def value(self, x: Tensor) -> Tensor:
        """U(x), (n, d) -> (n,)."""
        self.counter.energy += x.shape[0]
        return self.fn(x)

    def value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """U(x) and ∇_x U(x), ((n,), (n, d)); gradients never reach the parameters of `fn`."""
        self.counter.energy += x.shape[0]
        self.counter.grad += x.shape[0]
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
