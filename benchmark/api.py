"""The benchmark from Python — a notebook, a script: build a suite from a dict or a TOML file, run
it (optionally against a reference DIR), read any finished DIR back as DataFrames, and build its
tables and figures. These are the functions the command line calls (`benchmark.__main__`); every
mistake a user can make raises `ConfigError` with one line naming the file or argument and key.

The README's "Python API" section is a runnable example (`tests/test_readme.py` runs it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError
from .execution.machine import differences
from .execution.runner import run_suite
from .execution.store import AGREEMENT_CELLS, AGREEMENT_FILE
from .reporting.agreement import agreement, agreement_markdown, verdicts
from .reporting.figures import make_figures
from .reporting.frames import Frames
from .reporting.report import build_report, read_dir
from .reporting.tables import make_tables
from .suite.config import SuiteConfig, config_from_dict, load_config

__all__ = [
    "ConfigError",
    "load_suite",
    "check_device",
    "run",
    "compare",
    "build_report",
    "load_frames",
    "load_runs",
    "load_weights",
    "make_tables",
    "make_figures",
]


def _names(value: str | Path | Sequence[str | Path], key: str) -> list[str]:
    """One name or path, or a list of them, as a list of strings."""
    values = [value] if isinstance(value, str | os.PathLike) else value
    ok = isinstance(values, Sequence) and all(isinstance(v, str | os.PathLike) for v in values)
    if not ok:
        raise ConfigError(key, "", f"expected a path or a list of paths, got {value!r}")
    return [os.fspath(v) for v in values]


def _path(value: str | Path, key: str) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(key, "", f"expected a path, got {value!r}")
    return Path(value)


def load_suite(
    source: SuiteConfig | Mapping[str, Any] | str | Path, plugins: str | Sequence[str] = ()
) -> SuiteConfig:
    """A validated suite from a dict shaped like a TOML config (`{"suite": {...}, "targets":
    [...], "methods": {...}}`), the path of a TOML file, or a suite already loaded; `plugins`:
    modules registering methods, added to the config's own. A dict goes through the checks a
    TOML file does; a mistake raises `ConfigError` naming its key."""
    extra = _names(plugins, "plugins")
    if isinstance(source, SuiteConfig):
        if extra:
            raise ConfigError("plugins", "", "give plugins when the suite is loaded, not after")
        return source
    if isinstance(source, Mapping):
        return config_from_dict(dict(source), extra)
    return load_config(_path(source, "suite"), extra)


def check_device(device: str, key: str = "device") -> None:
    """Raise `ConfigError` (under `key`) unless `device` is a torch device usable here."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as err:
        raise ConfigError(key, "", str(err)) from err
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(key, "", "CUDA is not available on this machine")


def _summary(counts: dict[str, int], out: Path) -> str:
    line = f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} already done"
    if "reference" in counts:
        line += f", {counts['reference']} from the reference"
    return f"{line}; report: {out / 'report.md'}"


def run(
    suite: SuiteConfig | Mapping[str, Any] | str | Path,
    out: str | Path,
    *,
    workers: int = 1,
    threads: int = 1,
    device: str = "cpu",
    scheduler: str | None = None,
    force: bool = False,
    against: str | Path | Sequence[str | Path] = (),
    plugins: str | Sequence[str] = (),
    command: str | None = None,
) -> pd.DataFrame:
    """Run a suite into DIR `out`, build its report, and return its runs (`load_runs`).

    As `python -m benchmark run`: `workers` local processes (1: in this process, so that a
    method registered in a notebook needs no module), or the Dask cluster at `scheduler`, each
    run with `threads` torch threads (the same numbers whatever `workers` or `scheduler`);
    `device` a torch device; `force` redoes finished runs; `against`: reference DIRs whose
    records stand for the runs the suite shares with them (`benchmark.execution.reference`);
    rerunning resumes. `command`: how the run was started, for the report's provenance.
    """
    config = load_suite(suite, plugins)
    out = _path(out, "out")
    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        raise ConfigError("workers", "", f"must be an integer ≥ 1, got {workers!r}")
    if not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        raise ConfigError("threads", "", f"must be an integer ≥ 1, got {threads!r}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise ConfigError("scheduler", "", f"expected an address, got {scheduler!r}")
    check_device(device)
    counts = run_suite(
        config,
        out,
        workers=workers,
        scheduler=scheduler,
        device=device,
        threads=threads,
        force=bool(force),
        against=_names(against, "against"),
        command=command or "benchmark.run(...) from Python",
    )
    build_report(out, list(config.settings.plugins))
    print(_summary(counts, out))
    return load_runs(out, config.settings.plugins)


def load_frames(out: str | Path, plugins: str | Sequence[str] = ()) -> Frames:
    """Every long frame of a finished DIR's report, built from its records: `runs`, `weights`,
    `checkpoints`, `rhat`, `density`, … (a run's rows carry its `method` and its `variant` — the
    method itself without a grid —, `variants` and `methods` how each is shown, and `names` maps
    a variant to its display name)."""
    return read_dir(_path(out, "out"), _names(plugins, "plugins")).frames


def load_runs(out: str | Path, plugins: str | Sequence[str] = ()) -> pd.DataFrame:
    """A finished DIR's runs, one row each, as results.csv: target, method, variant, swept
    hyperparameters, seed, status, reference, metrics, `<metric>_ne`, error."""
    return read_dir(_path(out, "out"), _names(plugins, "plugins")).results


def load_weights(out: str | Path, plugins: str | Sequence[str] = ()) -> pd.DataFrame:
    """A finished DIR's final mode weights, as weights.csv: target, method (the variant), seed,
    mode, weight_true, weight_model, weight_negatives."""
    return read_dir(_path(out, "out"), _names(plugins, "plugins")).weights


def _versions(records: list[dict[str, Any]]) -> dict[str, str]:
    done = [r for r in records if r.get("status") == "ok" and "versions" in r]
    return done[0]["versions"] if done else {}


def compare(
    out: str | Path, reference: str | Path, plugins: str | Sequence[str] = ()
) -> pd.DataFrame:
    """Whether the finished DIR `out` agrees with the finished DIR `reference` (two runs of one
    suite, e.g. this machine's `results/quick` and the committed `reports/quick`): per target and
    method, identical, agrees, DIFFERS or not testable (`benchmark.reporting.agreement`). Prints
    one line each, writes `agreement.csv` (every cell) and the report's agreement section into
    `out`, rebuilds its report, and returns the lines."""
    out, reference = _path(out, "out"), _path(reference, "reference")
    names = _names(plugins, "plugins")
    here, there = read_dir(out, names), read_dir(reference, names)
    ours, theirs = here.suite["suite"]["name"], there.suite["suite"]["name"]
    if ours != theirs:
        raise ConfigError(reference, "suite.name", f"is {theirs!r}, the suite of {out} {ours!r}")
    for data, folder in ((there, reference), (here, out)):
        if data.foreign and not any(r.get("status") == "ok" for r in data.records):
            first = data.foreign[0]  # e.g. every record of another version of this package
            raise ConfigError(
                first.path, first.key, f"{first.message}; no record of {folder} is usable here"
            )
    cells = agreement(here.frames.runs, there.frames.runs)
    if cells.empty:
        raise ConfigError(reference, "runs", f"no finished run shared with {out}")
    lines = verdicts(cells, here.frames.names)
    machines = differences(_versions(there.records), _versions(here.records))
    cells.to_csv(out / AGREEMENT_CELLS, index=False)
    section = agreement_markdown(lines, os.path.normpath(reference), machines)
    (out / AGREEMENT_FILE).write_text("\n".join(section) + "\n")
    build_report(out, names)
    width = max(map(len, lines.target)), max(map(len, lines.method))
    print(f"against {reference}: " + ("; ".join(machines) or "same processor and versions"))
    for row in lines.itertuples():
        print(f"  {row.target:<{width[0]}}  {row.method:<{width[1]}}  {row.verdict}: {row.detail}")
    return lines
