"""The registry of training methods: `@register_method` fills it; the CLI and the runner read it.

Methods outside this repository register themselves when their module is imported: by name
(`--plugin MODULE`, or `plugins = [...]` in a config) or through the entry-point group
`ebm_bench.methods` of an installed package.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import torch

from .method import FittedModel, Problem, Progress, TrainParams

__all__ = [
    "ENTRY_POINT_GROUP",
    "METHODS",
    "MethodSpec",
    "register_method",
    "get_method",
    "load_methods",
    "closest",
    "override",
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

    def configure(self, overrides: dict[str, Any], where: str = "") -> TrainParams:
        """The default hyperparameters with `overrides` applied; a bad key or value raises
        `ValueError` naming it (prefixed by `where`)."""
        return override(self.params(), overrides, where or f"methods.{self.name}")


METHODS: dict[str, MethodSpec] = {}


def register_method(
    name: str, *, display: str, params: type[TrainParams], test_config: TrainParams
) -> Callable[[Fit], Fit]:
    """Decorator for a method's `fit` function: registers it under `name` (once)."""

    def decorate(fit: Fit) -> Fit:
        if name in METHODS:
            raise ValueError(
                f"method {name!r} is already registered (by {METHODS[name].fit.__module__})"
            )
        if not (dataclasses.is_dataclass(params) and issubclass(params, TrainParams)):
            raise TypeError(f"method {name!r}: params must be a dataclass extending TrainParams")
        METHODS[name] = MethodSpec(name, display, params, test_config, fit)
        return fit

    return decorate


def closest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, or ''."""
    match = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def get_method(name: str) -> MethodSpec:
    """The registered method `name`; unknown names raise `ValueError` listing the known ones."""
    if name not in METHODS:
        raise ValueError(
            f"unknown method {name!r}{closest(name, METHODS)}; "
            f"registered: {', '.join(sorted(METHODS))}"
        )
    return METHODS[name]


def load_methods(plugins: Iterable[str] = ()) -> dict[str, MethodSpec]:
    """Import the built-in baselines, the entry-point group and the `plugins` modules."""
    importlib.import_module("baselines")
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.module not in _loaded:
            _loaded.add(entry.module)
            entry.load()
    for module in plugins:
        if module in _loaded:
            continue
        try:
            importlib.import_module(module)
        except Exception as err:  # a user's module: report it in one line, whatever went wrong
            raise ValueError(
                f"plugins: cannot import {module!r}: {type(err).__name__}: {err}"
            ) from err
        _loaded.add(module)
    return METHODS


_loaded: set[str] = set()


def override(params: TrainParams, overrides: dict[str, Any], where: str) -> TrainParams:
    """`params` with `overrides` applied, types checked; a bad key or value raises `ValueError`
    "<where>.<key>: message"."""
    fields = {f.name: f for f in dataclasses.fields(params)}
    values = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ValueError(
                f"{where}.{key}: unknown hyperparameter{closest(key, fields)}; "
                f"known: {', '.join(sorted(fields))}"
            )
        default = getattr(params, key)
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float))
            value = float(value) if ok else value
        elif isinstance(default, tuple):
            ok = isinstance(value, (list, tuple))
            value = tuple(value) if ok else value
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise ValueError(f"{where}.{key}: expected {type(default).__name__}, got {value!r}")
        values[key] = value
    try:
        return dataclasses.replace(params, **values)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
