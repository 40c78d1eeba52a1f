"""The one interface every training method implements, and the maximum-likelihood loop they share.

A method is a function `fit(problem, params, generator, progress) -> FittedModel`, registered with
`benchmark.suite.registry.register_method`. It never computes metrics nor times itself: the
runner does.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor

from .. import typed
from ..errors import ParamError
from ..models.energy import TiltedEBM
from ..samplers import EvalCounter, Potential, Proposal, Sampler
from ..targets import Target

__all__ = [
    "VIEW_DRAWS",
    "TrainParams",
    "Problem",
    "Checkpoint",
    "Training",
    "RecentDraws",
    "FittedModel",
    "DivergenceError",
    "Progress",
    "checkpoint_iterations",
    "counted_potential",
    "maximum_likelihood",
    "require",
]

Progress = Callable[[int], None]

#: Draws of a method's initialisation and of its last negatives that `FittedModel` carries, for the
#: mode-weight views of Table 3 (a batch of 256 leaves a sampling noise above the paper's numbers).
VIEW_DRAWS = 10_000


@dataclass(frozen=True)
class TrainParams:
    """Hyperparameters every method shares; a method's own dataclass extends this one, its
    fields typed as `benchmark.typed` reads them (checked at construction, before the ranges
    each class's `__post_init__` requires).

    Attributes:
        lr: Adam learning rate of the EBM, decayed to 0 by a cosine over the budget
            (docs/SCIENCE.md §1).
        batch_size: Data points and negatives per iteration.
        energy_l2: Weight α of the α·(E⁺² + E⁻²) regulariser (Du & Mordatch 2019); 0 = pure ML.
        checkpoints: How many evenly spaced checkpoints to keep over training.
    """

    lr: float = 1e-3
    batch_size: int = 256
    energy_l2: float = 0.0
    checkpoints: int = 10

    def __post_init__(self) -> None:
        typed.check(self)
        require(self.lr > 0, "lr", self.lr, "must be positive")
        require(self.batch_size >= 1, "batch_size", self.batch_size, "must be at least 1")
        require(self.energy_l2 >= 0, "energy_l2", self.energy_l2, "must be non-negative")
        require(self.checkpoints >= 1, "checkpoints", self.checkpoints, "must be at least 1")


def require(ok: bool, name: str, value: object, rule: str) -> None:
    """Raise `ParamError(name, "rule, got value")` unless `ok` (for hyperparameter checks)."""
    if not ok:
        raise ParamError(name, f"{rule}, got {value!r}")


@dataclass
class Problem:
    """What a method is given.

    Attributes:
        data: The training set, drawn once from the target with the data seed, (n, d).
        ebm: A fresh tilted EBM of the shared architecture (E ≡ 0), on the data's device.
        iterations: The training budget.
        target: The true target; only the oracle may read it.
        compile: Whether a method compiles its training sampler and flow loss
            (`SuiteSettings.compile`, on a CPU).
        counter: Where every method counts its energy and gradient evaluations and flow passes
            (its potentials are built on it, its `FittedModel.counter` is it): the checkpoints
            read the cost so far from it (docs/SCIENCE.md §7.7).
    """

    data: Tensor
    ebm: TiltedEBM
    iterations: int
    target: Target
    compile: bool = False
    counter: EvalCounter = field(default_factory=EvalCounter)


@dataclass
class Checkpoint:
    """The energy's parameters and a batch of negatives (n, d) at one iteration, and what
    training had cost when it was taken (`Problem.counter.snapshot()`)."""

    iteration: int
    energy_state: dict[str, Tensor]
    negatives: Tensor
    spent: EvalCounter


@dataclass
class FittedModel:
    """What a method returns.

    Attributes:
        ebm: The trained EBM; its normalised density is exp(−E_θ) ρ / Z.
        negatives: The last negatives, `VIEW_DRAWS` of them where training made that many (the
            last iterations' batches, `Training.negatives`), (n, d).
        initial: `VIEW_DRAWS` draws from the method's initialisation of its sampler at the end,
            (n, d).
        sampler: The method's own sampler on the trained EBM (for mixing diagnostics); it counts
            its evaluations on `counter`.
        start: Positions to start diagnostic chains from (its persistent state, or draws of its
            initial distribution when it has none), (m, d).
        checkpoints: Evenly spaced over training.
        counter: Energy and gradient evaluations and flow passes spent in training:
            `Problem.counter`.
        proposal: The method's flow, if it has one: an exact-density proposal that the
            evaluation's importance sampling adds to its own.
    """

    ebm: TiltedEBM
    negatives: Tensor
    initial: Tensor
    sampler: Sampler
    start: Tensor
    checkpoints: list[Checkpoint] = field(default_factory=list)
    counter: EvalCounter = field(default_factory=EvalCounter)
    proposal: Proposal | None = None


class RecentDraws:
    """The last `size` rows of the batches added, (≤ size, d): a method's last negatives."""

    def __init__(self, size: int = VIEW_DRAWS) -> None:
        self.size = size
        self.batches: deque[Tensor] = deque()

    def add(self, x: Tensor) -> None:
        """Keep a copy of the batch x (n, d), dropping batches no longer needed."""
        self.batches.append(x.detach().clone())
        while sum(map(len, self.batches)) - len(self.batches[0]) >= self.size:
            self.batches.popleft()

    def tensor(self) -> Tensor:
        """The last `size` rows, oldest first, (≤ size, d)."""
        return torch.cat(list(self.batches))[-self.size :]


class Training(NamedTuple):
    """What `maximum_likelihood` returns: the checkpoints, and the last `VIEW_DRAWS` negatives of
    training (the last iterations' batches, fewer if training made fewer), (n, d)."""

    checkpoints: list[Checkpoint]
    negatives: Tensor


class DivergenceError(RuntimeError):
    """Training produced non-finite energies or negatives."""


def counted_potential(ebm: TiltedEBM, counter: EvalCounter) -> Potential:
    """The EBM's U(x) = E_θ(x) − log ρ(x) as a sampler's potential, its evaluations counted on
    `counter` (a method's: `Problem.counter`), its gradient by `TiltedEBM.potential_and_grad`."""
    return Potential(ebm.potential, counter, ebm.potential_and_grad)


def checkpoint_iterations(iterations: int, count: int) -> set[int]:
    """The `count` evenly spaced iterations (the last one included) at which to checkpoint."""
    count = max(1, min(count, iterations))
    return {math.ceil(iterations * (k + 1) / count) for k in range(count)}


def maximum_likelihood(
    problem: Problem,
    params: TrainParams,
    generator: torch.Generator,
    progress: Progress,
    negatives: Callable[[int], Tensor],
    after_step: Callable[[Tensor], None] | None = None,
    weights: Callable[[], Tensor] | None = None,
) -> Training:
    """The shared training loop: per iteration, a data batch, `negatives(iteration)` (n, d) from
    the method, one Adam step on mean E(x⁺) − mean E(x⁻) (+ α(E⁺² + E⁻²)), then `after_step`
    (e.g. a flow update on the negatives). Raises `DivergenceError` on non-finite values.

    With `weights`, a method's normalised weights of its negatives (n,) (e.g. Jarzynski's): the
    negative phase is Σ w E(x⁻) instead of the mean, and the negatives kept (checkpoints, the
    last draws) are a weighted resample of them; without, nothing changes."""
    ebm, data = problem.ebm, problem.data
    optimizer = torch.optim.Adam(ebm.energy.parameters(), lr=params.lr, fused=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=problem.iterations)
    keep = checkpoint_iterations(problem.iterations, params.checkpoints)
    checkpoints = []
    recent = RecentDraws()
    for iteration in range(1, problem.iterations + 1):
        index = torch.randint(
            len(data), (params.batch_size,), generator=generator, device=data.device
        )
        positives = data[index]
        x_neg = negatives(iteration).detach()
        # one pass over both batches: half the operations of two passes, the same energies
        e_pos, e_neg = ebm.energy(torch.cat([positives, x_neg])).split([len(positives), len(x_neg)])
        if not (
            torch.isfinite(x_neg).all()
            and torch.isfinite(e_pos).all()
            and torch.isfinite(e_neg).all()
        ):
            raise DivergenceError(f"non-finite energies or negatives at iteration {iteration}")
        if weights is None:
            loss = e_pos.mean() - e_neg.mean()
        else:
            w = weights()
            loss = e_pos.mean() - (w * e_neg).sum()
            x_neg = x_neg[torch.multinomial(w, len(w), replacement=True, generator=generator)]
        if params.energy_l2:  # skipped at 0: the same loss and gradients, fewer operations
            loss = loss + params.energy_l2 * (e_pos**2 + e_neg**2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if after_step is not None:
            after_step(x_neg)
        recent.add(x_neg)
        if iteration in keep:
            state = {k: v.detach().clone() for k, v in ebm.energy.state_dict().items()}
            spent = problem.counter.snapshot()
            checkpoints.append(Checkpoint(iteration, state, x_neg.clone(), spent))
        progress(iteration)
    return Training(checkpoints, recent.tensor())
