"""Comparing a suite against a reference — the finished DIR of another suite, e.g. the committed
`reports/quick` — without rerunning it: the reference's records stand for the runs the two share,
so that only the suite's own runs are trained.

A reference's records are used only where everything that fixes their numbers is the suite's:
the `[suite]` settings except `name`, `methods`, `plugins` and `seeds` (`SETTINGS_THAT_MATTER`:
iterations, data size, evaluation budget, architecture), the kind and parameters of every target
the two share by name, the resolved hyperparameters of every method variant both run, and the
version of this package that computed each record (`versions.benchmark` against
`benchmark.__version__`); the suite's seeds must be among the reference's. The first difference
is refused, as a `ConfigError` naming its key, before anything is written. Records computed with
other versions of the packages that compute numbers, or on another processor
(`benchmark.machine`), are taken with a warning: they agree with this machine's runs only in
distribution, which `python -m benchmark compare` tests.

Taken from a reference, for every target the two share and every seed of the suite:
- each variant only the reference ran: its record, whatever its status (a failure is a result);
- each variant both ran: the reference's record if that run finished; if not, the suite trains it.
The records are copied into DIR/runs/ with a field `reference` naming the directory they came
from, so that DIR stays self-contained, resumable and re-reportable; DIR/suite.json holds
`reference`: the directories and the variants only they ran (`store.suite_variants`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .config import SuiteConfig
from .errors import ConfigError
from .machine import differences, versions
from .settings import SuiteSettings
from .store import (
    Record,
    is_finished,
    json_ready,
    read_suite,
    run_id,
    suite_variants,
    write_json,
)

__all__ = ["SETTINGS_THAT_MATTER", "Taken", "Plan", "plan_reference", "check_reference"]

#: The `[suite]` settings a reference must share with the suite (every one but these four).
SETTINGS_THAT_MATTER = tuple(
    f.name
    for f in dataclasses.fields(SuiteSettings)
    if f.name not in ("name", "methods", "plugins", "seeds")
)


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

    def copy_into(self, runs: Path, force: bool = False) -> None:
        """Copy every taken record into `runs` with its `reference` field, except over a finished
        record already there (unless `force`)."""
        for rid, taken in self.taken.items():
            path = runs / f"{rid}.json"
            if force or not is_finished(path):
                write_json(path, {**_read_record(taken.source), "reference": taken.reference})


def _short(value: Any) -> str:
    text = "missing" if value is _MISSING else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MISSING = object()


def _mismatch(theirs: Any, ours: Any, key: str) -> tuple[str, Any, Any] | None:
    """The first key (dotted, after `key`) where two JSON values differ, with both values."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for k in sorted(set(theirs) | set(ours), key=str):
            found = _mismatch(theirs.get(k, _MISSING), ours.get(k, _MISSING), f"{key}.{k}")
            if found:
                return found
        return None
    return None if theirs == ours else (key, theirs, ours)


def _require_same(file: Path, theirs: Any, ours: Any, key: str) -> None:
    """Raise `ConfigError` at the first difference between the reference's value and ours."""
    found = _mismatch(json_ready(theirs), json_ready(ours), key)
    if found:
        where, a, b = found
        raise ConfigError(
            file,
            where,
            f"the reference has {_short(a)}, this suite {_short(b)}; a reference's records stand "
            "only for the same settings (rerun them, or compare against another reference)",
        )


def _read_record(path: Path) -> Record:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(path, "", f"unreadable reference record: {err}") from err
    if not (isinstance(record, dict) and record.get("status") in ("ok", "failed")):
        raise ConfigError(path, "status", "not a finished run's record")
    return record


def _check_record(path: Path, record: Record, expected: dict[str, Any]) -> None:
    """A record stands for a run of the suite only when the version of this package that
    computed it is this one and its resolved config is the run's."""
    version = record.get("versions", {}).get("benchmark", _MISSING)
    if version != __version__:
        raise ConfigError(
            path,
            "versions.benchmark",
            f"computed by benchmark {_short(version)}, this is {__version__}; regenerate the "
            "reference with this version",
        )
    config = record.get("config", {})
    facts = {
        "suite": {k: config.get("suite", {}).get(k, _MISSING) for k in expected["suite"]},
        "target": {k: config.get("target", {}).get(k, _MISSING) for k in ("kind", "params")},
        "method": config.get("method", _MISSING),
    }
    if _MISSING in (*facts["suite"].values(), *facts["target"].values(), facts["method"]):
        raise ConfigError(path, "config", "the record does not hold its resolved config")
    _require_same(path, facts, expected, "config")


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
        _require_same(file, {k: suite["suite"].get(k, _MISSING) for k in matters}, matters, "suite")
        absent = [s for s in config.settings.seeds if s not in suite["suite"]["seeds"]]
        if absent:
            raise ConfigError(
                file,
                "suite.seeds",
                f"seed {absent[0]} of this suite is not among the reference's seeds "
                f"{suite['suite']['seeds']}",
            )
        theirs = {t["name"]: {"kind": t["kind"], "params": t["params"]} for t in suite["targets"]}
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
                expected = {"suite": matters, "target": targets[name], "method": variant["params"]}
                for seed in config.settings.seeds:
                    rid = run_id(name, variant["name"], seed)
                    path = folder / "runs" / f"{rid}.json"
                    if not path.exists():
                        continue
                    record = _read_record(path)
                    _check_record(path, record, expected)
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
    resolved config its suite.json gives. Returns how many records it holds."""
    folder = Path(folder)
    suite = _open(folder)
    matters = {k: suite["suite"].get(k, _MISSING) for k in SETTINGS_THAT_MATTER}
    targets = {t["name"]: {"kind": t["kind"], "params": t["params"]} for t in suite["targets"]}
    count = 0
    for name, variants in suite_variants(suite).items():
        for variant in variants:
            expected = {"suite": matters, "target": targets[name], "method": variant["params"]}
            for seed in suite["suite"]["seeds"]:
                path = folder / "runs" / f"{run_id(name, variant['name'], seed)}.json"
                if path.exists():
                    _check_record(path, _read_record(path), expected)
                    count += 1
    return count
