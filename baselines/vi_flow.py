"""Reverse-KL flow (the variational baseline of docs/SCIENCE.md §3, a flow instead of VERA's
generator): a tilted EBM trained by maximum likelihood with negatives drawn from a flow λ that is
trained, after each EBM step, by reverse KL to the current EBM: minimise E_λ[log λ(x) + U(x)] with
reparameterised draws. No MCMC in training.

Reverse KL is mode-seeking: a flow that misses a mode, or under-weights it, is barely penalised,
and the EBM then learns against biased negatives. With `reweight`, the negatives are resampled
(multinomially, with replacement) from `batch_size` flow draws by their self-normalised importance
weights p̃_θ/λ, which corrects the weights of the modes the flow covers but cannot create mass
where λ has none.

The diagnostic sampler is flowMC with IMH global moves from the trained flow plus MALA
(`benchmark.samplers.FlowMC`), its MALA step size adapted toward `target_accept` over
`mala_warmup` sweeps at the end of training (counted in the evaluations) and then frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.models.flows import Flow
from benchmark.samplers import IMH, MALA, FlowMC, Potential
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    FittedModel,
    Problem,
    Progress,
    counted_potential,
    maximum_likelihood,
    require,
)
from benchmark.training.parts import FlowParams, flow_started, make_flow, warm_up

__all__ = ["VIFlowParams", "reverse_kl_step", "flow_negatives", "fit"]


@dataclass(frozen=True)
class VIFlowParams(FlowParams):
    """Reverse-KL flow hyperparameters (and those of `FlowParams`).

    Attributes:
        reweight: Resample the negatives by self-normalised importance weights p̃_θ/λ.
        flow_steps: Reverse-KL Adam steps of the flow per training iteration.
        local_steps: MALA steps after each IMH move of the diagnostic sampler.
        step_size: Initial MALA step size of the diagnostic sampler.
        target_accept: MALA acceptance its step size is adapted toward.
        mala_warmup: Adaptation sweeps of the diagnostic sampler at the end of training.
    """

    reweight: bool = False
    flow_steps: int = 1
    local_steps: int = 8
    step_size: float = 0.01
    target_accept: float = 0.6
    mala_warmup: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.flow_steps >= 1, "flow_steps", self.flow_steps, "must be at least 1")
        require(self.local_steps >= 1, "local_steps", self.local_steps, "must be at least 1")
        require(self.step_size > 0, "step_size", self.step_size, "must be positive")
        require(
            0 < self.target_accept < 1, "target_accept", self.target_accept, "must be in (0, 1)"
        )
        require(self.mala_warmup >= 0, "mala_warmup", self.mala_warmup, "must be non-negative")


def reverse_kl_step(
    flow: Flow,
    potential: Potential,
    optimizer: torch.optim.Optimizer,
    n: int,
    generator: torch.Generator,
) -> None:
    """One Adam step on E_λ[log λ(x) + U(x)] from `n` reparameterised draws; the U term enters
    through the surrogate ∇U(x) · x (∇U held fixed), which has its gradient in the flow's
    parameters and counts its evaluations and the n flow passes on `potential`."""
    potential.count(flow=n)
    x, log_q = flow.rsample_and_log_prob(n, generator)
    _, grad_u = potential.value_and_grad(x)
    loss = (log_q + (grad_u * x).sum(-1)).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


@torch.no_grad()
def flow_negatives(
    flow: Flow, potential: Potential, n: int, reweight: bool, generator: torch.Generator
) -> Tensor:
    """`n` flow draws, resampled by the weights exp(−U)/λ if `reweight`, (n, d); the draws'
    flow passes and the energies counted on `potential`."""
    potential.count(flow=n)
    x, log_q = flow.sample_and_log_prob(n, generator)
    if not reweight:
        return x
    log_w = -potential.value(x) - log_q
    index = torch.multinomial(torch.softmax(log_w, 0), n, replacement=True, generator=generator)
    return x[index]


@register_method(
    "vi_flow",
    display="Reverse-KL flow",
    params=VIFlowParams,
    test_config=VIFlowParams(
        batch_size=32, reweight=True, local_steps=2, mala_warmup=2, checkpoints=2
    ),
)
def fit(
    problem: Problem, params: VIFlowParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM on draws of a flow that follows it by reverse KL."""
    ebm = problem.ebm
    flow = make_flow(problem, params)
    potential = counted_potential(ebm, problem.counter)
    optimizer = torch.optim.Adam(flow.parameters(), lr=params.flow_lr, fused=True)

    def negatives(iteration: int) -> Tensor:
        return flow_negatives(flow, potential, params.batch_size, params.reweight, generator)

    def fit_flow(x_neg: Tensor) -> None:
        for _ in range(params.flow_steps):
            reverse_kl_step(flow, potential, optimizer, params.batch_size, generator)

    trained = maximum_likelihood(problem, params, generator, progress, negatives, fit_flow)
    local = MALA(potential, params.step_size, params.target_accept)
    sampler = FlowMC(local, IMH(potential, flow), [("global", 1), ("local", params.local_steps)])
    problem.counter.add(flow=params.batch_size)  # the warm-up's start, counted as it is
    warm_up(sampler, flow.sample(params.batch_size, generator), params.mala_warmup, generator)
    return flow_started(problem, trained, sampler, flow, params.batch_size, generator)
