"""A benchmark of mode-weight accuracy and sampler mixing for energy-based models.

The Python API (`benchmark.api`) is available from the package itself, imported on first use so
that `import benchmark` stays cheap: `benchmark.run(...)`, `benchmark.load_runs(DIR)`, ….
"""

from typing import Any

__version__ = "0.6.0"

_API = (
    "ConfigError",
    "load_suite",
    "run",
    "compare",
    "build_report",
    "load_frames",
    "load_runs",
    "load_weights",
    "make_tables",
    "make_figures",
)

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """The API's functions, from `benchmark.api` on first use."""
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
