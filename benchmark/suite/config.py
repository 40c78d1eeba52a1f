"""A suite's configuration: read from TOML, validated whole before anything runs.

Every mistake raises `ConfigError`, whose message is one line `<file>: <key>: <message>`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ParamError, closest
from ..targets import Target, make_target
from ..training.method import TrainParams
from .registry import METHODS, get_method, load_methods
from .settings import SuiteSettings
from .variants import Variant, expand

__all__ = ["ConfigError", "TargetConfig", "SuiteConfig", "load_config", "config_from_dict"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
#: Longest target or method name: both are part of a record's file name (`store.run_id`).
MAX_NAME = 64


@dataclass(frozen=True)
class TargetConfig:
    """One `[[targets]]` entry: a family or preset (`kind`), its parameters, a unique name, and
    the method settings that hold on this target only (`defaults`, `methods.NAME` tables)."""

    name: str
    kind: str
    params: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)

    def build(self) -> Target:
        """The target (parameters were checked when the config was loaded)."""
        return make_target(self.kind, name=self.name, **self.params)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data, as stored in DIR/suite.json and every record."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SuiteConfig:
    """A validated suite: its settings, the targets, and per target the variants of each method
    (one per point of its hyperparameter grid, with every hyperparameter resolved); `path` is its
    TOML file, None for a suite given as a dict."""

    path: Path | None
    settings: SuiteSettings
    targets: list[TargetConfig]
    variants: dict[str, list[Variant]]

    def resolved(self) -> dict[str, Any]:
        """Everything that defines the suite's numbers, as plain JSON data (DIR/suite.json)."""
        return {
            "suite": self.settings.to_json(),
            "targets": [t.to_json() for t in self.targets],
            "variants": {t: [v.to_json() for v in vs] for t, vs in self.variants.items()},
        }


def _check(ok: bool, file: Path | str, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(file, key, message)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            path, "", f"cannot read: {getattr(err, 'strerror', None) or err}"
        ) from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, "", f"invalid TOML: {err}") from err


def _settings(path: Path | str, raw: dict[str, Any], extra_plugins: list[str]) -> SuiteSettings:
    _check(isinstance(raw.get("suite"), dict), path, "suite", "missing table [suite]")
    try:
        settings = SuiteSettings.from_table(raw["suite"])
    except ParamError as err:
        raise ConfigError(path, f"suite.{err.key}", err.message) from err
    plugins = tuple(dict.fromkeys(settings.plugins + tuple(extra_plugins)))
    return dataclasses.replace(settings, plugins=plugins)


#: Most training points × dimension: the data set and as many fresh draws, 1 GiB each in float32.
MAX_DATA_VALUES = 2**28


def _targets(path: Path | str, raw: dict[str, Any], settings: SuiteSettings) -> list[TargetConfig]:
    entries = raw.get("targets")
    ok = isinstance(entries, list) and len(entries) > 0
    _check(ok and all(isinstance(e, dict) for e in entries), path, "targets", "need [[targets]]")
    targets = []
    for i, entry in enumerate(entries):
        key = f"targets[{i}]"
        given = [k for k in ("family", "target") if k in entry]
        _check(len(given) == 1, path, key, "give exactly one of 'family' or 'target' (a preset)")
        kind = entry[given[0]]
        _check(isinstance(kind, str), path, f"{key}.{given[0]}", f"must be a string, got {kind!r}")
        name = entry.get("name", kind)
        _check(_safe_name(name), path, f"{key}.name", f"must be {_NAME_RULE}, got {_short(name)}")
        special = ("family", "target", "name", "defaults", "methods")
        params = {k: v for k, v in entry.items() if k not in special}
        try:
            dim = make_target(kind, name=name, **params).dim
        except ParamError as err:
            where = f"{key}.{given[0]}" if err.key == "family" else err.within(key).key
            raise ConfigError(path, where, err.message) from err
        _check(
            settings.n_data * dim <= MAX_DATA_VALUES,
            path,
            "suite.n_data",
            f"{settings.n_data} points in d = {dim} ({key}) are more than {MAX_DATA_VALUES:,} "
            "values, which do not fit in memory",
        )
        defaults, methods = entry.get("defaults", {}), entry.get("methods", {})
        _check(isinstance(defaults, dict), path, f"{key}.defaults", "must be a table")
        _check(isinstance(methods, dict), path, f"{key}.methods", "must be a table of methods")
        targets.append(TargetConfig(name, kind, params, defaults, methods))
    names = [t.name for t in targets]
    for i, name in enumerate(names):
        _check(names.index(name) == i, path, f"targets[{i}].name", f"duplicate name {name!r}")
    return targets


_NAME_RULE = f"letters, digits, '_', '.' or '-', at most {MAX_NAME} of them"


def _safe_name(name: object) -> bool:
    """Whether `name` can be part of a file name: short, and of safe characters only."""
    return isinstance(name, str) and len(name) <= MAX_NAME and bool(_NAME.match(name))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 70 else f"{text[:60]}... ({len(text)} characters)"


def _shared_keys(path: Path | str, where: str, table: object) -> dict[str, Any]:
    """A `defaults` table: only the hyperparameters every method shares (`TrainParams`)."""
    _check(isinstance(table, dict), path, where, "must be a table")
    shared = {f.name for f in dataclasses.fields(TrainParams)}
    for key in table:
        _check(
            key in shared,
            path,
            f"{where}.{key}",
            f"not a shared hyperparameter{closest(key, shared)} "
            f"(shared: {', '.join(sorted(shared))}); set it in a methods table",
        )
    return table


def _method_tables(path: Path | str, where: str, tables: object, methods: tuple[str, ...]) -> dict:
    """The [methods.NAME] tables at `where`. A table of a registered method the suite does not
    run is allowed and unused, so that a copy of a profile may run fewer methods; a name no
    method is registered under is an error."""
    _check(isinstance(tables, dict), path, where, "must be a table of [methods.NAME]")
    known = (*methods, *(name for name in METHODS if name not in methods))
    for name, table in tables.items():
        _check(
            name in known,
            path,
            f"{where}.{name}",
            f"overrides no registered method{closest(name, known)}",
        )
        _check(isinstance(table, dict), path, f"{where}.{name}", "must be a table")
    return tables


def _variants(
    path: Path | str, raw: dict[str, Any], methods: tuple[str, ...], targets: list[TargetConfig]
) -> dict[str, list[Variant]]:
    """Per target, each method's variants (see `benchmark.suite.variants`)."""
    specs = {}
    for name in methods:
        try:
            specs[name] = get_method(name)
        except ParamError as err:
            raise ConfigError(path, "suite.methods", err.message) from err
        _check(
            _safe_name(name),
            path,
            "suite.methods",
            f"method {_short(name)}: a name in a record's file name must be {_NAME_RULE}",
        )
    shared = _shared_keys(path, "defaults", raw.get("defaults", {}))
    tables = _method_tables(path, "methods", raw.get("methods", {}), methods)
    variants = {}
    for i, target in enumerate(targets):
        own = _shared_keys(path, f"targets[{i}].defaults", target.defaults)
        own_tables = _method_tables(path, f"targets[{i}].methods", target.methods, methods)
        variants[target.name] = []
        for name, spec in specs.items():
            layers = [
                ("defaults", shared),
                (f"methods.{name}", tables.get(name, {})),
                (f"targets[{i}].defaults", own),
                (f"targets[{i}].methods.{name}", own_tables.get(name, {})),
            ]
            try:
                variants[target.name] += expand(spec, layers)
            except ParamError as err:
                raise ConfigError(path, err.key, err.message) from err
    return variants


def _plain(value: Any, where: Path | str, key: str) -> Any:
    """A deep copy of a Python suite dict as TOML would give it (tables, lists, strings,
    numbers, booleans; tuples and numpy arrays become lists, numpy scalars Python numbers); any
    other value raises `ConfigError` naming its key."""
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()
    if isinstance(value, dict):
        for k in value:
            _check(isinstance(k, str), where, key, f"keys must be strings, got {k!r}")
        return {k: _plain(v, where, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, where, f"{key}[{i}]") for i, v in enumerate(value)]
    kind = type(value).__name__
    _check(isinstance(value, str | int | float), where, key, f"not a TOML value (got {kind})")
    return value


def _finite(value: Any, where: Path | str, key: str) -> None:
    """Raise `ConfigError` naming the first non-finite number (inf, nan) in a suite: none has a
    meaning in a setting, and a record (strict JSON) could not hold it."""
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(v, where, f"{key}.{k}" if key else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, where, f"{key}[{i}]")
    elif isinstance(value, float):
        _check(math.isfinite(value), where, key, f"must be a finite number, got {value}")


def config_from_dict(
    raw: dict[str, Any], extra_plugins: list[str] | None = None, path: Path | None = None
) -> SuiteConfig:
    """Validate a suite given as the dict a TOML config parses to (`path`: the file it was read
    from, None for a dict built in Python); `extra_plugins` (from `--plugin`) join its plugins.
    The same checks for both: every mistake raises `ConfigError` naming its key."""
    where: Path | str = path if path is not None else "<dict>"
    _check(isinstance(raw, dict), where, "", f"a suite must be a dict, got {type(raw).__name__}")
    raw = _plain(raw, where, "") if path is None else raw
    _finite(raw, where, "")
    known = ["suite", "targets", "defaults", "methods"]
    for key in raw:
        _check(key in known, where, key, f"unknown table{closest(key, known)}")
    settings = _settings(where, raw, list(extra_plugins or []))
    try:
        load_methods(settings.plugins)
    except ParamError as err:
        raise ConfigError(where, "suite.plugins", err.message) from err
    targets = _targets(where, raw, settings)
    return SuiteConfig(path, settings, targets, _variants(where, raw, settings.methods, targets))


def load_config(path: str | Path, extra_plugins: list[str] | None = None) -> SuiteConfig:
    """Read and validate a suite config; `extra_plugins` (from `--plugin`) join its plugins."""
    path = Path(path)
    return config_from_dict(_read(path), extra_plugins, path)
