"""The only place that seeds, times and stores: one job per (target, method, seed), run by local
processes or a Dask cluster, each record written atomically to DIR/runs/<run_id>.json.

Seeds of a run: the data set is drawn with a generator seeded by `seed` (the same data for every
method at that seed and target); `torch.manual_seed(seed)` fixes the parameter initialisation; the
method's generator and the evaluation's are seeded by a stable hash of (seed, target, method).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import multiprocessing
import os
import platform
import sys
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import __version__
from .config import ConfigError, SuiteConfig, TargetConfig, energy_width
from .energy import MLPEnergy, TiltedEBM, base_std_from_data
from .evaluate import EvalSettings, evaluate
from .method import DivergenceError, Problem
from .registry import get_method, load_methods

__all__ = [
    "Job",
    "stable_seed",
    "run_id",
    "make_jobs",
    "run_job",
    "execute",
    "write_json",
    "read_suite",
    "run_suite",
]

_CURVE_POINTS = 200  # training-time curve thinned to at most this many points


@dataclass(frozen=True)
class Job:
    """Everything a worker needs for one run (plain data, picklable)."""

    run_id: str
    target: TargetConfig
    method: str
    params: dict[str, Any]
    seed: int
    suite: dict[str, Any]
    device: str
    threads: int | None


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from `parts`, the same in every process and Python (unlike `hash`)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def run_id(target: str, method: str, seed: int) -> str:
    """The record's file stem."""
    return f"{target}__{method}__seed{seed}"


def make_jobs(config: SuiteConfig, device: str, threads: int | None) -> list[Job]:
    """One job per (target, method, seed), in that nesting order."""
    suite = config.resolved()["suite"]
    return [
        Job(
            run_id(target.name, method, seed),
            target,
            method,
            config.params[method],
            seed,
            suite,
            device,
            threads,
        )
        for target in config.targets
        for method in config.methods
        for seed in config.seeds
    ]


def _thin(points: list[tuple[int, float]], keep: int) -> dict[str, list]:
    step = max(1, math.ceil(len(points) / keep))
    chosen = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])
    return {"iteration": [i for i, _ in chosen], "seconds": [s for _, s in chosen]}


def _train_and_evaluate(job: Job) -> dict[str, Any]:
    suite, device = job.suite, torch.device(job.device)
    target = job.target.build()
    data = target.sample(suite["n_data"], torch.Generator(device).manual_seed(job.seed))
    dim = target.dim
    torch.manual_seed(job.seed)
    energy = MLPEnergy(dim, energy_width(suite["energy_hidden"], dim), suite["energy_depth"])
    ebm = TiltedEBM(energy, dim, base_std_from_data(data)).to(device)
    spec = get_method(job.method)
    params = spec.configure(job.params)
    generator = torch.Generator(device).manual_seed(stable_seed(job.seed, target.name, job.method))
    problem = Problem(data, ebm, suite["iterations"], target)

    times: list[tuple[int, float]] = []
    bar = tqdm(
        total=suite["iterations"], desc=job.run_id, leave=False, mininterval=1.0, disable=None
    )
    start = time.perf_counter()

    def progress(iteration: int) -> None:
        times.append((iteration, time.perf_counter() - start))
        bar.update(iteration - bar.n)

    try:
        fitted = spec.fit(problem, params, generator, progress)
    finally:
        bar.close()
    train_seconds = time.perf_counter() - start
    clock = time.perf_counter()
    settings = EvalSettings(
        n_chains=suite["n_chains"],
        sample_cost=suite["sample_cost"],
        warmup_fraction=suite["warmup_fraction"],
        n_exact=suite["n_data"],
        n_c2st=suite["n_c2st"],
        c2st_max_dim=suite["c2st_max_dim"],
    )
    eval_generator = torch.Generator(device).manual_seed(
        stable_seed(job.seed, target.name, job.method, "evaluate")
    )
    result = evaluate(fitted, target, settings, eval_generator)
    seconds = dict(times)
    for row in result.curves["checkpoints"]:
        row["seconds"] = seconds.get(row["iteration"], math.nan)
    metrics = {
        **result.metrics,
        "train_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - clock,
    }
    curves = {**result.curves, "train": _thin(times, _CURVE_POINTS)}
    return {
        "metrics": metrics,
        "not_estimable": result.not_estimable,
        "weights": result.weights,
        "curves": curves,
        "dim": dim,
    }


def _json_ready(value: Any) -> Any:
    """Non-finite floats become null (strict JSON); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _device_name(device: str) -> str:
    if torch.device(device).type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


@functools.cache
def _warm_up() -> None:
    """Pay torch's one-off lazy imports (the first optimizer: seconds) before any clock starts."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def run_job(job: Job) -> dict[str, Any]:
    """Train and evaluate one run; any exception becomes a `failed` record with its reason."""
    _warm_up()
    if job.threads:
        torch.set_num_threads(job.threads)
        threadpool_limits(job.threads)  # numpy / scikit-learn (the C2ST) too
    load_methods(job.suite["plugins"])
    record: dict[str, Any] = {
        "run_id": job.run_id,
        "target": job.target.name,
        "method": job.method,
        "display": get_method(job.method).display,
        "seed": job.seed,
        "config": {
            "suite": job.suite,
            "target": {"name": job.target.name, "kind": job.target.kind, **job.target.params},
            "method": job.params,
        },
        "versions": {
            "benchmark": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "device": _device_name(job.device),
    }
    try:
        record.update(_train_and_evaluate(job))
        record.update(status="ok", error=None)
    except Exception as err:  # a failed run is a result: record it and go on
        kind = "diverged" if isinstance(err, DivergenceError) else type(err).__name__
        record.update(status="failed", error=f"{kind}: {err}", traceback=traceback.format_exc())
    record["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return _json_ready(record)


def _init_worker(plugins: list[str]) -> None:
    load_methods(plugins)


def execute(
    jobs: list[Job], workers: int, scheduler: str | None = None
) -> Iterator[dict[str, Any]]:
    """Yield each job's record as it finishes: in this process (`workers` 1), a spawn process
    pool, or the Dask cluster at `scheduler`."""
    if not jobs:
        return
    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = [client.submit(run_job, job, pure=False) for job in jobs]
            try:
                for future in dask_completed(futures):
                    yield future.result()
            finally:
                client.cancel(futures)
        return
    if workers == 1:
        for job in jobs:
            yield run_job(job)
        return
    context = multiprocessing.get_context("spawn")
    plugins = jobs[0].suite["plugins"]
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(plugins,)
    )
    try:
        futures = [pool.submit(run_job, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def write_json(path: Path, value: Any) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(_json_ready(value), f, indent=1, sort_keys=True, allow_nan=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _first_difference(a: Any, b: Any, key: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
    return key or "suite"


def read_suite(out: Path) -> dict[str, Any] | None:
    """DIR/suite.json, or None when DIR has none; a foreign or broken DIR raises ConfigError."""
    path = out / "suite.json"
    if not path.exists():
        if out.exists() and any(out.iterdir()):
            raise ConfigError(out, "--out", "not empty and holds no suite.json; use another DIR")
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(path, "", f"unreadable: {err}") from err


def _check_suite(out: Path, resolved: dict[str, Any]) -> bool:
    """True when DIR already holds this suite; raises ConfigError when it holds another."""
    found = read_suite(out)
    if found is None:
        return False
    expected = json.loads(json.dumps(resolved))
    if found != expected:
        key = _first_difference(found, expected)
        raise ConfigError(
            out / "suite.json",
            key,
            "this directory holds a different suite; use another --out (nothing was changed)",
        )
    return True


def _finished(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def summary_line(record: dict[str, Any]) -> str:
    """One line per finished run."""
    if record["status"] != "ok":
        return f"{record['run_id']}: FAILED — {record['error']}"
    m = record["metrics"]

    def fmt(key: str) -> str:
        value = m.get(key)
        return "nan" if value is None else f"{value:.3g}"

    return (
        f"{record['run_id']}: ok  mw_tv_model={fmt('mw_tv_model')} "
        f"logdens_err={fmt('logdens_err')} rhat_max={fmt('rhat_max')} "
        f"c2st={fmt('c2st')} train={fmt('train_seconds')}s"
    )


def run_suite(
    config: SuiteConfig,
    out: Path,
    *,
    workers: int,
    scheduler: str | None = None,
    device: str = "cpu",
    force: bool = False,
) -> dict[str, int]:
    """Run every missing, failed (or, with `force`, every) job of the suite into `out`.
    Returns counts {"skipped", "ok", "failed"}."""
    resolved = config.resolved()
    known = _check_suite(out, resolved)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    if not known:
        write_json(out / "suite.json", resolved)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = None if scheduler else max(1, (cores or 1) // workers)
    jobs = make_jobs(config, device, threads)
    todo = [job for job in jobs if force or not _finished(runs / f"{job.run_id}.json")]
    counts = {"skipped": len(jobs) - len(todo), "ok": 0, "failed": 0}
    started = datetime.now(UTC)
    clock = time.perf_counter()
    bar = tqdm(total=len(jobs), initial=counts["skipped"], desc=config.name, unit="run")
    try:
        for record in execute(todo, workers, scheduler):
            write_json(runs / f"{record['run_id']}.json", record)
            counts["ok" if record["status"] == "ok" else "failed"] += 1
            bar.write(summary_line(record))
            bar.update(1)
    finally:
        bar.close()
    provenance = {
        "command": " ".join(["python -m benchmark", *sys.argv[1:]]),
        "config": str(config.path),
        "started": started.isoformat(timespec="seconds"),
        "wall_clock_seconds": time.perf_counter() - clock,
        "runs": counts,
        "workers": workers,
        "scheduler": scheduler,
        "device": _device_name(device),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "versions": {"benchmark": __version__, "torch": torch.__version__},
    }
    write_json(out / "provenance.json", provenance)
    return counts
