"""The target interface and the parameter checks shared by every family."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor

from ..errors import ParamError

__all__ = [
    "Target",
    "Family",
    "RegionWeights",
    "ModeMarkers",
    "check_weights",
    "check_positive",
    "check_integer",
    "check_size",
    "sole_region",
    "MAX_DIM",
    "MAX_MODES",
    "MAX_MODE_VALUES",
]

#: Largest dimension of a target (the paper's go to 64): a d × d rotation, d-wide networks.
MAX_DIM = 1024
#: Most components of a target.
MAX_MODES = 1000
#: Most n_modes × dim: the region masses are computed in blocks of 65 536 draws × n_modes × dim
#: float32 values, at most 2 GiB.
MAX_MODE_VALUES = 8192


class RegionWeights(NamedTuple):
    """Masses of p★ in each mode region (n_modes,), with the standard error of the estimate
    (zeros where the masses are exact)."""

    weights: Tensor
    stderr: Tensor


class ModeMarkers(NamedTuple):
    """Where the figures mark each mode in the plane of the first two coordinates: a centre
    (n_modes, 2) (drawn +) and a ring radius about the origin (n_modes,) (drawn dotted), NaN
    where a mode has none."""

    centres: Tensor
    radii: Tensor


@runtime_checkable
class Target(Protocol):
    """A distribution p★ = Σ_k w_k p_k with exact log density, exact sampling, mode regions, and
    per component its density, a Gaussian description and its probability-level regions
    (ellipsoids, or bands for rings)."""

    name: str
    dim: int
    n_modes: int
    weights: Tensor  # (n_modes,): the mixture weights w_k
    bounds: tuple[float, float]  # square plotting box, same on every axis
    means: Tensor  # (n_modes, dim): the Gaussian description of each component, used to
    variances: Tensor  # (n_modes, dim): propose where p★'s modes are (importance sampling)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact normalised log density, (n, dim) -> (n,)."""

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Exact draws, (n, dim)."""

    def component_log_prob(self, x: Tensor) -> Tensor:
        """Unweighted log density of each component, (n, dim) -> (n, n_modes)."""

    def assign_modes(self, x: Tensor) -> Tensor:
        """Mode region of each point, (n, dim) -> LongTensor (n,)."""

    def region_weights(self) -> RegionWeights:
        """Reference masses of p★ in each region, (n_modes,), and their standard errors."""

    def level_regions(self, x: Tensor, level: float) -> Tensor:
        """Whether each point lies in each component's `level` region — the smallest region
        holding that probability of the component (0.9: its core; 0.999: where it ends):
        (n, dim) -> BoolTensor (n, n_modes). Regions of neighbouring components may overlap."""

    def mode_markers(self) -> ModeMarkers:
        """How the figures mark the modes (`ModeMarkers`)."""


class Family(NamedTuple):
    """A family of targets: `build(name, **params)` makes one (a bad parameter raises
    `ParamError` naming it), and `examples` are small parameter sets of it, each form of its
    parameters at least once, at which tests/test_target_contract.py checks the `Target`
    contract."""

    build: Callable[..., Target]
    examples: tuple[dict[str, Any], ...]


def confident_component(target: Target, x: Tensor, confidence: float) -> Tensor:
    """The component whose posterior responsibility under p★, w_k p_k(x) / p★(x), exceeds
    `confidence` at each point, −1 where none does: (n, dim) -> LongTensor (n,)."""
    joint = target.component_log_prob(x) + target.weights.to(x).log()
    top, component = torch.softmax(joint, dim=-1).max(dim=-1)
    return torch.where(top > confidence, component, -1)


def sole_region(inside: Tensor) -> Tensor:
    """The one region that contains each point, −1 where none or several do: BoolTensor
    (n, n_modes) from `Target.level_regions` -> LongTensor (n,)."""
    return torch.where(inside.sum(-1) == 1, inside.long().argmax(-1), -1)


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


def check_integer(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """Validate an integer (not a bool), at least `low` and at most `high` when given."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        rule = "an integer" if low is None else f"an integer ≥ {low}"
        rule += "" if high is None else f" and ≤ {high}"
        raise ParamError(name, f"must be {rule}, got {value!r}")
    return value


def check_size(n_modes: int, dim: int) -> None:
    """Refuse a target too large to evaluate in memory (`MAX_DIM`, `MAX_MODES`,
    `MAX_MODE_VALUES`), naming the parameter that sets the size."""
    check_integer("dim", dim, 1, MAX_DIM)
    check_integer("n_modes", n_modes, 1, MAX_MODES)
    if n_modes * dim > MAX_MODE_VALUES:
        raise ParamError(
            "n_modes",
            f"{n_modes} modes in d = {dim} is {n_modes * dim} values, at most {MAX_MODE_VALUES} "
            "(the region masses are evaluated in blocks that must fit in memory)",
        )
