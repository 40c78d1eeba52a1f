"""Comparing a suite against a reference — the finished DIR of another suite, e.g. the committed
`reports/quick` — without rerunning it: the reference's records stand for the runs the two share,
so that only the suite's own runs are trained.

A reference's records are used only where everything that fixes their numbers is the suite's:
the `[suite]` settings except `name`, `methods`, `plugins` and `seeds` (`SETTINGS_THAT_MATTER`:
iterations, data size, evaluation budget, architecture), the kind and parameters of every target
the two share by name, the resolved hyperparameters of every method variant both run, and the
version of this package that computed each record (`versions.benchmark` against
`benchmark.__version__`); each record must be the run its file is named after and unedited (its
content hash, `store.check_record`); the suite's seeds must be among the reference's. The first
difference is refused, as a `ConfigError` naming its key, before anything is written. Records
computed with other versions of the packages that compute numbers, or on another processor
(`benchmark.execution.machine`), are taken with a warning: they agree with this machine's runs
only in distribution, which `python -m benchmark compare` tests.

Taken from a reference, for every target the two share and every seed of the suite:
- each variant only the reference ran: its record, whatever its status (a failure is a result);
- each variant both ran: the reference's record if that run finished; if not, the suite trains it.
The records are copied into DIR/runs/ with a field `reference` naming the directory they came
from, so that DIR stays self-contained, resumable and re-reportable; DIR/suite.json holds
`reference`: the directories and the variants only they ran (`store.suite_variants`).

A profile's committed reference (`committed_reference`) is `reports/P` beside its config
`benchmark/configs/P.toml`: `make reference` writes it, `make benchmark` compares against it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..suite.config import SuiteConfig
from ..suite.settings import SETTING_DEFAULTS, SETTINGS_THAT_MATTER
from .machine import differences, versions
from .store import (
    MISSING,
    Foreign,
    Record,
    check_record,
    examine,
    expected_runs,
    json_ready,
    mismatch,
    read_suite,
    run_id,
    set_aside,
    short,
    suite_variants,
    write_json,
)

__all__ = [
    "SETTINGS_THAT_MATTER",
    "Taken",
    "Plan",
    "plan_reference",
    "check_reference",
    "committed_reference",
]


@dataclass(frozen=True)
class Taken:
    """One run whose record comes from a reference: the record's file there, and the reference
    as the user named it."""

    source: Path
    reference: str


@dataclass(frozen=True)
class Plan:
    """What a suite takes from its references: `resolved`, the suite as DIR/suite.json holds it;
    `taken`, run id → where its record comes from (these runs are not trained); `provenance`,
    each reference's provenance.json (None where it has none); `warnings`, one line per
    reference whose taken records were computed with other package versions or on another
    processor."""

    resolved: dict[str, Any]
    taken: dict[str, Taken]
    provenance: dict[str, Any]
    warnings: tuple[str, ...] = ()

    def copy_into(self, out: Path, force: bool = False) -> list[Foreign]:
        """Copy every taken record into DIR `out`'s runs/ with its `reference` field, except over
        a finished record of that run already there (unless `force`); a foreign file in the way
        is moved to DIR/foreign/ first (`store.set_aside`). Returns those foreign files."""
        expected = expected_runs(self.resolved)
        moved = []
        for rid, taken in self.taken.items():
            found = examine(out / "runs" / f"{rid}.json", expected[rid])
            if isinstance(found, Foreign):
                set_aside(out, found)
                moved.append(found)
            elif found is not None and found["status"] == "ok" and not force:
                continue
            write_json(
                out / "runs" / f"{rid}.json",
                {**_read_record(taken.source), "reference": taken.reference},
            )
        return moved


def _require_same(file: Path, theirs: Any, ours: Any, key: str) -> None:
    """Raise `ConfigError` at the first difference between the reference's value and ours."""
    found = mismatch(json_ready(theirs), json_ready(ours), key)
    if found:
        where, a, b = found
        raise ConfigError(
            file, where, f"the reference has {short(a)}, this suite {short(b)}{_ADVICE}"
        )


_ADVICE = (
    "; a reference's records stand only for the same settings (rerun them, or compare against "
    "another reference)"
)


def _read_record(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(path, "", f"unreadable reference record: {err}") from err


def _check_record(path: Path, record: Any, expected: Record) -> None:
    """A record stands for a run of the suite only when it is a record of that run
    (`store.check_record`): the run its file is named after, computed by this version of the
    package with the run's resolved config, unedited."""
    problem = check_record(record, expected, "the reference")
    if problem is None:
        return
    key, message = problem
    advice = {
        "versions.benchmark": "; regenerate the reference with this version",
        "sha256": "; regenerate the reference, or restore the record from its history",
    }
    raise ConfigError(
        path, key, message + advice.get(key, _ADVICE if key.startswith("config") else "")
    )


def _label(reference: str | Path) -> str:
    return os.path.normpath(str(reference))


def _open(reference: Path) -> dict[str, Any]:
    if not (reference / "suite.json").is_file():
        raise ConfigError(reference, "--against", "holds no suite.json (not a suite's DIR)")
    suite = read_suite(reference)
    assert suite is not None  # suite.json exists
    return suite


def _provenance(reference: Path) -> dict[str, Any] | None:
    try:
        return json.loads((reference / "provenance.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def plan_reference(config: SuiteConfig, references: Sequence[str | Path], out: Path) -> Plan:
    """Check the suite, to be run into `out`, against each reference in turn and plan what it
    takes from them (no reference: nothing). Raises `ConfigError` at the first difference that
    matters."""
    labels = list(dict.fromkeys(_label(r) for r in references))
    resolved = config.resolved()
    if not labels:
        return Plan(resolved, {}, {})
    for label in labels:
        if Path(label).resolve() == Path(out).resolve():
            raise ConfigError(label, "--against", "is the output directory itself")
    settings = config.settings.to_json()
    matters = {k: settings[k] for k in SETTINGS_THAT_MATTER}
    targets = {t.name: {"kind": t.kind, "params": t.params} for t in config.targets}
    # per target, variant name -> its JSON and whether the suite itself runs it
    variants = {t: {v.name: (v.to_json(), True) for v in vs} for t, vs in config.variants.items()}
    only_theirs: dict[str, list[dict[str, Any]]] = {}
    candidates: dict[str, list[tuple[Record, Taken, bool]]] = {}
    for label in labels:
        folder = Path(label)
        suite = _open(folder)
        file = folder / "suite.json"
        given = {k: suite["suite"].get(k, SETTING_DEFAULTS.get(k, MISSING)) for k in matters}
        _require_same(file, given, matters, "suite")
        absent = [s for s in config.settings.seeds if s not in suite["suite"]["seeds"]]
        if absent:
            raise ConfigError(
                file,
                "suite.seeds",
                f"seed {absent[0]} of this suite is not among the reference's seeds "
                f"{suite['suite']['seeds']}",
            )
        theirs = {t["name"]: {"kind": t["kind"], "params": t["params"]} for t in suite["targets"]}
        expected = expected_runs(suite)
        shared = [name for name in targets if name in theirs]
        if not shared:
            names = ", ".join(theirs)
            raise ConfigError(
                file, "targets", f"no target of this suite is the reference's ({names})"
            )
        for name in shared:
            _require_same(file, theirs[name], targets[name], f"targets.{name}")
            for variant in suite_variants(suite)[name]:
                key = f"variants.{name}.{variant['name']}"
                if variant["name"] in variants[name]:
                    _require_same(file, variant, variants[name][variant["name"]][0], key)
                else:
                    variants[name][variant["name"]] = (variant, False)
                    only_theirs.setdefault(name, []).append(variant)
                ours = variants[name][variant["name"]][1]
                for seed in config.settings.seeds:
                    rid = run_id(name, variant["name"], seed)
                    path = folder / "runs" / f"{rid}.json"
                    if not path.exists():
                        continue
                    record = _read_record(path)
                    _check_record(path, record, expected[rid])
                    candidates.setdefault(rid, []).append((record, Taken(path, label), ours))
    taken: dict[str, Taken] = {}
    differing: dict[str, dict[str, None]] = {}
    for rid, found in candidates.items():
        finished = [(record, t) for record, t, _ in found if record["status"] == "ok"]
        if finished or not found[0][2]:  # a failure stands only for a run not trained here
            record, taken[rid] = finished[0] if finished else found[0][:2]
            seen = differences(record.get("versions", {}), versions())
            differing.setdefault(taken[rid].reference, {}).update(dict.fromkeys(seen))
    warnings = tuple(
        f"{label}: records computed with {', '.join(seen)}; they agree with this machine's runs "
        f"only in distribution (test it: python -m benchmark compare DIR {label})"
        for label, seen in differing.items()
        if seen
    )
    resolved["reference"] = {"dirs": labels, "variants": only_theirs}
    provenance = {label: _provenance(Path(label)) for label in labels}
    return Plan(resolved, taken, provenance, warnings)


def check_reference(folder: str | Path) -> int:
    """Raise `ConfigError` unless the finished DIR `folder` can serve as a reference to this
    version of the package: each record it holds readable, computed by this version, with the
    resolved config its suite.json gives, unedited. Returns how many records it holds."""
    folder = Path(folder)
    count = 0
    for rid, expected in expected_runs(_open(folder)).items():
        path = folder / "runs" / f"{rid}.json"
        if path.exists():
            _check_record(path, _read_record(path), expected)
            count += 1
    return count


def committed_reference(config: str | Path | None) -> Path | None:
    """The committed reference DIR of the profile whose config is `config`: `reports/P` of the
    checkout that holds `benchmark/configs/P.toml`, if it holds runs; otherwise (another config,
    none committed) None.

    Example:
        >>> committed_reference("/tmp/my-suite.toml") is None
        True
    """
    if config is None:
        return None
    path = Path(config).resolve()
    for folder in path.parents:
        if folder.name == "configs" and folder.parent.name == "benchmark":
            found = folder.parent.parent / "reports" / path.relative_to(folder).with_suffix("")
            return found if (found / "runs").is_dir() else None
    return None
