"""Known answers for the samplers: invariance of exact Gaussians, exact proposals, mode weights on
`two_modes`, evaluation counts, runs of equal cost and reproducibility.

Statistical checks start chains from exact draws and compare the chains' last positions, which
are iid across chains: the standard error of a mean is s/√n, of a Gaussian variance s²√(2/(n−1)),
of a mode weight √(w(1−w)/n), with n the number of chains.
"""

import math

import pytest
import torch
from tolerance import float32_tolerance

from benchmark.models.flows import Flow
from benchmark.samplers import (
    IMH,
    ISIR,
    MALA,
    ULA,
    FlowMC,
    NeuralTransportMALA,
    Potential,
    fit_flow_to_chains,
    run_for_cost,
    sample_chains,
)
from benchmark.targets import make_target

MEAN = torch.tensor([1.0, -2.0])
STD = torch.tensor([0.5, 2.0])
CHAINS = 4096


def _gaussian_potential() -> Potential:
    """U(x) = Σ (x − m)² / (2 s²) of N(m, diag s²)."""
    return Potential(lambda x: (((x - MEAN) / STD) ** 2).sum(-1) / 2)


def _gaussian_draws(generator, n=CHAINS):
    return MEAN + STD * torch.randn(n, 2, generator=generator)


def _assert_moments(x, mean, var, sigmas=4.0):
    """Per-coordinate mean and variance of iid draws x (n, d) within `sigmas` standard errors."""
    n = x.shape[0]
    assert ((x.mean(0) - mean).abs() <= sigmas * (var / n).sqrt()).all()
    assert ((x.var(0) - var).abs() <= sigmas * var * math.sqrt(2 / (n - 1))).all()


def _weights(target, x):
    return torch.bincount(target.assign_modes(x), minlength=target.n_modes).double() / len(x)


class _ExactProposal:
    """A target used as its own independent proposal; its "noise" is the draws themselves."""

    def __init__(self, target):
        self.target = target

    def sample_and_log_prob(self, n, generator):
        return self.from_noise(self.noise(n, generator))

    def noise(self, n, generator):
        return self.target.sample(n, generator)

    def from_noise(self, x):
        return x, self.target.log_prob(x)

    def log_prob(self, x):
        return self.target.log_prob(x)


def test_mala_leaves_a_gaussian_invariant():
    # h = 0.125 is large for the narrow axis (s = 0.5): ULA would inflate its variance by
    # 1/(1 − h/(2s²)) = 4/3 there, a gap of 15 standard errors that the MH correction must remove.
    generator = torch.Generator().manual_seed(0)
    mala = MALA(_gaussian_potential(), step_size=0.125)
    state, draws, infos = sample_chains(mala, mala.init(_gaussian_draws(generator)), 100, generator)
    assert draws.shape == (CHAINS, 100, 2)
    _assert_moments(draws[:, -1], MEAN, STD**2)
    acceptance = torch.stack([i.acceptance["local"] for i in infos]).mean()
    assert 0.3 < acceptance < 1  # it did reject (the correction was active), and did move


def test_ula_has_its_known_gaussian_bias():
    # For N(m, s²), x' = x − h(x − m)/s² + √(2h) ξ is linear: from exact draws the variance after
    # K steps is exactly c^{2K} s² + (1 − c^{2K}) V, c = 1 − h/s², V = s² / (1 − h / (2s²)).
    generator = torch.Generator().manual_seed(0)
    h, steps = 0.125, 100
    ula = ULA(_gaussian_potential(), step_size=h)
    state, draws, _ = sample_chains(ula, ula.init(_gaussian_draws(generator)), steps, generator)
    var = STD**2
    c2k = (1 - h / var) ** (2 * steps)
    expected = c2k * var + (1 - c2k) * var / (1 - h / (2 * var))
    _assert_moments(draws[:, -1], MEAN, expected)
    # The bias on the narrow axis is resolved: the variance is not s².
    assert (draws[:, -1, 0].var() - var[0]).abs() > 4 * var[0] * math.sqrt(2 / (CHAINS - 1))


def test_imh_with_the_target_as_proposal_accepts_everything(generator):
    target = make_target("two_modes")
    potential = Potential(lambda x: -target.log_prob(x))
    imh = IMH(potential, _ExactProposal(target))
    start = target.sample(CHAINS, generator)
    state, draws, infos = sample_chains(imh, imh.init(start), 5, generator)
    for info in infos:
        assert torch.equal(info.acceptance["global"], torch.ones(CHAINS))
    se = math.sqrt(2 / 9 / CHAINS)
    assert (_weights(target, draws[:, -1]) - torch.tensor([1 / 3, 2 / 3])).abs().max() <= 4 * se
    # init: U and ∇U at every chain; each step: U and ∇U at every proposal.
    assert (potential.counter.energy, potential.counter.grad) == (6 * CHAINS, 6 * CHAINS)


def test_isir_with_the_target_as_proposal_keeps_exact_draws_exact(generator):
    target = make_target("two_modes")
    potential = Potential(lambda x: -target.log_prob(x))
    pool, steps = 8, 5
    isir = ISIR(potential, _ExactProposal(target), pool)
    start = target.sample(CHAINS, generator)
    state, draws, infos = sample_chains(isir, isir.init(start), steps, generator)
    # π/λ is constant: the pick is uniform over the pool, so a chain moves w.p. (N − 1)/N.
    p_move = (pool - 1) / pool
    moved = torch.stack([i.acceptance["global"] for i in infos])
    assert ((moved.mean(1) - p_move).abs() <= 4 * math.sqrt(p_move * (1 - p_move) / CHAINS)).all()
    se = math.sqrt(2 / 9 / CHAINS)
    assert (_weights(target, draws[:, -1]) - torch.tensor([1 / 3, 2 / 3])).abs().max() <= 4 * se
    mean = target.weights @ target.means
    x = draws[:, -1]
    assert ((x.mean(0) - mean).abs() <= 4 * x.std(0) / math.sqrt(CHAINS)).all()
    # init: U, ∇U per chain; per step: U at N − 1 fresh points per chain, U and ∇U at the pick.
    assert potential.counter.energy == CHAINS + steps * CHAINS * pool
    assert potential.counter.grad == CHAINS + steps * CHAINS


def _flowmc_on_two_modes(start, seed):
    """flowMC on `two_modes` from `start` (n, 2): train its flow on its own chains, then run the
    production sweeps; returns the last positions and the evaluation counter."""
    target = make_target("two_modes")
    chains, pool, local, train, production = start.shape[0], 16, 4, 50, 10
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the flow's initial parameters
    flow = Flow(2, base_std=3.0)
    potential = Potential(lambda x: -target.log_prob(x))
    sampler = FlowMC(
        MALA(potential, 0.01, target_accept=0.6),
        ISIR(potential, flow, pool),
        [("global", 1), ("local", local)],
    )
    state = fit_flow_to_chains(sampler, flow, sampler.init(start), train, generator, lr=1e-2)
    state, draws, _ = sample_chains(sampler, state, production, generator)
    sweeps = train + production
    expected_energy = chains + sweeps * chains * (pool - 1 + 1 + local)
    expected_grad = chains + sweeps * chains * (1 + local)
    assert (potential.counter.energy, potential.counter.grad) == (expected_energy, expected_grad)
    return draws[:, -1]


def _ula_on_two_modes(start, seed):
    """ULA chains (n, draws, 2) on `two_modes` from `start`."""
    target = make_target("two_modes")
    ula = ULA(Potential(lambda x: -target.log_prob(x)), step_size=0.01)
    generator = torch.Generator().manual_seed(seed)
    return sample_chains(ula, ula.init(start), 300, generator)[1]


@pytest.mark.parametrize("scale", [3.0, 0.5])
def test_flowmc_recovers_the_weights_that_ula_cannot(scale):
    target = make_target("two_modes")
    chains = 1024
    truth = torch.tensor([1 / 3, 2 / 3], dtype=torch.float64)
    se = math.sqrt(2 / 9 / chains)
    start = scale * torch.randn(chains, 2, generator=torch.Generator().manual_seed(1))
    flowmc = _weights(target, _flowmc_on_two_modes(start, seed=2))
    assert (flowmc - truth).abs().max() <= 3 * se

    draws = _ula_on_two_modes(start, seed=2)
    labels = target.assign_modes(draws.reshape(-1, 2)).view(chains, -1)[:, 100:]
    assert torch.equal(labels, labels[:, :1].expand_as(labels))  # no chain ever crosses
    ula = _weights(target, draws[:, -1])
    if scale == 0.5:
        # From N(0, 0.5² I) the basin of the left mode holds ≈ 22 % of the starts, and ULA
        # reports that split. (From N(0, 3² I) the split happens to be ≈ 0.36, too close to 1/3
        # to tell apart with 1024 chains: ULA is right there by chance, not by mixing.)
        assert (ula - truth).abs().max() > 5 * se


def test_neural_transport_mala_with_identity_flow_is_mala():
    torch.manual_seed(0)
    flow = Flow(2, base_std=1.0)

    def run(sampler):
        generator = torch.Generator().manual_seed(3)
        start = _gaussian_draws(generator, 512)
        return sample_chains(sampler, sampler.init(start), 20, generator)[1]

    nt_potential, mala_potential = _gaussian_potential(), _gaussian_potential()
    nt = run(NeuralTransportMALA(nt_potential, flow, step_size=0.125))
    mala = run(MALA(mala_potential, step_size=0.125))
    # the same arithmetic but for the flow's identity map (x · exp(0) + 0, log-det 0): float32
    # rounding of 20 steps of a few dozen operations on the Gaussian's U and ∇U
    torch.testing.assert_close(nt, mala, **float32_tolerance(20 * 30, float(mala.abs().max())))
    expected = {"energy": 21 * 512, "grad": 21 * 512}  # init + 20 steps, U and ∇U per chain
    assert vars(mala_potential.counter) == expected | {"flow": 0}
    # and the flow's passes: T⁻¹ and U_z at the init, U_z at each step's proposal, T(z) for each
    # step's position: 2 + 20 + 20 per chain
    assert vars(nt_potential.counter) == expected | {"flow": 42 * 512}
    assert torch.equal(nt, run(NeuralTransportMALA(_gaussian_potential(), flow, 0.125)))


def test_neural_transport_mala_leaves_the_target_invariant_through_a_flow():
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    flow = Flow(2, base_std=1.0)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=generator))
    sampler = NeuralTransportMALA(_gaussian_potential(), flow, step_size=0.05)
    start = _gaussian_draws(generator)
    with torch.no_grad():
        assert (flow.to_latent(start) - start).abs().max() > 0.1  # not the identity
    state, draws, _ = sample_chains(sampler, sampler.init(start), 30, generator)
    _assert_moments(draws[:, -1], MEAN, STD**2)


def test_same_seed_gives_identical_flowmc_chains():
    def run():
        torch.manual_seed(0)
        flow = Flow(2, base_std=1.0)
        potential = _gaussian_potential()
        sampler = FlowMC(MALA(potential, 0.1), ISIR(potential, flow, 4))
        generator = torch.Generator().manual_seed(5)
        return sample_chains(sampler, sampler.init(_gaussian_draws(generator, 64)), 5, generator)[1]

    assert torch.equal(run(), run())


def test_mala_step_size_changes_only_in_adapt(generator):
    mala = MALA(_gaussian_potential(), step_size=0.01, target_accept=0.6)
    state, info = mala.step(mala.init(_gaussian_draws(generator, 256)), generator)
    assert mala.step_size == 0.01
    mala.adapt(info)  # acceptance ≈ 1 at a tiny step: the step grows
    assert mala.step_size > 0.01


def test_flowmc_rejects_a_bad_schedule():
    potential = _gaussian_potential()
    flow = Flow(2, base_std=1.0)
    with pytest.raises(ValueError, match="schedule"):
        FlowMC(MALA(potential, 0.1), ISIR(potential, flow, 4), [("global", 1), ("mala", 2)])


def test_cost_units_count_a_gradient_as_two_energy_evaluations():
    potential = _gaussian_potential()
    x = torch.zeros(10, 2)
    potential.value(x)  # 10 energy-only evaluations
    potential.value_and_grad(x[:3])  # 3 gradients (each also an energy evaluation)
    assert (potential.counter.energy, potential.counter.grad) == (13, 3)
    assert potential.counter.cost == 10 + 2 * 3


def test_samplers_of_different_step_cost_run_for_the_same_cost_per_chain(generator):
    # MALA costs 2 units a step (one gradient); a flowMC sweep of 1 i-SIR move (pool 8: 7 energy
    # evaluations, 1 gradient at the pick) and 2 MALA steps costs 7 + 2 + 4 = 13. With a budget
    # of 260 units per chain, MALA runs 130 steps and flowMC 20 sweeps (exactly 260 each), and a
    # budget of 250 stops at the first step reaching it: 125 steps, 20 sweeps (260 units).
    target = make_target("two_modes")
    for budget, mala_steps, sweeps in ((260, 130, 20), (250, 125, 20)):
        runs = {}
        for name in ("mala", "flowmc"):
            potential = Potential(lambda x: -target.log_prob(x))
            local = MALA(potential, 0.01)
            sampler = local
            if name == "flowmc":
                global_move = ISIR(potential, _ExactProposal(target), pool_size=8)
                sampler = FlowMC(local, global_move, [("global", 1), ("local", 2)])
            state = sampler.init(target.sample(64, generator))
            before = potential.counter.cost
            steps = list(run_for_cost(sampler, state, potential.counter, budget, generator))
            cost = (potential.counter.cost - before) / 64
            assert steps[-1][2] == cost
            runs[name] = (len(steps), cost)
        assert runs == {"mala": (mala_steps, 2 * mala_steps), "flowmc": (sweeps, 13 * sweeps)}
    # At least `min_steps`, whatever the budget; a sampler counting nothing is an error.
    potential = _gaussian_potential()
    mala = MALA(potential, 0.1)
    state = mala.init(_gaussian_draws(generator, 8))
    assert len(list(run_for_cost(mala, state, potential.counter, 0, generator, min_steps=3))) == 3
    with pytest.raises(ValueError, match="not counted"):
        list(run_for_cost(mala, state, Potential(lambda x: x.sum(-1)).counter, 10, generator))
