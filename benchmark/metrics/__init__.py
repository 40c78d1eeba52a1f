"""Metrics: pure functions of samples, densities and chains (SPEC §4)."""

from .c2st import c2st
from .density import (
    DensityWeights,
    grid_weights,
    importance_weights,
    log_density_error,
    model_weights,
)
from .diagnostics import ess, mode_switch_rate, rhat
from .weights import sample_weights, weight_max_error, weight_mse, weight_tv

__all__ = [
    "DensityWeights",
    "c2st",
    "ess",
    "grid_weights",
    "importance_weights",
    "log_density_error",
    "mode_switch_rate",
    "model_weights",
    "rhat",
    "sample_weights",
    "weight_max_error",
    "weight_mse",
    "weight_tv",
]
