"""Global moves with an independent proposal λ (a flow): IMH and i-SIR."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .base import Info, Potential, State, select

__all__ = ["Proposal", "IMH", "ISIR"]


class Proposal(Protocol):
    """An independent proposal with exact density, e.g. a `Flow`."""

    def sample_and_log_prob(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draws (n, d) and their log density (n,)."""

    def log_prob(self, x: Tensor) -> Tensor:
        """log λ(x), (n, d) -> (n,)."""


class IMH:
    """Independent Metropolis–Hastings: x′ ~ λ, accepted with min(1, π(x′)λ(x) / (π(x)λ(x′)))."""

    def __init__(self, potential: Potential, proposal: Proposal) -> None:
        self.potential = potential
        self.proposal = proposal

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        x, log_q_new = self.proposal.sample_and_log_prob(state.x.shape[0], generator)
        proposal = self.init(x)
        with torch.no_grad():
            log_q_old = self.proposal.log_prob(state.x)
        log_ratio = (-proposal.potential - log_q_new) - (-state.potential - log_q_old)
        u = torch.rand(log_ratio.shape, generator=generator, device=log_ratio.device)
        accept = torch.log(u) < log_ratio
        return select(accept, proposal, state), Info({"global": accept.float()})

    def position(self, state: State) -> Tensor:
        return state.x


class ISIR:
    """Iterated sampling-importance-resampling (Samsonov et al. 2022): per chain, draw N−1 points
    from λ, keep the current state as the N-th, pick one with probability ∝ π(x)/λ(x).
    Acceptance records whether the chain moved."""

    def __init__(self, potential: Potential, proposal: Proposal, pool_size: int) -> None:
        if pool_size < 2:
            raise ValueError(f"pool_size: must be at least 2, got {pool_size!r}")
        self.potential = potential
        self.proposal = proposal
        self.pool_size = pool_size

    def init(self, x: Tensor) -> State:
        return State(x, *self.potential.value_and_grad(x))

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        n, d = state.x.shape
        m = self.pool_size - 1
        fresh, log_q_fresh = self.proposal.sample_and_log_prob(n * m, generator)
        with torch.no_grad():
            log_w_fresh = -self.potential.value(fresh) - log_q_fresh
            log_w_old = -state.potential - self.proposal.log_prob(state.x)
        log_w = torch.cat([log_w_old[:, None], log_w_fresh.view(n, m)], dim=1)  # (n, N)
        # a draw from the categorical ∝ exp(log_w) per chain, by the Gumbel-max trick
        uniform = torch.rand(log_w.shape, generator=generator, device=log_w.device)
        pick = log_w.sub_(uniform.log_().neg_().log_()).argmax(dim=1)
        moved = pick != 0
        chosen = fresh.view(n, m, d)[torch.arange(n, device=pick.device), (pick - 1).clamp_(min=0)]
        new = self.init(torch.where(moved[:, None], chosen, state.x))
        return select(moved, new, state), Info({"global": moved.float()})

    def position(self, state: State) -> Tensor:
        return state.x
