"""The C2ST against known answers: scikit-learn's training step for step (same initial weights and
minibatch orders, float64), accuracy 0.5 for one distribution, 1.0 for separated ones, at most the
Bayes accuracy Φ(δ/2) for Gaussians δ apart and (1 + TV)/2 for mixtures with other weights, and
the same values in distribution as the scikit-learn version sbibm runs (slow)."""

import importlib
import math

import numpy as np
import pytest
import torch
from sklearn.neural_network import MLPClassifier
from sklearn_c2st import sklearn_c2st

from benchmark.metrics import c2st

c2st_module = importlib.import_module("benchmark.metrics.c2st")  # `c2st` names the function too

SEEDS = [0, 1, 2]


def _standard_error(accuracy, n, repeats=1):
    """Binomial standard error of a held-out accuracy over 2n points (every point of both samples
    is held out once), for the mean of `repeats` independent runs."""
    return math.sqrt(accuracy * (1 - accuracy) / (2 * n) / repeats)


def _gaussians(n, dim, shift, seed):
    """n draws of N(0, I) and of N(shift e₁, I)."""
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.randn(2, n, dim, generator=generator)
    y[:, 0] += shift
    return x, y


def _mixtures(n, weight_y, seed):
    """n draws of ½ N(−4 e₁, I) + ½ N(4 e₁, I) and n of the same components weighted
    (weight_y, 1 − weight_y); the components overlap by Φ(−4) ≈ 3e-5, so TV = |½ − weight_y|."""
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.randn(2, n, 2, generator=generator)
    x[:, 0] += torch.where(torch.rand(n, generator=generator) < 0.5, -4.0, 4.0)
    y[:, 0] += torch.where(torch.rand(n, generator=generator) < weight_y, -4.0, 4.0)
    return x, y


def _normal_cdf(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


@pytest.mark.parametrize("sizes", [(400, 401, 130), (300, 301)], ids=["uneven", "even"])
def test_training_is_sklearns_step_for_step(monkeypatch, sizes):
    """In float64, from the same initial weights and with the same minibatch orders, each fold's
    network ends where scikit-learn's MLPClassifier ends, and predicts the same held-out labels.
    Training sets of 400, 401 and 130 rows take 2, 3 and 1 batches (a padded batch, a batch of one
    row, a fold with no third batch); 300 and 301 take 2 each. One Adam step moves a weight by up
    to lr = 1e-3, so a step missed or added, a wrong batch or a wrong stopping epoch shows far
    above the 1e-6 allowed; float64 rounding carried through the training stays near 1e-9."""
    mlp_module = importlib.import_module("sklearn.neural_network._multilayer_perceptron")
    generator = torch.Generator().manual_seed(0)
    n = 700
    data = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    noise = torch.randn(n, generator=generator, dtype=torch.float64)
    labels = (data[:, 0] + noise > 0).double()  # overlapping classes: training stops early
    trains = [torch.randperm(n, generator=generator)[:size] for size in sizes]

    orders = {size: [] for size in sizes}  # each fold's epoch orders (the sizes are distinct)
    randperm = torch.randperm

    def recorded_randperm(size, generator, out):
        randperm(size, generator=generator, out=out)
        orders[size].append(out.clone())
        return out

    monkeypatch.setattr(torch, "randperm", recorded_randperm)
    weights = c2st_module._fit(data, labels, trains, torch.Generator().manual_seed(1))
    monkeypatch.undo()
    init = c2st_module._glorot([2, 20, 20, 1], torch.Generator().manual_seed(1), torch.float64)

    for k, rows in enumerate(trains):
        layers, epochs = iter(init), iter(orders[len(rows)])

        def init_coef(self, fan_in, fan_out, dtype, layers=layers):
            weight = next(layers).numpy()
            return weight[:-1].copy(), weight[-1].copy()

        monkeypatch.setattr(MLPClassifier, "_init_coef", init_coef)
        monkeypatch.setattr(
            mlp_module, "shuffle", lambda idx, random_state, epochs=epochs: next(epochs).numpy()
        )
        reference = MLPClassifier(hidden_layer_sizes=(20, 20), max_iter=1000)
        reference.fit(data[rows].numpy(), labels[rows].numpy())
        monkeypatch.undo()
        assert reference.n_iter_ == len(orders[len(rows)]) < 1000  # it stopped by its rule
        for layer, coef, intercept in zip(
            weights, reference.coefs_, reference.intercepts_, strict=True
        ):
            np.testing.assert_allclose(layer[k, :-1].numpy(), coef, rtol=0, atol=1e-6)
            np.testing.assert_allclose(layer[k, -1].numpy(), intercept, rtol=0, atol=1e-6)

        held = c2st_module._complement(rows, n)
        accuracy = c2st_module._accuracy([w[k : k + 1] for w in weights], data, labels, [held])
        assert accuracy == reference.score(data[held].numpy(), labels[held].numpy())


def test_kfold_sizes_and_partition():
    """scikit-learn's KFold sizes: 23 rows in 5 folds are 5, 5, 5, 4, 4, covering each row once."""
    tests = c2st_module._kfold(23, 5, torch.Generator().manual_seed(0))
    assert [len(rows) for rows in tests] == [5, 5, 5, 4, 4]
    assert torch.cat(tests).sort().values.equal(torch.arange(23))


def test_same_distribution_is_at_chance():
    """Under the null each point is classified right with probability ½: the mean of 3 accuracies
    over 2n = 600 held-out points has sd √(¼ / 600 / 3) ≈ 0.012; within 4 sd."""
    n = 300
    found = [c2st(*_gaussians(n, 2, 0.0, seed), seed=seed) for seed in SEEDS]
    assert abs(np.mean(found) - 0.5) <= 4 * _standard_error(0.5, n, len(SEEDS))


def test_separated_samples_are_told_apart_exactly():
    """Uniform draws on two unit squares 3 apart (10 of x's standard deviations): every held-out
    point is classified right."""
    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 200, 2, generator=generator)
    assert c2st(x, y + 3.0) == 1.0


@pytest.mark.parametrize(
    ("sample", "bayes"),
    [
        (lambda seed: _gaussians(300, 2, 1.0, seed), _normal_cdf(0.5)),
        (lambda seed: _mixtures(300, 0.7, seed), 0.5 * (1 + 0.2)),
    ],
    ids=["gaussians-2d", "mixture-weights-2d"],
)
def test_accuracy_is_at_most_bayes_and_above_chance(sample, bayes):
    """No classifier beats the Bayes accuracy on fresh points: the mean of 3 held-out accuracies
    over 600 points stays below it + 3 binomial sd; and it detects the difference, at least
    0.5 + 4 sd of the null (how close it comes to Bayes: against scikit-learn, below)."""
    n = 300
    found = np.mean([c2st(*sample(seed), seed=seed) for seed in SEEDS])
    assert found <= bayes + 3 * _standard_error(bayes, n, len(SEEDS))
    assert found >= 0.5 + 4 * _standard_error(0.5, n, len(SEEDS))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sample", "bayes"),
    [
        (lambda seed: _gaussians(300, 2, 1.0, seed), _normal_cdf(0.5)),
        (lambda seed: _gaussians(300, 16, 1.0, seed), _normal_cdf(0.5)),
        (lambda seed: _gaussians(300, 16, 0.0, seed), 0.5),
        (lambda seed: _mixtures(300, 0.7, seed), 0.5 * (1 + 0.2)),
    ],
    ids=["gaussians-2d", "gaussians-16d", "same-16d", "mixture-weights-2d"],
)
def test_agrees_with_sklearn_in_distribution(sample, bayes):
    """On the same draws, the means over 3 seeds of this C2ST and of scikit-learn's differ by less
    than 3 combined standard errors: each is a held-out accuracy over 600 points, binomial sd
    √(p(1 − p) / 600 / 3) for the mean, largest at p = ½; on the same data the two are positively
    correlated, so √2 that bounds the difference's sd. The shortfall from Bayes of the MLP (relu,
    160 units a layer in 16-D on 480 training rows) is then the one scikit-learn's classifier
    has. (Measured over 6 seeds, the sd of the paired difference was 0.010 in 2-D and 0.015 to
    0.028 in 16-D, below the √2 · 0.020 used.)"""
    n = 300
    ours, theirs = [], []
    for seed in SEEDS:
        x, y = sample(seed)
        ours.append(c2st(x, y, seed=seed))
        theirs.append(sklearn_c2st(x, y, seed=seed))
    combined = math.sqrt(2) * _standard_error(0.5, n, len(SEEDS))
    assert abs(np.mean(ours) - np.mean(theirs)) <= 3 * combined
    assert np.mean(ours) <= bayes + 3 * _standard_error(bayes, n, len(SEEDS))


def test_not_finite_draws_give_nan_and_bad_shapes_raise():
    x = torch.randn(50, 2)
    assert math.isnan(c2st(x, torch.full((50, 2), float("inf"))))
    with pytest.raises(ValueError, match=r"\(n, d\) and \(m, d\)"):
        c2st(x, torch.randn(50, 3))
    with pytest.raises(ValueError, match="n, m >= 1"):
        c2st(x, torch.randn(0, 2))
    with pytest.raises(ValueError, match="folds"):
        c2st(x[:2], x[:2], folds=5)


def test_a_constant_coordinate_is_left_unscaled():
    """A sampler stuck on one point: x's standard deviation is 0, no division by it; the exact
    draws around it are told apart (Bayes accuracy 1), far above chance: 0.5 + 4 null sd."""
    n = 100
    x = torch.zeros(n, 2)
    y = torch.randn(n, 2, generator=torch.Generator().manual_seed(0))
    assert c2st(x, y) >= 0.5 + 4 * _standard_error(0.5, n)


def test_same_seed_same_value_and_the_global_generator_untouched():
    x, y = _gaussians(100, 2, 1.0, seed=0)
    state = torch.random.get_rng_state()
    first = c2st(x, y, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert c2st(x, y, seed=3) == first
