"""Functions compiled by `torch.compile` (inductor) for the shapes at hand: the samplers' moves
and the flow's loss, where eager PyTorch spends more time launching small operations than
computing (`SuiteSettings.compile`)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

__all__ = ["compiled"]


@functools.cache
def compiled(fn: Callable) -> Callable:
    """`fn` compiled by `torch.compile` into one graph per input shapes and objects, once per
    process. Anything that changes between calls (a step size) must reach it as a tensor: a
    Python float is compiled in as a constant, and each new value would compile again."""
    # one graph per target and method a worker runs (8 by default, then silently eager)
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    return torch.compile(fn, dynamic=False, fullgraph=True)
