"""The output directory DIR of a suite, the one place that reads and writes it.

DIR holds `suite.json` (the resolved suite it belongs to, and the reference DIRs it was run
against), `runs/<run_id>.json` (one `Record` per run), `provenance.json` and the report. Every
file is written atomically (a temporary file, then a rename), so an interrupt, a full disk or a
killed worker never leaves a half-written record; a run holds `DIR/.lock` so that two runs never
write into one DIR at once. Problems a user must fix raise `ConfigError` naming the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

from .. import __version__
from ..errors import ConfigError
from ..suite.settings import SETTING_DEFAULTS, SETTINGS_THAT_MATTER

__all__ = [
    "AGREEMENT_FILE",
    "AGREEMENT_CELLS",
    "Record",
    "Status",
    "Foreign",
    "MISSING",
    "run_id",
    "json_ready",
    "content_hash",
    "write_json",
    "read_suite",
    "suite_variants",
    "claim",
    "expected_runs",
    "short",
    "mismatch",
    "check_record",
    "examine",
    "set_aside",
    "load_records",
]

Status = Literal["ok", "failed", "missing"]


class Record(TypedDict, total=False):
    """One run's record, `runs/<run_id>.json` (JSON: non-finite numbers are stored as null).

    `method` is the registered method, `variant` its point of a hyperparameter grid (`method`
    itself without a grid) with the grid's values in `swept`, `display` the variant's name in
    tables; `config` is the resolved suite, target and method settings; `metrics` the scalar
    metrics, `weights` per-mode weights, `curves` the curves the figures draw; `error` (and
    `traceback`) say why a run failed; `reference`, on a record copied from a reference DIR
    (`benchmark.execution.reference`), names that DIR; `sha256`, the hash of everything else but
    `reference` (`content_hash`), shows that the record is as its run wrote it; `notes`, what
    the run did otherwise than the suite asked (e.g. fewer diagnostic chains than `n_chains`).
    """

    run_id: str
    target: str
    method: str
    variant: str
    swept: dict[str, Any]
    display: str
    seed: int
    status: Status
    error: str | None
    traceback: str
    config: dict[str, Any]
    versions: dict[str, str]
    device: str
    finished: str
    dim: int
    metrics: dict[str, float | None]
    weights: dict[str, list[float]]
    curves: dict[str, Any]
    reference: str
    sha256: str
    notes: list[str]


_LOCK = ".lock"
#: Where a run moves a file of runs/ that holds no record of the run it is named after.
FOREIGN = "foreign"

#: The report's section on DIR's agreement with a reference (`benchmark.api.compare` writes it;
#: a run removes it, since the records may change).
AGREEMENT_FILE = "agreement.md"
#: Every cell of that comparison, beside it.
AGREEMENT_CELLS = "agreement.csv"


def run_id(target: str, method: str, seed: int) -> str:
    """The record's file stem.

    Example:
        >>> run_id("four_modes", "ula_ebm", 0)
        'four_modes__ula_ebm__seed0'
    """
    return f"{target}__{method}__seed{seed}"


def json_ready(value: Any, key: str = "") -> Any:
    """Strict JSON data: non-finite floats become null, tuples lists, numpy and torch scalars
    and arrays Python numbers and lists; any other type raises `TypeError` naming its `key`."""
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy, torch
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"{key or 'record'}: key {bad[0]!r} is not a string")
        return {k: json_ready(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v, f"{key}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{key or 'value'}: a {type(value).__name__} is not JSON data")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of a (JSON-ready) record's canonical JSON, without its `sha256` and `reference`
    fields: unchanged by a copy into another DIR, changed by any edit of a value."""
    kept = {k: v for k, v in record.items() if k not in ("sha256", "reference")}
    return hashlib.sha256(_canonical(kept).encode()).hexdigest()


def write_json(path: Path, value: Any) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over `path`.
    A failed write (e.g. a full disk) leaves `path` as it was and raises `ConfigError`; a value
    that is not JSON data raises `TypeError` before anything is written."""
    text = json.dumps(json_ready(value), indent=1, sort_keys=True, allow_nan=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(path, "", f"cannot write: {err.strerror or err}") from err


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(path, "", f"unreadable: {getattr(err, 'strerror', None) or err}") from err


def read_suite(out: Path) -> dict[str, Any] | None:
    """DIR/suite.json, or None when DIR does not exist or is empty; a file, a foreign folder or a
    broken suite.json raises `ConfigError`."""
    if out.exists() and not out.is_dir():
        raise ConfigError(out, "--out", "is a file, not a directory")
    path = out / "suite.json"
    if not path.exists():
        if out.exists() and not _blank(out):
            raise ConfigError(out, "--out", "not empty and holds no suite.json; use another DIR")
        return None
    suite = _read_json(path)
    if not (isinstance(suite, dict) and {"suite", "targets", "variants"} <= set(suite)):
        raise ConfigError(path, "", "not a suite written by this benchmark")
    return suite


def _blank(out: Path) -> bool:
    """Whether DIR holds nothing but what an interrupted start leaves (the lock, an empty runs/)."""
    runs = out / "runs"
    leftovers = {p.name for p in out.iterdir()} <= {_LOCK, "runs"}
    return leftovers and (not runs.exists() or not any(runs.iterdir()))


def _first_difference(a: Any, b: Any, key: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
    return key or "suite"


def _without_reference(suite: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in suite.items() if key != "reference"}


def _different_suite(path: Path, found: dict[str, Any], expected: dict[str, Any]) -> ConfigError:
    """Why DIR's suite `found` cannot take a run of `expected`."""
    own_found, own_expected = _without_reference(found), _without_reference(expected)
    if own_found != own_expected:
        return ConfigError(
            path,
            _first_difference(own_found, own_expected),
            "this directory holds a different suite; use another --out (nothing was changed)",
        )
    theirs, ours = found.get("reference", {}), expected.get("reference", {})
    if theirs.get("dirs") == ours.get("dirs"):
        return ConfigError(
            path,
            f"reference.{_first_difference(theirs, ours)}",
            "the reference has changed since this directory was run; use another --out",
        )
    was = ", ".join(theirs["dirs"])
    return ConfigError(
        path, "reference", f"this directory was run --against {was}; give the same --against"
    )


def suite_variants(suite: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per target of a suite.json, every variant its report shows: those taken from a reference
    only (`benchmark.execution.reference`), then the suite's own."""
    reference = suite.get("reference", {}).get("variants", {})
    return {target: [*reference.get(target, []), *own] for target, own in suite["variants"].items()}


@contextlib.contextmanager
def claim(out: Path, resolved: dict[str, Any]) -> Iterator[None]:
    """Hold DIR for one run of the suite `resolved`: create it (with runs/), lock it, and write
    suite.json if it is new, or if DIR holds the same suite run without a reference and
    `resolved` adds one (`benchmark.execution.reference`). Raises `ConfigError` when DIR cannot be
    created, is in use by another run, or holds another suite (nothing is changed then)."""
    read_suite(out)  # a file or a foreign folder: refuse before creating anything
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = open(out / _LOCK, "a+")  # noqa: SIM115 (held until the context ends)
    except OSError as err:
        raise ConfigError(out, "--out", f"cannot create: {err.strerror or err}") from err
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise ConfigError(
                out, "--out", f"in use by another run ({holder}); wait for it or use another DIR"
            ) from err
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        (out / "runs").mkdir(exist_ok=True)
        found = read_suite(out) if (out / "suite.json").exists() else None
        expected = json.loads(json.dumps(json_ready(resolved)))
        adds_reference = found is not None and "reference" in expected and "reference" not in found
        if found is None or (adds_reference and found == _without_reference(expected)):
            write_json(out / "suite.json", resolved)
        elif found != expected:
            raise _different_suite(out / "suite.json", found, expected)
        yield


#: A key absent from a JSON object, in `mismatch` and `short`.
MISSING = object()


def short(value: Any) -> str:
    """A JSON value as a short text for a message ("missing" for an absent key)."""
    text = "missing" if value is MISSING else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mismatch(theirs: Any, ours: Any, key: str) -> tuple[str, Any, Any] | None:
    """The first key (dotted, after `key`) where two JSON values differ, with both values."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for k in sorted(set(theirs) | set(ours), key=str):
            found = mismatch(theirs.get(k, MISSING), ours.get(k, MISSING), f"{key}.{k}")
            if found:
                return found
        return None
    return None if theirs == ours else (key, theirs, ours)


def expected_runs(suite: dict[str, Any]) -> dict[str, Record]:
    """Per run id of a suite.json, in the suite's order (target, variant, seed), what a record
    of that run holds whatever its outcome: its identity and the resolved config that fixes its
    numbers (`config.suite` only the `SETTINGS_THAT_MATTER` that suite.json gives)."""
    settings = {k: suite["suite"][k] for k in SETTINGS_THAT_MATTER if k in suite["suite"]}
    targets = {t["name"]: {"kind": t["kind"], "params": t["params"]} for t in suite["targets"]}
    expected: dict[str, Record] = {}
    for target in suite["targets"]:
        for variant in suite_variants(suite)[target["name"]]:
            for seed in suite["suite"]["seeds"]:
                rid = run_id(target["name"], variant["name"], seed)
                expected[rid] = {
                    "run_id": rid,
                    "target": target["name"],
                    "method": variant["method"],
                    "variant": variant["name"],
                    "swept": variant["swept"],
                    "seed": seed,
                    "config": {
                        "suite": settings,
                        "target": targets[target["name"]],
                        "method": variant["params"],
                    },
                }
    return expected


#: Every record's fields and their JSON types, then those of a finished run's.
_FIELDS = {
    "run_id": str,
    "target": str,
    "method": str,
    "variant": str,
    "swept": dict,
    "display": str,
    "seed": int,
    "status": str,
    "config": dict,
    "versions": dict,
}
_FINISHED_FIELDS = {"metrics": dict, "weights": dict, "curves": dict, "dim": int}
_VERSIONS = ("benchmark", "torch", "numpy", "python")
_JSON_TYPES = {str: "a string", int: "an integer", dict: "an object"}


def _schema_problem(record: Any) -> tuple[str, str] | None:
    if not isinstance(record, dict):
        return "", f"not a run record (a JSON {type(record).__name__}, not an object)"
    status = record.get("status")
    if status not in ("ok", "failed"):
        return "status", f'must be "ok" or "failed", got {short(record.get("status", MISSING))}'
    fields = {**_FIELDS, **(_FINISHED_FIELDS if status == "ok" else {})}
    for key, kind in fields.items():
        value = record.get(key, MISSING)
        if value is MISSING:
            return key, "missing (not a record of this version's format)"
        if not isinstance(value, kind) or isinstance(value, bool):
            return key, f"must be {_JSON_TYPES[kind]}, got {short(value)}"
    for package in _VERSIONS:  # more may be recorded
        if not isinstance(record["versions"].get(package), str):
            return f"versions.{package}", "missing"
    for part in ("suite", "target", "method"):
        if not isinstance(record["config"].get(part), dict):
            return f"config.{part}", "missing"
    if status == "failed" and not isinstance(record.get("error"), str):
        return "error", "a failed run's record must say why (a string)"
    if status == "ok":
        for name, value in record["metrics"].items():
            if not (value is None or isinstance(value, int | float)) or isinstance(value, bool):
                return f"metrics.{name}", f"must be a number or null, got {short(value)}"
    return None


def check_record(
    record: Any, expected: Record, holder: str = "the record"
) -> tuple[str, str] | None:
    """(key, why) when `record` is not a record of the run `expected` (`expected_runs`), None
    when it is: a record of the runner's format, of this run (id, target, variant, method,
    seed), computed by this version of the package with the run's config, and unchanged since
    it was written (its `sha256`, where it has one). `holder` names the record in a message."""
    problem = _schema_problem(record)
    if problem:
        return problem
    for key in ("run_id", "target", "variant", "method", "seed"):
        if record[key] != expected[key]:
            return key, (
                f"{holder} is of {short(record[key])}, its file name of {short(expected[key])}"
            )
    version = record["versions"]["benchmark"]
    if version != __version__:
        return (
            "versions.benchmark",
            f"computed by benchmark {short(version)}, this is {__version__}",
        )
    config = record["config"]
    facts = {
        "suite": {
            k: config["suite"].get(k, SETTING_DEFAULTS.get(k, MISSING))
            for k in expected["config"]["suite"]
        },
        "target": {k: config["target"].get(k, MISSING) for k in ("kind", "params")},
        "method": config["method"],
    }
    found = mismatch(facts, json.loads(_canonical(expected["config"])), "config")
    if found:
        where, theirs, ours = found
        return where, f"{holder} has {short(theirs)}, this suite {short(ours)}"
    if "sha256" in record and record["sha256"] != content_hash(record):
        return "sha256", f"{holder} was edited after its run wrote it (its content hash differs)"
    return None


@dataclass(frozen=True)
class Foreign:
    """A file of runs/ that holds no valid record of the run it is named after, and why."""

    path: Path
    key: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.key}: {self.message}"
            if self.key
            else f"{self.path}: {self.message}"
        )


def examine(path: Path, expected: Record) -> Record | Foreign | None:
    """The record at `path` if it is one of the run `expected`, `Foreign` (why not) if it is
    not, None if there is no file."""
    if not path.exists():
        return None
    try:
        record = _read_json(path)
    except ConfigError as err:
        return Foreign(path, "", err.message)
    problem = check_record(record, expected)
    return Foreign(path, *problem) if problem else record


def set_aside(out: Path, foreign: Foreign) -> Path:
    """Move a foreign file of DIR/runs/ to DIR/foreign/ (never over another), so that the run it
    is named after can be redone without losing it; returns where it went."""
    folder = out / FOREIGN
    folder.mkdir(exist_ok=True)
    target, n = folder / foreign.path.name, 1
    while target.exists():
        target, n = folder / f"{foreign.path.stem}.{n}{foreign.path.suffix}", n + 1
    os.replace(foreign.path, target)
    return target


def load_records(
    out: Path, suite: dict[str, Any], display: Mapping[str, str]
) -> tuple[list[Record], list[Foreign]]:
    """Every expected run's record, in the suite's order (target, variant, seed), and the files
    left out as foreign. A run with no record, or whose file holds no valid record of it
    (`check_record`), becomes a `missing` stub (its error says why); `display` maps variant
    names to display names for the stubs."""
    records: list[Record] = []
    foreign: list[Foreign] = []
    for rid, expected in expected_runs(suite).items():
        found = examine(out / "runs" / f"{rid}.json", expected)
        if isinstance(found, dict):
            records.append(found)
            continue
        stub: Record = {
            **{k: expected[k] for k in ("run_id", "target", "method", "variant", "swept", "seed")},
            "display": display.get(expected["variant"], expected["variant"]),
            "status": "missing",
            "error": "no record",
        }
        if isinstance(found, Foreign):
            foreign.append(found)
            stub["error"] = f"foreign record left out: {found.key or 'file'}: {found.message}"
        records.append(stub)
    return records, foreign
