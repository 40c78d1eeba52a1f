"""Oracle: no training — the EBM's density is the target p★ itself — sampled by flowMC with a flow
fitted to its own chains (no data). Its row shows what perfect training would score with that
sampler, so it separates sampler error from training error (our addition, not from a paper).

The sampler is flowMC-EBM's (`benchmark.training.parts.build_flowmc`), run for as many sweeps as
flowMC-EBM would run in the same budget (`sweeps` per iteration) so that its cost is counted; the
flow takes one maximum-likelihood step on the chains after each sweep (flowMC's training phase).
With `sampler = "replica_exchange"` it is instead replica exchange on p★ (`rungs` tempered copies
down to `beta_min`, MALA on every rung; no flow), run from ρ for the cost per chain of flowMC's
sweeps in each iteration, its step sizes adapted meanwhile: how much of a mixing gap tempering
closes on the true energy. `lr` and `energy_l2` are unused: nothing is trained but the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from benchmark.models.energy import TiltedEBM
from benchmark.samplers import (
    GRAD_COST,
    Info,
    Potential,
    ReplicaExchange,
    State,
    fit_flow_to_chains,
    geometric_ladder,
)
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    Checkpoint,
    FittedModel,
    Problem,
    Progress,
    RecentDraws,
    checkpoint_iterations,
    counted_potential,
    require,
)
from benchmark.training.parts import (
    FlowMCParams,
    LangevinParams,
    TrueEnergy,
    build_flowmc,
    make_flow,
    make_noise,
)

__all__ = ["OracleParams", "fit"]


@dataclass(frozen=True)
class OracleParams(FlowMCParams):
    """The flowMC sampler's hyperparameters (`FlowMCParams`); `batch_size` chains; and

    Attributes:
        sampler: "flowmc" (default) or "replica_exchange" (`step_size` and `target_accept` are
            then its MALA's, the flow's settings unused).
        rungs: Replica exchange's tempered copies K.
        beta_min: Its hottest β (a geometric ladder from 1).
    """

    sampler: Literal["flowmc", "replica_exchange"] = "flowmc"
    rungs: int = 4
    beta_min: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.rungs >= 2, "rungs", self.rungs, "must be at least 2")
        require(0 < self.beta_min < 1, "beta_min", self.beta_min, "must be in (0, 1)")

    def replica_exchange_steps(self) -> int:
        """Replica-exchange steps per iteration costing what flowMC's `sweeps` cost per chain:
        a sweep is `local_steps` gradients and the global move's energies (pool − 1 for i-SIR,
        1 for IMH); a step is K gradients."""
        global_cost = self.pool_size - 1 if self.global_move == "isir" else 1
        sweep = GRAD_COST * self.local_steps + global_cost
        return max(1, round(self.sweeps * sweep / (GRAD_COST * self.rungs)))


@register_method(
    "oracle",
    display="Oracle (true energy)",
    params=OracleParams,
    test_config=OracleParams(batch_size=32, pool_size=4, local_steps=2, sweeps=1, checkpoints=2),
)
def fit(
    problem: Problem, params: OracleParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Run flowMC on p★ from the flow's base for the budget, fitting the flow to the chains (or
    replica exchange from ρ, with `sampler = "replica_exchange"`)."""
    base_std = float(problem.ebm.base_std)
    ebm = TiltedEBM(TrueEnergy(problem.target, base_std), problem.ebm.dim, base_std)
    ebm = ebm.to(problem.data.device)
    potential = counted_potential(ebm, problem.counter)
    if params.sampler == "replica_exchange":
        return _replica_exchange(problem, params, ebm, potential, generator, progress)
    flow = make_flow(problem, params)
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
            spent = problem.counter.snapshot()
            checkpoints.append(Checkpoint(iteration, energy_state, state.x.clone(), spent))
        progress(iteration)

    problem.counter.add(flow=params.batch_size)  # the chains' start
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
        counter=problem.counter,
        proposal=flow,
    )


def _replica_exchange(
    problem: Problem,
    params: OracleParams,
    ebm: TiltedEBM,
    potential: Potential,
    generator: torch.Generator,
    progress: Progress,
) -> FittedModel:
    """Replica exchange on p★ from ρ, `replica_exchange_steps()` steps per iteration."""
    betas = geometric_ladder(params.rungs, params.beta_min)
    sampler = ReplicaExchange(
        potential, ebm.base_std, betas, params.step_size, params.target_accept
    )
    noise = make_noise(problem, LangevinParams(noise="gaussian"))  # ρ
    state = sampler.init(noise(params.batch_size, generator))
    keep = checkpoint_iterations(problem.iterations, params.checkpoints)
    checkpoints = []
    recent = RecentDraws()
    for iteration in range(1, problem.iterations + 1):
        for _ in range(params.replica_exchange_steps()):
            state, info = sampler.step(state, generator)
            sampler.adapt(info)
        recent.add(state.x)
        if iteration in keep:
            energy_state = {k: v.clone() for k, v in ebm.energy.state_dict().items()}
            spent = problem.counter.snapshot()
            checkpoints.append(Checkpoint(iteration, energy_state, state.x.clone(), spent))
        progress(iteration)
    return FittedModel(
        ebm=ebm,
        negatives=recent.tensor(),
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=state.x,
        checkpoints=checkpoints,
        counter=problem.counter,
    )
