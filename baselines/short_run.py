"""Short-run MCMC (Nijkamp et al. 2019): a tilted EBM trained by maximum likelihood with negatives
from K ULA steps started afresh from noise every iteration — no persistent chains
(docs/SCIENCE.md §3).

Departures from the paper: ULA uses the proper parameterisation x′ = x − h∇U + √(2h)ξ on
U = E_θ − log ρ (the paper's code drops the h factor and so learns a tempered energy); the step size
and K default to the ULA-EBM settings (`benchmark.training.parts.LangevinParams`) so the two
baselines differ only in persistence.
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

__all__ = ["ShortRunParams", "fit"]


@dataclass(frozen=True)
class ShortRunParams(LangevinParams):
    """Short-run hyperparameters: those of `LangevinParams`; `batch_size` fresh chains each
    iteration."""


@register_method(
    "short_run",
    display="Short-run MCMC",
    params=ShortRunParams,
    test_config=ShortRunParams(batch_size=32, steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: ShortRunParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM with K-step ULA runs from fresh noise."""
    potential = counted_potential(problem.ebm, problem.counter)
    sampler = ULA(potential, langevin_step_size(params, problem.ebm.dim))
    noise = make_noise(problem, params)

    def negatives(iteration: int) -> Tensor:
        x = noise(params.batch_size, generator)
        return run_ula(sampler, x, params.steps, generator, problem.compile)

    trained = maximum_likelihood(problem, params, generator, progress, negatives)
    return FittedModel(
        ebm=problem.ebm,
        negatives=trained.negatives,
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=noise(params.batch_size, generator),
        checkpoints=trained.checkpoints,
        counter=problem.counter,
    )
