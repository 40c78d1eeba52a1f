"""Known answers for the targets: normalisation, moments, region masses, parameter checks."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from benchmark.targets import make_target

TWO_D = ["two_modes", "four_modes", "eight_gaussians", "rings"]


@pytest.mark.parametrize("name", TWO_D)
def test_density_integrates_to_one(name):
    target = make_target(name)
    lo, hi = target.bounds
    n = 1024  # midpoint rule; the grid step is ≤ 1/20 of the smallest std of every preset
    step = (hi - lo) / n
    axis = torch.linspace(lo + step / 2, hi - step / 2, n, dtype=torch.float64)
    mass = target.log_prob(torch.cartesian_prod(axis, axis)).exp().sum() * step**2
    assert abs(float(mass) - 1) < 1e-3


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


@pytest.mark.parametrize("name", [*TWO_D, "hd16"])
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
    assert ((weights.double() - torch.from_numpy(expected)).abs() <= 4 * stderr.double()).all()
    # And the overlap is resolved: the masses are not the nominal weights.
    assert ((weights - torch.tensor(w)).abs() > 10 * stderr).any()


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


@pytest.mark.parametrize("name", ["two_modes", "eight_gaussians", "hd16"])
def test_gmm_score_is_the_gradient_of_log_prob(name, generator):
    target = make_target(name)
    x = 1.5 * torch.randn(300, target.dim, generator=generator, dtype=torch.float64)
    x.requires_grad_(True)
    (expected,) = torch.autograd.grad(target.log_prob(x).sum(), x)
    log_p, score = target.log_prob_and_score(x.detach())
    assert torch.equal(log_p, target.log_prob(x.detach()))
    torch.testing.assert_close(score, expected, rtol=1e-10, atol=1e-10)  # float64: exact formula
