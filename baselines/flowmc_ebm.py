"""flowMC-EBM (Grenioux, Moulines, Gabrié 2023): a tilted EBM trained by maximum likelihood with
negatives from flowMC — global i-SIR (or IMH) moves from a flow, blocks of MALA — on persistent
chains, the flow fitted by maximum likelihood to the negatives as training goes (SPEC §1).

Departure from the paper: the negatives are the chains' last states (the paper may use every state
of a sweep); MALA's step size is adapted toward `target_accept` during training and frozen after.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.flows import Flow, maximum_likelihood_step
from benchmark.method import (
    FittedModel,
    Problem,
    Progress,
    TrainParams,
    maximum_likelihood,
    require,
)
from benchmark.registry import register_method
from benchmark.samplers import IMH, ISIR, MALA, FlowMC, Potential

__all__ = ["FlowParams", "FlowMCEBMParams", "make_flow", "build_flowmc", "fit"]


@dataclass(frozen=True)
class FlowParams(TrainParams):
    """Hyperparameters of the methods that pair the EBM with a RealNVP flow.

    Attributes:
        flow_lr: Adam learning rate of the flow.
        flow_couplings: Coupling layers (0: the paper's shape for the dimension).
        flow_hidden: Hidden widths of each coupling (empty: the paper's shape).
    """

    flow_lr: float = 1e-3
    flow_couplings: int = 0
    flow_hidden: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.flow_lr > 0, "flow_lr", self.flow_lr, "must be positive")


@dataclass(frozen=True)
class FlowMCEBMParams(FlowParams):
    """flowMC-EBM hyperparameters (and those of `FlowParams`).

    Attributes:
        global_move: "isir" (default, pool `pool_size`) or "imh".
        pool_size: i-SIR pool N (the current state and N−1 flow draws).
        local_steps: MALA steps after each global move.
        sweeps: flowMC sweeps (1 global + `local_steps` MALA) per training iteration.
        step_size: Initial MALA step size, adapted toward `target_accept` during training.
        target_accept: MALA acceptance aimed at.
    """

    global_move: str = "isir"
    pool_size: int = 64
    local_steps: int = 8
    sweeps: int = 2
    step_size: float = 0.01
    target_accept: float = 0.6

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.global_move in ("isir", "imh"), "global_move", self.global_move, "'isir' or 'imh'"
        )
        require(self.pool_size >= 2, "pool_size", self.pool_size, "must be at least 2")
        require(self.local_steps >= 1, "local_steps", self.local_steps, "must be at least 1")
        require(self.sweeps >= 1, "sweeps", self.sweeps, "must be at least 1")
        require(self.step_size > 0, "step_size", self.step_size, "must be positive")
        require(
            0 < self.target_accept < 1, "target_accept", self.target_accept, "must be in (0, 1)"
        )


def make_flow(problem: Problem, params: FlowParams) -> Flow:
    """A flow at the identity whose base is the EBM's tilt ρ."""
    flow = Flow(
        problem.ebm.dim,
        float(problem.ebm.base_std),
        params.flow_couplings or None,
        params.flow_hidden or None,
    )
    return flow.to(problem.data.device)


def build_flowmc(potential: Potential, flow: Flow, params: FlowMCEBMParams) -> FlowMC:
    """1 global move + `local_steps` MALA steps per sweep."""
    local = MALA(potential, params.step_size, params.target_accept)
    if params.global_move == "isir":
        global_move = ISIR(potential, flow, params.pool_size)
    else:
        global_move = IMH(potential, flow)
    return FlowMC(local, global_move, [("global", 1), ("local", params.local_steps)])


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
    potential = Potential(ebm.potential, value_and_grad=ebm.potential_and_grad)
    sampler = build_flowmc(potential, flow, params)
    flow_optimizer = torch.optim.Adam(flow.parameters(), lr=params.flow_lr, foreach=True)
    chains = flow.sample(params.batch_size, generator)  # = ρ, the EBM at E ≡ 0

    def negatives(iteration: int) -> Tensor:
        nonlocal chains
        state = sampler.init(chains)  # the EBM moved: refresh cached energies and gradients
        for _ in range(params.sweeps):
            state, info = sampler.step(state, generator)
            sampler.adapt(info)
        chains = state.x
        return chains

    fit_flow = functools.partial(maximum_likelihood_step, flow, flow_optimizer)
    checkpoints = maximum_likelihood(problem, params, generator, progress, negatives, fit_flow)
    return FittedModel(
        ebm=ebm,
        negatives=chains,
        initial=flow.sample(params.batch_size, generator),
        sampler=sampler,
        start=chains,
        checkpoints=checkpoints,
        counter=potential.counter,
    )
