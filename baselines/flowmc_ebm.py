"""flowMC-EBM (Grenioux, Moulines, Gabrié 2023): a tilted EBM trained by maximum likelihood with
negatives from flowMC — global i-SIR (or IMH) moves from a flow, blocks of MALA — on persistent
chains, the flow fitted by maximum likelihood to the negatives as training goes
(docs/SCIENCE.md §2).

Departure from the paper: the negatives are the chains' last states (the paper may use every state
of a sweep); MALA's step size is adapted toward `target_accept` during training and frozen after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    FittedModel,
    Problem,
    Progress,
    counted_potential,
    maximum_likelihood,
)
from benchmark.training.parts import FlowMCParams, build_flowmc, flow_fitter, make_flow, warm_up

__all__ = ["FlowMCEBMParams", "fit"]


@dataclass(frozen=True)
class FlowMCEBMParams(FlowMCParams):
    """flowMC-EBM hyperparameters: the flow's (`FlowParams`) and flowMC's (`FlowMCParams`)."""


@register_method(
    "flowmc_ebm",
    display="flowMC-EBM",
    params=FlowMCEBMParams,
    test_config=FlowMCEBMParams(batch_size=32, pool_size=4, local_steps=2, sweeps=1, checkpoints=2),
)
def fit(
    problem: Problem, params: FlowMCEBMParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM with persistent flowMC chains (one per negative)."""
    ebm = problem.ebm
    flow = make_flow(problem, params)
    potential = counted_potential(ebm, problem.counter)
    sampler = build_flowmc(potential, flow, params, compiled=problem.compile)
    chains = flow.sample(params.batch_size, generator)  # = ρ, the EBM at E ≡ 0
    problem.counter.add(flow=params.batch_size)

    def negatives(iteration: int) -> Tensor:
        nonlocal chains
        # from a fresh state (the EBM moved: cached energies and gradients are stale)
        chains = warm_up(sampler, chains, params.sweeps, generator).x
        return chains

    fit_flow = flow_fitter(problem, flow, params.flow_lr)
    trained = maximum_likelihood(problem, params, generator, progress, negatives, fit_flow)
    sampler.compiled = False  # the diagnostics' few sweeps would not repay a compilation
    return FittedModel(
        ebm=ebm,
        negatives=trained.negatives,
        initial=flow.sample(VIEW_DRAWS, generator),
        sampler=sampler,
        start=chains,
        checkpoints=trained.checkpoints,
        counter=problem.counter,
        proposal=flow,
    )
