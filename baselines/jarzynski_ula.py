"""Jarzynski-weighted ULA (Carbone, Hua, Coste, Vanden-Eijnden, NeurIPS 2023, arXiv 2305.19414): a
tilted EBM trained by maximum likelihood whose negative phase is a weighted average over persistent
ULA walkers, each walker's log-weight A updated at every step so that the weighted walkers stay an
unbiased picture of the current EBM even when no walker crosses between its modes.

The update (the paper's Proposition 2 and Algorithm 1): the walkers start from the EBM at
initialisation (here E ≡ 0, the tilt ρ itself) with A = 0; a step moves X′ = X − h∇U(X) + √(2h)ξ
under the gradient cached at X (from the energy in force when X was reached, so the first step
after a parameter update moves under the previous energy) and sets
    A′ = A − α_new(X′, X) + α_old(X, X′),  α(x, y) = U(x) + ½ (y − x)·∇U(x) + (h/4)|∇U(x)|²,
with α_old from the cached U and ∇U at X and α_new from the current energy at X′: the change of
energy and ULA's discretisation error in one term (the log-ratio of the backward ULA kernel under
the new energy to the forward one under the old). E_θ[f] ≈ Σ w f(X) / Σ w, w = e^A, and
Z_θ / Z_θ₀ ≈ mean(e^A). When the weights' effective sample size (Σw)²/Σw² falls below
`ess_threshold` × walkers, the walkers are resampled multinomially by weight and A reset to 0.

Departures from the paper: K ULA steps per parameter step (the paper takes one; the extra steps
are under the current energy, each with its own correction, so the weights stay exact) so that the
cost per iteration is ULA-EBM's; resampling is triggered by the ESS fraction (the paper's code
compares the weights' squared coefficient of variation, N/ESS − 1, with a threshold: 1 there is
a fraction of 1/2 here); Adam with the suite's schedule instead of plain gradient steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from benchmark.samplers import ULA, State
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    FittedModel,
    Problem,
    Progress,
    TrainParams,
    counted_potential,
    maximum_likelihood,
    require,
)
from benchmark.training.parts import LangevinParams, langevin_step_size, make_noise

__all__ = ["JarzynskiParams", "JarzynskiWalkers", "fit"]


@dataclass(frozen=True)
class JarzynskiParams(TrainParams):
    """Jarzynski-ULA hyperparameters (one walker per negative; the walkers start from the tilt ρ,
    the EBM at initialisation, as the weights require).

    Attributes:
        steps: ULA steps K per training iteration.
        step_size: ULA step size h; 0 means the Langevin methods' setting for the dimension
            (`benchmark.training.parts.langevin_step_size`).
        ess_threshold: Resample when the weights' effective sample size falls below this
            fraction of the walkers (0: never).
    """

    steps: int = 32
    step_size: float = 0.0
    ess_threshold: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.steps >= 1, "steps", self.steps, "must be at least 1")
        require(self.step_size >= 0, "step_size", self.step_size, "must be ≥ 0 (0: paper setting)")
        require(
            0 <= self.ess_threshold <= 1, "ess_threshold", self.ess_threshold, "must be in [0, 1]"
        )


def _alpha(s: State, y: Tensor, h: float) -> Tensor:
    """α(x, y) = U(x) + ½ (y − x)·∇U(x) + (h/4)|∇U(x)|² at the state's x with its cached U and
    ∇U, (n,)."""
    return s.potential + 0.5 * ((y - s.x) * s.grad).sum(-1) + 0.25 * h * s.grad.square().sum(-1)


class JarzynskiWalkers:
    """Weighted persistent ULA walkers: positions with their cached U and ∇U, log-weights A (n,)
    and the log Z of the energy at the last resampling relative to the start.

    Arguments:
        sampler: ULA on the potential being trained (its evaluations are counted there).
        x: Exact draws of the current potential's distribution, (n, d).
        ess_threshold: Resample below this effective-sample-size fraction (0: never).
    """

    def __init__(self, sampler: ULA, x: Tensor, ess_threshold: float) -> None:
        self.sampler = sampler
        self.state = sampler.init(x)
        self.log_w = torch.zeros(x.shape[0], device=x.device)
        self.log_z_resampled = 0.0
        self.ess_threshold = ess_threshold

    def step(self, generator: torch.Generator) -> None:
        """One ULA step under the cached gradient and the weights' update (module docstring)."""
        old, h = self.state, self.sampler.step_size
        self.state, _ = self.sampler.step(old, generator)
        self.log_w = self.log_w - _alpha(self.state, old.x, h) + _alpha(old, self.state.x, h)

    def ess(self) -> float:
        """Effective sample size of the weights, (Σw)²/Σw²."""
        return math.exp(2 * torch.logsumexp(self.log_w, 0) - torch.logsumexp(2 * self.log_w, 0))

    def resample_if_degenerate(self, generator: torch.Generator) -> bool:
        """Multinomial resampling by weight, A reset to 0, when the ESS is below the threshold."""
        n = self.log_w.shape[0]
        if self.ess() >= self.ess_threshold * n:
            return False
        self.log_z_resampled = self.log_normaliser()
        index = torch.multinomial(self.weights(), n, replacement=True, generator=generator)
        self.state = State(self.state.x[index], self.state.potential[index], self.state.grad[index])
        self.log_w = torch.zeros_like(self.log_w)
        return True

    def weights(self) -> Tensor:
        """Normalised weights, (n,)."""
        return torch.softmax(self.log_w, 0)

    def log_normaliser(self) -> float:
        """log Z_θ − log Z_θ₀ of the current potential, Jarzynski's estimate."""
        n = self.log_w.shape[0]
        return self.log_z_resampled + float(torch.logsumexp(self.log_w, 0)) - math.log(n)


@register_method(
    "jarzynski_ula",
    display="Jarzynski ULA",
    params=JarzynskiParams,
    test_config=JarzynskiParams(batch_size=32, steps=2, checkpoints=2),
)
def fit(
    problem: Problem, params: JarzynskiParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM on `batch_size` weighted walkers started from ρ (= the EBM at E ≡ 0)."""
    potential = counted_potential(problem.ebm, problem.counter)
    step_size = params.step_size or langevin_step_size(LangevinParams(), problem.ebm.dim)
    sampler = ULA(potential, step_size)
    noise = make_noise(problem, LangevinParams(noise="gaussian"))  # the tilt ρ
    walkers = JarzynskiWalkers(sampler, noise(params.batch_size, generator), params.ess_threshold)

    def negatives(iteration: int) -> Tensor:
        for _ in range(params.steps):
            walkers.step(generator)
        walkers.resample_if_degenerate(generator)
        return walkers.state.x

    trained = maximum_likelihood(
        problem, params, generator, progress, negatives, weights=walkers.weights
    )
    index = torch.multinomial(walkers.weights(), params.batch_size, True, generator=generator)
    return FittedModel(
        ebm=problem.ebm,
        negatives=trained.negatives,
        initial=noise(VIEW_DRAWS, generator),
        sampler=sampler,
        start=walkers.state.x[index],
        checkpoints=trained.checkpoints,
        counter=problem.counter,
    )
