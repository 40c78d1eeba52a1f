"""ULA-EBM (Du & Mordatch 2019; Nijkamp et al. 2020): a tilted EBM trained by maximum likelihood
with negatives from persistent ULA chains, K steps per iteration, the last state used (SPEC §2).

Also the Langevin settings the short-run and PCD baselines share: `LangevinParams` (K, step size,
noise) and `make_noise` (uniform over the data's box, or Gaussian).

Departures from the papers: K defaults to 32 steps per iteration instead of the paper's 512 so
that a run fits the quick profile's budget (raise `steps` in a config for the paper setting); ULA
uses the proper parameterisation x′ = x − h∇U + √(2h)ξ on U = E_θ − log ρ, so the density learned is
exp(−E_θ)·ρ with no hidden temperature (Nijkamp et al.'s code drops the h factor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.method import (
    FittedModel,
    Problem,
    Progress,
    TrainParams,
    maximum_likelihood,
    require,
)
from benchmark.registry import register_method
from benchmark.samplers import ULA, Potential

__all__ = [
    "LangevinParams",
    "Noise",
    "ULAEBMParams",
    "fit",
    "langevin_step_size",
    "make_noise",
    "run_ula",
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
    noise: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.steps >= 1, "steps", self.steps, "must be at least 1")
        require(self.step_size >= 0, "step_size", self.step_size, "must be ≥ 0 (0: paper setting)")
        require(
            self.noise in ("auto", "uniform", "gaussian"),
            "noise",
            self.noise,
            "'auto', 'uniform' or 'gaussian'",
        )


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


def run_ula(sampler: ULA, x: Tensor, steps: int, generator: torch.Generator) -> Tensor:
    """`steps` ULA steps from positions x (n, d); returns the last positions (n, d)."""
    state = sampler.init(x)
    for _ in range(steps):
        state, _ = sampler.step(state, generator)
    return state.x


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
    potential = Potential(problem.ebm.potential, value_and_grad=problem.ebm.potential_and_grad)
    sampler = ULA(potential, langevin_step_size(params, problem.ebm.dim))
    noise = make_noise(problem, params)
    chains = noise(params.batch_size, generator)

    def negatives(iteration: int) -> Tensor:
        nonlocal chains
        chains = run_ula(sampler, chains, params.steps, generator)
        return chains

    checkpoints = maximum_likelihood(problem, params, generator, progress, negatives)
    return FittedModel(
        ebm=problem.ebm,
        negatives=chains,
        initial=noise(params.batch_size, generator),
        sampler=sampler,
        start=chains,
        checkpoints=checkpoints,
        counter=potential.counter,
    )
