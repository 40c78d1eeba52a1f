"""The contract every target keeps, whatever its family: every family at each of its examples
(`Family.examples`, declared in the family's file) and every preset. A new family passes it with
nothing but its file and its entry in `FAMILIES`.

- A `Target` with consistent shapes; `assign_modes` gives every point a region; every mode is
  marked (`mode_markers`) inside its own region.
- The exact sampler draws from the exact density: each component's mean responsibility over exact
  draws is its weight; the region masses (`region_weights`) are the shares of the draws in the
  regions; the density is normalised and the draws follow it — cell by cell of a quadrature grid
  in 2-D, and above by the weights q/p★ of a proposal q, whose mean over exact draws is ∫q = 1.
- A component's level region holds its level of that component's draws; a seed fixes the draws.

Tolerances: means of N independent draws, within 5 binomial (or sample) standard errors; the
draws' counts in the cells of the plane, Pearson's χ² at a false-alarm probability of 1e-6.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from scipy.stats import chi2

from benchmark.targets import FAMILIES, PRESETS, Target, make_target

N = 2**16

#: (family or preset, parameters) by test id: every family at each of its examples, every preset.
CASES = {
    f"{family}[{i}]": (family, params)
    for family, entry in FAMILIES.items()
    for i, params in enumerate(entry.examples)
} | {name: (name, {}) for name in PRESETS}

every_case = pytest.mark.parametrize("case", list(CASES))


@functools.cache
def _target(case: str) -> Target:
    """The case's target, built once (its region masses are estimated once)."""
    kind, params = CASES[case]
    return make_target(kind, **params)


def _draws(target: Target, n: int = N, seed: int = 0) -> torch.Tensor:
    return target.sample(n, torch.Generator().manual_seed(seed))


def test_every_family_declares_an_example():
    assert all(entry.examples for entry in FAMILIES.values())


@every_case
def test_a_target_has_consistent_shapes_and_a_region_for_every_point(case):
    target = _target(case)
    assert isinstance(target, Target)
    k, d = target.n_modes, target.dim
    assert target.means.shape == target.variances.shape == (k, d)
    assert target.weights.shape == (k,)
    assert float(target.weights.sum()) == pytest.approx(1.0, abs=1e-6)
    assert target.bounds[0] < target.bounds[1]
    x = _draws(target)
    assert x.shape == (N, d) and bool(torch.isfinite(target.log_prob(x)).all())
    assert target.component_log_prob(x).shape == (N, k)
    far = torch.cat([torch.zeros(1, d), 100 * x[:8]])  # the origin and points far out
    for points in (x, far):
        regions = target.assign_modes(points)
        assert regions.shape == (len(points),) and regions.dtype == torch.long
        assert 0 <= int(regions.min()) and int(regions.max()) < k
    masses = target.region_weights()
    assert masses.weights.shape == masses.stderr.shape == (k,)


@every_case
def test_every_mode_is_marked_inside_its_own_region(case):
    target = _target(case)
    k = target.n_modes
    centres, radii = target.mode_markers()
    assert centres.shape == (k, 2) and radii.shape == (k,)
    has_centre = torch.isfinite(centres).all(-1)
    assert bool((has_centre | torch.isfinite(radii)).all())
    # each marker as a point in the plane (a centre, or its ring's point on the first axis), the
    # other coordinates those of the mode's Gaussian description
    on_ring = torch.stack([radii, torch.zeros(k)], dim=-1)
    plane = torch.where(has_centre[:, None], centres, on_ring)
    points = torch.cat([plane, target.means[:, 2:]], dim=-1)
    assert target.assign_modes(points).tolist() == list(range(k))


@every_case
def test_each_components_mean_responsibility_over_the_draws_is_its_weight(case):
    # E_p★[w_k p_k(x) / p★(x)] = w_k: exactly when the sampler and the density describe the same
    # mixture
    target = _target(case)
    x = _draws(target).double()
    joint = target.component_log_prob(x) + target.weights.double().log()
    responsibility = torch.softmax(joint, dim=-1)
    error = 5 * responsibility.std(0) / math.sqrt(N)
    assert bool(((responsibility.mean(0) - target.weights.double()).abs() <= error + 1e-12).all())
    # and log p★ is the weighted sum of the components' densities
    torch.testing.assert_close(
        target.log_prob(x), torch.logsumexp(joint, dim=-1), rtol=1e-9, atol=1e-9
    )


@every_case
def test_the_region_masses_are_the_shares_of_the_draws(case):
    target = _target(case)
    found = torch.bincount(target.assign_modes(_draws(target)), minlength=target.n_modes) / N
    exact = target.region_weights()
    m = exact.weights.double()
    # a share of N draws: binomial standard error; the masses' own (Monte Carlo) error beside it
    se = (m * (1 - m) / N + exact.stderr.double() ** 2).sqrt()
    assert bool(((found.double() - m).abs() <= 5 * se + 1 / N).all())


#: Midpoints per axis of the 2-D quadrature over the bounds, and cells per axis whose masses are
#: compared with the draws' counts.
GRID, CELLS = 1024, 64
#: The proposal's variances above 2-D, a share of the description's: narrower than p★'s own
#: components, so that q/p★ is bounded (by 0.9^(−d/2) where the description is exact).
SHRINK = 0.9


def _in_the_plane(target: Target) -> None:
    lo, hi = target.bounds
    step = (hi - lo) / GRID
    axis = torch.linspace(lo + step / 2, hi - step / 2, GRID, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)  # (GRID², 2), the first coordinate the slower
    density = torch.cat([target.log_prob(chunk).exp() for chunk in grid.split(2**16)])
    mass = density.reshape(GRID, GRID) * step**2
    # normalised, all of it (to the quadrature's error) inside the bounds
    assert abs(float(mass.sum()) - 1) < 1e-3
    side = GRID // CELLS
    cells = mass.reshape(CELLS, side, CELLS, side).sum((1, 3)).reshape(-1)  # (CELLS²,)
    n = 4 * N  # cheap in the plane: draws enough to see a ring 5 % too wide
    index = ((_draws(target, n).double() - lo) / (hi - lo) * CELLS).floor().long()
    index = index[((index >= 0) & (index < CELLS)).all(-1)]
    counts = torch.bincount(index[:, 0] * CELLS + index[:, 1], minlength=CELLS**2).double()
    # Pearson's χ² of the draws' counts against the density's: the cells expecting ≥ 5 draws,
    # the rest (and outside the bounds) pooled into one; the quadrature's error (1e-3 of a
    # cell's mass) adds about n · 1e-6 to the statistic, nothing beside its spread
    expected = n * cells
    big = expected >= 5
    observed = torch.cat([counts[big], (n - counts[big].sum()).reshape(1)])
    expected = torch.cat([expected[big], (n - expected[big].sum()).reshape(1)])
    statistic = float(((observed - expected) ** 2 / expected).sum())
    assert statistic <= chi2.ppf(1 - 1e-6, len(observed) - 1)


def _by_a_proposal(target: Target) -> None:
    x = _draws(target).double()
    mu, var = target.means.double(), SHRINK * target.variances.double()
    log_q_k = -0.5 * (((x[:, None] - mu) ** 2 / var).sum(-1) + torch.log(2 * math.pi * var).sum(-1))
    log_q = torch.logsumexp(log_q_k + target.weights.double().log(), dim=-1)
    ratio = (log_q - target.log_prob(x)).exp()  # q/p★: mean ∫q = 1 over exact draws
    se = float(ratio.std()) / math.sqrt(N)
    assert se < 0.02  # the description is close enough to p★ for the check to tell
    assert abs(float(ratio.mean()) - 1) <= 5 * se


@every_case
def test_the_density_is_normalised_and_the_draws_follow_it(case):
    target = _target(case)
    if target.dim == 2:
        _in_the_plane(target)
    else:
        _by_a_proposal(target)


@every_case
@pytest.mark.parametrize("level", [0.9, 0.999])
def test_a_components_level_region_holds_its_level_of_the_components_draws(case, level):
    target = _target(case)
    x = _draws(target, 2 * N, seed=1)
    # (x, k) with k drawn from p★'s responsibilities given x is a joint draw of the mixture, so
    # the x with k = j are draws of component j
    joint = target.component_log_prob(x) + target.weights.log()
    generator = torch.Generator().manual_seed(2)
    k = torch.multinomial(torch.softmax(joint, -1), 1, generator=generator)[:, 0]
    inside = target.level_regions(x, level)
    assert inside.shape == (2 * N, target.n_modes) and inside.dtype == torch.bool
    for j in range(target.n_modes):
        own = k == j
        n = int(own.sum())
        assert n > 100
        share = float(inside[own, j].float().mean())
        assert abs(share - level) <= 5 * math.sqrt(level * (1 - level) / n)


@every_case
def test_a_seed_fixes_the_draws(case):
    target = _target(case)
    assert torch.equal(_draws(target, 1024, 7), _draws(target, 1024, 7))
    assert not torch.equal(_draws(target, 1024, 7), _draws(target, 1024, 8))
