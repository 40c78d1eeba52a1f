"""Chain mixing through ArviZ, on draws shaped (chains, draws, dim) — the layout is checked, a
(draws, chains) mix-up is an error, not a silently wrong number — and switches between modes.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import torch
from torch import Tensor

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

__all__ = ["MODE_CONFIDENCE", "MIN_DIAGNOSTIC_DRAWS", "rhat", "ess", "mode_switches"]

#: A chain is in mode k where p★'s posterior responsibility of component k exceeds this.
MODE_CONFIDENCE = 0.99
#: Draws per chain after warm-up below which R-hat, ESS and switch rates are not estimable: with
#: fewer, split R-hat compares halves of a handful of correlated draws and the ESS's
#: autocorrelation estimate has no lags to stand on (docs/SCIENCE.md §7.8).
MIN_DIAGNOSTIC_DRAWS = 100


def _per_dimension(draws: Tensor, chains: int) -> list[np.ndarray]:
    """(chains, draws) arrays, one per dimension: ArviZ's per-variable functions on plain arrays
    give the numbers of its xarray path without its conversion cost (an R-hat and an ESS of
    128 × 64 draws in 2-D: 10 ms instead of 16)."""
    if draws.ndim != 3 or draws.shape[0] != chains:
        raise ValueError(
            f"draws: expected layout (chains={chains}, draws, dim), got shape {tuple(draws.shape)}"
            " — transposed (draws, chains, dim)?"
        )
    if draws.shape[1] < 4:
        raise ValueError(f"draws: need at least 4 draws per chain, got {draws.shape[1]}")
    array = draws.detach().cpu().double().numpy()
    return [array[..., k] for k in range(array.shape[-1])]


def rhat(draws: Tensor, *, chains: int) -> float:
    """Rank-normalised split R-hat (Vehtari et al. 2021), max over dimensions."""
    return float(np.max([az.rhat(x, method="rank") for x in _per_dimension(draws, chains)]))


def ess(draws: Tensor, *, chains: int, kind: Literal["bulk", "tail"] = "bulk") -> float:
    """Bulk or tail effective sample size, min over dimensions."""
    if kind not in ("bulk", "tail"):
        raise ValueError(f"kind: 'bulk' or 'tail', got {kind!r}")
    return float(np.min([az.ess(x, method=kind) for x in _per_dimension(draws, chains)]))


def mode_switches(labels: Tensor, *, chains: int) -> Tensor:
    """Per-chain number of mode switches, labels (chains, draws) -> (chains,): the component each
    draw is confidently in (≥ 0; `targets.confident_component`) or −1. A chain's mode is the last
    component it was confidently in (−1 keeps the mode: hysteresis), and a switch is becoming
    confidently in another — flicker across a region boundary, or a visit to a tail, is not one."""
    if labels.ndim != 2 or labels.shape[0] != chains or labels.shape[1] < 2:
        raise ValueError(
            f"labels: expected layout (chains={chains}, draws ≥ 2), got shape {tuple(labels.shape)}"
        )
    steps = torch.arange(labels.shape[1], device=labels.device).expand_as(labels)
    last = torch.where(labels >= 0, steps, -1).cummax(dim=1).values
    mode = torch.where(last >= 0, labels.gather(1, last.clamp_min(0)), -1)
    changed = (mode[:, 1:] != mode[:, :-1]) & (mode[:, :-1] >= 0)
    return changed.sum(1)
