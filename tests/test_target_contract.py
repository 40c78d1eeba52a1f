"""The contract every target preset keeps, whatever its family: the exact sampler draws from the
exact density (a component's mean responsibility under p★ is its weight), the region masses are
those of the draws, a component's level region holds its level of that component's draws, and a
seed fixes the draws. A new family passes these with nothing but its file and its registration.

Tolerances: N independent draws, 4 binomial (or sample) standard errors of a mean."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.targets import PRESETS, Target, make_target

N = 2**14


def _draws(target: Target, seed: int = 0) -> torch.Tensor:
    return target.sample(N, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_is_a_target_with_consistent_shapes(name):
    target = make_target(name)
    assert isinstance(target, Target)
    k, d = target.n_modes, target.dim
    assert target.means.shape == target.variances.shape == (k, d)
    assert target.weights.shape == (k,)
    assert float(target.weights.sum()) == pytest.approx(1.0, abs=1e-6)
    x = _draws(target)
    assert x.shape == (N, d) and bool(torch.isfinite(target.log_prob(x)).all())
    assert target.component_log_prob(x).shape == (N, k)
    centres, radii = target.mode_markers()  # every mode marked by a centre or a ring
    assert centres.shape == (k, 2) and radii.shape == (k,)
    assert bool((torch.isfinite(centres).all(-1) | torch.isfinite(radii)).all())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_sampler_draws_from_the_density(name):
    # E_p★[w_k p_k(x) / p★(x)] = w_k: the mean responsibility of each component over exact draws
    # is its weight exactly when the sampler and the density describe the same mixture
    target = make_target(name)
    x = _draws(target).double()
    joint = target.component_log_prob(x) + target.weights.double().log()
    responsibility = torch.softmax(joint, dim=-1)
    error = 4 * responsibility.std(0) / math.sqrt(N)
    assert bool(((responsibility.mean(0) - target.weights.double()).abs() <= error + 1e-12).all())
    # and log p★ is the weighted sum of the components' densities
    torch.testing.assert_close(
        target.log_prob(x), torch.logsumexp(joint, dim=-1), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_region_masses_are_those_of_the_draws(name):
    target = make_target(name)
    found = torch.bincount(target.assign_modes(_draws(target)), minlength=target.n_modes) / N
    exact = target.region_weights()
    w = exact.weights.double()
    error = 4 * torch.sqrt(w * (1 - w) / N) + 4 * exact.stderr.double() + 1 / N
    assert bool(((found.double() - w).abs() <= error).all())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_component_level_region_holds_its_level_of_the_components_draws(name):
    target = make_target(name)
    lightest = int(target.weights.argmin())
    x = target.sample(4 * N, torch.Generator().manual_seed(1))
    # the lightest component's draws: (x, k) with k drawn from p★'s responsibilities given x is a
    # joint draw of the mixture, so the x with k = lightest are draws of that component
    joint = target.component_log_prob(x) + target.weights.log()
    k = torch.multinomial(torch.softmax(joint, -1), 1, generator=torch.Generator().manual_seed(2))
    own = k[:, 0] == lightest
    share = float(target.level_regions(x[own], 0.9)[:, lightest].float().mean())
    n = int(own.sum())
    assert n > 100
    assert abs(share - 0.9) <= 4 * math.sqrt(0.9 * 0.1 / n)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_seed_fixes_the_draws(name):
    target = make_target(name)
    assert torch.equal(_draws(target, 7), _draws(target, 7))
    assert not torch.equal(_draws(target, 7), _draws(target, 8))
