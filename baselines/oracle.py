"""Oracle: no training — the EBM's density is the target p★ itself — sampled by flowMC with a flow
fitted to its own chains (no data). Its row shows what perfect training would score with that
sampler, so it separates sampler error from training error (our addition, not from a paper).

The sampler is flowMC-EBM's (`benchmark.parts.build_flowmc`), run for as many sweeps as
flowMC-EBM would run in the same budget (`sweeps` per iteration) so that its cost is counted; the
flow takes one maximum-likelihood step on the chains after each sweep (flowMC's training phase).
`lr` and `energy_l2` are unused: nothing is trained but the flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from benchmark.energy import TiltedEBM, autograd_value_and_grad, log_isotropic_normal
from benchmark.method import (
    VIEW_DRAWS,
    Checkpoint,
    FittedModel,
    Problem,
    Progress,
    RecentDraws,
    checkpoint_iterations,
)
from benchmark.parts import FlowMCParams, build_flowmc, make_flow
from benchmark.registry import register_method
from benchmark.samplers import Info, Potential, State, fit_flow_to_chains
from benchmark.targets import Target

__all__ = ["OracleParams", "TrueEnergy", "fit"]


class TrueEnergy(nn.Module):
    """E(x) = −log p★(x) + log ρ(x), so that the tilted EBM exp(−E)·ρ is p★ exactly.

    Arguments:
        target: The true target p★.
        base_std: σ of the tilt ρ = N(0, σ²I).
    """

    def __init__(self, target: Target, base_std: float) -> None:
        super().__init__()
        self.target = target
        self.register_buffer("base_std", torch.tensor(float(base_std)))

    def forward(self, x: Tensor) -> Tensor:
        """E(x), (n, d) -> (n,)."""
        return log_isotropic_normal(x, self.base_std) - self.target.log_prob(x)

    @torch.no_grad()
    def value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """E(x) and ∇E(x) = −x / σ² − ∇log p★(x), ((n,), (n, d)), from the target's score when it
        has one (Gaussian mixtures), else by autograd."""
        if not hasattr(self.target, "log_prob_and_score"):
            return autograd_value_and_grad(self, x)
        log_p, score = self.target.log_prob_and_score(x)
        return log_isotropic_normal(x, self.base_std) - log_p, -x / self.base_std**2 - score


@dataclass(frozen=True)
class OracleParams(FlowMCParams):
    """The flowMC sampler's hyperparameters (`FlowMCParams`); `batch_size` chains."""


@register_method(
    "oracle",
    display="Oracle (true energy)",
    params=OracleParams,
    test_config=OracleParams(batch_size=32, pool_size=4, local_steps=2, sweeps=1, checkpoints=2),
)
def fit(
    problem: Problem, params: OracleParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Run flowMC on p★ from the flow's base for the budget, fitting the flow to the chains."""
    base_std = float(problem.ebm.base_std)
    ebm = TiltedEBM(TrueEnergy(problem.target, base_std), problem.ebm.dim, base_std)
    ebm = ebm.to(problem.data.device)
    flow = make_flow(problem, params)
    potential = Potential(ebm.potential, value_and_grad=ebm.potential_and_grad)
    sampler = build_flowmc(potential, flow, params, compiled=problem.compile)
    keep = checkpoint_iterations(problem.iterations, params.checkpoints)
    checkpoints = []
    recent = RecentDraws()  # the chains at the end of the last iterations: the negatives

    def on_sweep(sweep: int, state: State, info: Info) -> None:
        if (sweep + 1) % params.sweeps:
            return
        iteration = (sweep + 1) // params.sweeps
        recent.add(state.x)
        if iteration in keep:
            energy_state = {k: v.clone() for k, v in ebm.energy.state_dict().items()}
            checkpoints.append(Checkpoint(iteration, energy_state, state.x.clone()))
        progress(iteration)

    state = fit_flow_to_chains(
        sampler,
        flow,
        sampler.init(flow.sample(params.batch_size, generator)),
        problem.iterations * params.sweeps,
        generator,
        lr=params.flow_lr,
        on_sweep=on_sweep,
        compiled=problem.compile,
    )
    sampler.compiled = False  # the diagnostics' few sweeps would not repay a compilation
    return FittedModel(
        ebm=ebm,
        negatives=recent.tensor(),
        initial=flow.sample(VIEW_DRAWS, generator),
        sampler=sampler,
        start=state.x,
        checkpoints=checkpoints,
        counter=potential.counter,
        proposal=flow,
    )
