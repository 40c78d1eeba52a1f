"""Building blocks the training methods share: their hyperparameter groups and the pieces they
assemble. Methods import from here, never from each other, so editing one method never changes
another.

- Langevin methods (ULA-EBM, short-run, PCD, CoopFlow's refinement): `LangevinParams` (K, step
  size, where fresh chains start), `langevin_step_size`, `make_noise`, `run_ula`.
- Flow methods (flowMC-EBM, the oracle, NT-EBM, CoopFlow, the reverse-KL flow): `FlowParams`,
  `make_flow`, `flow_fitter` (a counted maximum-likelihood step); flowMC's sampler settings
  `FlowMCParams` and `build_flowmc`.
- `warm_up`: adaptive steps of a sampler before it is frozen for the diagnostics.
- `TrueEnergy`: the energy that makes the tilted EBM p★ itself (the oracle's, and the sampler
  track's of the evaluation, docs/SCIENCE.md §7.13).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import Tensor, nn

from ..models.compiled import compiled as compiled_fn
from ..models.energy import autograd_value_and_grad, log_isotropic_normal
from ..models.flows import Flow, maximum_likelihood_step
from ..samplers import IMH, ISIR, MALA, ULA, FlowMC, Info, Potential, Sampler, State
from ..targets import Target
from .method import VIEW_DRAWS, FittedModel, Problem, Training, TrainParams, require

__all__ = [
    "LangevinParams",
    "Noise",
    "langevin_step_size",
    "make_noise",
    "run_ula",
    "FlowParams",
    "make_flow",
    "flow_fitter",
    "flow_started",
    "FlowMCParams",
    "build_flowmc",
    "AdaptiveSampler",
    "warm_up",
    "TrueEnergy",
]

Noise = Callable[[int, torch.Generator], Tensor]


@dataclass(frozen=True)
class LangevinParams(TrainParams):
    """Hyperparameters of the methods whose negatives come from K ULA steps.

    Attributes:
        steps: ULA steps K per training iteration (paper: 512).
        step_size: ULA step size h; 0 means the paper's setting for the dimension:
            (0.125)²/2 in 2-D, 1e-3 above.
        noise: Where fresh chains start: "uniform" over the data's bounding box, "gaussian"
            (the tilt ρ = N(0, σ²I), i.e. the EBM at initialisation), or "auto" (the paper's
            choice: uniform in 2-D, Gaussian above).
    """

    steps: int = 32
    step_size: float = 0.0
    noise: Literal["auto", "uniform", "gaussian"] = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.steps >= 1, "steps", self.steps, "must be at least 1")
        require(self.step_size >= 0, "step_size", self.step_size, "must be ≥ 0 (0: paper setting)")


def langevin_step_size(params: LangevinParams, dim: int) -> float:
    """`params.step_size`, or the paper's setting for the dimension when it is 0."""
    if params.step_size > 0:
        return params.step_size
    return 0.125**2 / 2 if dim <= 2 else 1e-3


def make_noise(problem: Problem, params: LangevinParams) -> Noise:
    """`noise(n, generator)` -> (n, d): draws of the chains' initial distribution."""
    data, ebm = problem.data, problem.ebm
    kind = params.noise
    if kind == "auto":
        kind = "uniform" if ebm.dim <= 2 else "gaussian"
    if kind == "uniform":
        lo, hi = data.min(dim=0).values, data.max(dim=0).values

        def uniform(n: int, generator: torch.Generator) -> Tensor:
            u = torch.rand(n, ebm.dim, generator=generator, device=data.device)
            return lo + (hi - lo) * u

        return uniform

    def gaussian(n: int, generator: torch.Generator) -> Tensor:
        z = torch.randn(n, ebm.dim, generator=generator, device=data.device)
        return ebm.base_std * z

    return gaussian


#: ULA steps per compiled call of `run_ula`: one graph serves every K, and its compilation stays
#: short (a graph of 32 steps took 45 s to compile, against 5 ms per call saved in 2-D)
ULA_BLOCK = 8


def run_ula(
    sampler: ULA, x: Tensor, steps: int, generator: torch.Generator, compiled: bool = False
) -> Tensor:
    """`steps` ULA steps from positions x (n, d); returns the last positions (n, d). With
    `compiled`, blocks of `ULA_BLOCK` steps run as one compiled graph each: the same noise, the
    same chains up to floating-point rounding."""
    state = sampler.init(x)
    blocks = steps // ULA_BLOCK if compiled else 0
    if blocks:
        moves, step_size = compiled_fn(ULA.moves), torch.tensor(sampler.step_size)
        for _ in range(blocks):
            noises = torch.stack([sampler.draw(state, generator) for _ in range(ULA_BLOCK)])
            sampler.count(ULA_BLOCK * x.shape[0])
            state = moves(sampler, state, step_size, noises)
    for _ in range(steps - blocks * ULA_BLOCK):
        state, _ = sampler.step(state, generator)
    return state.x


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


def make_flow(problem: Problem, params: FlowParams) -> Flow:
    """A flow at the identity whose base is the EBM's tilt ρ."""
    flow = Flow(
        problem.ebm.dim,
        float(problem.ebm.base_std),
        params.flow_couplings or None,
        params.flow_hidden or None,
    )
    return flow.to(problem.data.device)


def flow_fitter(problem: Problem, flow: Flow, lr: float) -> Callable[[Tensor], None]:
    """`fit(x)`: one Adam step (learning rate `lr`) of maximum likelihood of the flow on x (n, d),
    its loss compiled when `problem.compile`, counting its n flow passes on `problem.counter`."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr, fused=True)

    def fit(x: Tensor) -> None:
        maximum_likelihood_step(flow, optimizer, x, problem.compile)
        problem.counter.add(flow=x.shape[0])

    return fit


def flow_started(
    problem: Problem,
    trained: Training,
    sampler: Sampler,
    flow: Flow,
    chains: int,
    generator: torch.Generator,
) -> FittedModel:
    """What a method whose flow proposes hands to the evaluation: its EBM and last negatives,
    the initial view and `chains` diagnostic chains' starts drawn from the flow (in that order;
    uncounted, docs/SCIENCE.md §7.7), the flow as the importance sampling's proposal."""
    return FittedModel(
        ebm=problem.ebm,
        negatives=trained.negatives,
        initial=flow.sample(VIEW_DRAWS, generator),
        sampler=sampler,
        start=flow.sample(chains, generator),
        checkpoints=trained.checkpoints,
        counter=problem.counter,
        proposal=flow,
    )


@dataclass(frozen=True)
class FlowMCParams(FlowParams):
    """flowMC's sampler settings (and those of `FlowParams`).

    Attributes:
        global_move: "isir" (default, pool `pool_size`) or "imh".
        pool_size: i-SIR pool N (the current state and N−1 flow draws).
        local_steps: MALA steps after each global move.
        sweeps: flowMC sweeps (1 global + `local_steps` MALA) per training iteration.
        step_size: Initial MALA step size, adapted toward `target_accept` during training.
        target_accept: MALA acceptance aimed at.
    """

    global_move: Literal["isir", "imh"] = "isir"
    pool_size: int = 64
    local_steps: int = 8
    sweeps: int = 2
    step_size: float = 0.01
    target_accept: float = 0.6

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.pool_size >= 2, "pool_size", self.pool_size, "must be at least 2")
        require(self.local_steps >= 1, "local_steps", self.local_steps, "must be at least 1")
        require(self.sweeps >= 1, "sweeps", self.sweeps, "must be at least 1")
        require(self.step_size > 0, "step_size", self.step_size, "must be positive")
        require(
            0 < self.target_accept < 1, "target_accept", self.target_accept, "must be in (0, 1)"
        )


def build_flowmc(
    potential: Potential, flow: Flow, params: FlowMCParams, compiled: bool = False
) -> FlowMC:
    """1 global move + `local_steps` MALA steps per sweep (`compiled`: see `FlowMC`)."""
    local = MALA(potential, params.step_size, params.target_accept)
    if params.global_move == "isir":
        global_move = ISIR(potential, flow, params.pool_size)
    else:
        global_move = IMH(potential, flow)
    return FlowMC(local, global_move, [("global", 1), ("local", params.local_steps)], compiled)


class AdaptiveSampler(Sampler, Protocol):
    """A sampler that tunes itself (e.g. MALA's step size) from what a step did."""

    def adapt(self, info: Info) -> None:
        """Update the tuning from one step's info."""


def warm_up(sampler: AdaptiveSampler, x: Tensor, steps: int, generator: torch.Generator) -> State:
    """`steps` steps from positions x (n, d), adapting the sampler after each; returns the state."""
    state = sampler.init(x)
    for _ in range(steps):
        state, info = sampler.step(state, generator)
        sampler.adapt(info)
    return state


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
