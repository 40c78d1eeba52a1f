"""Known answers for the targets: moments, region masses, parameter checks (what every target
keeps whatever its family is tests/test_target_contract.py)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from benchmark.targets import PRESETS, GaussianMixture, make_target, sole_region

#: Every preset whose draws' covariance fits in memory (n × d × d products).
MOMENTS = [name for name in PRESETS if make_target(name).dim <= 16]
#: Every preset that is a Gaussian mixture (with `log_prob_and_score`).
MIXTURES = [name for name in PRESETS if isinstance(make_target(name), GaussianMixture)]


def _exact_moments(name):
    """Mean (d,) and covariance (d, d) of a preset, in float64."""
    target = make_target(name)
    if name == "rings":
        w, r, s = target.weights.double(), target.radii.double(), target.std
        second = float((w * (r**2 + s**2)).sum())  # E|x|² (the reflected tail is ~1e-11)
        return torch.zeros(2, dtype=torch.float64), second / 2 * torch.eye(2, dtype=torch.float64)
    w, mu, var = target.weights.double(), target.means.double(), target.variances.double()
    mean = w @ mu
    second = torch.diag(w @ var) + torch.einsum("k,ki,kj->ij", w, mu, mu)
    return mean, second - torch.outer(mean, mean)


@pytest.mark.parametrize("name", MOMENTS)
def test_sample_moments(name, generator):
    target = make_target(name)
    n = 2**17
    x = target.sample(n, generator).double()
    assert x.shape == (n, target.dim) and x.dtype == torch.float64
    mean, cov = _exact_moments(name)
    centred = x - mean
    products = centred[:, :, None] * centred[:, None, :]  # (n, d, d), mean = cov
    # Each estimate is a mean of n iid terms: standard error = (std of the terms) / √n.
    # 5 standard errors keeps a false alarm unlikely over the d + d² entries checked.
    se_mean = x.std(0) / math.sqrt(n)
    se_cov = products.std(0) / math.sqrt(n)
    assert ((x.mean(0) - mean).abs() <= 5 * se_mean).all()
    assert ((products.mean(0) - cov).abs() <= 5 * se_cov).all()


def test_four_modes_region_weights_are_nominal():
    target = make_target("four_modes")
    # Equal isotropic variances, means on the x-axis: regions are x-intervals split half-way
    # between neighbouring means, so P(region k | component j) is a difference of normal CDFs.
    centres = target.means[:, 0].double().numpy()
    edges = np.concatenate([[-np.inf], (centres[1:] + centres[:-1]) / 2, [np.inf]])
    std = math.sqrt(float(target.variances[0, 0]))
    cdf = norm.cdf((edges[None, :] - centres[:, None]) / std)
    exact = target.weights.double().numpy() @ np.diff(cdf, axis=1)
    # Neighbours are 2 apart with std 0.224: the overlap Φ(−4.47) ≈ 4e-6 is negligible.
    np.testing.assert_allclose(exact, [0.1, 0.2, 0.3, 0.4], atol=1e-5)
    weights, stderr = target.region_weights()
    assert (np.abs(weights.double().numpy() - exact) <= 4 * stderr.numpy() + 1e-6).all()


def test_two_modes_region_weights_are_nominal():
    # The means are 4.24 apart, i.e. > 9 of the larger std: the overlap is ~1e-15.
    weights, stderr = make_target("two_modes").region_weights()
    nominal = torch.tensor([1 / 3, 2 / 3])
    assert ((weights - nominal).abs() <= 4 * stderr + 1e-6).all()


def _paper_hd_region_weights(dim, a, weights):
    """Masses of the nearest-mean regions of the paper's 4 modes, computed in the plane of the
    means: μ1 ⟂ μ2 with |μ1| = |μ2| = r = a√d, so in the basis (μ1/r, μ2/r) the means are (r, 0),
    (0, r), (0, −r), (−r, 0) and a draw of component 1 projects to u ~ N((r, 0), I₂)."""
    r = a * math.sqrt(dim)
    own = integrate.quad(lambda t: norm.pdf(t) * norm.cdf(r - abs(t)), -np.inf, np.inf)[0]
    # P(u2 > |u1|) with u1 ~ N(r, 1), u2 ~ N(0, 1): region of a perpendicular neighbour.
    side = integrate.quad(lambda t: norm.pdf(t - r) * norm.cdf(-abs(t)), -np.inf, np.inf)[0]
    # P(−u1 > |u2|): region of the opposite mode.
    opposite = integrate.quad(lambda t: norm.pdf(t) * norm.cdf(-r - abs(t)), -np.inf, np.inf)[0]
    assert abs(own + 2 * side + opposite - 1) < 1e-8
    # Modes 1, 2, 3, 4: 1 and 4 are opposite, 2 and 3 are opposite, the rest are neighbours.
    opposite_of = [3, 2, 1, 0]
    confusion = np.full((4, 4), side)
    for j in range(4):
        confusion[j, j] = own
        confusion[j, opposite_of[j]] = opposite
    return np.asarray(weights) @ confusion, side


def test_paper_hd_region_weights_include_overlap():
    dim, a, w = 16, 0.5919, [0.1, 0.2, 0.3, 0.4]
    target = make_target("paper_hd", dim=dim, a=a, weights=w)
    expected, side = _paper_hd_region_weights(dim, a, w)
    # The pairwise nearest-mean mis-assignment of neighbours is Φ(−a√(d/2)) ≈ 0.047 at d = 16;
    # it bounds the per-neighbour leak `side` from above.
    assert 0.04 < side < norm.cdf(-a * math.sqrt(dim / 2)) < 0.05
    weights, stderr = target.region_weights()
    # The closed form (quadrants of two half-sums) is exact: it matches the 1-D integrals in the
    # plane of the means to their quadrature precision and float32 rounding.
    assert torch.equal(stderr, torch.zeros(4))
    np.testing.assert_allclose(weights.double().numpy(), expected, atol=1e-7)
    # And the overlap is resolved: the masses are not the nominal weights.
    assert ((weights - torch.tensor(w)).abs() > 0.01).any()


@pytest.mark.parametrize("dim", [5, 16])
def test_paper_hd_closed_form_matches_monte_carlo_of_the_same_mixture(dim):
    # The generic Gaussian-mixture path (stratified Monte Carlo, ≥ 10⁶ draws) on the same means,
    # weights and variances; d = 5 has unequal half-blocks (2 and 3 coordinates).
    w = [0.1, 0.2, 0.3, 0.4]
    exact = make_target("paper_hd", dim=dim, weights=w)
    generic = make_target("gmm", means=exact.means.tolist(), weights=w, variances=1.0)
    assert not generic.symmetric
    estimate, stderr = generic.region_weights()
    closed = exact.region_weights().weights
    assert ((estimate - closed).abs() <= 4 * stderr).all()


def test_paper_hd_with_equal_weights_has_equal_region_masses():
    weights, stderr = make_target("hd16", weights=[0.25] * 4).region_weights()
    torch.testing.assert_close(weights, torch.full((4,), 0.25), rtol=0, atol=1e-7)


def test_symmetric_mixtures_have_exactly_equal_region_masses():
    target = make_target("eight_gaussians")
    assert target.symmetric
    weights, stderr = target.region_weights()
    assert torch.equal(weights, torch.full((8,), 1 / 8)) and torch.equal(stderr, torch.zeros(8))
    # Any broken symmetry falls back to Monte Carlo: a moved mean, unequal weights, or unequal
    # variances; four_modes (unequal weights, means on a line) is not symmetric either.
    means = target.means.double().tolist()
    moved = [[m[0] * 1.01, m[1]] if k == 0 else m for k, m in enumerate(means)]
    assert not make_target("gmm", means=moved, variances=0.15**2).symmetric
    unequal = [0.2] + [0.8 / 7] * 7
    assert not make_target("eight_gaussians", weights=unequal).symmetric
    assert not make_target("eight_gaussians", variances=[0.02] + [0.0225] * 7).symmetric
    assert not make_target("four_modes").symmetric
    # A symmetric configuration listed out of cyclic order is not recognised (the check is a
    # sufficient condition): its masses are then estimated, and agree with 1/8.
    shuffled = make_target(
        "gmm", means=[means[k] for k in (0, 2, 1, 3, 4, 5, 6, 7)], variances=0.15**2
    )
    assert not shuffled.symmetric
    estimate, stderr = shuffled.region_weights()
    assert ((estimate - 1 / 8).abs() <= 4 * stderr).all()


def test_level_regions_of_far_points_and_sole_region():
    target = make_target("four_modes")
    x = torch.tensor([[-3.0, 0.0], [3.0, 0.1], [0.0, 0.0], [0.0, 5.0]])
    inside = target.level_regions(x, 0.9)
    assert inside.tolist() == [
        [True, False, False, False],
        [False, False, False, True],
        [False, False, False, False],  # half-way between two means: 1 = 4.5 sd from each
        [False, False, False, False],
    ]
    rings = make_target("rings")
    r = torch.tensor([1.0, 1.5, 4.1, 9.0])
    points = torch.stack([r, torch.zeros(4)], dim=-1)
    assert rings.level_regions(points, 0.9).long().argmax(-1).tolist()[0::2] == [0, 3]
    assert rings.level_regions(points, 0.9).any(-1).tolist() == [True, False, True, False]
    overlap = torch.tensor([[True, False], [True, True], [False, False], [False, True]])
    assert sole_region(overlap).tolist() == [0, -1, -1, 1]


def test_rings_region_weights_match_sampling(generator):
    target = make_target("rings", weights=[0.1, 0.2, 0.3, 0.4])
    exact, stderr = target.region_weights()
    assert torch.equal(stderr, torch.zeros(4))
    n = 2**18
    counts = torch.bincount(target.assign_modes(target.sample(n, generator)), minlength=4)
    frequency = counts.double() / n
    se = (exact.double() * (1 - exact.double()) / n).sqrt()  # binomial standard error
    assert ((frequency - exact.double()).abs() <= 4 * se).all()


@pytest.mark.parametrize(
    ("family", "params", "named"),
    [
        ("gmm", {"means": [[0.0], [1.0]], "weights": [1.2, -0.2]}, "weights"),
        ("gmm", {"means": [[0.0], [1.0]], "weights": [0.5, 0.5 + 1e-5]}, "weights"),
        ("gmm", {"means": [[0.0], [1.0]], "weights": [1.0]}, "weights"),
        ("gmm", {"means": [[0.0], [1.0]], "variances": [1.0, 0.0]}, "variances"),
        ("gmm", {"means": [[0.0], [1.0]], "variances": -1.0}, "variances"),
        ("gmm", {"means": [[0.0, 0.0], [1.0]]}, "means"),
        ("gmm", {"means": [[0.0, 0.0], [1.0, 1.0]], "variances": [[1.0] * 3] * 2}, "variances"),
        ("gmm", {"means": [[0.0], [1.0]], "spread": 1.0}, "spread"),
        ("gmm", {"dim": 2, "n_modes": 2, "separation": 0.0}, "separation"),
        ("gmm", {"dim": 2, "n_modes": 3, "separation": 1.0}, "n_modes"),
        ("paper_hd", {"dim": 16, "weights": [0.5, 0.5]}, "weights"),
        ("paper_hd", {"dim": 16, "a": -1.0}, "a"),
        ("paper_hd", {"dim": 16, "sigma": 1.0}, "sigma"),
        ("rings", {"std": 0.0}, "std"),
        ("rings", {"radii": [2.0, 1.0]}, "radii"),
        ("four_modes", {"variances": [0.05, 0.05, 0.05, -0.05]}, "variances"),
        ("rings_typo", {}, "rings_typo"),
        ("mog", {"dim": 2, "n_modes": 3, "imbalance": 0.5}, "imbalance"),
        ("mog", {"dim": 2, "n_modes": 3, "variances": [2.0, 1.0]}, "variances"),
        ("mog", {"dim": 2, "n_modes": 3, "layout": "ring"}, "layout"),
        ("mog", {"dim": 2, "n_modes": 30, "box": 1.0, "min_separation": 1.0}, "min_separation"),
        ("mog", {"dim": 2, "n_modes": 3, "seed": "abc"}, "seed"),
        ("bimodal", {"dim": 2, "separation": 0.0}, "separation"),
        ("bimodal", {"dim": 0, "separation": 4.0}, "dim"),
        ("bimodal", {"dim": 2, "separation": 4.0, "variance": -1.0}, "variance"),
        ("bimodal", {"dim": 2, "separation": 4.0, "weights": [1.0]}, "weights"),
    ],
)
def test_invalid_parameters_raise_naming_them(family, params, named):
    with pytest.raises(ValueError, match=named):
        make_target(family, **params)


def test_weights_summing_to_one_within_tolerance_are_accepted():
    target = make_target("gmm", means=[[0.0], [1.0]], weights=[0.5, 0.5 + 1e-7])
    assert target.n_modes == 2


def test_generated_gmm_pairwise_distances_equal_separation():
    target = make_target("gmm", dim=8, n_modes=5, separation=3.0, seed=1)
    distances = torch.cdist(target.means.double(), target.means.double())
    off_diagonal = distances[~torch.eye(5, dtype=torch.bool)]
    torch.testing.assert_close(off_diagonal, torch.full_like(off_diagonal, 3.0))
    # Equidistant equal modes of unit variance: the stated pairwise overlap Φ(−separation/2)
    # bounds each component's leak into any single other region.
    p_pair = norm.cdf(-3.0 / 2)
    assert 0 < target.overlap < (5 - 1) * p_pair


def test_mog_box_layout_keeps_the_box_the_separation_and_the_imbalance():
    target = make_target("mog", dim=3, n_modes=12, box=5.0, min_separation=2.0, imbalance=8.0)
    assert target.means.abs().max() <= 5.0
    distances = torch.cdist(target.means.double(), target.means.double())
    assert distances[~torch.eye(12, dtype=torch.bool)].min() >= 2.0 - 1e-6
    w = target.weights.double()
    assert abs(float(w.sum()) - 1) < 1e-6 and abs(float(w.max() / w.min()) - 8.0) < 1e-4
    ratios = w.sort().values.diff() / w.sort().values[:-1]  # a geometric progression
    torch.testing.assert_close(ratios, torch.full_like(ratios, 8.0 ** (1 / 11) - 1))


def test_mog_grid_layout_uses_distinct_grid_nodes_and_log_uniform_variances():
    target = make_target("mog", dim=2, n_modes=7, layout="grid", box=3.0, variances=[0.1, 0.5])
    nodes = torch.linspace(-3.0, 3.0, 3)  # 3 × 3 ≥ 7 nodes
    on_grid = (target.means[:, :, None] - nodes).abs().min(-1).values
    assert (on_grid < 1e-6).all() and len(torch.unique(target.means, dim=0)) == 7
    assert target.variances.min() >= 0.1 and target.variances.max() <= 0.5
    assert len(torch.unique(target.variances)) > 1  # per component and dimension


def test_mog_is_reproducible_from_its_seed():
    a, b = make_target("mog32"), make_target("mog32")
    assert torch.equal(a.means, b.means) and torch.equal(a.weights, b.weights)
    assert not torch.equal(a.means, make_target("mog32", seed=1).means)


def test_field_presets_have_the_stated_shape_and_exact_region_weights():
    gmm40 = make_target("gmm40")
    assert (gmm40.dim, gmm40.n_modes) == (2, 40) and gmm40.means.abs().max() <= 40
    assert torch.allclose(gmm40.weights, torch.full((40,), 1 / 40))
    unequal = make_target("gmm40_unequal")
    assert torch.equal(unequal.means, gmm40.means)  # the same modes, reweighted
    assert abs(float(unequal.weights.max() / unequal.weights.min()) - 10) < 1e-4
    mog32 = make_target("mog32")
    assert (mog32.dim, mog32.n_modes) == (32, 10)
    # Well separated in d = 32 (overlap 0 to Monte Carlo precision): the region masses are the
    # nominal weights within their standard errors.
    weights, stderr = mog32.region_weights()
    assert mog32.overlap < 1e-4
    assert ((weights - mog32.weights).abs() <= 4 * stderr + 1e-6).all()


@pytest.mark.parametrize("name", MIXTURES)
def test_gmm_score_is_the_gradient_of_log_prob(name, generator):
    target = make_target(name)
    x = 1.5 * torch.randn(300, target.dim, generator=generator, dtype=torch.float64)
    x.requires_grad_(True)
    (expected,) = torch.autograd.grad(target.log_prob(x).sum(), x)
    log_p, score = target.log_prob_and_score(x.detach())
    assert torch.equal(log_p, target.log_prob(x.detach()))
    torch.testing.assert_close(score, expected, rtol=1e-10, atol=1e-10)  # float64: exact formula


@pytest.mark.parametrize(
    ("dim", "separation", "weights"), [(1, 1.0, None), (2, 4.0, None), (16, 2.5, [0.9, 0.1])]
)
def test_bimodal_exact_region_masses_are_those_of_a_million_draws(dim, separation, weights):
    target = make_target("bimodal", dim=dim, separation=separation, weights=weights)
    w = [2 / 3, 1 / 3] if weights is None else weights
    # the stated geometry: means ∓δ/2 on the first axis, δ = separation standard deviations
    distance = float((target.means[1] - target.means[0]).norm() / target.variances[0, 0].sqrt())
    assert distance == pytest.approx(separation, rel=1e-6)
    assert target.overlap == pytest.approx(norm.cdf(-separation / 2), rel=1e-12)
    exact, stderr = target.region_weights()
    assert torch.equal(stderr, torch.zeros(2))
    leave = norm.cdf(-separation / 2)
    expected = [w[0] * (1 - leave) + w[1] * leave, w[1] * (1 - leave) + w[0] * leave]
    np.testing.assert_allclose(exact.double().numpy(), expected, atol=1e-7)
    # 2²⁰ ≥ 10⁶ exact draws: each region's share is binomial(n, m_k) / n, within 5 of its
    # standard errors √(m_k (1 − m_k) / n)
    n = 2**20
    x = target.sample(n, torch.Generator().manual_seed(11))
    found = torch.bincount(target.assign_modes(x), minlength=2).double() / n
    se = (exact.double() * (1 - exact.double()) / n).sqrt()
    assert ((found - exact.double()).abs() <= 5 * se).all()


def test_bimodal_density_integrates_to_one_in_one_dimension():
    # d = 1: adaptive quadrature of the float64 density (every 2-D target is in the contract's
    # midpoint-rule check, tests/test_target_contract.py). Means ±0.67, σ = √0.05 = 0.224: beyond
    # ±5 lies Φ(−19) ≈ 1e-80. The weights are stored in float32: their sum is 1 within 2
    # roundings of 6e-8 (here 1 + 3e-8).
    target = make_target("bimodal", dim=1, separation=6.0)
    density = lambda t: float(target.log_prob(torch.tensor([[t]], dtype=torch.float64)).exp())  # noqa: E731
    mass, error = integrate.quad(density, -5.0, 5.0, points=[-0.67, 0.0, 0.67], limit=200)
    assert error < 1e-8 and abs(mass - 1) < 2e-7
