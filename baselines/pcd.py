"""PCD with a replay buffer (Tieleman 2008; Du & Mordatch 2019): a tilted EBM trained by maximum
likelihood with negatives from K ULA steps started from a buffer of past negatives — each chain
restarts from noise with probability 5 % — the results written back to the buffer
(docs/SCIENCE.md §3).

Departures from the papers: the buffer has a fixed size, is filled with noise at the start, and
each iteration's chains come from (and go back to) distinct random slots — the replay buffer of
Grathwohl et al.'s JEM code, rather than Du & Mordatch's growing first-in-first-out one, so that
every slot is a persistent chain advanced now and then; ULA uses the proper parameterisation
x′ = x − h∇U + √(2h)ξ (Du & Mordatch's step and noise scales learn a tempered energy); no energy
regulariser by default (`energy_l2` sets one), as for every method here.
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
    require,
)
from benchmark.training.parts import LangevinParams, Noise, langevin_step_size, make_noise, run_ula

__all__ = ["PCDParams", "buffer_starts", "fit"]


@dataclass(frozen=True)
class PCDParams(LangevinParams):
    """PCD hyperparameters: those of `LangevinParams`, and

    Attributes:
        buffer_size: Number of past negatives kept (at least `batch_size`).
        restart: Probability that a chain restarts from noise instead of the buffer.
    """

    buffer_size: int = 10_000
    restart: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.buffer_size >= self.batch_size,
            "buffer_size",
            self.buffer_size,
            f"must be at least batch_size={self.batch_size}",
        )
        require(0 <= self.restart <= 1, "restart", self.restart, "must be in [0, 1]")


def buffer_starts(
    buffer: Tensor, n: int, restart: float, noise: Noise, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Chain starts: n distinct random slots of `buffer` (size, d), each replaced by a noise draw
    with probability `restart`. Returns the slots (n,), the starts (n, d) and the restart mask
    (n,)."""
    slots = torch.randperm(len(buffer), generator=generator, device=buffer.device)[:n]
    fresh = torch.rand(n, generator=generator, device=buffer.device) < restart
    starts = torch.where(fresh[:, None], noise(n, generator), buffer[slots])
    return slots, starts, fresh


@register_method(
    "pcd",
    display="PCD + buffer",
    params=PCDParams,
    test_config=PCDParams(batch_size=32, steps=2, buffer_size=64, checkpoints=2),
)
def fit(
    problem: Problem, params: PCDParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM with ULA chains drawn from, and returned to, a replay buffer."""
    potential = counted_potential(problem.ebm, problem.counter)
    sampler = ULA(potential, langevin_step_size(params, problem.ebm.dim))
    noise = make_noise(problem, params)
    buffer = noise(params.buffer_size, generator)

    def negatives(iteration: int) -> Tensor:
        slots, starts, _ = buffer_starts(
            buffer, params.batch_size, params.restart, noise, generator
        )
        x = run_ula(sampler, starts, params.steps, generator, problem.compile)
        buffer[slots] = x
        return x

    trained = maximum_likelihood(problem, params, generator, progress, negatives)
    slots = torch.randperm(len(buffer), generator=generator, device=buffer.device)
    return FittedModel(
        ebm=problem.ebm,
        negatives=trained.negatives,
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=buffer[slots[: params.batch_size]],
        checkpoints=trained.checkpoints,
        counter=problem.counter,
    )
