"""The only place that seeds, times and stores: one job per (target, method, seed), run by local
processes or a Dask cluster, each record written atomically to DIR/runs/<run_id>.json.

Seeds of a run: the data set is drawn with a generator seeded by `seed` (the same data for every
method at that seed and target); `torch.manual_seed(seed)` fixes the parameter initialisation; the
method's generator and the evaluation's are seeded by a stable hash of (seed, target, method).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import multiprocessing
import os
import platform
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .config import SuiteConfig, TargetConfig
from .energy import MLPEnergy, TiltedEBM, base_std_from_data
from .evaluate import evaluate
from .machine import versions
from .method import DivergenceError, Problem
from .reference import plan_reference
from .registry import get_method, load_methods
from .settings import SuiteSettings
from .store import AGREEMENT_FILE, Record, claim, is_finished, json_ready, run_id, write_json
from .variants import Variant, display_name

__all__ = [
    "Job",
    "stable_seed",
    "make_jobs",
    "run_job",
    "execute",
    "summary_line",
    "run_suite",
]


_CURVE_POINTS = 200  # training-time curve thinned to at most this many points


@dataclass(frozen=True)
class Job:
    """Everything a worker needs for one run (plain data, picklable); `threads`: the torch (and
    BLAS) threads it computes with, None to leave them as the process has them."""

    run_id: str
    target: TargetConfig
    variant: Variant
    seed: int
    suite: SuiteSettings
    device: str
    threads: int | None


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from `parts`, the same in every process and Python (unlike `hash`).

    Example:
        >>> stable_seed(0, "four_modes", "ula_ebm")
        7744695376822190508
    """
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def make_jobs(config: SuiteConfig, device: str, threads: int | None) -> list[Job]:
    """One job per (target, variant, seed), in that nesting order."""
    return [
        Job(
            run_id(target.name, variant.name, seed),
            target,
            variant,
            seed,
            config.settings,
            device,
            threads,
        )
        for target in config.targets
        for variant in config.variants[target.name]
        for seed in config.settings.seeds
    ]


def _thin(points: list[tuple[int, float]], keep: int) -> dict[str, list]:
    step = max(1, math.ceil(len(points) / keep))
    chosen = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])
    return {"iteration": [i for i, _ in chosen], "seconds": [s for _, s in chosen]}


def _train_and_evaluate(job: Job) -> dict[str, Any]:
    suite, device = job.suite, torch.device(job.device)
    target = job.target.build()
    data = target.sample(suite.n_data, torch.Generator(device).manual_seed(job.seed))
    dim = target.dim
    torch.manual_seed(job.seed)
    energy = MLPEnergy(dim, suite.energy_width(dim), suite.energy_depth)
    ebm = TiltedEBM(energy, dim, base_std_from_data(data)).to(device)
    spec = get_method(job.variant.method)
    params = spec.configure(job.variant.params)
    # seeded by the method, not the variant: a method's variants share their random numbers
    generator = torch.Generator(device).manual_seed(stable_seed(job.seed, target.name, spec.name))
    # compiled graphs on a CPU only: a GPU runs these small networks eagerly
    problem = Problem(data, ebm, suite.iterations, target, suite.compile and device.type == "cpu")

    times: list[tuple[int, float]] = []
    bar = tqdm(total=suite.iterations, desc=job.run_id, leave=False, mininterval=1.0, disable=None)
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
    eval_generator = torch.Generator(device).manual_seed(
        stable_seed(job.seed, target.name, spec.name, "evaluate")
    )
    result = evaluate(fitted, target, suite, eval_generator)
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


def _device_name(device: str) -> str:
    if torch.device(device).type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


@functools.cache
def _warm_up() -> None:
    """Pay torch's one-off lazy imports (the first optimizer: seconds) before any clock starts."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _header(job: Job) -> Record:
    """What every record of `job` starts with, whatever happens to the run."""
    return {
        "run_id": job.run_id,
        "target": job.target.name,
        "method": job.variant.method,
        "variant": job.variant.name,
        "swept": job.variant.swept,
        "display": job.variant.name,
        "seed": job.seed,
        "config": {
            "suite": job.suite.to_json(),
            "target": job.target.to_json(),
            "method": job.variant.params,
        },
        "versions": versions(),
        "device": _device_name(job.device),
        "threads": job.threads,
    }


def _finish(record: Record, **fields: Any) -> Record:
    """`record` with `fields` set and the time it finished, as strict JSON."""
    record.update(fields, finished=datetime.now(UTC).isoformat(timespec="seconds"))
    return json_ready(record)


def run_job(job: Job) -> Record:
    """Train and evaluate one run; any exception (a plugin that cannot be imported here, a method
    that raises, a divergence) becomes a `failed` record with its reason."""
    record = _header(job)
    try:
        _warm_up()
        if job.threads:
            torch.set_num_threads(job.threads)
            threadpool_limits(job.threads)  # numpy and scikit-learn too
        load_methods(job.suite.plugins)
        record["display"] = display_name(get_method(job.variant.method), job.variant)
        record.update(_train_and_evaluate(job))
    except Exception as err:  # a failed run is a result: record it and go on
        kind = "diverged" if isinstance(err, DivergenceError) else type(err).__name__
        return _finish(
            record, status="failed", error=f"{kind}: {err}", traceback=traceback.format_exc()
        )
    return _finish(record, status="ok", error=None)


def _init_worker(plugins: tuple[str, ...]) -> None:
    with contextlib.suppress(ValueError):  # a plugin missing here fails its runs, not the pool
        load_methods(plugins)


def _result(future: Any, job: Job) -> Record:
    """The future's record, or a `failed` one when its worker died or could not run it."""
    try:
        return future.result()
    except Exception as err:  # e.g. BrokenProcessPool, Dask's KilledWorker
        reason = f"worker lost: {type(err).__name__}: {err}"
        return _finish(
            _header(job), status="failed", error=reason, traceback=traceback.format_exc()
        )


def execute(jobs: list[Job], workers: int, scheduler: str | None = None) -> Iterator[Record]:
    """Yield each job's record as it finishes: in this process (`workers` 1), a spawn process
    pool, or the Dask cluster at `scheduler`. A job whose worker dies yields a `failed` record."""
    if not jobs:
        return
    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = {client.submit(run_job, job, pure=False): job for job in jobs}
            try:
                for future in dask_completed(futures):
                    yield _result(future, futures[future])
            finally:
                client.cancel(list(futures))
        return
    if workers == 1:
        for job in jobs:
            yield run_job(job)
        return
    context = multiprocessing.get_context("spawn")
    plugins = jobs[0].suite.plugins
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(plugins,)
    )
    try:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in as_completed(futures):
            yield _result(future, futures[future])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def summary_line(record: Record) -> str:
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
    threads: int = 1,
    force: bool = False,
    against: Sequence[str | Path] = (),
    command: str | None = None,
) -> dict[str, int]:
    """Run every missing, failed (or, with `force`, every) job of the suite into `out`, taking
    the runs it shares with the reference DIRs `against` from their records instead
    (`benchmark.reference`); `threads`: torch threads per run, the same whatever `workers` or
    `scheduler`, so that the numbers are too; `command`: how it was started, for the provenance
    (default: this process's command line). Returns counts {"skipped", "ok", "failed"}, and with
    `against` "reference": the runs taken from a reference."""
    plan = plan_reference(config, against, out)
    with claim(out, plan.resolved):
        runs = out / "runs"
        (out / AGREEMENT_FILE).unlink(missing_ok=True)  # the records may change: stale
        (out / "agreement.csv").unlink(missing_ok=True)
        plan.copy_into(runs, force)
        for line in plan.warnings:
            print(f"warning: {line}", file=sys.stderr)
        jobs = [job for job in make_jobs(config, device, threads) if job.run_id not in plan.taken]
        todo = [job for job in jobs if force or not is_finished(runs / f"{job.run_id}.json")]
        # the costliest runs (highest dimension) first, so that no worker idles at the end; then
        # seed by seed, so that workers start on different methods and a graph one compiles
        # (`compile = true`) is in inductor's on-disk cache before another needs it
        dims = {target.name: target.build().dim for target in config.targets}
        todo.sort(key=lambda job: (-dims[job.target.name], job.seed))
        counts = {"skipped": len(jobs) - len(todo), "ok": 0, "failed": 0}
        if against:
            counts["reference"] = len(plan.taken)
        started = datetime.now(UTC)
        clock = time.perf_counter()
        bar = tqdm(
            total=len(jobs), initial=counts["skipped"], desc=config.settings.name, unit="run"
        )
        try:
            for record in execute(todo, workers, scheduler):
                write_json(runs / f"{record['run_id']}.json", record)
                counts["ok" if record["status"] == "ok" else "failed"] += 1
                bar.write(summary_line(record))
                bar.update(1)
        finally:
            bar.close()
        provenance = {
            "command": command or " ".join(["python -m benchmark", *sys.argv[1:]]),
            "config": str(config.path) if config.path else "(a dict, from Python)",
            "started": started.isoformat(timespec="seconds"),
            "wall_clock_seconds": time.perf_counter() - clock,
            "runs": counts,
            "workers": workers,
            "scheduler": scheduler,
            "device": _device_name(device),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            "threads": threads,
            "versions": versions(),
            "against": plan.provenance,
        }
        write_json(out / "provenance.json", provenance)
        return counts
