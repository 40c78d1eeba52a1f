"""When an EBM's estimated log Z cannot be trusted although its own diagnostics look healthy
(docs/SCIENCE.md §7.3, "Cross-checked normalisers").

Every estimator here fails the same way: mass it does not reach is left out, so its log Z comes
out low, and the held-out log-likelihood log p̃ − log Z high. Two consequences are checked:
- a second estimator that reaches more mass finds a larger log Z than the first, beyond their
  combined standard error (`disagreement`; a *smaller* one is the second estimator missing what
  the first found, not a fault of the first);
- the held-out log-likelihood exceeds the truth's own, E_p★[log p★] on the same draws, beyond
  the standard error of their paired difference and of log Z (`above_truth`): impossible for a
  normalised density, since E_p★[log q − log p★] = −KL(p★ ‖ q) ≤ 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["Z_SCORE", "FLOAT_SLACK", "HeldOut", "held_out", "disagreement", "above_truth"]

Z_SCORE = 3.0  # a one-sided excess beyond this many combined standard errors is a failure
FLOAT_SLACK = 1e-3  # nats: float32 rounding of log densities of magnitude ≤ 1e2 is below 1e-4


class HeldOut(NamedTuple):
    """Held-out log-likelihood of the EBM (mean log p̃ − log Z), the truth's (mean log p★) and
    its standard error, and the standard error of the mean paired difference."""

    loglik: float
    truth: float
    truth_stderr: float
    gap_stderr: float


@torch.no_grad()
def held_out(log_density: Tensor, log_z: float, log_truth: Tensor) -> HeldOut:
    """From log p̃ (n,) and log p★ (n,) at the same held-out draws."""
    model, truth = log_density.double() - log_z, log_truth.double()
    n = len(model)
    return HeldOut(
        float(model.mean()),
        float(truth.mean()),
        float(truth.std() / math.sqrt(n)),
        float((model - truth).std() / math.sqrt(n)),
    )


def disagreement(
    name: str, log_z: float, stderr: float, other: str, other_log_z: float, other_stderr: float
) -> str | None:
    """The reason, when `other`'s log Z exceeds `name`'s beyond `Z_SCORE` combined standard
    errors (+ `FLOAT_SLACK`): `name` missed mass that `other` reached. None otherwise."""
    tolerance = Z_SCORE * math.hypot(stderr, other_stderr) + FLOAT_SLACK
    if other_log_z - log_z > tolerance:
        return (
            f"normalisers disagree: {name} {log_z:.3g} ± {stderr:.2g}, "
            f"{other} {other_log_z:.3g} ± {other_stderr:.2g}"
        )
    return None


def above_truth(found: HeldOut, log_z_stderr: float) -> str | None:
    """The reason, when the held-out log-likelihood exceeds the truth's beyond `Z_SCORE` times
    √(SE of the paired difference² + SE of log Z²) (+ `FLOAT_SLACK`): a failed normalisation."""
    tolerance = Z_SCORE * math.hypot(found.gap_stderr, log_z_stderr) + FLOAT_SLACK
    if found.loglik - found.truth > tolerance:
        return (
            f"held-out log-likelihood {found.loglik:.4g} above the truth's "
            f"{found.truth:.4g} ± {found.truth_stderr:.2g}: log Z misses mass"
        )
    return None
