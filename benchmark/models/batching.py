"""Row-blocked evaluation of large batches.

On a CPU an MLP over ~16 000 points (an i-SIR pool of 256 chains × 63 draws) is limited by memory
traffic: each layer's activations (16 128 × 64 floats = 4 MB) leave the cache before the next
layer reads them. Evaluating the same rows in blocks of `CPU_BLOCK_ROWS` keeps them in the L2
cache: measured on the development machine (one thread, energy MLP 3×64 in 2-D, 3×128 in 16-D),
4.7 ms instead of 9.5 ms and 12 ms instead of 29 ms. Each row's result is unchanged: rows are
independent. A GPU gets the whole batch at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

__all__ = ["CPU_BLOCK_ROWS", "map_rows"]

CPU_BLOCK_ROWS = 2048

Output = TypeVar("Output", Tensor, tuple[Tensor, ...])


def map_rows(fn: Callable[[Tensor], Output], x: Tensor, rows: int = CPU_BLOCK_ROWS) -> Output:
    """fn(x) for a row-wise fn, computed on blocks of `rows` rows of x (n, ...) on a CPU; the
    outputs (a tensor or a tuple of tensors, rows first) are concatenated."""
    if x.device.type != "cpu" or x.shape[0] <= rows:
        return fn(x)
    blocks = [fn(block) for block in x.split(rows)]
    if isinstance(blocks[0], Tensor):
        return torch.cat(blocks)
    return tuple(torch.cat(parts) for parts in zip(*blocks, strict=True))
