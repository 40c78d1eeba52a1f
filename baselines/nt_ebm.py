"""NT-EBM (Nijkamp et al. 2022, after Hoffman et al. 2019 and Xiao et al. 2020): a tilted EBM
trained by maximum likelihood with negatives from neural-transport MALA — MALA in the latent space
of a flow T on U_z(z) = U(T(z)) − log|det ∂T/∂z| — chains started afresh from the flow every
iteration; the flow fitted by maximum likelihood to the negatives as training goes, as in the
comparison of Grenioux et al. (2023; docs/SCIENCE.md §3).

Departures from the paper: `mala_steps` defaults to 4 instead of 128 so that a few hundred
iterations fit the quick budget (one latent MALA step costs a flow pass both ways; set 128 for the
paper's setting). As in Grenioux et al.'s comparison, the flow starts at the identity (= ρ = the
EBM at E ≡ 0) and learns from the negatives only, never from the data. The step size is adapted
toward `target_accept` after every MALA step during training and frozen in the returned sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.models.flows import Flow
from benchmark.samplers import NeuralTransportMALA
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    FittedModel,
    Problem,
    Progress,
    counted_potential,
    maximum_likelihood,
    require,
)
from benchmark.training.parts import FlowParams, flow_fitter, flow_started, make_flow, warm_up

__all__ = ["NTEBMParams", "latent_mala", "fit"]


@dataclass(frozen=True)
class NTEBMParams(FlowParams):
    """NT-EBM hyperparameters (and those of `FlowParams`).

    Attributes:
        mala_steps: Latent MALA steps per training iteration (paper: 128).
        step_size: Initial latent MALA step size, adapted toward `target_accept` in training.
        target_accept: MALA acceptance aimed at (paper: 0.75).
    """

    mala_steps: int = 4
    step_size: float = 0.05
    target_accept: float = 0.75

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.mala_steps >= 1, "mala_steps", self.mala_steps, "must be at least 1")
        require(self.step_size > 0, "step_size", self.step_size, "must be positive")
        require(
            0 < self.target_accept < 1, "target_accept", self.target_accept, "must be in (0, 1)"
        )


def latent_mala(
    sampler: NeuralTransportMALA,
    flow: Flow,
    n: int,
    steps: int,
    generator: torch.Generator,
) -> Tensor:
    """`n` chains started from the flow, `steps` latent MALA steps (adapting the step size after
    each one); returns their data-space positions, (n, d). Counts the n flow draws on the
    sampler's potential (the sampler counts its own passes)."""
    sampler.potential.count(flow=n)
    return sampler.position(warm_up(sampler, flow.sample(n, generator), steps, generator))


@register_method(
    "nt_ebm",
    display="NT-EBM",
    params=NTEBMParams,
    test_config=NTEBMParams(batch_size=32, mala_steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: NTEBMParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM with latent MALA chains started from the flow each iteration."""
    ebm = problem.ebm
    flow = make_flow(problem, params)
    potential = counted_potential(ebm, problem.counter)
    sampler = NeuralTransportMALA(potential, flow, params.step_size, params.target_accept)

    def negatives(iteration: int) -> Tensor:
        return latent_mala(sampler, flow, params.batch_size, params.mala_steps, generator)

    fit_flow = flow_fitter(problem, flow, params.flow_lr)
    trained = maximum_likelihood(problem, params, generator, progress, negatives, fit_flow)
    return flow_started(problem, trained, sampler, flow, params.batch_size, generator)
