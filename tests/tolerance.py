"""Tolerances derived from what a comparison compares, so that the tests pass on any CPU.

Two computations of one value by different kernels or in another order of operations (our
written-out layers against zuko's or autograd's, a compiled graph against eager steps, a blocked
evaluation against a whole one) agree only up to rounding, and which rounding a processor does
depends on its instruction set and its BLAS. So the tests never compare two such paths bit for
bit, nor with a default tolerance chosen on one machine. They either

- run both paths in float64 (`float64`), where rounding is ~1e-16 relative and the default
  float64 tolerance of `torch.testing.assert_close` (rtol 1e-7, atol 1e-7) is nine orders of
  magnitude above it and still far below any error of formula; or
- compare float32 results within the standard a-priori bound (`float32_tolerance`): a result of
  `n` dependent floating-point operations lies within γₙ = n·u / (1 − n·u) of the exact value,
  relative to the magnitude of its terms (u = 2⁻²⁴, Higham, *Accuracy and Stability of Numerical
  Algorithms*, §3.1), so two such results lie within 2γₙ of each other.

Bit-for-bit comparisons remain only where a computation is compared with itself (a rerun with the
same seed on the same machine).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["UNIT_ROUNDOFF", "float32_tolerance", "mlp_operations", "float64"]

#: float32's unit roundoff u = 2⁻²⁴ (half its machine epsilon).
UNIT_ROUNDOFF = 2.0**-24


def float32_tolerance(operations: int, scale: float = 1.0) -> dict[str, float]:
    """`assert_close` arguments for two float32 computations of the same values, each of
    `operations` dependent floating-point operations on terms of magnitude up to `scale`:
    rtol = 2γₙ and atol = 2γₙ · scale."""
    nu = operations * UNIT_ROUNDOFF
    if nu >= 1:
        raise ValueError(f"{operations} operations: float32 gives no bound")
    gamma = nu / (1 - nu)
    return {"rtol": 2 * gamma, "atol": 2 * gamma * scale}


def mlp_operations(widths: Sequence[int]) -> int:
    """Dependent floating-point operations of one forward and one backward pass through an MLP
    with layer widths `widths` (input first): per layer a dot product over its fan-in (one
    multiply-add per term) and an activation (counted as 4 operations), the backward pass as long
    as the forward one."""
    return 2 * sum(fan_in + 4 for fan_in in widths[:-1])


def float64(*modules: nn.Module) -> None:
    """Cast `modules` (parameters and buffers) to float64 in place."""
    for module in modules:
        module.to(torch.float64)
