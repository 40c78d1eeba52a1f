"""Hyperparameter grids: a method's settings for one target, layered from a config's tables, with
any list-valued hyperparameter expanded into variants (one per point of the grid).

The layers, later ones winning: the method's defaults, the suite's `[defaults]`, its
`[methods.NAME]`, then the target's own `defaults` and `methods.NAME` tables. A value given as a
list of several values is a grid (for a hyperparameter that is itself a list, e.g. `flow_hidden`,
a list of lists); the grids of one method combine as a Cartesian product.

Example:
    >>> from benchmark.suite.registry import load_methods, get_method
    >>> _ = load_methods()
    >>> layers = [("defaults", {"lr": [1e-3, 3e-3]}), ("methods.ula_ebm", {"steps": 16})]
    >>> [(v.name, v.params.lr, v.params.steps) for v in expand(get_method("ula_ebm"), layers)]
    [('ula_ebm[lr=0.001]', 0.001, 16), ('ula_ebm[lr=0.003]', 0.003, 16)]
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import typing
from dataclasses import dataclass
from typing import Any

from ..errors import ParamError
from ..training.method import TrainParams
from ..typed import field_types
from .registry import MethodSpec

__all__ = ["MAX_VARIANT_NAME", "Variant", "variant_name", "display_name", "expand"]

#: Characters a swept value may print as: a variant's name is part of its records' file names
#: (`store.run_id`), and ',', '=' and brackets separate the name's parts.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+$")
#: Longest variant name, so that a record's file name stays well under the 255 bytes of a file
#: system's limit (with a 64-character target name and any seed).
MAX_VARIANT_NAME = 128


@dataclass(frozen=True)
class Variant:
    """One method at one point of its grid: `name` labels it in tables and run ids, `swept` holds
    the grid's values at that point (empty without a grid), `params` every hyperparameter,
    resolved (the method's dataclass, as its `fit` takes it)."""

    name: str
    method: str
    swept: dict[str, Any]
    params: TrainParams

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (`params` as a dict), as stored in DIR/suite.json."""
        return dataclasses.asdict(self)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, list | tuple):
        return "x".join(_show(v) for v in value)
    return str(value)


def variant_name(method: str, swept: dict[str, Any]) -> str:
    """`method`, or `method[key=value,...]` for a point of a grid.

    Example:
        >>> variant_name("flowmc_ebm", {"lr": 0.003, "flow_hidden": [32, 32]})
        'flowmc_ebm[lr=0.003,flow_hidden=32x32]'
    """
    if not swept:
        return method
    return f"{method}[{','.join(f'{k}={_show(v)}' for k, v in swept.items())}]"


def display_name(spec: MethodSpec, swept: dict[str, Any]) -> str:
    """The method's display name, with a variant's grid point `swept` when it has one.

    Example:
        >>> from benchmark.suite.registry import load_methods
        >>> display_name(load_methods()["ula_ebm"], {"lr": 0.003})
        'ULA-EBM [lr=0.003]'
    """
    if not swept:
        return spec.display
    return f"{spec.display} [{', '.join(f'{k}={_show(v)}' for k, v in swept.items())}]"


def _is_grid(value: Any, hint: Any) -> bool:
    if not isinstance(value, list):
        return False
    if typing.get_origin(hint) is tuple:  # a list-valued hyperparameter: a grid is a list of lists
        return all(isinstance(v, list) for v in value)
    return True


def expand(spec: MethodSpec, layers: list[tuple[str, dict[str, Any]]]) -> list[Variant]:
    """The variants of `spec` given the tables `layers` [(where, table)], later ones winning.
    A bad key or value raises `ParamError` whose key names the table it came from."""
    hints = field_types(spec.params)
    merged: dict[str, tuple[str, Any]] = {}
    for where, table in layers:
        merged.update({key: (where, value) for key, value in table.items()})
    fixed = {key: value for key, (_, value) in merged.items()}
    grids = {}
    for key, (where, value) in merged.items():
        if key in hints and _is_grid(value, hints[key]):
            if not value or len({repr(v) for v in value}) != len(value):
                raise ParamError(f"{where}.{key}", f"a grid needs distinct values, got {value!r}")
            shown = [_show(v) for v in value]
            if len(set(shown)) != len(shown):
                twins = sorted(v for v in set(shown) if shown.count(v) > 1)
                raise ParamError(
                    f"{where}.{key}",
                    f"values {value!r} print alike as {key}={twins[0]}, so two variants would "
                    "share one name and one record; give values that differ to 6 significant "
                    "digits",
                )
            bad = [s for s in shown if not _SAFE_VALUE.match(s)]
            if len(value) > 1 and bad:
                raise ParamError(
                    f"{where}.{key}",
                    f"value {bad[0]!r} cannot be part of a file name: use letters, digits and "
                    "'_.+-'",
                )
            if len(value) > 1:
                grids[key] = value
            fixed[key] = value[0]
    variants = []
    for point in itertools.product(*grids.values()):
        swept = dict(zip(grids, point, strict=True))
        try:
            params = spec.configure({**fixed, **swept})
        except ParamError as err:
            where = merged[err.key][0] if err.key in merged else f"methods.{spec.name}"
            raise err.within(where) from err
        name = variant_name(spec.name, swept)
        if grids and len(name) > MAX_VARIANT_NAME:
            first = next(iter(grids))
            raise ParamError(
                f"{merged[first][0]}.{first}",
                f"variant name {name[:40]!r}... is {len(name)} characters, at most "
                f"{MAX_VARIANT_NAME} (it names the run's record file); sweep fewer values at once",
            )
        if name in {v.name for v in variants}:  # e.g. lists of strings that join alike
            raise ParamError(f"methods.{spec.name}", f"two variants are named {name!r}")
        variants.append(Variant(name, spec.name, swept, params))
    return variants
