"""Known answers for the metrics: diagnostics on iid and stuck chains, density weights of exact
targets, log-density error, weight distances, classifier two-sample test."""

import math

import pytest
import torch

from benchmark.metrics import (
    c2st,
    ess,
    grid_weights,
    importance_weights,
    log_density_error,
    mode_switch_rate,
    rhat,
    sample_weights,
    weight_max_error,
    weight_mse,
    weight_tv,
)
from benchmark.targets import make_target

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
        mode_switch_rate(torch.zeros(DRAWS, CHAINS, dtype=torch.long), chains=CHAINS)


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
    labels = target.assign_modes(draws.reshape(-1, 2)).view(CHAINS, DRAWS)
    assert mode_switch_rate(labels, chains=CHAINS) == 0.0


@pytest.mark.parametrize("block", [1, 4, 25])
def test_mode_switch_rate_of_an_alternating_sequence(block):
    # Labels alternate between two modes every `block` steps: over 100 transitions there are
    # 100 / block switches, i.e. 1000 / block per 1000 steps.
    labels = (torch.arange(101) // block % 2).expand(3, 101)
    assert mode_switch_rate(labels, chains=3) == pytest.approx(1000 / block)


@pytest.mark.parametrize("name", ["two_modes", "four_modes", "eight_gaussians", "rings"])
def test_grid_weights_of_the_exact_density(name):
    target = make_target(name)
    result = grid_weights(target.log_prob, target)
    reference, stderr = target.region_weights()
    # region_weights is exact (rings) or Monte Carlo with stderr ≤ 4e-5 here.
    assert (result.weights - reference).abs().max() <= 1e-3
    assert abs(result.log_z) <= 1e-3
    assert result.ess is None


def test_importance_weights_of_the_exact_density_in_16_d():
    target = make_target("hd16")
    result = importance_weights(target.log_prob, target, torch.Generator().manual_seed(0))
    reference, mc_stderr = target.region_weights()
    combined = (result.stderr**2 + mc_stderr**2).sqrt()
    assert ((result.weights - reference).abs() <= 3 * combined).all()
    # The relative variance of Ẑ (a mean of n weights) is ≈ 1/ESS − 1/n: sd of log Ẑ.
    n = 2**16
    assert result.ess is not None and 0.1 * n < result.ess <= n
    assert abs(result.log_z) <= 3 * math.sqrt(1 / result.ess - 1 / n)


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


def test_c2st_same_and_separated_distributions(generator):
    n = 256
    x, y = torch.randn(n, 2, generator=generator), torch.randn(n, 2, generator=generator)
    # Under the null a held-out accuracy over 2n points has sd √(1/4 / 2n) ≈ 0.022: within 4 sd.
    assert abs(c2st(x, y) - 0.5) <= 4 * math.sqrt(0.25 / (2 * n))
    # Means 5√2 apart with unit variances: the Bayes error is Φ(−3.5) ≈ 2e-4.
    far = torch.randn(n, 2, generator=generator) + 5.0
    assert c2st(x, far) >= 0.99
