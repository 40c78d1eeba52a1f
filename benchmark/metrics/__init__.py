"""Metrics: pure functions of samples, densities and chains (docs/SCIENCE.md §7)."""

from .annealing import Annealed, annealed_log_z
from .c2st import c2st
from .density import (
    FAR_LEVEL,
    MAX_KHAT,
    DensityWeights,
    ImportanceDraws,
    draw_importance,
    far_fraction,
    grid_weights,
    heldout_log_likelihood,
    importance_weights,
    log_density_error,
    min_ess,
    pareto_khat,
)
from .diagnostics import MIN_DIAGNOSTIC_DRAWS, MODE_CONFIDENCE, ess, mode_switches, rhat
from .normaliser import HeldOut, above_truth, disagreement, held_out
from .proposal import DefensiveMixture, DiagonalGaussians, defensive_proposal, fitted_gaussians
from .samples import (
    FLOOR_PAIRS,
    SAMPLE_DRAWS,
    SampleDistances,
    mmd2,
    modes_found,
    noise_floor,
    sample_distances,
    sliced_w2,
)
from .training import SETTLED_CHECKPOINTS, Convergence, Erasures, convergence, erasures
from .weights import (
    sample_weights,
    weight_max_error,
    weight_mse,
    weight_mse_floor,
    weight_tv,
)

__all__ = [
    "Annealed",
    "MODE_CONFIDENCE",
    "MIN_DIAGNOSTIC_DRAWS",
    "HeldOut",
    "above_truth",
    "annealed_log_z",
    "disagreement",
    "held_out",
    "FAR_LEVEL",
    "MAX_KHAT",
    "DefensiveMixture",
    "DensityWeights",
    "DiagonalGaussians",
    "ImportanceDraws",
    "c2st",
    "mode_switches",
    "defensive_proposal",
    "draw_importance",
    "ess",
    "far_fraction",
    "fitted_gaussians",
    "grid_weights",
    "importance_weights",
    "heldout_log_likelihood",
    "log_density_error",
    "min_ess",
    "pareto_khat",
    "rhat",
    "sample_weights",
    "weight_max_error",
    "weight_mse",
    "weight_mse_floor",
    "weight_tv",
    "FLOOR_PAIRS",
    "SAMPLE_DRAWS",
    "SampleDistances",
    "mmd2",
    "modes_found",
    "noise_floor",
    "sample_distances",
    "sliced_w2",
    "SETTLED_CHECKPOINTS",
    "Convergence",
    "Erasures",
    "convergence",
    "erasures",
]
