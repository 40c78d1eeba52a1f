"""Replica exchange (parallel tempering; Swendsen & Wang 1986, Geyer 1991): K tempered copies of a
batch of chains, local MALA moves on every rung, swaps between neighbouring rungs.

Rung k targets π_k(x) ∝ exp(−β_k E(x)) ρ(x), where E = U + log ρ is the energy relative to the
tilt ρ = N(0, σ²I) and 1 = β_0 > β_1 > … > β_{K−1} > 0: the tempered potential is
U_k = β_k U + (1 − β_k) U_ρ with U_ρ(x) = |x|²/2σ², so every rung is normalisable (at β → 0 it is
ρ itself) whatever E does far from the data. Swapping rungs k and k+1 of a chain is accepted with
probability min(1, exp((β_k − β_{k+1})(E(x_k) − E(x_{k+1})))), the exact Metropolis ratio (ρ
cancels). A step costs one gradient per replica, K per chain (the swaps reuse its energies).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Info, Potential, State

__all__ = ["LadderState", "ReplicaExchange", "geometric_ladder", "swap_log_acceptance"]


def geometric_ladder(rungs: int, beta_min: float) -> Tensor:
    """β_k = β_min^(k/(K−1)), k = 0 … K−1: from 1 down to β_min, (K,); [1] for one rung."""
    if rungs < 1 or not 0 < beta_min <= 1:
        raise ValueError(
            f"geometric_ladder: needs rungs ≥ 1, 0 < beta_min ≤ 1: {rungs}, {beta_min}"
        )
    if rungs == 1:
        return torch.ones(1)
    return beta_min ** (torch.arange(rungs, dtype=torch.float32) / (rungs - 1))


def swap_log_acceptance(betas: Tensor, energies: Tensor) -> Tensor:
    """log of the Metropolis ratio of swapping rungs k and k+1, (β_k − β_{k+1})(E_k − E_{k+1}):
    betas (K,), energies E relative to the tilt (K, n) -> (K−1, n)."""
    return (betas[:-1] - betas[1:])[:, None] * (energies[:-1] - energies[1:])


@dataclass
class LadderState:
    """Every rung of n chains: `ladder` holds positions (K, n, d), the untempered potential U
    (K, n) and its gradient (K, n, d); rung 0 (β = 1) is the chains' state proper."""

    ladder: State

    @property
    def x(self) -> Tensor:
        """The cold rung's positions, (n, d)."""
        return self.ladder.x[0]


class ReplicaExchange:
    """Replica exchange over a batch of chains: a step is one MALA move on every rung, then swaps
    proposed between the neighbouring pairs (k, k+1) of one parity (even or odd k, a fair coin per
    step; with two rungs their pair every step), so that the proposed pairs are disjoint.

    Arguments:
        potential: The untempered potential U = −log π (β = 1), counted.
        base_std: σ of the tilt ρ = N(0, σ²I) that the tempering keeps (`TiltedEBM.base_std`).
        betas: The ladder, (K,), β_0 = 1 then decreasing (e.g. `geometric_ladder`).
        step_size: MALA step size h of the cold rung; rung k starts at h / β_k.
        target_accept: MALA acceptance that `adapt` steers each rung's step size toward.
        adapt_rate: Robbins–Monro rate of `adapt`.

    Info: "local", the cold rung's MALA acceptance (n,); "swap", the share of each chain's
    proposed swaps accepted (n,), with K ≥ 2; "local_by_rung", every rung's MALA acceptance (K, n).
    """

    def __init__(
        self,
        potential: Potential,
        base_std: float | Tensor,
        betas: Tensor,
        step_size: float,
        target_accept: float | None = None,
        adapt_rate: float = 0.05,
    ) -> None:
        if betas.ndim != 1 or float(betas[0]) != 1.0 or bool((betas[1:] >= betas[:-1]).any()):
            raise ValueError(f"betas: 1 first, then strictly decreasing, got {betas.tolist()}")
        if bool((betas <= 0).any()):
            raise ValueError(f"betas: every β must be positive, got {betas.tolist()}")
        self.potential = potential
        self.inv_var = 1.0 / float(base_std) ** 2
        self.betas = betas
        self.step_sizes = step_size / betas
        self.target_accept = target_accept
        self.adapt_rate = adapt_rate

    @property
    def rungs(self) -> int:
        return len(self.betas)

    def init(self, x: Tensor) -> LadderState:
        """Every rung at positions x (n, d); counts K gradients per chain."""
        ladder = x.detach().expand(self.rungs, *x.shape).clone()
        self.count(x.shape[0])
        return LadderState(self._evaluate(ladder))

    def refresh(self, state: LadderState) -> LadderState:
        """The same replicas with U and ∇U evaluated again (after the potential changed, e.g. a
        training step); counts K gradients per chain."""
        self.count(state.x.shape[0])
        return LadderState(self._evaluate(state.ladder.x))

    def step(self, state: LadderState, generator: torch.Generator) -> tuple[LadderState, Info]:
        self.count(state.x.shape[0])
        return self.move(state, *self.draw(state, generator))

    def draw(
        self, state: LadderState, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, Tensor, int]:
        """One step's randomness: MALA noise (K, n, d) and uniforms (K, n), swap uniforms
        (K−1, n), and the parity of the pairs proposed for a swap."""
        x = state.ladder.x
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        uniform = torch.rand(x.shape[:2], generator=generator, device=x.device)
        swap_uniform = torch.rand(self.rungs - 1, x.shape[1], generator=generator, device=x.device)
        parity = int(torch.randint(2, (1,), generator=generator, device=x.device))
        return noise, uniform, swap_uniform, parity

    def count(self, chains: int) -> None:
        """Count one step's evaluations: one gradient per replica, K per chain."""
        self.potential.count(self.rungs * chains, self.rungs * chains)

    def move(
        self, state: LadderState, noise: Tensor, uniform: Tensor, swap_uniform: Tensor, parity: int
    ) -> tuple[LadderState, Info]:
        """The step given its draws (`draw`); evaluations are not counted here (`count`)."""
        old = state.ladder
        h = self.step_sizes.to(old.x.device)[:, None, None]  # (K, 1, 1)
        u_x, g_x = self._tempered(old)
        y = old.x - h * g_x + (2 * h).sqrt() * noise
        new = self._evaluate(y)
        u_y, g_y = self._tempered(new)
        # log q(y | x) = −|ξ|²/2; log q(x | y) = −|x − y + h∇U_k(y)|² / 4h
        log_q_backward = (old.x - y + h * g_y).square().sum(-1) / (-4 * h[..., 0])
        log_ratio = u_x - u_y + log_q_backward + 0.5 * noise.square().sum(-1)
        accept = uniform.log() < log_ratio  # (K, n)
        m = accept[..., None]
        moved = State(
            torch.where(m, new.x, old.x),
            torch.where(accept, new.potential, old.potential),
            torch.where(m, new.grad, old.grad),
        )
        info = Info({"local": accept[0].float(), "local_by_rung": accept.float()})
        if self.rungs > 1:
            moved, info.acceptance["swap"] = self.swap(moved, swap_uniform, parity)
        return LadderState(moved), info

    def adapt(self, info: Info) -> None:
        """Warm-up only: each rung's h ← h · exp(rate · (its acceptance − target))."""
        if self.target_accept is not None:
            rates = info.acceptance["local_by_rung"].mean(-1).cpu()
            self.step_sizes = self.step_sizes * torch.exp(
                self.adapt_rate * (rates - self.target_accept)
            )

    def position(self, state: LadderState) -> Tensor:
        return state.x

    def _evaluate(self, x: Tensor) -> State:
        """U and ∇U at every replica of x (K, n, d), uncounted."""
        k, n, d = x.shape
        u, grad = self.potential.uncounted_value_and_grad(x.reshape(k * n, d))
        return State(x, u.reshape(k, n), grad.reshape(k, n, d))

    def _reference(self, x: Tensor) -> Tensor:
        """U_ρ(x) = |x|²/2σ², (..., d) -> (...)."""
        return 0.5 * self.inv_var * x.square().sum(-1)

    def _tempered(self, s: State) -> tuple[Tensor, Tensor]:
        """U_k = β_k U + (1 − β_k) U_ρ and its gradient at every replica, ((K, n), (K, n, d))."""
        beta = self.betas.to(s.x.device)[:, None]
        u = beta * s.potential + (1 - beta) * self._reference(s.x)
        grad = beta[..., None] * s.grad + (1 - beta[..., None]) * self.inv_var * s.x
        return u, grad

    def swap(self, s: State, swap_uniform: Tensor, parity: int) -> tuple[State, Tensor]:
        """Swap the pairs (k, k+1) with k of the given parity where the Metropolis test passes;
        returns the new ladder and each chain's share of accepted swaps among those proposed."""
        k_rungs, n = s.potential.shape
        parity = parity if k_rungs > 2 else 0  # one pair: propose it every step
        energies = s.potential - self._reference(s.x)
        log_ratio = swap_log_acceptance(self.betas.to(s.x.device), energies)
        proposed = (torch.arange(k_rungs - 1, device=s.x.device) % 2 == parity)[:, None]
        accept = (swap_uniform.log() < log_ratio) & proposed  # (K−1, n)
        index = torch.arange(k_rungs, device=s.x.device)[:, None].expand(k_rungs, n).clone()
        for k in range(parity, k_rungs - 1, 2):
            index[k] = torch.where(accept[k], k + 1, k)
            index[k + 1] = torch.where(accept[k], k, k + 1)
        share = accept.float().sum(0) / proposed.sum().clamp(min=1)
        gather = index[..., None].expand_as(s.x)
        swapped = State(
            s.x.gather(0, gather), s.potential.gather(0, index), s.grad.gather(0, gather)
        )
        return swapped, share
