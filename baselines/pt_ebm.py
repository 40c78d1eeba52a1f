"""PT-EBM: a tilted EBM trained by maximum likelihood with negatives from persistent replica
exchange (parallel tempering; Swendsen & Wang 1986, Geyer 1991) — the cold rung of K tempered
copies of each chain, rung k on exp(−β_k E_θ) ρ, MALA on every rung and swaps between neighbours
(`benchmark.samplers.ReplicaExchange`). Tempering is the sampling community's reference for mode
proportions (Grenioux, Noble, Gabrié 2025, arXiv 2504.08916); as an EBM's training sampler it is
our addition, a baseline that mixes between modes without a learned proposal.

Budget: `steps` replica-exchange steps per iteration cost K · steps gradients per chain; the
defaults, K = 4 and 8 steps, are ULA-EBM's 32 gradient steps per chain and iteration (each
iteration also re-evaluates the K rungs under the new energy, as ULA-EBM re-evaluates its chains).
MALA's step size of each rung is adapted toward `target_accept` during training and frozen after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.samplers import ReplicaExchange, geometric_ladder
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    FittedModel,
    Problem,
    Progress,
    TrainParams,
    counted_potential,
    maximum_likelihood,
    require,
)
from benchmark.training.parts import LangevinParams, make_noise

__all__ = ["PTEBMParams", "fit"]


@dataclass(frozen=True)
class PTEBMParams(TrainParams):
    """PT-EBM hyperparameters (one replica-exchange chain per negative).

    Attributes:
        rungs: Tempered copies K of each chain (β_0 = 1 is the chain proper).
        beta_min: The hottest rung's β; the ladder is geometric from 1 down to it.
        steps: Replica-exchange steps (a MALA move of every rung, then one round of swaps) per
            training iteration.
        step_size: The cold rung's initial MALA step size (rung k starts at step_size / β_k).
        target_accept: MALA acceptance each rung's step size is adapted toward in training.
    """

    rungs: int = 4
    beta_min: float = 0.1
    steps: int = 8
    step_size: float = 0.01
    target_accept: float = 0.6

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.rungs >= 2, "rungs", self.rungs, "must be at least 2")
        require(0 < self.beta_min < 1, "beta_min", self.beta_min, "must be in (0, 1)")
        require(self.steps >= 1, "steps", self.steps, "must be at least 1")
        require(self.step_size > 0, "step_size", self.step_size, "must be positive")
        require(
            0 < self.target_accept < 1, "target_accept", self.target_accept, "must be in (0, 1)"
        )


@register_method(
    "pt_ebm",
    display="PT-EBM",
    params=PTEBMParams,
    test_config=PTEBMParams(batch_size=32, rungs=2, steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: PTEBMParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM with `batch_size` persistent replica-exchange chains from ρ."""
    ebm = problem.ebm
    potential = counted_potential(ebm, problem.counter)
    betas = geometric_ladder(params.rungs, params.beta_min)
    sampler = ReplicaExchange(
        potential, ebm.base_std, betas, params.step_size, params.target_accept
    )
    noise = make_noise(problem, LangevinParams(noise="gaussian"))  # ρ, the EBM at E ≡ 0
    state = sampler.init(noise(params.batch_size, generator))

    def negatives(iteration: int) -> Tensor:
        nonlocal state
        if iteration > 1:  # the energy moved: cached energies and gradients are stale
            state = sampler.refresh(state)
        for _ in range(params.steps):
            state, info = sampler.step(state, generator)
            sampler.adapt(info)
        return state.x

    trained = maximum_likelihood(problem, params, generator, progress, negatives)
    return FittedModel(
        ebm=ebm,
        negatives=trained.negatives,
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=state.x,
        checkpoints=trained.checkpoints,
        counter=problem.counter,
    )
