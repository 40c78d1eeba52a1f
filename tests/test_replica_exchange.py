"""Replica exchange: the cold rung recovers mode weights that a local sampler cannot, swaps follow
the exact Metropolis ratio, the ladder is geometric, and the cost is K gradients per chain."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.samplers import (
    Potential,
    ReplicaExchange,
    State,
    geometric_ladder,
    swap_log_acceptance,
)
from benchmark.targets import make_target


def test_the_default_ladder_is_geometric_from_one():
    betas = geometric_ladder(4, 0.001)
    assert torch.allclose(betas, torch.tensor([1.0, 0.1, 0.01, 0.001]))
    assert geometric_ladder(1, 0.5).tolist() == [1.0]
    with pytest.raises(ValueError):
        geometric_ladder(3, 0.0)


def _two_modes_sampler(rungs: int, beta_min: float) -> tuple[ReplicaExchange, Potential]:
    target = make_target("two_modes")
    potential = Potential(lambda x: -target.log_prob(x))
    betas = geometric_ladder(rungs, beta_min)
    return ReplicaExchange(potential, 2.0, betas, 0.02, target_accept=0.6), potential


def _run(sampler: ReplicaExchange, start: torch.Tensor, steps: int, adapt: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    state = sampler.init(start)
    for i in range(steps):
        state, info = sampler.step(state, generator)
        if i < adapt:
            sampler.adapt(info)
    return state.x


def test_the_cold_rung_recovers_the_weights_from_one_mode():
    """two_modes (weights 1/3, 2/3; the gap between them ≈ 45 nats of energy): 1024 chains, all
    started on the light mode. Each chain's last cold position is one independent draw once the
    chains have mixed, so each weight's estimate has the binomial standard error √(p(1−p)/n);
    MALA alone (one rung) never leaves the start's mode."""
    target = make_target("two_modes")
    chains, steps, adapt = 1024, 400, 150
    start = target.means[0].expand(chains, 2).clone()
    truth = torch.tensor([1 / 3, 2 / 3], dtype=torch.float64)
    se = math.sqrt(2 / 9 / chains)

    sampler, potential = _two_modes_sampler(rungs=8, beta_min=0.01)
    x = _run(sampler, start, steps, adapt)
    weights = torch.bincount(target.assign_modes(x), minlength=2).double() / chains
    assert (weights - truth).abs().max() <= 4 * se
    # K gradients per chain per step, and the initial evaluation of every rung
    assert potential.counter.grad == 8 * chains * (steps + 1)

    local, _ = _two_modes_sampler(rungs=1, beta_min=1.0)
    x = _run(local, start, steps, adapt)
    assert (target.assign_modes(x) == 0).all()


def test_swap_acceptance_is_the_metropolis_ratio_of_the_tempered_pair():
    """β = (1, 0.5), energies relative to the tilt E = (1, 3): log ratio (1 − 0.5)(1 − 3) = −1,
    so a swap passes iff u < e⁻¹ ≈ 0.368; with E = (3, 1) it is +1 and always passes."""
    betas = torch.tensor([1.0, 0.5])
    sampler = ReplicaExchange(Potential(lambda x: x.sum(-1)), 1.0, betas, 0.1)
    energies = torch.tensor([[1.0, 1.0, 3.0], [3.0, 3.0, 1.0]])  # (K, n): three chains
    assert torch.allclose(swap_log_acceptance(betas, energies), torch.tensor([[-1.0, -1.0, 1.0]]))

    x = torch.ones(2, 3, 1)  # rung 0 at −1, rung 1 at +1: the tilt's |x|²/2σ² = 1/2 at both
    x[0] = -1.0
    ladder = State(x, energies + 0.5, torch.zeros_like(x))
    uniform = torch.tensor([[math.exp(-1) - 1e-3, math.exp(-1) + 1e-3, 0.999]])
    swapped, share = sampler.swap(ladder, uniform, parity=0)
    assert swapped.x[0, :, 0].tolist() == [1.0, -1.0, 1.0]  # chains 0 and 2 swapped, 1 not
    assert swapped.potential[0].tolist() == [3.5, 1.5, 1.5]
    assert share.tolist() == [1.0, 0.0, 1.0]


def test_swap_acceptance_rate_matches_its_expectation():
    """Two rungs at fixed positions: over many uniforms the accepted share is min(1, e^{−1})."""
    betas = torch.tensor([1.0, 0.5])
    sampler = ReplicaExchange(Potential(lambda x: x.sum(-1)), 1.0, betas, 0.1)
    n = 20_000
    x = torch.zeros(2, n, 1)
    ladder = State(x, torch.tensor([[1.0], [3.0]]).expand(2, n), torch.zeros_like(x))
    uniform = torch.rand(1, n, generator=torch.Generator().manual_seed(0))
    _, share = sampler.swap(ladder, uniform, parity=1)  # one pair: proposed whatever the parity
    p = math.exp(-1)
    assert abs(float(share.mean()) - p) <= 4 * math.sqrt(p * (1 - p) / n)


def test_a_ladder_must_start_at_one_and_decrease():
    potential = Potential(lambda x: x.sum(-1))
    for betas in ([0.5, 0.1], [1.0, 1.0], [1.0, 0.5, 0.7], [1.0, -0.5]):
        with pytest.raises(ValueError, match="betas"):
            ReplicaExchange(potential, 1.0, torch.tensor(betas), 0.1)


def test_the_oracle_with_replica_exchange_recovers_the_weights_at_flowmcs_cost():
    """The oracle row with `sampler = "replica_exchange"` on two_modes: 256 chains from ρ, 40
    iterations of `replica_exchange_steps()` steps (flowMC's cost per chain: 2 sweeps of 8 MALA
    gradients and an i-SIR pool of 63 energies, 158 units, is 20 steps of 4 rungs); its final
    chains hold the weights within 4 binomial standard errors."""
    from benchmark.models.energy import MLPEnergy, TiltedEBM, base_std_from_data
    from benchmark.suite.registry import get_method, load_methods
    from benchmark.training.method import Problem

    load_methods()
    target = make_target("two_modes")
    data = target.sample(2000, torch.Generator().manual_seed(0))
    ebm = TiltedEBM(MLPEnergy(2), 2, base_std_from_data(data))
    spec = get_method("oracle")
    params = spec.configure({"sampler": "replica_exchange", "beta_min": 0.01, "rungs": 8})
    assert spec.configure({}).sampler == "flowmc"  # the default row is unchanged
    chains, iterations, steps = params.batch_size, 40, params.replica_exchange_steps()
    assert steps == round(2 * (2 * 8 + 63) / (2 * 8))
    fitted = spec.fit(
        Problem(data, ebm, iterations, target),
        params,
        torch.Generator().manual_seed(1),
        lambda i: None,
    )
    assert fitted.counter.grad == 8 * chains * (1 + iterations * steps)
    weights = torch.bincount(target.assign_modes(fitted.start), minlength=2).double() / chains
    truth = torch.tensor([1 / 3, 2 / 3], dtype=torch.float64)
    assert (weights - truth).abs().max() <= 4 * math.sqrt(2 / 9 / chains)
