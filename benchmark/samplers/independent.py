"""Global moves with an independent proposal λ (a flow): IMH and i-SIR."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .base import Info, Potential, State, select

__all__ = ["Proposal", "NoiseProposal", "IMH", "ISIR"]


class Proposal(Protocol):
    """An independent proposal with exact density, e.g. a `Flow`."""

    def sample_and_log_prob(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draws (n, d) and their log density (n,)."""

    def log_prob(self, x: Tensor) -> Tensor:
        """log λ(x), (n, d) -> (n,)."""


class NoiseProposal(Proposal, Protocol):
    """A proposal whose draws are a deterministic function of their randomness (a flow of its
    base noise), so that a step can draw the randomness first and move later (`IMH`, `ISIR`)."""

    def noise(self, n: int, generator: torch.Generator) -> Tensor:
        """The randomness of n draws, (n, ...)."""

    def from_noise(self, noise: Tensor) -> tuple[Tensor, Tensor]:
        """The draws (n, d) made from `noise` and their log density (n,), without gradients."""


class IMH:
    """Independent Metropolis–Hastings: x′ ~ λ, accepted with min(1, π(x′)λ(x) / (π(x)λ(x′))).

    A step is `draw` (the proposal's noise, the uniforms) then `move` (deterministic given them)."""

    def __init__(self, potential: Potential, proposal: NoiseProposal) -> None:
        self.potential = potential
        self.proposal = proposal

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        self.count(state.x.shape[0])
        return self.move(state, *self.draw(state, generator))

    def draw(self, state: State, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """The noise of one proposal per chain and an acceptance uniform, ((n, ...), (n,))."""
        noise = self.proposal.noise(state.x.shape[0], generator)
        uniform = torch.rand(noise.shape[0], generator=generator, device=noise.device)
        return noise, uniform

    def count(self, chains: int) -> None:
        """Count one step's evaluations (a gradient at each proposal) and flow passes (a draw and
        the log density of the current state, per chain)."""
        self.potential.count(chains, chains, flow=2 * chains)

    def move(self, state: State, noise: Tensor, uniform: Tensor) -> tuple[State, Info]:
        """The step given its draws (`draw`); evaluations are not counted here (`count`)."""
        x, log_q_new = self.proposal.from_noise(noise)
        proposal = State(x, *self.potential.uncounted_value_and_grad(x))
        with torch.no_grad():
            log_q_old = self.proposal.log_prob(state.x)
        log_ratio = (-proposal.potential - log_q_new) - (-state.potential - log_q_old)
        accept = uniform.log() < log_ratio
        return select(accept, proposal, state), Info({"global": accept.float()})

    def position(self, state: State) -> Tensor:
        return state.x


class ISIR:
    """Iterated sampling-importance-resampling (Samsonov et al. 2022): per chain, draw N−1 points
    from λ, keep the current state as the N-th, pick one with probability ∝ π(x)/λ(x).
    Acceptance records whether the chain moved. A step is `draw` (the pool's noise and the
    uniforms of the pick) then `move` (deterministic given the draws)."""

    def __init__(self, potential: Potential, proposal: NoiseProposal, pool_size: int) -> None:
        if pool_size < 2:
            raise ValueError(f"pool_size: must be at least 2, got {pool_size!r}")
        self.potential = potential
        self.proposal = proposal
        self.pool_size = pool_size

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        self.count(state.x.shape[0])
        return self.move(state, *self.draw(state, generator))

    def draw(self, state: State, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """The noise of N−1 proposals per chain and uniforms for the pick,
        ((n·(N−1), ...), (n, N))."""
        n = state.x.shape[0]
        noise = self.proposal.noise(n * (self.pool_size - 1), generator)
        uniform = torch.rand(n, self.pool_size, generator=generator, device=noise.device)
        return noise, uniform

    def count(self, chains: int) -> None:
        """Count one step's evaluations (the pool's energies and a gradient per chain) and flow
        passes (N − 1 draws and the log density of the current state, per chain)."""
        self.potential.count(chains * self.pool_size, chains, flow=chains * self.pool_size)

    def move(self, state: State, noise: Tensor, uniform: Tensor) -> tuple[State, Info]:
        """The step given its draws (`draw`); evaluations are not counted here (`count`)."""
        n, d = state.x.shape
        m = self.pool_size - 1
        fresh, log_q_fresh = self.proposal.from_noise(noise)
        with torch.no_grad():
            log_w_fresh = -self.potential.fn(fresh) - log_q_fresh
            log_w_old = -state.potential - self.proposal.log_prob(state.x)
        log_w = torch.cat([log_w_old[:, None], log_w_fresh.view(n, m)], dim=1)  # (n, N)
        # a draw from the categorical ∝ exp(log_w) per chain, by the Gumbel-max trick
        pick = (log_w - (-uniform.log()).log()).argmax(dim=1)
        moved = pick != 0
        chosen = fresh.view(n, m, d)[torch.arange(n, device=pick.device), (pick - 1).clamp(min=0)]
        x = torch.where(moved[:, None], chosen, state.x)
        new = State(x, *self.potential.uncounted_value_and_grad(x))
        return select(moved, new, state), Info({"global": moved.float()})

    def position(self, state: State) -> Tensor:
        return state.x
