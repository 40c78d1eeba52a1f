"""Denoising score matching (Vincent 2011): the tilted EBM's score −∇U fitted to the score of the
data blurred by Gaussian noise of std σₙ — per data point x and noise ε ~ N(0, I), the loss
|σₙ∇U(x + σₙε) − ε|² (σₙ² times the squared error of the score; Song & Ermon 2019's weighting).
No sampling in training: the suite's negative control for mode weights.

Score matching sees a density only through its gradient where the data are: the relative mass of
modes separated by a region without data is invisible to it (Wenliang et al. 2020, arXiv
2008.10087), so on well-separated targets it should find the modes and miss their weights
(docs/SCIENCE.md §3.3). Its samples are the suite's Langevin part: the negatives of the
views are `steps` ULA steps from the noise on the final energy (at every checkpoint, a batch of
them on that checkpoint's energy), and its diagnostic sampler is that ULA. Training's gradient
evaluations count one per noised point (the score at it; its backward pass is the loss's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.models.energy import TiltedEBM
from benchmark.samplers import ULA
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    Checkpoint,
    DivergenceError,
    FittedModel,
    Problem,
    Progress,
    checkpoint_iterations,
    counted_potential,
    require,
)
from benchmark.training.parts import LangevinParams, langevin_step_size, make_noise, run_ula

__all__ = ["DSMParams", "dsm_loss", "fit"]


@dataclass(frozen=True)
class DSMParams(LangevinParams):
    """DSM hyperparameters: those of `LangevinParams` (for its samples only), and

    Attributes:
        noise_std: σₙ, the std of the Gaussian noise added to the data (data units).
    """

    noise_std: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.noise_std > 0, "noise_std", self.noise_std, "must be positive")


def dsm_loss(ebm: TiltedEBM, x: Tensor, noise_std: float, generator: torch.Generator) -> Tensor:
    """mean |σₙ∇U(x + σₙε) − ε|² over the batch x (n, d), with a graph to the energy's
    parameters; ε drawn from `generator`."""
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    noised = (x + noise_std * eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(ebm.potential(noised).sum(), noised, create_graph=True)
    return (noise_std * grad - eps).square().sum(-1).mean()


@register_method(
    "dsm",
    display="Denoising score matching",
    params=DSMParams,
    test_config=DSMParams(batch_size=32, steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: DSMParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Fit the EBM's score to the noised data's; sample it with ULA from the noise."""
    ebm, data = problem.ebm, problem.data
    potential = counted_potential(ebm, problem.counter)
    sampler = ULA(potential, langevin_step_size(params, ebm.dim))
    noise = make_noise(problem, params)
    optimizer = torch.optim.Adam(ebm.energy.parameters(), lr=params.lr, fused=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=problem.iterations)
    keep = checkpoint_iterations(problem.iterations, params.checkpoints)
    checkpoints = []

    def samples(n: int) -> Tensor:
        return run_ula(sampler, noise(n, generator), params.steps, generator, problem.compile)

    for iteration in range(1, problem.iterations + 1):
        index = torch.randint(
            len(data), (params.batch_size,), generator=generator, device=data.device
        )
        loss = dsm_loss(ebm, data[index], params.noise_std, generator)
        if not torch.isfinite(loss):
            raise DivergenceError(f"non-finite score-matching loss at iteration {iteration}")
        potential.count(params.batch_size, params.batch_size)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if iteration in keep:
            state = {k: v.detach().clone() for k, v in ebm.energy.state_dict().items()}
            drawn = samples(params.batch_size)  # counted before the cost is read
            checkpoints.append(Checkpoint(iteration, state, drawn, problem.counter.snapshot()))
        progress(iteration)
    negatives = samples(VIEW_DRAWS)
    return FittedModel(
        ebm=ebm,
        negatives=negatives,
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=negatives[: params.batch_size],
        checkpoints=checkpoints,
        counter=problem.counter,
    )
