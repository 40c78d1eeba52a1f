"""flowMC-EBM: the EBM's own mode weights, evaluation counts, reproducibility."""

import dataclasses

import pytest
import torch

from benchmark.metrics import grid_weights, weight_tv
from benchmark.models.energy import MLPEnergy, TiltedEBM, base_std_from_data
from benchmark.suite.registry import get_method, load_methods
from benchmark.targets import make_target
from benchmark.training.method import VIEW_DRAWS, Problem


def _spec():
    load_methods()
    return get_method("flowmc_ebm")


def _train(params, iterations, seed=0, n_data=10_000, name="two_modes"):
    """Fit flowMC-EBM on a preset; the global seed is set only for parameter initialisation (the
    EBM here, the flow inside `fit`), every draw comes from explicit generators. Returns the
    fitted model and the TV of the untrained EBM's own weights to the truth."""
    target = make_target(name)
    data = target.sample(n_data, torch.Generator().manual_seed(100 + seed))
    torch.manual_seed(seed)
    ebm = TiltedEBM(MLPEnergy(2), 2, base_std_from_data(data))
    initial_tv = weight_tv(grid_weights(ebm.log_unnormalised, target).weights, _truth(target))
    problem = Problem(data, ebm, iterations, target)
    fitted = _spec().fit(problem, params, torch.Generator().manual_seed(seed), lambda i: None)
    return fitted, initial_tv


def _truth(target):
    return target.region_weights().weights


def _own_weights_tv(fitted, name):
    target = make_target(name)
    own = grid_weights(fitted.ebm.log_unnormalised, target).weights
    return weight_tv(own, _truth(target))


def test_smoke_run_shapes_and_evaluation_counts():
    params = _spec().test_config
    iterations = 6
    fitted, _ = _train(params, iterations, n_data=500)
    n = params.batch_size
    # negatives: every iteration's batch (fewer than VIEW_DRAWS); initial: VIEW_DRAWS flow draws
    assert fitted.start.shape == (n, 2) and fitted.negatives.shape == (iterations * n, 2)
    assert fitted.initial.shape == (VIEW_DRAWS, 2)
    assert torch.equal(fitted.negatives[-n:], fitted.start)  # the last batch: the chains' state
    assert torch.isfinite(fitted.negatives).all()
    assert [c.iteration for c in fitted.checkpoints] == [3, 6]
    # Per iteration: the chains' state is refreshed (U, ∇U at n points), then per sweep one
    # i-SIR move (U at N − 1 fresh points per chain, U and ∇U at the pick) and the MALA steps.
    per_sweep_energy = n * (params.pool_size - 1) + n + params.local_steps * n
    per_sweep_grad = n + params.local_steps * n
    expected_energy = iterations * (n + params.sweeps * per_sweep_energy)
    expected_grad = iterations * (n + params.sweeps * per_sweep_grad)
    assert (fitted.counter.energy, fitted.counter.grad) == (expected_energy, expected_grad)
    # Flow passes: the chains' start (n draws), then per iteration and sweep the i-SIR pool's
    # N − 1 draws and the current state's log density per chain, and the flow's fit (n points);
    # the VIEW_DRAWS initial draws are the evaluation's, not training's.
    per_iteration_flow = params.sweeps * n * params.pool_size + n
    assert fitted.counter.flow == n + iterations * per_iteration_flow
    # each checkpoint holds the cost so far: the start and its iterations'
    spent = [(c.spent.energy, c.spent.grad, c.spent.flow) for c in fitted.checkpoints]
    assert spent == [
        (i * expected_energy // iterations, i * expected_grad // iterations,
         n + i * per_iteration_flow)
        for i in (3, 6)
    ]  # fmt: skip


def test_same_seed_gives_identical_results():
    params = _spec().params()
    first, _ = _train(params, 8, n_data=2000)
    second, _ = _train(params, 8, n_data=2000)
    state_1, state_2 = first.ebm.energy.state_dict(), second.ebm.energy.state_dict()
    assert all(torch.equal(state_1[k], state_2[k]) for k in state_1)
    assert torch.equal(first.negatives, second.negatives)
    assert torch.equal(first.initial, second.initial)
    other, _ = _train(params, 8, seed=1, n_data=2000)
    assert not torch.equal(first.negatives, other.negatives)


def test_short_run_learns_the_mode_weights():
    # A short version of the tests below: 100 iterations, halved batch and pool, learning rates
    # raised to 5e-3 so the cosine schedule still converges. On `four_modes`, where the untrained
    # EBM (ρ) is far from the truth, so that TV ≤ 0.05 can fail.
    params = dataclasses.replace(
        _spec().params(), batch_size=128, pool_size=32, lr=5e-3, flow_lr=5e-3
    )
    fitted, initial_tv = _train(params, 100, name="four_modes")
    assert initial_tv > 0.1
    assert _own_weights_tv(fitted, "four_modes") <= 0.05


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two_modes", "four_modes"])
def test_default_run_learns_the_mode_weights(name):
    # On `two_modes` the untrained EBM ρ already has TV ≈ 0.02 (the region of the wider mode is
    # larger), so there TV ≤ 0.05 alone is a weak check; `four_modes` (ρ: TV > 0.1) is not.
    fitted, _ = _train(_spec().params(), 500, name=name)
    assert _own_weights_tv(fitted, name) <= 0.05
