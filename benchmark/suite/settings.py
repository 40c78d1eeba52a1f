"""The `[suite]` table as one typed, validated dataclass: adding a key is adding a field here.

Each field carries its default, its rule and whether a config must give it (`benchmark.typed`). A
wrong type or value raises `ParamError` naming the key.

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
from dataclasses import dataclass
from typing import Any

from .. import typed
from ..typed import setting

__all__ = ["SETTINGS_THAT_MATTER", "SETTING_DEFAULTS", "SuiteSettings"]


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

    name: str = setting("suite", required=True, rule=(lambda v: bool(v.strip()), "non-empty"))
    seeds: tuple[int, ...] = setting((0,), required=True, rule=_SEEDS)
    methods: tuple[str, ...] = setting(("flowmc_ebm",), required=True, rule=_NONEMPTY_DISTINCT)
    iterations: int = setting(1, required=True, at_least=1, at_most=10**8)
    plugins: tuple[str, ...] = setting((), rule=(_distinct, "distinct"))
    n_data: int = setting(10_000, at_least=1, at_most=10**7)
    n_chains: int = setting(128, at_least=2, at_most=10**5)
    sample_cost: int = setting(11_000, at_least=1, at_most=10**8)
    warmup_fraction: float = setting(0.25, rule=(lambda v: 0 <= v < 1, "in [0, 1)"))
    n_c2st: int = setting(1000, at_least=1, at_most=10**6)
    c2st_max_dim: int = setting(64, at_least=0)
    energy_hidden: int = setting(0, at_least=0, at_most=4096)
    energy_depth: int = setting(3, at_least=1, at_most=64)
    compile: bool = setting(False)
    sampler_track: bool = setting(False)

    def __post_init__(self) -> None:
        typed.check(self)

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> SuiteSettings:
        """Settings from a TOML `[suite]` table; a missing, unknown or bad key raises
        `ParamError`."""
        return typed.from_table(cls, table)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (tuples as lists), as stored in DIR/suite.json and every record."""
        return typed.to_json(self)

    def energy_width(self, dim: int) -> int:
        """Width of the energy MLP on a `dim`-dimensional target."""
        return self.energy_hidden or (64 if dim == 2 else 128)


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
