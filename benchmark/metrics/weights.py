"""Mode weights from samples, and the distances between two weight vectors."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["sample_weights", "weight_mse", "weight_tv", "weight_max_error", "weight_mse_floor"]


def sample_weights(labels: Tensor, n_modes: int) -> Tensor:
    """Fraction of points in each mode region: labels (n,) -> weights (n_modes,)."""
    counts = torch.bincount(labels.reshape(-1).cpu(), minlength=n_modes).float()
    return counts / counts.sum()


def weight_mse(estimate: Tensor, reference: Tensor) -> float:
    """Mean over modes of (ŵ − w)²."""
    return float(((estimate - reference) ** 2).mean())


def weight_tv(estimate: Tensor, reference: Tensor) -> float:
    """Total variation ½ Σ |ŵ − w|."""
    return float(0.5 * (estimate - reference).abs().sum())


def weight_max_error(estimate: Tensor, reference: Tensor) -> float:
    """max_k |ŵ_k − w_k|."""
    return float((estimate - reference).abs().max())


def weight_mse_floor(reference: Tensor, n: int) -> float:
    """Expected MSE of `sample_weights` from n independent draws of a density whose region masses
    are `reference` (n_modes,): Σ_k w_k(1 − w_k) / (K n) — below it a difference is noise."""
    return float((reference * (1 - reference)).sum() / (len(reference) * n))
