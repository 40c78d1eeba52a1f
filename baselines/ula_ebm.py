"""ULA-EBM (Du & Mordatch 2019; Nijkamp et al. 2020): a tilted EBM trained by maximum likelihood
with negatives from persistent ULA chains, K steps per iteration, the last state used
(docs/SCIENCE.md §3).

Departures from the papers: K defaults to 32 steps per iteration instead of the paper's 512 so
that a run fits the quick profile's budget (raise `steps` in a config for the paper setting); ULA
uses the proper parameterisation x′ = x − h∇U + √(2h)ξ on U = E_θ − log ρ, so the density learned is
exp(−E_θ)·ρ with no hidden temperature (Nijkamp et al.'s code drops the h factor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.samplers import ULA
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    FittedModel,
    Problem,
    Progress,
    counted_potential,
    maximum_likelihood,
)
from benchmark.training.parts import LangevinParams, langevin_step_size, make_noise, run_ula

__all__ = ["ULAEBMParams", "fit"]


@dataclass(frozen=True)
class ULAEBMParams(LangevinParams):
    """ULA-EBM hyperparameters: those of `LangevinParams`; one persistent chain per negative."""


@register_method(
    "ula_ebm",
    display="ULA-EBM",
    params=ULAEBMParams,
    test_config=ULAEBMParams(batch_size=32, steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: ULAEBMParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM with `batch_size` persistent ULA chains started from the noise."""
    potential = counted_potential(problem.ebm, problem.counter)
    sampler = ULA(potential, langevin_step_size(params, problem.ebm.dim))
    noise = make_noise(problem, params)
    chains = noise(params.batch_size, generator)

    def negatives(iteration: int) -> Tensor:
        nonlocal chains
        chains = run_ula(sampler, chains, params.steps, generator, problem.compile)
        return chains

    trained = maximum_likelihood(problem, params, generator, progress, negatives)
    return FittedModel(
        ebm=problem.ebm,
        negatives=trained.negatives,
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=chains,
        checkpoints=trained.checkpoints,
        counter=problem.counter,
    )
