"""A suite's configuration: read from TOML, validated whole before anything runs.

Every mistake raises `ConfigError`, whose message is one line `<file>: <key>: <what is wrong>`.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .method import TrainParams
from .registry import closest, get_method, load_methods, override
from .targets import Target, make_target

__all__ = [
    "ConfigError",
    "TargetConfig",
    "SuiteConfig",
    "load_config",
    "energy_width",
    "SUITE_DEFAULTS",
]

#: Optional `[suite]` keys and their defaults. `energy_hidden = 0`: 64 in 2-D, 128 above;
#: the C2ST runs on targets of dimension ≤ `c2st_max_dim` only (its MLP is slow in high dimension);
#: each diagnostic chain runs for `sample_cost` cost units (`EvalCounter.cost`), the first
#: `warmup_fraction` of them discarded.
SUITE_DEFAULTS: dict[str, Any] = {
    "plugins": [],
    "n_data": 10_000,
    "n_chains": 128,
    "sample_cost": 2000,
    "warmup_fraction": 0.25,
    "n_c2st": 1000,
    "c2st_max_dim": 64,
    "energy_hidden": 0,
    "energy_depth": 3,
}
_REQUIRED = ("name", "seeds", "methods", "iterations")
_SUITE_KEYS = (*_REQUIRED, *SUITE_DEFAULTS)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def energy_width(energy_hidden: int, dim: int) -> int:
    """Width of the energy MLP: `energy_hidden`, or 0 for the default (64 in 2-D, 128 above)."""
    return energy_hidden or (64 if dim == 2 else 128)


class ConfigError(ValueError):
    """A user mistake in a config or on the command line: `<file>: <key>: <message>`."""

    def __init__(self, file: str | Path, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")


@dataclass(frozen=True)
class TargetConfig:
    """One `[[targets]]` entry: a family or preset (`kind`), its parameters, a unique name."""

    name: str
    kind: str
    params: dict[str, Any]

    def build(self) -> Target:
        """The target (parameters were checked when the config was loaded)."""
        return make_target(self.kind, name=self.name, **self.params)


@dataclass(frozen=True)
class SuiteConfig:
    """A validated suite: `[suite]` keys, the targets, each method's resolved hyperparameters."""

    path: Path
    name: str
    seeds: list[int]
    methods: list[str]
    iterations: int
    plugins: list[str]
    n_data: int
    n_chains: int
    sample_cost: int
    warmup_fraction: float
    n_c2st: int
    c2st_max_dim: int
    energy_hidden: int
    energy_depth: int
    targets: list[TargetConfig]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolved(self) -> dict[str, Any]:
        """Everything that defines the suite's numbers, as plain JSON data (DIR/suite.json)."""
        suite = {key: getattr(self, key) for key in _SUITE_KEYS}
        targets = [{"name": t.name, "kind": t.kind, "params": t.params} for t in self.targets]
        return {"suite": suite, "targets": targets, "methods": self.params}


def _check(ok: bool, file: Path, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(file, key, message)


def _int_list(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "", f"cannot read: {err.strerror or err}") from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, "", f"invalid TOML: {err}") from err


def _suite(path: Path, raw: dict[str, Any], extra_plugins: list[str]) -> dict[str, Any]:
    _check(isinstance(raw.get("suite"), dict), path, "suite", "missing table [suite]")
    suite = raw["suite"]
    for key in suite:
        _check(key in _SUITE_KEYS, path, f"suite.{key}", f"unknown key{closest(key, _SUITE_KEYS)}")
    for key in _REQUIRED:
        _check(key in suite, path, f"suite.{key}", "missing")
    values = {**SUITE_DEFAULTS, **suite}
    _check(
        isinstance(values["name"], str) and bool(values["name"]),
        path,
        "suite.name",
        "must be a non-empty string",
    )
    seeds = values["seeds"]
    _check(
        _int_list(seeds) and len(seeds) > 0 and len(set(seeds)) == len(seeds),
        path,
        "suite.seeds",
        f"must be a non-empty list of distinct integers, got {seeds!r}",
    )
    for key in ("methods", "plugins"):
        v = values[key]
        _check(
            isinstance(v, list) and all(isinstance(s, str) for s in v) and len(set(v)) == len(v),
            path,
            f"suite.{key}",
            f"must be a list of distinct strings, got {v!r}",
        )
    _check(len(values["methods"]) > 0, path, "suite.methods", "must name at least one method")
    for key in ("iterations", "n_data", "n_chains", "n_c2st", "energy_depth"):
        _check(
            _positive_int(values[key]),
            path,
            f"suite.{key}",
            f"must be a positive integer, got {values[key]!r}",
        )
    _check(
        _positive_int(values["sample_cost"]),
        path,
        "suite.sample_cost",
        f"must be a positive integer (cost units per chain), got {values['sample_cost']!r}",
    )
    fraction = values["warmup_fraction"]
    _check(
        isinstance(fraction, int | float) and not isinstance(fraction, bool) and 0 <= fraction < 1,
        path,
        "suite.warmup_fraction",
        f"must be a number in [0, 1), got {fraction!r}",
    )
    _check(
        _positive_int(values["n_chains"]) and values["n_chains"] >= 2,
        path,
        "suite.n_chains",
        f"must be an integer ≥ 2, got {values['n_chains']!r}",
    )
    for key in ("energy_hidden", "c2st_max_dim"):
        value = values[key]
        _check(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            path,
            f"suite.{key}",
            f"must be a non-negative integer, got {value!r}",
        )
    values["plugins"] = list(dict.fromkeys(values["plugins"] + extra_plugins))
    return values


def _targets(path: Path, raw: dict[str, Any]) -> list[TargetConfig]:
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
        _check(
            isinstance(name, str) and bool(_NAME.match(name)),
            path,
            f"{key}.name",
            f"must be letters, digits, '_', '.' or '-', got {name!r}",
        )
        params = {k: v for k, v in entry.items() if k not in ("family", "target", "name")}
        try:
            make_target(kind, name=name, **params)
        except ValueError as err:
            message = str(err)
            if message.startswith("target: "):
                rest = message.removeprefix("target: ")
                raise ConfigError(path, f"{key}.{given[0]}", rest) from err
            if message.startswith("target "):
                raise ConfigError(path, key, message) from err
            param, _, rest = message.partition(": ")
            raise ConfigError(path, f"{key}.{param}", rest) from err
        targets.append(TargetConfig(name, kind, params))
    names = [t.name for t in targets]
    for i, name in enumerate(names):
        _check(names.index(name) == i, path, f"targets[{i}].name", f"duplicate name {name!r}")
    return targets


def _shared_defaults(path: Path, table: object) -> dict[str, Any]:
    """`[defaults]`: overrides of the hyperparameters every method shares (`TrainParams`), applied
    to all methods before their own `[methods.NAME]` table."""
    _check(isinstance(table, dict), path, "defaults", "must be a table")
    try:
        override(TrainParams(), table, "defaults")
    except ValueError as err:  # "defaults.key: message"
        key, _, message = str(err).partition(": ")
        raise ConfigError(path, key, message) from err
    return dict(table)


def load_config(path: str | Path, extra_plugins: list[str] | None = None) -> SuiteConfig:
    """Read and validate a suite config; `extra_plugins` (from `--plugin`) join its plugins."""
    path = Path(path)
    raw = _read(path)
    known = ["suite", "targets", "defaults", "methods"]
    for key in raw:
        _check(key in known, path, key, f"unknown table{closest(key, known)}")
    suite = _suite(path, raw, list(extra_plugins or []))
    try:
        load_methods(suite["plugins"])
    except ValueError as err:
        raise ConfigError(path, "suite.plugins", str(err).removeprefix("plugins: ")) from err
    targets = _targets(path, raw)
    specs = {}
    for name in suite["methods"]:
        try:
            specs[name] = get_method(name)
        except ValueError as err:
            raise ConfigError(path, "suite.methods", str(err)) from err
    shared = _shared_defaults(path, raw.get("defaults", {}))
    overrides = raw.get("methods", {})
    _check(isinstance(overrides, dict), path, "methods", "must be a table of [methods.NAME]")
    for name in overrides:
        _check(
            name in suite["methods"],
            path,
            f"methods.{name}",
            f"overrides a method not in suite.methods{closest(name, suite['methods'])}",
        )
    params = {}
    for name, spec in specs.items():
        table = overrides.get(name, {})
        _check(isinstance(table, dict), path, f"methods.{name}", "must be a table")
        try:
            params[name] = dataclasses.asdict(spec.configure({**shared, **table}))
        except ValueError as err:  # "methods.NAME: param: rule" -> key "methods.NAME.param"
            text = str(err).replace(f"methods.{name}: ", f"methods.{name}.")
            key, _, message = text.partition(": ")
            raise ConfigError(path, key, message) from err
    fields = {key: suite[key] for key in _SUITE_KEYS}
    return SuiteConfig(path=path, targets=targets, params=params, **fields)
