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
import json
import math
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..models.energy import MLPEnergy, TiltedEBM, base_std_from_data
from ..suite.config import SuiteConfig, TargetConfig
from ..suite.registry import get_method, load_methods
from ..suite.settings import SuiteSettings
from ..suite.variants import Variant, display_name
from ..training.method import DivergenceError, Problem
from .evaluate import evaluate
from .machine import versions
from .pool import Isolated, Lost, imap_isolated
from .reference import committed_reference, plan_reference
from .store import (
    AGREEMENT_CELLS,
    AGREEMENT_FILE,
    Foreign,
    Record,
    claim,
    content_hash,
    examine,
    expected_runs,
    json_ready,
    run_id,
    set_aside,
    write_json,
)

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
        fitted = spec.fit(problem, job.variant.params, generator, progress)
    finally:
        bar.close()
    train_seconds = time.perf_counter() - start
    if fitted.counter is not problem.counter:  # its checkpoints' costs would read nothing
        raise ValueError(
            "the method counts its evaluations on a counter of its own: build its potentials on "
            "`problem.counter` and return it as `FittedModel.counter`"
        )
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
    notes = []
    if len(fitted.start) < suite.n_chains:  # the diagnostics run one chain per start position
        notes.append(
            f"n_chains: {len(fitted.start)} diagnostic chains ran, not {suite.n_chains}: the "
            f"method keeps {len(fitted.start)} start positions"
        )
    return {
        "notes": notes,
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
            "method": asdict(job.variant.params),
        },
        "versions": versions(),
        "device": _device_name(job.device),
        "threads": job.threads,
    }


def _finish(record: Record, **fields: Any) -> Record:
    """`record` with `fields` set and the time it finished, as strict JSON with its content hash;
    a value that is not JSON data raises `TypeError` naming its key."""
    record.update(fields, finished=datetime.now(UTC).isoformat(timespec="seconds"))
    ready = json_ready(record)
    ready["sha256"] = content_hash(ready)
    return ready


def _failed(job: Job, error: str, trace: str = "") -> Record:
    return _finish(_header(job), status="failed", error=error, traceback=trace)


def run_job(job: Job) -> Record:
    """Train and evaluate one run; any exception (a plugin that cannot be imported here, a method
    that raises, a divergence, a value that is not JSON data) becomes a `failed` record with its
    reason."""
    record = _header(job)
    try:
        _warm_up()
        if job.threads:
            torch.set_num_threads(job.threads)
            threadpool_limits(job.threads)  # numpy and scikit-learn too
        load_methods(job.suite.plugins)
        record["display"] = display_name(get_method(job.variant.method), job.variant.swept)
        record.update(_train_and_evaluate(job))
    except Exception as err:  # a failed run is a result: record it and go on
        kind = "diverged" if isinstance(err, DivergenceError) else type(err).__name__
        return _failed(job, f"{kind}: {err}", traceback.format_exc())
    try:
        return _finish(record, status="ok", error=None)
    except TypeError as err:  # e.g. a plugin's curve holding an object
        return _failed(job, f"not JSON data: {err}", traceback.format_exc())


def _init_worker(plugins: tuple[str, ...]) -> None:
    with contextlib.suppress(ValueError):  # a plugin missing here fails its runs, not the pool
        load_methods(plugins)


def _lost_or_record(job: Job, result: Record | Lost) -> Record:
    return _failed(job, f"worker lost: {result.reason}") if isinstance(result, Lost) else result


#: Per thread of a Dask worker (by `threading.get_ident`), the process it runs jobs in.
_ISOLATED: dict[int, Isolated] = {}


def _run_job_isolated(job: Job) -> Record:
    """A Dask task: `run_job` in a process of its own (kept for the thread's next task), so that
    a run that kills its process fails alone, like a local worker's, and the Dask worker with
    the other runs on it lives on (Dask would otherwise rerun those, and retry the killer on
    worker after worker until it gave up with `KilledWorker`)."""
    isolated = _ISOLATED.setdefault(
        threading.get_ident(), Isolated(run_job, _init_worker, (job.suite.plugins,))
    )
    return _lost_or_record(job, isolated(job))


def _close_isolated() -> None:
    """On a Dask worker when a run ends: end the job processes no task is using."""
    for isolated in list(_ISOLATED.values()):
        isolated.close()


#: How long a Dask run waits with no worker in the cluster before failing the jobs left.
DASK_NO_WORKER_SECONDS = 120.0
_DASK_POLL_SECONDS = 5.0


def _execute_dask(jobs: list[Job], scheduler: str) -> Iterator[Record]:
    from distributed import Client, wait

    with Client(scheduler) as client:
        futures = {client.submit(_run_job_isolated, job, pure=False): job for job in jobs}
        left, alone_since = set(futures), None
        try:
            while left:
                try:
                    done, left = wait(left, _DASK_POLL_SECONDS, return_when="FIRST_COMPLETED")
                except TimeoutError:  # none finished meanwhile
                    done = set()
                for future in done:
                    try:
                        yield future.result()
                    except Exception as err:  # e.g. KilledWorker: a Dask worker itself died
                        reason = f"worker lost: {type(err).__name__}: {err}"
                        yield _failed(futures[future], reason, traceback.format_exc())
                if not left or client.scheduler_info().get("workers"):
                    alone_since = None
                    continue
                if alone_since is None:
                    alone_since = time.monotonic()
                    print(
                        f"no Dask worker in the cluster at {scheduler}; waiting up to "
                        f"{DASK_NO_WORKER_SECONDS:.0f} s for one",
                        file=sys.stderr,
                    )
                if time.monotonic() - alone_since >= DASK_NO_WORKER_SECONDS:
                    reason = (
                        f"no Dask worker in the cluster at {scheduler} for "
                        f"{DASK_NO_WORKER_SECONDS:.0f} s; start workers and rerun to resume"
                    )
                    for future in left:
                        yield _failed(futures[future], reason)
                    left = set()
        finally:
            client.cancel(list(futures))
            client.run(_close_isolated, on_error="ignore")


def execute(jobs: list[Job], workers: int, scheduler: str | None = None) -> Iterator[Record]:
    """Yield each job's record as it finishes: in this process (`workers` 1), in `workers` local
    processes (`benchmark.execution.pool`: a worker that dies fails only its job, and is
    replaced), or on the Dask cluster at `scheduler`, each job in a process of its own there too
    (a cluster with no worker for `DASK_NO_WORKER_SECONDS` fails the jobs left). A job whose
    worker dies yields a `failed` record."""
    if not jobs:
        return
    if scheduler is not None:
        yield from _execute_dask(jobs, scheduler)
        return
    if workers == 1:
        for job in jobs:
            yield run_job(job)
        return
    plugins = jobs[0].suite.plugins
    for job, result in imap_isolated(run_job, jobs, workers, _init_worker, (plugins,)):
        yield _lost_or_record(job, result)


def _finished(out: Path, job: Job, expected: dict[str, Record]) -> bool:
    """Whether DIR holds a finished record of `job`, with one line when it holds another file
    in its place (`store.check_record`): a record of this run by another version of the package
    is stale, redone over; any other is moved to DIR/foreign/ first."""
    found = examine(out / "runs" / f"{job.run_id}.json", expected[job.run_id])
    if isinstance(found, Foreign) and found.key == "versions.benchmark":
        print(f"stale record, its run redone: {found}", file=sys.stderr)
    elif isinstance(found, Foreign):
        moved = set_aside(out, found)
        print(f"foreign record moved to {moved}, its run redone: {found}", file=sys.stderr)
    return isinstance(found, dict) and found["status"] == "ok"


@dataclass(frozen=True)
class _Cost:
    """What a finished run cost: training seconds per iteration, at `iterations` iterations,
    evaluation seconds, and the processor (`machine.cpu_model`) it ran on."""

    per_iteration: float
    iterations: int
    eval_seconds: float
    cpu: str


#: The costs of finished runs, per (target, method).
_Costs = dict[tuple[str, str], list[_Cost]]


def _add_cost(costs: _Costs, record: Any) -> None:
    """Add the cost of `record` if it is a finished run's (of any version that records it)."""
    try:
        if record["status"] != "ok":
            return
        key = (str(record["target"]), str(record["method"]))
        metrics, iterations = record["metrics"], int(record["config"]["suite"]["iterations"])
        cost = _Cost(
            float(metrics["train_seconds"]) / iterations,
            iterations,
            float(metrics.get("eval_seconds") or 0.0),
            str(record.get("versions", {}).get("cpu", "an unrecorded processor")),
        )
    except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError):
        return
    costs.setdefault(key, []).append(cost)


def _costs_in(folder: Path) -> _Costs:
    """The costs of the finished runs recorded in DIR `folder` (unreadable files skipped)."""
    costs: _Costs = {}
    for path in sorted((folder / "runs").glob("*.json")):
        with contextlib.suppress(OSError, UnicodeDecodeError, ValueError):
            _add_cost(costs, json.loads(path.read_text()))
    return costs


def _shown(folder: Path) -> str:
    """`folder` as a line names it: relative to the working directory when inside it."""
    relative = os.path.relpath(folder)
    return str(folder) if relative.startswith("..") else relative


def _made_on(costs: set[_Cost], iterations: int) -> str:
    """Where `costs` were measured, e.g. 'made on AMD EPYC (AVX2); scaled from 900 iterations'."""
    made = f"made on {', '.join(sorted({c.cpu for c in costs}))}"
    scaled = sorted({c.iterations for c in costs} - {iterations})
    return f"{made}; scaled from {', '.join(map(str, scaled))} iterations" if scaled else made


_IN_DIR = "finished runs in DIR"


def estimate_line(
    todo: list[Job],
    out: Path,
    expected: dict[str, Record],
    workers: int,
    references: Sequence[Path] = (),
) -> str:
    """One line before the runs start: how many, and how long they should take, shared among
    `workers`, from the cost measured by the finished runs of the same target and method — in
    DIR, or else in the first of the finished DIRs `references` that has one (e.g. the suite's
    committed reference), their training seconds per iteration scaled to this suite's
    iterations, naming the processor they ran on; runs with no measurement are counted apart."""
    own: _Costs = {}
    for rid, run in expected.items():
        found = examine(out / "runs" / f"{rid}.json", run)
        if isinstance(found, dict):
            _add_cost(own, found)
    sources = [(_IN_DIR, own)]
    sources += [(f"{_shown(folder)}'s runs", _costs_in(folder)) for folder in references]
    iterations = todo[0].suite.iterations
    total, unknown = 0.0, 0
    used: dict[str, set[_Cost]] = {}
    for job in todo:
        key = (job.target.name, job.variant.method)
        found = next(((label, costs[key]) for label, costs in sources if key in costs), None)
        if found is None:
            unknown += 1
            continue
        label, costs = found
        total += float(np.median([c.per_iteration * iterations + c.eval_seconds for c in costs]))
        used.setdefault(label, set()).update(costs)
    line = f"{len(todo)} runs to do, {iterations} iterations each, on {workers} worker(s)"
    if not used:
        where = " or ".join(["DIR", *map(_shown, references)])
        return (
            f"{line}; no estimate yet (no run of their target and method has finished in {where})"
        )
    parts = [
        label if label == _IN_DIR else f"{label} ({_made_on(used[label], iterations)})"
        for label, _ in sources
        if label in used
    ]
    rest = f"; {unknown} more not yet measured" if unknown else ""
    minutes = total / max(workers, 1) / 60
    return f"{line}: about {minutes:.1f} min from the cost of {' and of '.join(parts)}{rest}"


def summary_line(record: Record) -> str:
    """One line per finished run."""
    if record["status"] != "ok":
        return f"{record['run_id']}: FAILED — {record['error']}"
    m = record["metrics"]

    def fmt(key: str) -> str:
        value = m.get(key)
        return "nan" if value is None else f"{value:.3g}"

    notes = "".join(f"; {note}" for note in record.get("notes", []))
    return (
        f"{record['run_id']}: ok  mw_tv_model={fmt('mw_tv_model')} "
        f"logdens_err={fmt('logdens_err')} rhat_max={fmt('rhat_max')} "
        f"c2st={fmt('c2st')} train={fmt('train_seconds')}s{notes}"
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
    (`benchmark.execution.reference`); `threads`: torch threads per run, the same whatever
    `workers` or `scheduler`, so that the numbers are too; `command`: how it was started, for the
    provenance (default: this process's command line). Returns counts {"skipped", "ok",
    "failed"}, and with `against` "reference": the runs taken from a reference."""
    plan = plan_reference(config, against, out)
    with claim(out, plan.resolved):
        runs = out / "runs"
        (out / AGREEMENT_FILE).unlink(missing_ok=True)  # the records may change: stale
        (out / AGREEMENT_CELLS).unlink(missing_ok=True)
        for foreign in plan.copy_into(out, force):
            print(f"foreign record moved to {out / 'foreign'}: {foreign}", file=sys.stderr)
        for line in plan.warnings:
            print(f"warning: {line}", file=sys.stderr)
        jobs = [job for job in make_jobs(config, device, threads) if job.run_id not in plan.taken]
        expected = expected_runs(plan.resolved)
        todo = [job for job in jobs if not _finished(out, job, expected) or force]
        # the costliest runs (highest dimension) first, so that no worker idles at the end; then
        # seed by seed, so that workers start on different methods and a graph one compiles
        # (`compile = true`) is in inductor's on-disk cache before another needs it
        dims = {target.name: target.build().dim for target in config.targets}
        todo.sort(key=lambda job: (-dims[job.target.name], job.seed))
        counts = {"skipped": len(jobs) - len(todo), "ok": 0, "failed": 0}
        if against:
            counts["reference"] = len(plan.taken)
        if todo:
            committed = committed_reference(config.path)
            references = [Path(folder) for folder in dict.fromkeys(map(str, against))]
            # even when it is DIR (`make reference`): records of another version still measure
            if committed and all(committed.resolve() != f.resolve() for f in references):
                references.append(committed)
            print(estimate_line(todo, out, expected, workers, references), file=sys.stderr)
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
