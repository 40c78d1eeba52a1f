"""Typed settings tables: a TOML table checked and converted into a frozen dataclass — the one idiom
of the `[suite]` settings (`SuiteSettings`) and of every method's hyperparameters (`TrainParams`).

A field's annotation is its type: `int`, `float` (an integer converts), `bool`, `str`, a
`Literal[...]` of the values allowed, or `tuple[X, ...]` (a TOML list); `setting` adds bounds, a
rule and whether a table must give the key. A class checks its instances with `check` in its
`__post_init__`; `from_table` builds one from a table. A mistake raises `ParamError` naming the
key, the type expected, and for an unknown key the closest known one.

Example:
    >>> convert("lr", 1, float), convert("flow_hidden", [8, 8], tuple[int, ...])
    (1.0, (8, 8))
    >>> convert("noise", "normal", Literal["uniform", "gaussian"])
    Traceback (most recent call last):
    ...
    benchmark.errors.ParamError: noise: must be one of 'uniform', 'gaussian', got 'normal'
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .errors import ParamError, closest

__all__ = ["setting", "field_types", "convert", "check", "from_table", "to_json"]

T = TypeVar("T")

_RULE = "benchmark.typed"  # the key of a `setting`'s rule in its field's metadata


@dataclass(frozen=True)
class _Rule:
    """What `setting` adds to a field's type: bounds, a (check, rule text), whether required."""

    at_least: int | None
    at_most: int | None
    required: bool
    rule: tuple[Callable[[Any], bool], str] | None

    def check(self, key: str, value: Any) -> None:
        if self.at_least is not None and value < self.at_least:
            raise ParamError(key, f"must be an integer ≥ {self.at_least}, got {value!r}")
        if self.at_most is not None and value > self.at_most:
            raise ParamError(
                key, f"must be at most {self.at_most:,} (a size that fits), got {value!r}"
            )
        if self.rule is not None and not self.rule[0](value):
            raise ParamError(key, f"must be {self.rule[1]}, got {_show(value)}")


def setting(
    default: Any,
    *,
    at_least: int | None = None,
    at_most: int | None = None,
    required: bool = False,
    rule: tuple[Callable[[Any], bool], str] | None = None,
) -> Any:
    """A field with its default, bounds for an integer, another rule (check, rule text), and
    whether a table must give it (`from_table`; the default then serves code that builds the
    dataclass directly)."""
    metadata = {_RULE: _Rule(at_least, at_most, required, rule)}
    return dataclasses.field(default=default, metadata=metadata)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The annotation of each field of the dataclass `cls`, evaluated."""
    return typing.get_type_hints(cls)


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def _describe(hint: Any, sequence: str = "list") -> str:
    """The type `hint` in words; `sequence`: what a `tuple[X, ...]` is ("list" in TOML)."""
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return f"a {sequence} of {_PLURALS.get(item) or _describe(item, sequence)}"
    return _NAMES.get(hint) or getattr(hint, "__name__", str(hint))


def _show(value: object) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


def _convert(value: Any, hint: Any, lists: bool) -> tuple[bool, Any]:
    """(whether `value` fits the annotation `hint`, the value converted: an integer to a float,
    a list to a tuple where `lists`, i.e. for a TOML value rather than a field's)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint), value
    if origin is tuple:
        if not isinstance(value, (list, tuple) if lists else tuple):
            return False, value
        items = [_convert(v, typing.get_args(hint)[0], lists) for v in value]
        ok = all(fits for fits, _ in items)
        return ok, tuple(v for _, v in items) if ok else value
    if hint is bool or isinstance(value, bool):
        return hint is bool and isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, int | float)
        return ok, float(value) if ok and lists else value
    return isinstance(value, hint), value


def convert(key: str, value: Any, hint: Any) -> Any:
    """A TOML value as the field `key` annotated `hint` holds it (a list as a tuple, an integer
    as a float); one that does not fit raises `ParamError(key, "must be <type>, got <value>")`."""
    ok, converted = _convert(value, hint, lists=True)
    if not ok:
        raise ParamError(key, f"must be {_describe(hint)}, got {_show(value)}")
    return converted


def check(settings: object) -> None:
    """Raise `ParamError` naming the first field of the dataclass instance `settings` whose value
    has not its annotated type (a tuple for a `tuple[X, ...]`), or breaks its `setting`'s rule."""
    hints = field_types(type(settings))
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if not _convert(value, hints[f.name], lists=False)[0]:
            wanted = _describe(hints[f.name], "tuple")
            raise ParamError(f.name, f"must be {wanted}, got {value!r}")
        if _RULE in f.metadata:
            f.metadata[_RULE].check(f.name, value)


def from_table(cls: type[T], table: Mapping[str, Any], noun: str = "key") -> T:
    """An instance of the dataclass `cls` from a TOML table: each value converted (`convert`),
    the other fields at their defaults. An unknown key (a `noun`, e.g. "hyperparameter"), a
    required one missing or a bad value raises `ParamError` naming the key."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise ParamError(
                key, f"unknown {noun}{closest(key, fields)}; known: {', '.join(sorted(fields))}"
            )
    for name, f in fields.items():
        if _RULE in f.metadata and f.metadata[_RULE].required and name not in table:
            raise ParamError(name, "missing")
    hints = field_types(cls)
    return cls(**{key: convert(key, value, hints[key]) for key, value in table.items()})


def to_json(settings: object) -> dict[str, Any]:
    """The fields of a dataclass instance as plain JSON data (tuples as lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(settings).items()
    }
