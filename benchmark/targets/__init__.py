"""Targets: exact log density, exact sampling and mode regions.

Example:
    >>> target = make_target("four_modes")
    >>> target.dim, target.n_modes
    (2, 4)
    >>> make_target("hd16", weights=[0.4, 0.3, 0.2, 0.1]).region_weights().weights.shape
    torch.Size([4])
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from ..errors import ParamError, closest
from .base import Family, ModeMarkers, RegionWeights, Target, confident_component, sole_region
from .bimodal import BIMODAL_EXAMPLES, Bimodal, bimodal
from .gmm import (
    GMM_EXAMPLES,
    PAPER_HD_EXAMPLES,
    GaussianMixture,
    PaperHD,
    generated_gmm,
    gmm,
    paper_hd,
)
from .mog import MOG_EXAMPLES, mog
from .rings import RINGS_EXAMPLES, Rings, rings

__all__ = [
    "FAMILIES",
    "PRESETS",
    "Bimodal",
    "Family",
    "ModeMarkers",
    "GaussianMixture",
    "PaperHD",
    "RegionWeights",
    "Rings",
    "Target",
    "make_target",
    "confident_component",
    "sole_region",
]

#: The families by name: a new one is its file here and one entry (its builder, its examples).
FAMILIES: dict[str, Family] = {
    "gmm": Family(
        lambda name, **p: gmm(name, **p) if "means" in p else generated_gmm(name, **p),
        GMM_EXAMPLES,
    ),
    "paper_hd": Family(paper_hd, PAPER_HD_EXAMPLES),
    "mog": Family(mog, MOG_EXAMPLES),
    "rings": Family(rings, RINGS_EXAMPLES),
    "bimodal": Family(bimodal, BIMODAL_EXAMPLES),
}

_UNEQUAL = [0.1, 0.2, 0.3, 0.4]

#: Named targets of docs/SCIENCE.md §4: (family, parameters).
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "two_modes": (
        "gmm",
        {"means": [[-1.5, -1.5], [1.5, 1.5]], "weights": [1 / 3, 2 / 3], "variances": [0.05, 0.1]},
    ),
    "four_modes": (
        "gmm",
        {
            "means": [[-3.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [3.0, 0.0]],
            "weights": _UNEQUAL,
            "variances": 0.05,
        },
    ),
    "eight_gaussians": (
        "gmm",
        {
            "means": [
                [math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)
            ],
            "variances": 0.15**2,
        },
    ),
    "rings": ("rings", {}),
    "hd16": ("paper_hd", {"dim": 16, "a": 0.5919, "weights": _UNEQUAL}),
    "hd32": ("paper_hd", {"dim": 32, "a": 0.5919, "weights": _UNEQUAL}),
    "hd64": ("paper_hd", {"dim": 64, "a": 0.5919, "weights": _UNEQUAL}),
    # docs/SCIENCE.md §4.2: FAB's GMM-40 (equal weights as in the original; `imbalance` unbalances
    # it) and a Beyond-ELBOs-style mixture in d = 32 with a 10:1 weight imbalance
    "gmm40": ("mog", {"dim": 2, "n_modes": 40, "box": 40.0, "variances": 1.0}),
    "gmm40_unequal": ("mog", {"dim": 2, "n_modes": 40, "box": 40.0, "imbalance": 10.0}),
    "mog32": (
        "mog",
        {"dim": 32, "n_modes": 10, "box": 10.0, "variances": [0.3, 1.0], "imbalance": 10.0},
    ),
    # docs/SCIENCE.md §4.3: two modes 2:1, `separation` standard deviations apart (mis-assignment
    # Φ(−s/2): 0.023 at s = 4, 3.2e-5 at s = 8)
    "bimodal_d2_s4": ("bimodal", {"dim": 2, "separation": 4.0}),
    "bimodal_d2_s8": ("bimodal", {"dim": 2, "separation": 8.0}),
    "bimodal_d16_s8": ("bimodal", {"dim": 16, "separation": 8.0}),
}


def make_target(family: str, name: str | None = None, **params: Any) -> Target:
    """Build a target from a family (`gmm`, `paper_hd`, `mog`, `rings`, `bimodal`) or a preset
    name; for a preset, `params` override its parameters. Bad names or parameters raise
    `ParamError` naming the parameter ("family" for an unknown family or preset, "" for a missing
    argument)."""
    if family in PRESETS and family not in FAMILIES:
        base_family, base_params = PRESETS[family]
        return make_target(base_family, name=name or family, **{**base_params, **params})
    if family not in FAMILIES:
        known = sorted(FAMILIES) + sorted(PRESETS)
        raise ParamError(
            "family",
            f"unknown family or preset {family!r}{closest(family, known)}; "
            f"known: {', '.join(known)}",
        )
    build = FAMILIES[family].build
    if family != "gmm":
        allowed = set(inspect.signature(build).parameters) - {"name"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ParamError(
                unknown[0],
                f"not a parameter of {family!r}{closest(unknown[0], allowed)} "
                f"(parameters: {', '.join(sorted(allowed))})",
            )
    try:
        return build(name or family, **params)
    except TypeError as err:  # a missing or unexpected argument of the family's function
        raise ParamError("", f"{family!r}: {err}") from err
