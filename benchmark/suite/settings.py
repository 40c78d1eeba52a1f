"""The `[suite]` table as one typed, validated dataclass: adding a key is adding a field here.

Each field carries its default, its rule and whether a config must give it. A wrong type or value
raises `ParamError` naming the key.

Example:
    >>> settings = SuiteSettings(name="demo", seeds=(0, 1), methods=("ula_ebm",), iterations=100)
    >>> settings.n_chains, settings.energy_width(2), settings.energy_width(16)
    (128, 64, 128)
    >>> SuiteSettings(n_chains=1)
    Traceback (most recent call last):
    ...
    benchmark.errors.ParamError: n_chains: must be an integer ≥ 2, got 1
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ParamError, closest

__all__ = ["SETTINGS_THAT_MATTER", "SETTING_DEFAULTS", "SuiteSettings"]


def _setting(
    default: Any,
    *,
    at_least: int | None = None,
    at_most: int | None = None,
    required: bool = False,
    rule: tuple[Callable[[Any], bool], str] | None = None,
) -> Any:
    """A field with its default, bounds for integers, or another (check, rule text)."""
    metadata = {"at_least": at_least, "at_most": at_most, "required": required, "rule": rule}
    return dataclasses.field(default=default, metadata=metadata)


def _distinct(values: tuple) -> bool:
    return len(set(values)) == len(values)


_NONEMPTY_DISTINCT = (lambda v: len(v) > 0 and _distinct(v), "distinct, at least one")
#: A seed seeds torch's generators, which take 64-bit integers.
_SEEDS = (
    lambda v: len(v) > 0 and _distinct(v) and all(0 <= s < 2**63 for s in v),
    "distinct, at least one, each in [0, 2**63)",
)


@dataclass(frozen=True, kw_only=True)
class SuiteSettings:
    """Everything `[suite]` sets; a config must give the `required` keys (their defaults here
    only serve code that builds settings directly, e.g. tests). Every size has an upper bound,
    so that a slip of the keyboard is refused instead of starting a run that cannot fit.

    Attributes:
        name: The suite's name, shown in the report.
        seeds: Distinct seeds; each draws its own data set and initialisation.
        methods: Registry names of the methods to run, distinct.
        iterations: Training budget of every run.
        plugins: Extra modules that register methods.
        n_data: Training points drawn from the target; the log-density error uses as many fresh
            exact draws.
        n_chains: Diagnostic chains of each method's own sampler.
        sample_cost: Cost units (`EvalCounter.cost`) each diagnostic chain runs for, whatever one
            step of the method's sampler costs (R-hat, ESS, mode switches, C2ST); the default
            gives a flowMC sweep of 81 units 102 draws after warm-up (they need 100).
        warmup_fraction: The share of `sample_cost` run first and discarded.
        n_c2st: Draws per side of the classifier two-sample test.
        c2st_max_dim: The C2ST runs on targets of at most this dimension (its MLP is slow above).
        energy_hidden: Width of the energy MLP; 0 for the default (64 in 2-D, 128 above).
        energy_depth: Hidden layers of the energy MLP.
        compile: Run training's flowMC sweeps, blocks of ULA steps and the flow's loss as
            graphs compiled by `torch.compile`, on a CPU (a GPU runs eagerly): the same draws
            and statistics, the chains equal up to floating-point rounding; each worker
            compiles once per target shape (tens of seconds, less once inductor's on-disk cache
            holds the graphs).
        sampler_track: Also run each method's sampler on the true energy, from the same start
            for the same cost per chain (`sample_cost`), so that its weight error splits into
            the sampler's and the training's (docs/SCIENCE.md §7.13); as many chains again.
    """

    name: str = _setting("suite", required=True, rule=(lambda v: bool(v.strip()), "non-empty"))
    seeds: tuple[int, ...] = _setting((0,), required=True, rule=_SEEDS)
    methods: tuple[str, ...] = _setting(("flowmc_ebm",), required=True, rule=_NONEMPTY_DISTINCT)
    iterations: int = _setting(1, required=True, at_least=1, at_most=10**8)
    plugins: tuple[str, ...] = _setting((), rule=(_distinct, "distinct"))
    n_data: int = _setting(10_000, at_least=1, at_most=10**7)
    n_chains: int = _setting(128, at_least=2, at_most=10**5)
    sample_cost: int = _setting(11_000, at_least=1, at_most=10**8)
    warmup_fraction: float = _setting(0.25, rule=(lambda v: 0 <= v < 1, "in [0, 1)"))
    n_c2st: int = _setting(1000, at_least=1, at_most=10**6)
    c2st_max_dim: int = _setting(64, at_least=0)
    energy_hidden: int = _setting(0, at_least=0, at_most=4096)
    energy_depth: int = _setting(3, at_least=1, at_most=64)
    compile: bool = _setting(False)
    sampler_track: bool = _setting(False)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if not _has_type(value, hints[f.name]):
                raise ParamError(f.name, f"must be {_describe(hints[f.name])}, got {_show(value)}")
            if meta["at_least"] is not None and value < meta["at_least"]:
                raise ParamError(f.name, f"must be an integer ≥ {meta['at_least']}, got {value!r}")
            if meta["at_most"] is not None and value > meta["at_most"]:
                raise ParamError(
                    f.name, f"must be at most {meta['at_most']:,} (a size that fits), got {value!r}"
                )
            if meta["rule"] is not None and not meta["rule"][0](value):
                raise ParamError(f.name, f"must be {meta['rule'][1]}, got {_show(value)}")

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> SuiteSettings:
        """Settings from a TOML `[suite]` table (lists become tuples); a missing, unknown or bad
        key raises `ParamError`."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in table:
            if key not in fields:
                raise ParamError(
                    key, f"unknown key{closest(key, fields)}; known: {', '.join(fields)}"
                )
        for name, f in fields.items():
            if f.metadata["required"] and name not in table:
                raise ParamError(name, "missing")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (tuples as lists), as stored in DIR/suite.json and every record."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    def energy_width(self, dim: int) -> int:
        """Width of the energy MLP on a `dim`-dimensional target."""
        return self.energy_hidden or (64 if dim == 2 else 128)


def _has_type(value: object, hint: Any) -> bool:
    if typing.get_origin(hint) is tuple:
        (item, _) = typing.get_args(hint)
        return isinstance(value, tuple) and all(_has_type(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return {int: "a list of integers", str: "a list of strings"}[typing.get_args(hint)[0]]
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[hint]


def _show(value: object) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


#: The settings that fix a run's numbers: every one but the suite's name, methods, plugins and
#: seeds (a record, a reference and a DIR are matched on these).
SETTINGS_THAT_MATTER = tuple(
    f.name
    for f in dataclasses.fields(SuiteSettings)
    if f.name not in ("name", "methods", "plugins", "seeds")
)

#: Each setting's default, JSON-ready: what a record or suite.json written before the setting
#: existed was computed with (a setting is only ever added with the behaviour it had before).
SETTING_DEFAULTS = {
    f.name: list(f.default) if isinstance(f.default, tuple) else f.default
    for f in dataclasses.fields(SuiteSettings)
}
