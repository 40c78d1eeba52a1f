"""What the EBM did over training, from its checkpoints' estimates (docs/SCIENCE.md §7.10, "Training
curves"): whether it converged and from which checkpoint on, and how often a mode was erased and
recreated. Every rule widens its threshold by the estimates' own noise (2 standard errors), so an
estimate's jitter is neither a drop nor a movement.

Example:
    >>> import torch
    >>> true = torch.tensor([0.5, 0.5])
    >>> w = torch.tensor([[0.5, 0.5], [0.03125, 0.96875], [0.5, 0.5]])
    >>> erasures(w, torch.zeros_like(w), true)
    Erasures(events=1, largest_drop=0.46875)
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = [
    "ERASED",
    "PRESENT",
    "SETTLED_WEIGHT",
    "SETTLED_LOGDENS",
    "SETTLED_CHECKPOINTS",
    "Erasures",
    "Convergence",
    "erasures",
    "convergence",
]

ERASED = 0.1  # a mode is erased when its weight is surely below this share of its true weight
PRESENT = 0.5  # and present again when surely above this share
SETTLED_WEIGHT = 0.02  # settled: no mode's weight moves by more than this (2 % of the mass) …
SETTLED_LOGDENS = 0.25  # … and the log-density error by more than this share of its median …
SETTLED_CHECKPOINTS = 3  # … over at least this many checkpoints up to the last


class Erasures(NamedTuple):
    """Erase-and-recreate events over training (a mode present, then erased, then present
    again), and the largest drop of one mode's weight between two checkpoints, net of noise."""

    events: int
    largest_drop: float


class Convergence(NamedTuple):
    """Whether the last `SETTLED_CHECKPOINTS` checkpoints are settled, and the index of the first
    checkpoint of the settled stretch that ends training (None when even the last two move)."""

    converged: bool
    settled_from: int | None


def erasures(weights: Tensor, stderr: Tensor, true: Tensor) -> Erasures:
    """Events and largest drop from checkpoint weights and their standard errors (T, K) and
    the true weights (K,); a mode's state changes only on a crossing beyond 2 standard errors
    (between `ERASED` and `PRESENT` it keeps its state)."""
    weights, stderr, true = weights.double(), stderr.double(), true.double()
    present = weights - 2 * stderr > PRESENT * true
    erased = weights + 2 * stderr < ERASED * true
    events = 0
    for k in range(weights.shape[1]):
        state = None
        for t in range(weights.shape[0]):
            if present[t, k]:
                events += state == "erased"
                state = "present"
            elif erased[t, k] and state == "present":
                state = "erased"
    drop = 0.0
    for t in range(weights.shape[0] - 1):
        later = weights[t + 1 :]
        noise = 2 * (stderr[t] ** 2 + stderr[t + 1 :] ** 2).sqrt()
        drop = max(drop, float((weights[t] - later - noise).max()))
    return Erasures(events, max(drop, 0.0))


def convergence(weights: Tensor, stderr: Tensor, logdens: Tensor) -> Convergence:
    """Settled stretch of checkpoint weights and standard errors (T, K) and log-density errors
    (T,): the longest final run of checkpoints over which every mode's weight range stays within
    `SETTLED_WEIGHT` + 2 standard errors and the log-density error's range within
    `SETTLED_LOGDENS` × its median."""
    weights, stderr, logdens = weights.double(), stderr.double(), logdens.double()
    start = None
    for i in range(weights.shape[0] - 2, -1, -1):
        w, s, e = weights[i:], stderr[i:], logdens[i:]
        spread = w.max(0).values - w.min(0).values
        if bool((spread > SETTLED_WEIGHT + 2 * s.max(0).values).any()):
            break
        if float(e.max() - e.min()) > SETTLED_LOGDENS * float(e.median()):
            break
        start = i
    settled = start is not None and weights.shape[0] - start >= SETTLED_CHECKPOINTS
    return Convergence(settled, start)

