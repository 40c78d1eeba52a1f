"""The registry of training methods: `@register_method` fills it; the CLI and the runner read it.

Every method registers itself when its module is imported. Modules are found through the
entry-point group `ebm_bench.methods` — this package's own `baselines` are one such entry, an
installed plugin package adds its own — or named directly (`--plugin MODULE`, `plugins = [...]`).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import torch

from .. import typed
from ..errors import ParamError, closest
from ..training.method import FittedModel, Problem, Progress, TrainParams

__all__ = [
    "ENTRY_POINT_GROUP",
    "METHODS",
    "MethodSpec",
    "register_method",
    "get_method",
    "load_methods",
]

ENTRY_POINT_GROUP = "ebm_bench.methods"

Fit = Callable[[Problem, Any, torch.Generator, Progress], FittedModel]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: code name, display name, hyperparameters, tiny test config, `fit`."""

    name: str
    display: str
    params: type[TrainParams]
    test_config: TrainParams
    fit: Fit

    def configure(self, overrides: dict[str, Any]) -> TrainParams:
        """The default hyperparameters with the TOML values `overrides` in place
        (`benchmark.typed.from_table`); a bad key or value raises `ParamError` naming it."""
        return typed.from_table(self.params, overrides, noun="hyperparameter")


METHODS: dict[str, MethodSpec] = {}


def register_method(
    name: str, *, display: str, params: type[TrainParams], test_config: TrainParams
) -> Callable[[Fit], Fit]:
    """Decorator for a method's `fit` function: registers it under `name` (once); code and
    display names are both unique, since tables show display names."""

    def decorate(fit: Fit) -> Fit:
        if name in METHODS:
            raise ValueError(
                f"method {name!r} is already registered (by {METHODS[name].fit.__module__})"
            )
        same = [spec.name for spec in METHODS.values() if spec.display == display]
        if same:
            raise ValueError(f"method {name!r}: display name {display!r} is taken by {same[0]!r}")
        if not (dataclasses.is_dataclass(params) and issubclass(params, TrainParams)):
            raise TypeError(f"method {name!r}: params must be a dataclass extending TrainParams")
        METHODS[name] = MethodSpec(name, display, params, test_config, fit)
        return fit

    return decorate


def get_method(name: str) -> MethodSpec:
    """The registered method `name`; unknown names raise `ParamError` listing the known ones."""
    if name not in METHODS:
        raise ParamError(
            "",
            f"unknown method {name!r}{closest(name, METHODS)}; "
            f"registered: {', '.join(sorted(METHODS)) or 'none (is the package installed?)'}",
        )
    return METHODS[name]


def _import(module: str, load: Callable[[], object]) -> None:
    if module in _loaded:
        return
    try:
        load()
    except Exception as err:  # a user's module: report it in one line, whatever went wrong
        raise ParamError("", f"cannot import {module!r}: {type(err).__name__}: {err}") from err
    except SystemExit as err:  # sys.exit() at import must not end the benchmark quietly
        raise ParamError("", f"cannot import {module!r}: it called sys.exit({err.code!r})") from err
    _loaded.add(module)


def load_methods(plugins: Iterable[str] = ()) -> dict[str, MethodSpec]:
    """Import every module of the entry-point group, then the `plugins` modules; a module that
    cannot be imported raises `ParamError` naming it."""
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _import(entry.module, entry.load)
    for module in plugins:
        _import(module, lambda module=module: importlib.import_module(module))
    return METHODS


_loaded: set[str] = set()
