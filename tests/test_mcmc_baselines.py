"""Known-answer checks of the MCMC-trained baselines and the oracle: the oracle's density is the
target's, PCD restarts 5 % of its chains, short-run chains start afresh, ULA-EBM's persist."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from baselines.oracle import OracleParams
from baselines.pcd import buffer_starts
from baselines.short_run import ShortRunParams
from baselines.ula_ebm import ULAEBMParams
from benchmark.metrics import grid_weights
from benchmark.models.energy import (
    MLPEnergy,
    TiltedEBM,
    autograd_value_and_grad,
    base_std_from_data,
)
from benchmark.suite.registry import get_method, load_methods
from benchmark.targets import make_target
from benchmark.training.method import FittedModel, Problem
from benchmark.training.parts import LangevinParams, langevin_step_size, make_noise

load_methods()


def problem(target_name: str, iterations: int, n: int = 500) -> Problem:
    """`n` data points of the target and a fresh EBM (E ≡ 0), seeded."""
    target = make_target(target_name)
    data = target.sample(n, torch.Generator().manual_seed(0))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        energy = MLPEnergy(target.dim, hidden=16)
    ebm = TiltedEBM(energy, target.dim, base_std_from_data(data))
    return Problem(data, ebm, iterations, target)


def fit(name: str, params: object, problem: Problem) -> FittedModel:
    generator = torch.Generator().manual_seed(1)
    return get_method(name).fit(problem, params, generator, lambda iteration: None)


def test_oracle_density_is_the_target():
    target_problem = problem("four_modes", iterations=2)
    fitted = fit("oracle", get_method("oracle").test_config, target_problem)
    target = target_problem.target
    generator = torch.Generator().manual_seed(2)
    lo, hi = target.bounds
    x = torch.cat(
        [target.sample(1000, generator), lo + (hi - lo) * torch.rand(1000, 2, generator=generator)]
    )
    # −E + log ρ = log p★ − log ρ + log ρ: another computation than p★'s own, so in float64
    ebm = copy.deepcopy(fitted.ebm).double()
    with torch.no_grad():
        log_p = ebm.log_unnormalised(x.double())
    torch.testing.assert_close(log_p, target.log_prob(x.double()))
    # The quadrature's grid error and the region masses' Monte Carlo error (10⁶ draws, modes
    # 9 std apart: no draw crosses a boundary) are both far below 1e-3.
    weights = grid_weights(fitted.ebm.log_unnormalised, target)
    assert (weights.weights - target.region_weights().weights).abs().max() < 1e-3
    assert abs(weights.log_z) < 1e-3  # p★ is normalised; its mass outside the box is ~1e-9


@pytest.mark.parametrize("name", ["four_modes", "rings"])
def test_oracle_potential_gradient_is_autograds(name):
    """From the mixture's score (Gaussian mixtures) or by autograd (rings): the same gradient as
    autograd's, compared in float64 (two computations of it)."""
    fitted = fit("oracle", get_method("oracle").test_config, problem(name, iterations=2))
    fitted.ebm.double()
    x = 2 * torch.randn(500, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    u, grad = fitted.ebm.potential_and_grad(x)
    expected_u, expected_grad = autograd_value_and_grad(fitted.ebm.potential, x)
    assert grad.dtype == torch.float64
    torch.testing.assert_close(u, expected_u)
    torch.testing.assert_close(grad, expected_grad)


def test_oracle_runs_and_counts_the_sweeps_of_its_budget():
    n, iterations, sweeps, pool, local = 16, 4, 3, 4, 2
    params = OracleParams(
        batch_size=n, pool_size=pool, local_steps=local, sweeps=sweeps, checkpoints=2
    )
    fitted = fit("oracle", params, problem("two_modes", iterations))
    # init: n energies and gradients; per sweep, i-SIR: n(pool − 1) energies of its pool and the
    # picked point's energy and gradient; each MALA step: n energies and gradients.
    total = iterations * sweeps
    assert fitted.counter.grad == n + total * n * (1 + local)
    assert fitted.counter.energy == n + total * n * (pool + local)
    assert [c.iteration for c in fitted.checkpoints] == [2, 4]


def test_pcd_restarts_five_percent_of_chains_from_noise():
    size, n, calls, restart = 1000, 256, 200, 0.05
    buffer = torch.arange(size, dtype=torch.float32)[:, None].repeat(1, 2)  # row i = (i, i)
    generator = torch.Generator().manual_seed(0)

    def noise(m: int, generator: torch.Generator) -> torch.Tensor:
        return torch.full((m, 2), -1.0)  # no buffer row holds −1

    restarted = 0
    for _ in range(calls):
        slots, starts, fresh = buffer_starts(buffer, n, restart, noise, generator)
        assert len(set(slots.tolist())) == n  # distinct slots: no chain is written back twice
        assert torch.equal(starts[~fresh], buffer[slots[~fresh]])
        assert (starts[fresh] == -1).all()
        restarted += int(fresh.sum())
    # Binomial(N = 51 200, 0.05): sd = √(0.05·0.95/N) ≈ 9.6e-4; allow 4 sd.
    total = n * calls
    assert abs(restarted / total - restart) < 4 * math.sqrt(restart * (1 - restart) / total)


def negatives_of_every_iteration(
    name: str, params: LangevinParams, iterations: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A run on four_modes keeping every iteration's negatives, (iterations, n, d), and the
    data's box (lo, hi), ((d,), (d,))."""
    four_modes = problem("four_modes", iterations)
    fitted = fit(name, params, four_modes)
    negatives = torch.stack([c.negatives for c in fitted.checkpoints])
    assert len(negatives) == iterations
    return negatives, four_modes.data.min(0).values, four_modes.data.max(0).values


# One ULA step of h = 1e-8 moves a point by ~1e-4: the negatives are where the chains started.
FROZEN = {"batch_size": 256, "steps": 1, "step_size": 1e-8, "checkpoints": 6, "noise": "uniform"}


def test_short_run_chains_start_from_fresh_noise_every_iteration():
    negatives, lo, hi = negatives_of_every_iteration("short_run", ShortRunParams(**FROZEN), 6)
    assert ((negatives >= lo - 1e-3) & (negatives <= hi + 1e-3)).all()
    # Independent U(lo, hi) draws: E|u − u′| = (hi − lo)/3, sd of |u − u′| = (hi − lo)/√18; over
    # 5 × 256 pairs the mean's relative sd is 3/√18/√1280 ≈ 0.02: allow 5 sd.
    step = (negatives[1:] - negatives[:-1]).abs().mean(dim=(0, 1))
    ratio = step / ((hi - lo) / 3)
    assert ((ratio - 1).abs() < 0.1).all(), ratio


def test_ula_ebm_chains_persist_between_iterations():
    negatives, _, _ = negatives_of_every_iteration("ula_ebm", ULAEBMParams(**FROZEN), 6)
    assert (negatives[1:] - negatives[:-1]).abs().max() < 1e-2


@pytest.mark.parametrize(("dim", "step"), [(2, 0.125**2 / 2), (16, 1e-3)])
def test_step_size_zero_means_the_paper_setting(dim, step):
    assert langevin_step_size(LangevinParams(), dim) == step
    assert langevin_step_size(LangevinParams(step_size=0.3), dim) == 0.3


def test_noise_is_uniform_in_2d_and_the_tilt_above():
    flat = problem("four_modes", iterations=1)
    x = make_noise(flat, LangevinParams())(10_000, torch.Generator().manual_seed(0))
    lo, hi = flat.data.min(0).values, flat.data.max(0).values
    assert ((x >= lo) & (x <= hi)).all()
    # U(lo, hi): mean (lo + hi)/2, sd (hi − lo)/√12; the mean of 10⁴ draws has sd (hi − lo)/346.
    assert ((x.mean(0) - (lo + hi) / 2).abs() < 5 * (hi - lo) / 346).all()

    high = problem("hd16", iterations=1, n=2000)
    z = make_noise(high, LangevinParams())(10_000, torch.Generator().manual_seed(0))
    # N(0, σ²I): the sd estimate from 10⁴ draws per dimension has relative sd 1/√(2·10⁴) ≈ 0.007.
    sigma = float(high.ebm.base_std)
    assert ((z.std(0) / sigma - 1).abs() < 5 * 0.007).all()
    assert (z.mean(0).abs() < 5 * sigma / 100).all()
