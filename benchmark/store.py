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
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict

from .errors import ConfigError

__all__ = [
    "AGREEMENT_FILE",
    "Record",
    "Status",
    "run_id",
    "json_ready",
    "write_json",
    "read_suite",
    "suite_variants",
    "claim",
    "is_finished",
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
    (`benchmark.reference`), names that DIR.
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


_LOCK = ".lock"

#: The report's section on DIR's agreement with a reference (`benchmark.api.compare` writes it;
#: a run removes it, since the records may change).
AGREEMENT_FILE = "agreement.md"


def run_id(target: str, method: str, seed: int) -> str:
    """The record's file stem.

    Example:
        >>> run_id("four_modes", "ula_ebm", 0)
        'four_modes__ula_ebm__seed0'
    """
    return f"{target}__{method}__seed{seed}"


def json_ready(value: Any) -> Any:
    """Non-finite floats become null (strict JSON); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def write_json(path: Path, value: Any) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over `path`.
    A failed write (e.g. a full disk) leaves `path` as it was and raises `ConfigError`."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(json_ready(value), f, indent=1, sort_keys=True, allow_nan=False)
            f.write("\n")
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
    only (`benchmark.reference`), then the suite's own."""
    reference = suite.get("reference", {}).get("variants", {})
    return {target: [*reference.get(target, []), *own] for target, own in suite["variants"].items()}


@contextlib.contextmanager
def claim(out: Path, resolved: dict[str, Any]) -> Iterator[None]:
    """Hold DIR for one run of the suite `resolved`: create it (with runs/), lock it, and write
    suite.json if it is new, or if DIR holds the same suite run without a reference and
    `resolved` adds one (`benchmark.reference`). Raises `ConfigError` when DIR cannot be
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


def is_finished(path: Path) -> bool:
    """Whether `path` holds a successful run's record."""
    try:
        return json.loads(path.read_text()).get("status") == "ok"
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def load_records(out: Path, suite: dict[str, Any], display: Mapping[str, str]) -> list[Record]:
    """Every expected run's record, in the suite's order (target, variant, seed). A run with no
    record becomes a `missing` stub, an unreadable record a `failed` stub naming the problem;
    `display` maps variant names to display names for the stubs."""
    records: list[Record] = []
    for target in suite["targets"]:
        for variant in suite_variants(suite)[target["name"]]:
            for seed in suite["suite"]["seeds"]:
                rid = run_id(target["name"], variant["name"], seed)
                path = out / "runs" / f"{rid}.json"
                stub: Record = {
                    "run_id": rid,
                    "target": target["name"],
                    "method": variant["method"],
                    "variant": variant["name"],
                    "swept": variant["swept"],
                    "display": display.get(variant["name"], variant["name"]),
                    "seed": seed,
                    "status": "missing",
                    "error": "no record",
                }
                if not path.exists():
                    records.append(stub)
                    continue
                try:
                    record = _read_json(path)
                except ConfigError as err:
                    records.append({**stub, "status": "failed", "error": err.message})
                    continue
                if not (isinstance(record, dict) and record.get("status") in ("ok", "failed")):
                    record = {**stub, "status": "failed", "error": "not a run record"}
                records.append(record)
    return records
