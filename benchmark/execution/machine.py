"""What a record's numbers depend on besides its config: the versions of the packages that
compute them and the processor. The same config and seed give the same numbers bit for bit on the
same processor with the same versions; elsewhere rounding differs (another instruction set or BLAS
kernel), training amplifies the difference, and runs agree only in distribution (docs/RUNNING.md,
"Reproducible"; `benchmark.reporting.agreement` tests it)."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import platform
from pathlib import Path

import torch

from .. import __version__

__all__ = ["COMPUTING_PACKAGES", "cpu_model", "versions", "differences"]

#: The packages whose code computes a number of a record (their versions are in every record).
COMPUTING_PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "zuko", "arviz")


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one) and the instruction
    set torch's kernels use on it, e.g. 'AMD EPYC (AVX2)'."""
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() in ("model name", "hardware") and value.strip():
                name = value.strip()
                break
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


@functools.cache
def versions() -> dict[str, str]:
    """This package's version, those of `COMPUTING_PACKAGES` and Python's, and the processor
    (`cpu`): what a record's numbers depend on besides its config (bit for bit: the same
    processor and versions; otherwise only in distribution, see docs/RUNNING.md)."""
    return {
        "benchmark": __version__,
        **{name: importlib.metadata.version(name) for name in COMPUTING_PACKAGES},
        "python": platform.python_version(),
        "cpu": cpu_model(),
    }


def differences(theirs: dict[str, str], ours: dict[str, str]) -> list[str]:
    """What differs between two records' `versions`, e.g. ['zuko 1.5.0 (here 1.6.0)']; an entry
    a record (of an older format) lacks is 'unknown'.

    Example:
        >>> differences({"benchmark": "1", "zuko": "1.5.0"}, {"benchmark": "1", "zuko": "1.6.0"})
        ['zuko 1.5.0 (here 1.6.0)']
    """
    keys = list(dict.fromkeys([*ours, *theirs]))
    return [
        f"{key} {theirs.get(key, 'unknown')} (here {ours.get(key, 'unknown')})"
        for key in keys
        if theirs.get(key) != ours.get(key)
    ]
