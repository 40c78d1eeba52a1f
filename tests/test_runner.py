"""The runner and the evaluation: known answers of the metrics on an EBM whose density is known,
determinism, the data shared by every method, failed runs recorded, resume after a kill, and the
same numbers in this process, a local process pool and on a Dask cluster."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_config import tiny_toml, write

from benchmark.execution.evaluate import MIXING_METRICS, evaluate
from benchmark.execution.runner import execute, make_jobs, run_job, run_suite, stable_seed
from benchmark.models.energy import MLPEnergy, TiltedEBM
from benchmark.samplers import MALA, Potential
from benchmark.suite import registry
from benchmark.suite.config import load_config
from benchmark.suite.registry import METHODS, load_methods, register_method
from benchmark.suite.settings import SuiteSettings
from benchmark.targets import make_target
from benchmark.training.method import FittedModel, Problem, TrainParams

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"train_seconds", "eval_seconds", "sample_seconds", "warmup_seconds", "ess_per_second"}

load_methods()


def untimed(record: dict) -> dict:
    """A record's metrics without the wall-clock ones (which never repeat exactly)."""
    return {k: v for k, v in record["metrics"].items() if k not in TIMING}


def flat_ebm_fit(target_weights: list[float], n_chains: int = 64) -> tuple[FittedModel, object]:
    """E ≡ 0 with ρ = N(0, I): a density known exactly, beside a 2-mode target at x = ±1.5 with
    the given weights; MALA chains (exact for ρ up to the MH correction) started from ρ."""
    target = make_target(
        "gmm", name="two", means=[[-1.5, 0.0], [1.5, 0.0]], weights=target_weights, variances=0.1
    )
    ebm = TiltedEBM(MLPEnergy(2, 8, 1), 2, 1.0)
    g = torch.Generator().manual_seed(1)
    rho = torch.randn(n_chains, 2, generator=g)
    potential = Potential(ebm.potential)
    potential.counter.grad, potential.counter.energy = 100, 300  # "training" spent these
    sampler = MALA(potential, 0.5)
    fitted = FittedModel(ebm, rho, rho, sampler, rho, [], potential.counter)
    return fitted, target


def test_evaluate_known_answers_for_a_flat_energy():
    # ρ is symmetric about x = 0 and the region boundary is x = 0: the EBM's weights are exactly
    # (½, ½) up to grid symmetry, so with target weights (0.2, 0.8) the TV is 0.3 (the region
    # masses differ from the nominal weights by the overlap Φ(−1.5/√0.1) ≈ 1e-6) and the MSE 0.09.
    fitted, target = flat_ebm_fit([0.2, 0.8])
    settings = SuiteSettings(n_chains=64, sample_cost=34, n_data=2000, c2st_max_dim=0)
    result = evaluate(fitted, target, settings, torch.Generator().manual_seed(0))
    m = result.metrics
    # float32 sums over the 512² grid: rounding error ≈ √(2¹⁸) · 6e-8 ≈ 3e-5
    assert result.weights["model"] == pytest.approx([0.5, 0.5], abs=1e-4)
    assert m["mw_tv_model"] == pytest.approx(0.3, abs=1e-4)
    assert m["mw_mse_model"] == pytest.approx(0.09, abs=1e-4)
    assert m["mw_max_model"] == pytest.approx(0.3, abs=1e-4)
    # log Z of ρ (normalised) by quadrature over the whole plane: 0. The target's box ±3.08
    # alone would miss 1 − (2Φ(3.08) − 1)² ≈ 4e-3 of the mass; the box covers ρ to ±6σ.
    assert m["log_z"] == pytest.approx(0.0, abs=1e-5) and m["quad_edge_mass"] < 1e-6
    # the weights are estimable; with 12 draws per chain (below) the chains' diagnostics are not
    assert set(result.not_estimable) == set(MIXING_METRICS)
    # Far from both components: ρ's mass outside the two 99.9 % discs (radius √(0.1 χ²₂(0.999))
    # ≈ 1.18 around (±1.5, 0)), by an independent midpoint sum of ρ over ±8 (step 0.01).
    axis = torch.linspace(-8, 8, 1601)[:-1] + 0.005
    grid = torch.cartesian_prod(axis, axis)
    rho = torch.exp(-0.5 * (grid**2).sum(-1)) / (2 * math.pi) * 0.01**2
    far = float(rho[~target.level_regions(grid, 0.999).any(-1)].sum())
    assert m["mass_far_model"] == pytest.approx(far, abs=1e-3)
    # Negatives = initial = 64 draws of ρ; region 0 is x < 0.
    left = float((fitted.negatives[:, 0] < 0).float().mean())
    assert result.weights["negatives"] == result.weights["initial"] == [left, 1 - left]
    assert m["mw_tv_negatives"] == pytest.approx(abs(left - 0.5), abs=1e-4)
    # Cost: training evaluations as given. Diagnostics: 34 cost units per chain, a MALA step
    # costs one gradient (2 units): the warm-up (a quarter, 8.5 units) is the init (2) and 4
    # steps (10 units), production 12 steps (24 units) — 64 chains × 17 gradients.
    assert m["grad_evals"] == 100 and m["energy_evals"] == 300
    assert m["sample_grad_evals"] == 64 * 17
    assert (m["sample_cost"], m["warmup_cost"], m["sample_draws"]) == (34, 10, 12)
    assert math.isnan(m["accept_global"]) and 0 < m["accept_local"] < 1
    assert math.isnan(m["c2st"]) and math.isnan(m["mw_model_spread"])  # skipped; no checkpoint
    curve = result.curves["rhat_time"]
    assert curve["draws"] == [1, 3, 4, 6, 7, 9, 10, 12]
    assert curve["cost"] == [10 + 2 * n for n in curve["draws"]]
    assert (
        curve["seconds"] == sorted(curve["seconds"]) and curve["seconds"][-1] <= m["sample_seconds"]
    )
    # the curve shows R-hat from 4 draws on; as a result, R-hat and ESS need 100
    assert all(math.isnan(h) for h in curve["rhat"][:2]) and math.isfinite(curve["rhat"][-1])
    assert all(math.isnan(m[key]) for key in MIXING_METRICS)
    assert len(result.curves["density"]) == 128


def test_log_density_error_is_zero_when_the_ebm_is_the_target():
    # A one-mode target N(0, I) equals ρ with E ≡ 0: the only error is log Z from the grid.
    fitted, _ = flat_ebm_fit([0.5, 0.5])
    target = make_target("gmm", name="one", means=[[0.0, 0.0]], variances=1.0)
    settings = SuiteSettings(n_chains=64, sample_cost=20, n_data=2000, c2st_max_dim=0)
    m = evaluate(fitted, target, settings, torch.Generator().manual_seed(0)).metrics
    # quadrature over the whole plane: (log Z)² from float32 sums only
    assert m["logdens_err"] < 1e-9
    assert m["mw_tv_model"] == pytest.approx(0.0, abs=1e-4)  # float32 grid sums, as above


def test_stable_seed_is_the_same_in_another_process():
    here = stable_seed(3, "four_modes", "flowmc_ebm")
    code = (
        "from benchmark.execution.runner import stable_seed as s; "
        "print(s(3, 'four_modes', 'flowmc_ebm'))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert int(there.stdout) == here
    assert (
        here != stable_seed(3, "four_modes", "ula_ebm") != stable_seed(4, "four_modes", "ula_ebm")
    )


@pytest.fixture
def clean_registry():
    """Undo the registrations a test makes."""
    methods, loaded = dict(METHODS), set(registry._loaded)
    yield
    METHODS.clear()
    METHODS.update(methods)
    registry._loaded.clear()
    registry._loaded.update(loaded)


def test_every_method_gets_the_same_data_and_initial_energy(clean_registry, tmp_path):
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def spy(name: str):
        def fit(problem: Problem, params: TrainParams, generator, progress) -> FittedModel:
            first = next(problem.ebm.energy.parameters()).detach().clone()
            seen[name] = (problem.data.clone(), first)
            raise RuntimeError("spy only")

        return fit

    for name in ("spy_a", "spy_b"):
        register_method(name, display=name, params=TrainParams, test_config=TrainParams())(
            spy(name)
        )
    config = load_config(
        write(tmp_path, tiny_toml(methods='["spy_a", "spy_b"]', seeds="[5]", flowmc_table=False))
    )
    records = [run_job(job) for job in make_jobs(config, "cpu", None)]
    assert [r["status"] for r in records] == ["failed", "failed"]
    assert "spy only" in records[0]["error"]
    (data_a, init_a), (data_b, init_b) = seen["spy_a"], seen["spy_b"]
    assert torch.equal(data_a, data_b) and torch.equal(init_a, init_b)
    expected = make_target("four_modes").sample(200, torch.Generator().manual_seed(5))
    assert torch.equal(data_a, expected)


def test_same_config_and_seed_give_the_same_numbers(tmp_path):
    config = load_config(write(tmp_path, tiny_toml().replace("c2st_max_dim = 0", "n_c2st = 64")))
    (job,) = make_jobs(config, "cpu", None)
    first, second = run_job(job), run_job(job)
    assert first["status"] == second["status"] == "ok", first.get("error")
    assert untimed(first) == untimed(second)
    assert first["weights"] == second["weights"]
    assert first["curves"]["checkpoints"][0]["model"] == second["curves"]["checkpoints"][0]["model"]
    assert 0 <= first["metrics"]["c2st"] <= 1
    assert first["metrics"]["grad_evals"] > 0 and first["metrics"]["train_seconds"] > 0


FAILING_PLUGIN = """
import torch
from benchmark.training.method import DivergenceError, TrainParams
from benchmark.suite.registry import register_method


@register_method("{name}", display="Diverges {name}", params=TrainParams, test_config=TrainParams())
def fit(problem, params, generator, progress):
    progress(1)
    raise DivergenceError("non-finite energies at iteration 1")
"""


def test_a_diverging_run_is_recorded_as_failed_and_the_suite_goes_on(tmp_path, monkeypatch):
    (tmp_path / "diverging_plugin.py").write_text(FAILING_PLUGIN.format(name="diverges"))
    monkeypatch.syspath_prepend(tmp_path)
    path = write(tmp_path, tiny_toml(methods='["diverges", "flowmc_ebm"]'))
    config = load_config(path, ["diverging_plugin"])
    counts = run_suite(config, tmp_path / "out", workers=1)
    assert counts == {"skipped": 0, "ok": 1, "failed": 1}
    record = json.loads((tmp_path / "out/runs/four_modes__diverges__seed0.json").read_text())
    assert record["status"] == "failed"
    assert record["error"] == "diverged: non-finite energies at iteration 1"
    assert record["config"]["suite"]["plugins"] == ["diverging_plugin"]
    ok = json.loads((tmp_path / "out/runs/four_modes__flowmc_ebm__seed0.json").read_text())
    assert ok["status"] == "ok"
    # a rerun redoes the failed run only
    counts = run_suite(config, tmp_path / "out", workers=1)
    assert counts == {"skipped": 1, "ok": 0, "failed": 1}


def test_resume_after_an_interrupt_keeps_finished_records(tmp_path, monkeypatch):
    config = load_config(write(tmp_path, tiny_toml(seeds="[0, 1, 2]")))
    out, calls = tmp_path / "out", []

    def interrupted_at_the_second_run(job):
        calls.append(job.run_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_job(job)

    monkeypatch.setattr("benchmark.execution.runner.run_job", interrupted_at_the_second_run)
    with pytest.raises(KeyboardInterrupt):
        run_suite(config, out, workers=1)
    kept = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}
    assert list(kept) == ["four_modes__flowmc_ebm__seed0.json"]
    monkeypatch.undo()
    assert run_suite(config, out, workers=1) == {"skipped": 1, "ok": 2, "failed": 0}
    after = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}
    assert (
        len(after) == 3
        and after["four_modes__flowmc_ebm__seed0.json"]
        == kept["four_modes__flowmc_ebm__seed0.json"]
    )
    assert run_suite(config, out, workers=1, force=True) == {"skipped": 0, "ok": 3, "failed": 0}


@pytest.mark.slow
def test_resume_after_a_killed_run_keeps_finished_records(tmp_path):
    seeds = "[0, 1, 2, 3, 4, 5]"
    path = write(tmp_path, tiny_toml(seeds=seeds))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "benchmark", "run", str(path), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--workers", "1"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    runs = out / "runs"
    deadline = time.monotonic() + 120
    while not (runs.exists() and any(runs.glob("*.json"))):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no record appeared within 120 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    kept = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert 1 <= len(kept) < 6, "the suite must be killed before it ends"
    for content in kept.values():
        assert json.loads(content)["status"] == "ok"  # complete records only
    done = subprocess.run([*command, "--workers", "1"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{6 - len(kept)} ok, 0 failed, {len(kept)} already done" in done.stdout
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(after) == 6
    assert all(after[name] == content for name, content in kept.items())
    assert not list(runs.glob(".*.tmp"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict]:
    """Two runs in this process with one thread: what every executor must reproduce bit for
    bit, since each run computes with the same number of threads (`run_suite`'s `threads`, 1 by
    default) whatever runs it — with more threads, BLAS would sum in another order."""
    path = write(tmp_path_factory.mktemp("ref"), tiny_toml(seeds="[0, 1]"))
    jobs = make_jobs(load_config(path), "cpu", 1)
    return {r["run_id"]: r for r in execute(jobs, workers=1)}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_suite_gives_the_same_numbers_with_any_number_of_workers(tmp_path, reference, workers):
    path = write(tmp_path, tiny_toml(seeds="[0, 1]"))
    counts = run_suite(load_config(path), tmp_path / "out", workers=workers)
    assert counts == {"skipped": 0, "ok": 2, "failed": 0}
    for name, expected in reference.items():
        record = json.loads((tmp_path / "out" / "runs" / f"{name}.json").read_text())
        assert record["threads"] == 1
        assert untimed(record) == untimed(expected)


def test_a_record_names_what_computed_its_numbers(reference):
    record = next(iter(reference.values()))
    versions = record["versions"]
    packages = {"benchmark", "torch", "numpy", "scipy", "scikit-learn", "pandas", "zuko", "arviz"}
    assert packages | {"python", "cpu"} == set(versions)
    assert versions["zuko"] == importlib.metadata.version("zuko")
    assert versions["cpu"].endswith(f"({torch.backends.cpu.get_cpu_capability()})")


def test_checkpoints_carry_the_cost_so_far_and_the_last_is_the_records_total(reference):
    # flowmc_ebm at its test size (n = 32 chains, pool N = 4, 2 MALA steps, 1 sweep), 3
    # iterations, checkpoints at 2 and 3. Per iteration: U and ∇U at the n chains, the i-SIR move
    # (U at the pool, ∇U at the pick) and 2 MALA steps: 4n gradients, (1 + N + 2)n energies;
    # flow passes:
    # n N for the pool and the current states' log densities, n for the flow's fit; n draws at
    # the start. Nothing is counted after the last iteration.
    n, pool = 32, 4
    for record in reference.values():
        rows, metrics = record["curves"]["checkpoints"], record["metrics"]
        assert [r["iteration"] for r in rows] == [2, 3]
        assert [(r["grad_evals"], r["energy_evals"], r["flow_passes"]) for r in rows] == [
            (i * 4 * n, i * (3 + pool) * n, n + i * (pool + 1) * n) for i in (2, 3)
        ]
        for key in ("grad_evals", "energy_evals", "flow_passes"):
            assert metrics[key] == rows[-1][key]
        assert rows[0]["seconds"] <= rows[1]["seconds"] <= metrics["train_seconds"]
        # the diagnostic flowMC chains count their pool's flow passes too: N per chain and sweep
        assert metrics["sample_flow_passes"] > 0
        assert metrics["sample_flow_passes"] % (pool * record["metrics"]["n_chains"]) == 0


OWN_COUNTER_PLUGIN = """
import torch
from benchmark.training.method import FittedModel, TrainParams
from benchmark.suite.registry import register_method
from benchmark.samplers import MALA, Potential


@register_method("own_counter", display="Own", params=TrainParams, test_config=TrainParams())
def fit(problem, params, generator, progress):
    progress(1)
    potential = Potential(problem.ebm.potential)  # not on problem.counter
    x = torch.zeros(4, problem.ebm.dim)
    return FittedModel(problem.ebm, x, x, MALA(potential, 0.1), x, [], potential.counter)
"""


def test_a_method_counting_on_a_counter_of_its_own_fails_its_run(tmp_path, monkeypatch):
    (tmp_path / "own_counter_plugin.py").write_text(OWN_COUNTER_PLUGIN)
    monkeypatch.syspath_prepend(tmp_path)
    path = write(tmp_path, tiny_toml(methods='["own_counter"]', flowmc_table=False))
    config = load_config(path, ["own_counter_plugin"])
    assert run_suite(config, tmp_path / "out", workers=1)["failed"] == 1
    record = json.loads(next((tmp_path / "out" / "runs").glob("*.json")).read_text())
    assert "counter of its own" in record["error"] and "problem.counter" in record["error"]


def test_dask_cluster_gives_the_in_process_numbers(tmp_path, reference):
    distributed = pytest.importorskip("distributed")
    path = write(tmp_path, tiny_toml(seeds="[0, 1]"))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        counts = run_suite(
            load_config(path), tmp_path / "out", workers=1, scheduler=cluster.scheduler_address
        )
    assert counts == {"skipped": 0, "ok": 2, "failed": 0}
    for name, expected in reference.items():
        record = json.loads((tmp_path / "out" / "runs" / f"{name}.json").read_text())
        assert record["threads"] == 1
        assert untimed(record) == untimed(expected)
