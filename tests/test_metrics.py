"""Known answers for the metrics: diagnostics on iid and stuck chains, switches between modes
(calibrated on exact and confined draws), whole-space density weights of exact and planted
densities, "not estimable" importance sampling and its standard errors against repeated
estimates, log-density error, weight distances (the C2ST: tests/test_c2st.py)."""

import math

import pytest
import torch

from benchmark.metrics import (
    MODE_CONFIDENCE,
    DefensiveMixture,
    DiagonalGaussians,
    convergence,
    defensive_proposal,
    draw_importance,
    erasures,
    ess,
    grid_weights,
    importance_weights,
    log_density_error,
    min_ess,
    mode_switches,
    rhat,
    sample_weights,
    weight_max_error,
    weight_mse,
    weight_mse_floor,
    weight_tv,
)
from benchmark.targets import confident_component, make_target

CHAINS, DRAWS = 8, 1000


def _rhat_tolerance():
    """For iid draws, split R-hat over m = 2·CHAINS half-chains of n = DRAWS/2 draws satisfies
    R̂² = (n−1)/n + (B/W)/n with B/W ~ χ²_{m−1}/(m−1): R̂ − 1 has sd √(2/(m−1)) / (2n) and
    R̂ ≥ 1 − 1/(2n). Six sd above: rank R-hat is a max over dims and bulk/tail versions."""
    m, n = 2 * CHAINS, DRAWS // 2
    return 1 - 1 / (2 * n), 1 + 6 * math.sqrt(2 / (m - 1)) / (2 * n)


def _component_draws(target, component, shape, generator):
    """Draws (*shape, d) of one component of a Gaussian mixture."""
    noise = torch.randn(*shape, target.dim, generator=generator)
    return target.means[component] + target.variances[component].sqrt() * noise


def test_diagnostics_reject_transposed_draws(generator):
    draws = torch.randn(CHAINS, DRAWS, 2, generator=generator)
    with pytest.raises(ValueError, match="chains"):
        rhat(draws.transpose(0, 1), chains=CHAINS)
    with pytest.raises(ValueError, match="chains"):
        ess(draws.transpose(0, 1), chains=CHAINS)
    with pytest.raises(ValueError, match="chains"):
        mode_switches(torch.zeros(DRAWS, CHAINS, dtype=torch.long), chains=CHAINS)


def test_rhat_and_ess_on_iid_draws(generator):
    draws = torch.randn(CHAINS, DRAWS, 2, generator=generator)
    low, high = _rhat_tolerance()
    assert low <= rhat(draws, chains=CHAINS) <= high
    # ESS = N / τ̂ with τ̂ = 1 + 2 Σ ρ̂_t over the lags Geyer's rule keeps; for iid draws each
    # ρ̂_t has sd 1/√N, so τ̂ − 1 has sd ≈ 2/√N (ρ̂₁, plus ≈ √2/√N per further kept pair).
    # Min over dims and tail ESS included: within 8/√N.
    total = CHAINS * DRAWS
    for kind in ("bulk", "tail"):
        assert abs(ess(draws, chains=CHAINS, kind=kind) / total - 1) <= 8 / math.sqrt(total)


def test_rhat_flags_chains_split_between_modes(generator):
    target = make_target("two_modes")
    half = CHAINS // 2
    left = _component_draws(target, 0, (half, DRAWS), generator)
    right = _component_draws(target, 1, (half, DRAWS), generator)
    assert rhat(torch.cat([left, right]), chains=CHAINS) > 1.1


def test_stuck_chains_fool_rhat_but_not_the_switch_rate(generator):
    # Every chain sits in the same mode: R-hat sees iid draws and says 1; the switch rate says
    # no chain ever moved between modes.
    target = make_target("two_modes")
    draws = _component_draws(target, 1, (CHAINS, DRAWS), generator)
    low, high = _rhat_tolerance()
    assert low <= rhat(draws, chains=CHAINS) <= high
    cores = confident_component(target, draws.reshape(-1, 2), MODE_CONFIDENCE)
    assert bool((cores.view(CHAINS, DRAWS) >= 0).any())
    assert mode_switches(cores.view(CHAINS, DRAWS), chains=CHAINS).sum() == 0


def _mode_labels(target, x):
    """The component each draw x (..., d) is confidently in, −1 where none: (...)."""
    flat = x.reshape(-1, target.dim)
    return confident_component(target, flat, MODE_CONFIDENCE).view(x.shape[:-1])


def _switches_of_independent_draws(target, draw, generator, chains=64, transitions=400):
    """Mean switches per chain of chains of independent draws (`draw(shape)` -> (*shape, d)), and
    their expected number with its tolerance. Each draw is confidently in component k with
    probability c_k (C = Σ c_k), so a chain's mode (its last such component) is j with
    probability c_j / C in the long run, and the next draw switches it with probability C − c_j:
    Σ_j (c_j / C)(C − c_j) = C − Σ c_j² / C per transition. A chain has no mode until its first
    confident draw, which precedes transition t with probability 1 − (1 − C)^t: the expected count
    over T transitions is the rate times Σ_t 1 − (1 − C)^t. c_k from 2¹⁸ more draws (a tenth of
    the chains' error, not counted); per-chain counts are independent, so the tolerance is 4
    standard errors of their mean."""
    labels = _mode_labels(target, draw((2**18,)))
    c = torch.stack([(labels == k).double().mean() for k in range(target.n_modes)])
    total = float(c.sum())
    rate = total - float((c**2).sum()) / total if total > 0 else 0.0
    expected = rate * sum(1 - (1 - total) ** t for t in range(1, transitions + 1))
    counts = mode_switches(_mode_labels(target, draw((chains, transitions + 1))), chains=chains)
    counts = counts.double()
    return float(counts.mean()), expected, 4 * float(counts.std()) / math.sqrt(chains)


@pytest.mark.parametrize("name", ["four_modes", "hd16"])
def test_switches_of_exact_and_of_confined_draws_have_their_closed_form(name, generator):
    # Independent exact draws of p★ (a sampler that mixes perfectly) and independent draws of
    # its lightest component alone (a sampler confined to one mode), each against the closed
    # form: four_modes 0.70 vs 0 switches per transition; hd16, whose components overlap, 0.26 vs
    # the confined draws' rare confident visits to a neighbour (≈ 0.005).
    target = make_target(name)
    exact = lambda shape: target.sample(math.prod(shape), generator).view(*shape, -1)  # noqa: E731
    confined = lambda shape: _component_draws(target, 0, shape, generator)  # noqa: E731
    mixing, expected_mixing, tolerance = _switches_of_independent_draws(target, exact, generator)
    assert abs(mixing - expected_mixing) <= tolerance
    stuck, expected_stuck, tolerance = _switches_of_independent_draws(target, confined, generator)
    assert abs(stuck - expected_stuck) <= tolerance
    assert stuck < mixing / 10


@pytest.mark.parametrize("block", [1, 4, 25])
def test_mode_switches_of_an_alternating_sequence(block):
    # Cores alternate between two modes every `block` steps: 100 transitions hold 100 / block
    # switches per chain.
    cores = (torch.arange(101) // block % 2).expand(3, 101)
    assert mode_switches(cores, chains=3).tolist() == [100 // block] * 3


def test_flicker_across_a_region_boundary_is_not_a_switch():
    # four_modes: modes at x = −1 and 1 (std 0.22), region boundary x = 0. The chain sits at −1,
    # flickers across the boundary (x = ±0.05, in neither core: 1 is 4.5 std away), goes to 1,
    # flickers again, and comes back to −1: 2 switches. Region labels would count 6 changes.
    target = make_target("four_modes")
    path = [-1.0, -0.9, -0.05, 0.05, -0.05, 0.05, -1.1, 0.05, 1.0, 0.9, -0.05, 0.05, 1.0, -1.0]
    x = torch.tensor([[p, 0.0] for p in path])
    regions = target.assign_modes(x)
    assert int((regions[1:] != regions[:-1]).sum()) > 6
    cores = confident_component(target, x, MODE_CONFIDENCE).view(1, -1)
    assert cores.tolist() == [[1, 1, -1, -1, -1, -1, 1, -1, 2, 2, -1, -1, 2, 1]]
    assert mode_switches(cores, chains=1).tolist() == [2]
    # A chain that starts between cores has no mode until it enters one: no switch for that.
    assert mode_switches(torch.tensor([[-1, -1, 0, -1, 0, 3]]), chains=1).tolist() == [1]


@pytest.mark.parametrize("name", ["two_modes", "four_modes", "eight_gaussians", "rings"])
def test_grid_weights_of_the_exact_density(name):
    target = make_target(name)
    result = grid_weights(target.log_prob, target)
    reference, stderr = target.region_weights()
    # region_weights is exact (rings, eight_gaussians) or Monte Carlo with stderr ≤ 4e-5 here.
    assert (result.weights - reference).abs().max() <= 1e-3
    assert abs(result.log_z) <= 1e-3
    assert result.ess is None and result.not_estimable is None
    # Outside every 99.9 % region: at most 1e-3 of p★ (less where regions overlap).
    assert 0 < result.mass_far <= 1e-3 + 1e-4


def planted(target, share: float, centre: list[float], variance: float):
    """log q for q = (1 − s) p★ + s N(c, v I), normalised."""
    c = torch.tensor(centre)

    def log_q(x):
        spurious = -0.5 * ((x - c) ** 2).sum(-1) / variance
        spurious = spurious - 0.5 * target.dim * math.log(2 * math.pi * variance)
        return torch.logaddexp(math.log(1 - share) + target.log_prob(x), math.log(share) + spurious)

    return log_q


def test_grid_weights_find_a_spurious_mode_outside_the_target_box_when_covered():
    # q = 0.8 p★ + 0.2 N(c, 0.1 I) with c = (−5, 9), outside four_modes' box ±4.1 and nearest
    # to mode 0 (−3, 0). Exactly: weights 0.8 w★ + 0.2 e₀, log Z = 0, far mass 0.2 + 0.8·(far
    # mass of p★, ≤ 1e-3).
    target = make_target("four_modes")
    log_q = planted(target, 0.2, [-5.0, 9.0], 0.1)
    truth = 0.8 * target.region_weights().weights + 0.2 * torch.eye(4)[0]
    found = grid_weights(log_q, target, cover=torch.tensor([[-5.0, 9.0]]))
    assert (found.weights - truth).abs().max() <= 1e-3
    assert abs(found.log_z) <= 1e-3 and 0.2 <= found.mass_far <= 0.2 + 1e-3
    assert found.not_estimable is None and found.edge_mass < 1e-6
    # Without a point there the box (±4.9 with its margin) never reaches it — its edge is 13
    # std from c, so light; the wide scan over 8 times the box finds the mode and takes it in.
    scanned = grid_weights(log_q, target)
    assert abs(scanned.log_z) <= 1e-3 and (scanned.weights - truth).abs().max() <= 1e-3


def test_grid_weights_find_a_mode_far_outside_every_box_by_the_wide_scan():
    # q = 0.8 p★ + 0.2 N((0, 40), 0.1 I): 40 is 36 box half-widths beyond four_modes' box ±4.1
    # and no point covers it; the wide scan (8 × the box, ±122 here with the tilt's cover) sees
    # it. Exactly: log Z = 0, far mass 0.2 + 0.8·(p★'s, ≤ 1e-3).
    target = make_target("four_modes")
    log_q = planted(target, 0.2, [0.0, 40.0], 0.1)
    found = grid_weights(log_q, target, cover=torch.tensor([[-13.9, -13.9], [13.9, 13.9]]))
    assert abs(found.log_z) <= 3 * found.log_z_stderr + 1e-4
    assert 0.2 <= found.mass_far <= 0.2 + 1e-3 and found.not_estimable is None


def test_grid_weights_resolve_a_spike_narrower_than_a_cell_that_a_draw_visits():
    # q = 0.8 p★ + 0.2 N(c, 1e-6 I), c = (0.003, 0.004) — standard deviation 1e-3, a thousandth
    # of the first grid's cell (≈ 0.04 over the box ±4.9): its midpoints never see it. With 100
    # draws of the spike as probes the leaves holding them are split until it is resolved:
    # log Z = 0 within the stated error, which is not 0 (the refinement's own error estimate).
    target = make_target("four_modes")
    centre = torch.tensor([0.003, 0.004])
    log_q = planted(target, 0.2, centre.tolist(), 1e-6)
    probes = centre + 1e-3 * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    found = grid_weights(log_q, target, cover=probes)
    assert 0 < found.log_z_stderr <= 1e-3
    assert abs(found.log_z) <= 3 * found.log_z_stderr + 1e-4 and found.not_estimable is None
    # Without any draw there it is invisible: log Z = log 0.8, a limit docs/SCIENCE.md §7.4 states.
    assert grid_weights(log_q, target).log_z == pytest.approx(math.log(0.8), abs=2e-3)
    # With too small a budget the spike is flagged, not silently missed.
    short = grid_weights(log_q, target, cover=probes, budget=5 * 256**2 + 2**12)
    assert short.not_estimable is not None and "quadrature error estimate" in short.not_estimable


def test_grid_weights_grow_the_box_over_mass_at_its_edge():
    # A wide Gaussian N(0, 3² I) over four_modes' box ±4.1 (which holds ≈ 83 % of it): the box
    # grows until its edge is light and finds all the mass.
    target = make_target("four_modes")
    wide = lambda x: -0.5 * (x**2).sum(-1) / 9 - math.log(2 * math.pi * 9)  # noqa: E731
    found = grid_weights(wide, target)
    assert abs(found.log_z) <= 1e-4 and found.edge_mass <= 1e-6
    # A density with no finite mass (log p = −½ log(1 + |x|²)) cannot be held: not estimable.
    improper = lambda x: -0.5 * torch.log1p((x**2).sum(-1))  # noqa: E731
    assert "edge mass" in grid_weights(improper, target).not_estimable


def test_importance_weights_of_the_exact_density_in_16_d():
    target = make_target("hd16")
    generator = torch.Generator().manual_seed(0)
    proposal = defensive_proposal(target, 1.2, target.sample(4096, generator), None, generator)
    n = 2**16
    result = importance_weights(
        target.log_prob, target, draw_importance(proposal, target, n, generator)
    )
    reference = target.region_weights().weights  # exact (closed form)
    assert ((result.weights - reference).abs() <= 3 * result.stderr).all()
    # The relative variance of Ẑ (a mean of n weights) is ≈ 1/ESS − 1/n: sd of log Ẑ.
    assert result.ess is not None and 0.1 * n < result.ess <= n
    assert abs(result.log_z) <= 3 * math.sqrt(1 / result.ess - 1 / n)
    assert result.not_estimable is None and result.khat < 0.7


def test_importance_sampling_carried_by_a_few_draws_is_not_estimable():
    # An EBM N(0, 5² I), far broader than p★, met by proposals at p★'s modes only: the few draws
    # in the proposals' tails carry huge weights (ESS ≈ 2 of 16 384 here) and log Ẑ is off by
    # ≈ 7. Not a number: a reason.
    target = make_target("hd16")
    broad = lambda x: -0.5 * (x**2).sum(-1) / 25 - 8 * math.log(2 * math.pi * 25)  # noqa: E731
    modes = DiagonalGaussians(target.means, 1.5 * target.variances, torch.full((4,), 0.25))
    draws = draw_importance(modes, target, 2**14, torch.Generator().manual_seed(1))
    found = importance_weights(broad, target, draws)
    assert found.ess < 5 and abs(found.log_z) > 3
    assert found.not_estimable == f"IS ESS {found.ess:.3g} < {min_ess(2**14):.0f}"


def _repeated(proposal, target, n, repeats, seed):
    """`repeats` independent estimates of p★'s weights: estimates, stderrs (repeats, K), reasons."""
    generator = torch.Generator().manual_seed(seed)
    found = [
        importance_weights(target.log_prob, target, draw_importance(proposal, target, n, generator))
        for _ in range(repeats)
    ]
    estimates = torch.stack([f.weights.double() for f in found])
    stderrs = torch.stack([f.stderr.double() for f in found])
    return estimates, stderrs, [f.not_estimable for f in found]


@pytest.mark.parametrize(
    ("inflation", "shift", "coverage_floor"),
    [(1.5, 0.0, 0.92), (1.0, 0.5, 0.85)],
)
def test_importance_standard_errors_match_repeated_estimates(inflation, shift, coverage_floor):
    # 200 estimates of hd16's weights from 2000 draws each; the proposal is Gaussians at p★'s
    # modes with inflated variance (ESS ≈ 690 of 2000), or shifted by 0.5 on every axis (ESS
    # ≈ 100–300, near the "not estimable" threshold). Among the estimable estimates:
    # - the spread of the estimates matches the reported standard errors: the sd of a sample sd
    #   over m ≥ 120 repeats is ≤ 1/√(2m) ≈ 6.5 %, so 25 % is ≈ 4 sd;
    # - ±2 SE intervals cover the exact weights ≈ 95 % of the time; with m·K ≥ 480 (correlated)
    #   intervals the binomial sd is ≈ 1 %, and the delta method, asymptotic, under-covers
    #   somewhat at an ESS of 100–300 (≈ 0.91 measured): the floors are 0.92 and 0.85.
    target = make_target("hd16")
    truth = target.region_weights().weights.double()
    proposal = DiagonalGaussians(
        target.means + shift, inflation * target.variances, torch.full((4,), 0.25)
    )
    estimates, stderrs, reasons = _repeated(proposal, target, 2000, 200, seed=1)
    ok = torch.tensor([reason is None for reason in reasons])
    assert int(ok.sum()) >= 120
    spread = estimates[ok].std(0)
    claimed = stderrs[ok].pow(2).mean(0).sqrt()
    assert ((spread / claimed - 1).abs() <= 0.25).all()
    covered = ((estimates[ok] - truth).abs() <= 2 * stderrs[ok]).double().mean()
    assert coverage_floor <= covered <= 0.99


def test_a_too_narrow_proposal_is_mostly_flagged():
    # An under-dispersed proposal (variance 0.7, shifted by 0.5): its weights' tail is heavy, the
    # standard errors cannot be trusted, and ESS or Pareto k̂ says so for most estimates.
    target = make_target("hd16")
    proposal = DiagonalGaussians(target.means + 0.5, 0.7 * target.variances, torch.full((4,), 0.25))
    _, _, reasons = _repeated(proposal, target, 2000, 100, seed=2)
    assert sum(reason is not None for reason in reasons) >= 75
    assert any("k̂" in reason for reason in reasons if reason)


def test_defensive_mixture_density_is_exact_and_draws_are_stratified(generator):
    # Parts N(−20, 1) (share 0.3) and N(20, 0.25) (share 0.7) in 1-D: the mixture density is the
    # share-weighted sum, and 1000 draws split exactly 300 / 700.
    left = DiagonalGaussians(torch.tensor([[-20.0]]), torch.tensor([[1.0]]), torch.ones(1))
    right = DiagonalGaussians(torch.tensor([[20.0]]), torch.tensor([[0.25]]), torch.ones(1))
    mixture = DefensiveMixture([(3.0, left), (7.0, right)])
    x, log_q = mixture.sample_and_log_prob(1000, generator)
    assert int((x[:, 0] < 0).sum()) == 300
    expected = torch.logaddexp(math.log(0.3) + left.log_prob(x), math.log(0.7) + right.log_prob(x))
    torch.testing.assert_close(log_q, expected)


def test_weight_mse_floor_is_the_multinomial_noise(generator):
    # The MSE of weights estimated from n iid draws averages Σ w(1 − w) / (K n): over 2000
    # repeats the mean is within 4 of its standard errors (sd of the MSE ≈ its mean here).
    w = torch.tensor([0.1, 0.2, 0.3, 0.4])
    n, repeats = 500, 2000
    labels = torch.multinomial(w, n * repeats, replacement=True, generator=generator)
    mse = (torch.nn.functional.one_hot(labels.view(repeats, n), 4).double().mean(1) - w) ** 2
    mse = mse.mean(1)
    floor = weight_mse_floor(w, n)
    assert floor == pytest.approx(float((w * (1 - w)).sum()) / (4 * n))
    assert abs(float(mse.mean()) - floor) <= 4 * float(mse.std()) / math.sqrt(repeats)


def test_log_density_error_of_exact_and_shifted_densities(generator):
    target = make_target("four_modes")
    x = target.sample(1000, generator)
    assert log_density_error(target.log_prob, 0.0, target, x) == 0.0
    c = 0.7
    shifted = lambda y: target.log_prob(y) + c  # noqa: E731
    assert log_density_error(shifted, 0.0, target, x) == pytest.approx(c**2, rel=1e-4)
    assert log_density_error(shifted, c, target, x) == pytest.approx(0.0, abs=1e-9)


def test_weight_distances_on_a_hand_example():
    labels = torch.tensor([0, 0, 1, 2, 0, 1, 1, 0, 0, 1])  # 5, 4, 1 out of 10
    estimate = sample_weights(labels, 4)
    torch.testing.assert_close(estimate, torch.tensor([0.5, 0.4, 0.1, 0.0]))
    reference = torch.tensor([0.4, 0.4, 0.1, 0.1])  # differences 0.1, 0, 0, −0.1
    assert weight_mse(estimate, reference) == pytest.approx(0.02 / 4)
    assert weight_tv(estimate, reference) == pytest.approx(0.1)
    assert weight_max_error(estimate, reference) == pytest.approx(0.1)


def test_heldout_log_likelihood_of_the_truth_is_minus_its_entropy(generator):
    """Under p★ itself (log Z = 0) the mean log-likelihood of its draws estimates −H(p★); for
    N(0, I_d), H = d/2 (1 + log 2π). The estimate's standard error is std(log p)/√n = √(d/2)/√n."""
    from benchmark.metrics import heldout_log_likelihood

    d, n = 4, 100_000
    target = make_target("gmm", means=[[0.0] * d])
    x = target.sample(n, generator)
    found = heldout_log_likelihood(target.log_prob, 0.0, x)
    entropy = d / 2 * (1 + math.log(2 * math.pi))
    assert abs(found + entropy) < 5 * math.sqrt(d / 2) / math.sqrt(n)
    # a wrong normalising constant shifts it by exactly that constant
    assert math.isclose(heldout_log_likelihood(target.log_prob, 0.5, x), found - 0.5, rel_tol=1e-5)


def test_erase_and_recreate_events_count_crossings_beyond_the_noise():
    # True weights (0.4, 0.4, 0.2): a mode is erased surely below a tenth of its weight, present
    # surely above half, "surely" beyond 2 standard errors. Mode 0: present, erased, present,
    # erased, present — 2 events. Mode 1's dip to 0.03 with a standard error of 0.01 is not
    # surely below 0.04: no event. Mode 2, erased before it was ever present, is not recreated
    # when it appears.
    true = torch.tensor([0.4, 0.4, 0.2])
    weights = torch.tensor(
        [
            [0.40, 0.40, 0.010],
            [0.01, 0.45, 0.015],
            [0.40, 0.03, 0.400],
            [0.02, 0.45, 0.200],
            [0.39, 0.40, 0.200],
        ]
    )
    stderr = torch.zeros_like(weights)
    stderr[2, 1] = 0.01
    result = erasures(weights, stderr, true)
    assert result.events == 2
    # largest drop: mode 0 from 0.40 to 0.01 (0.39); mode 1's 0.45 → 0.03 less 2·0.01 = 0.40
    assert result.largest_drop == pytest.approx(0.40, abs=1e-6)


def test_convergence_is_the_settled_stretch_at_the_end_of_training():
    # Weights wander, then stay within 0.02 of each other from checkpoint 4 on; the log-density
    # error settles (within a quarter of its median) from checkpoint 3 on.
    drift = [0.9, 0.7, 0.55, 0.53, 0.50, 0.51, 0.50, 0.505]
    weights = torch.tensor([[w, 1 - w] for w in drift])
    stderr = torch.zeros_like(weights)
    logdens = torch.tensor([3.0, 1.0, 0.5, 0.11, 0.10, 0.105, 0.10, 0.10])
    assert convergence(weights, stderr, logdens) == (True, 4)
    # the same with the last checkpoint jumping: nothing settled at the end
    jumped = weights.clone()
    jumped[-1] = torch.tensor([0.6, 0.4])
    assert convergence(jumped, stderr, logdens) == (False, None)
    # a stretch of two settled checkpoints is not enough
    assert convergence(weights[:6], stderr[:6], logdens[:6]) == (False, 4)
    # the log-density error still moving: settled only where it stops
    moving = logdens.clone()
    moving[-3:] = torch.tensor([0.2, 0.3, 0.4])
    assert convergence(weights, stderr, moving) == (False, None)
    # noise widens the band to 0.02 + 2·0.02: the weights settle from checkpoint 2 on, the
    # log-density error from 3
    noisy = torch.full_like(weights, 0.02)
    assert convergence(weights, noisy, logdens)[1] == 3
