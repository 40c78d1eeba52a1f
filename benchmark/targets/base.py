"""The target interface and the parameter checks shared by every family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor

from ..errors import ParamError

__all__ = ["Target", "RegionWeights", "check_weights", "check_positive", "check_integer"]


class RegionWeights(NamedTuple):
    """Masses of p★ in each mode region (n_modes,), with the standard error of the estimate
    (zeros where the masses are exact)."""

    weights: Tensor
    stderr: Tensor


@runtime_checkable
class Target(Protocol):
    """A distribution p★ with exact log density, exact sampling and mode regions."""

    name: str
    dim: int
    n_modes: int
    bounds: tuple[float, float]  # square plotting / quadrature box, same on every axis

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact normalised log density, (n, dim) -> (n,)."""

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Exact draws, (n, dim)."""

    def assign_modes(self, x: Tensor) -> Tensor:
        """Mode region of each point, (n, dim) -> LongTensor (n,)."""

    def region_weights(self) -> RegionWeights:
        """Reference masses of p★ in each region, (n_modes,), and their standard errors."""


def check_weights(weights: Sequence[float] | Tensor, n_modes: int) -> Tensor:
    """Validate mixture weights: positive, one per mode, summing to 1 within 1e-6."""
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.ndim != 1 or len(w) != n_modes:
        raise ParamError(
            "weights", f"expected {n_modes} values, got {list(w.reshape(-1).tolist())}"
        )
    if not bool((w > 0).all()):
        raise ParamError("weights", f"every weight must be positive, got {w.tolist()}")
    if abs(float(w.sum()) - 1.0) > 1e-6:
        raise ParamError("weights", f"must sum to 1 (within 1e-6), got sum {float(w.sum())!r}")
    return w


def check_positive(name: str, value: float) -> float:
    """Validate a strictly positive finite scalar."""
    if not (isinstance(value, (int, float)) and value > 0 and value < float("inf")):
        raise ParamError(name, f"must be a positive number, got {value!r}")
    return float(value)


def check_integer(name: str, value: object, low: int | None = None) -> int:
    """Validate an integer (not a bool), at least `low` when given."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (low is not None and value < low):
        rule = "an integer" if low is None else f"an integer ≥ {low}"
        raise ParamError(name, f"must be {rule}, got {value!r}")
    return value
