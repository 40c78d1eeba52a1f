"""CoopFlow (Xie et al. 2022, "A tale of two flows"): the flow proposes, a short ULA run on the
tilted EBM refines; the EBM is trained by maximum likelihood with the refined samples as negatives
and the flow by maximum likelihood on them, so the flow chases the EBM's Langevin flow.

ULA cannot move mass between separated modes in a short run, so the negatives inherit the flow's
mode weights; the flow, in turn, only learns from the negatives. What breaks that loop is the data,
through the EBM alone. Xie et al. pre-train the flow on the data in their best variant
("CoopFlow(Pre)"); here `pretrain_steps` (default 200 Adam steps of maximum likelihood
on data batches, about a second) does that: without it the flow starts at ρ and, with the short ULA
runs the quick budget affords, hardly moves in a few hundred iterations. Set 0 for plain CoopFlow.

Departures from the paper: `ula_steps` defaults to 32 instead of 256 (quick budget; set 256 for the
paper's setting). The ULA step is the paper's (5e-4 in 2-D, 1e-4 above), with the proper
parameterisation x′ = x − h∇U + √(2h) ξ of every sampler here (no hidden temperature,
docs/SCIENCE.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.models.flows import Flow, maximum_likelihood_step
from benchmark.samplers import ULA, EvalCounter
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    FittedModel,
    Problem,
    Progress,
    counted_potential,
    maximum_likelihood,
    require,
)
from benchmark.training.parts import FlowParams, flow_fitter, flow_started, make_flow, run_ula

__all__ = ["CoopFlowParams", "paper_step_size", "refine", "pretrain", "fit"]


@dataclass(frozen=True)
class CoopFlowParams(FlowParams):
    """CoopFlow hyperparameters (and those of `FlowParams`; `flow_lr` also pre-trains).

    Attributes:
        ula_steps: ULA refinement steps per iteration (paper: 256).
        step_size: ULA step size h (0: the paper's, 5e-4 in 2-D and 1e-4 above).
        pretrain_steps: Adam steps of maximum likelihood of the flow on the data before training
            (0: none, plain CoopFlow).
    """

    ula_steps: int = 32
    step_size: float = 0.0
    pretrain_steps: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.ula_steps >= 1, "ula_steps", self.ula_steps, "must be at least 1")
        require(self.step_size >= 0, "step_size", self.step_size, "must be non-negative")
        require(
            self.pretrain_steps >= 0, "pretrain_steps", self.pretrain_steps, "must be non-negative"
        )


def paper_step_size(dim: int) -> float:
    """The paper's ULA step: 5e-4 in 2-D, 1e-4 in high dimension."""
    return 5e-4 if dim <= 2 else 1e-4


def refine(
    sampler: ULA,
    flow: Flow,
    n: int,
    steps: int,
    generator: torch.Generator,
    compiled: bool = False,
) -> tuple[Tensor, Tensor]:
    """`n` flow draws and the same after `steps` ULA steps, ((n, d), (n, d)); `compiled`: see
    `run_ula`. The n flow passes are counted on the sampler's potential."""
    sampler.potential.count(flow=n)
    proposals = flow.sample(n, generator)
    return proposals, run_ula(sampler, proposals, steps, generator, compiled)


def pretrain(
    flow: Flow,
    data: Tensor,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    counter: EvalCounter,
) -> None:
    """`steps` Adam steps of maximum likelihood of the flow on random batches of `data` (n, d),
    their flow passes (`batch_size` a step) counted on `counter`."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr, fused=True)
    for _ in range(steps):
        index = torch.randint(len(data), (batch_size,), generator=generator, device=data.device)
        maximum_likelihood_step(flow, optimizer, data[index])
        counter.add(flow=batch_size)


@register_method(
    "coopflow",
    display="CoopFlow",
    params=CoopFlowParams,
    test_config=CoopFlowParams(batch_size=32, ula_steps=2, pretrain_steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: CoopFlowParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM on flow proposals refined by short ULA runs, the flow on the same."""
    ebm = problem.ebm
    flow = make_flow(problem, params)
    pretrain(
        flow,
        problem.data,
        params.pretrain_steps,
        params.batch_size,
        params.flow_lr,
        generator,
        problem.counter,
    )
    potential = counted_potential(ebm, problem.counter)
    sampler = ULA(potential, params.step_size or paper_step_size(ebm.dim))

    def negatives(iteration: int) -> Tensor:
        steps = params.ula_steps
        return refine(sampler, flow, params.batch_size, steps, generator, problem.compile)[1]

    fit_flow = flow_fitter(problem, flow, params.flow_lr)
    trained = maximum_likelihood(problem, params, generator, progress, negatives, fit_flow)
    return flow_started(problem, trained, sampler, flow, params.batch_size, generator)
