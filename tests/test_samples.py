"""Known answers for the sample metrics (docs/SCIENCE.md §7.12): the unbiased MMD² is centred on 0
between exact samples and within a few noise floors of it; MMD² and the sliced W₂² rise far above
their floors when a mode is missing; the sliced W₂² of two 1-D Gaussians is their squared shift;
the modes found count the regions at half their true weight or more."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.metrics import sample_weights
from benchmark.metrics.samples import (
    SampleDistances,
    mmd2,
    modes_found,
    noise_floor,
    random_directions,
    sample_distances,
    sliced_w2,
)
from benchmark.targets import make_target


def _pairs(draw, n: int, count: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(draw(n), draw(n)) for _ in range(count)]


def test_the_mmd_of_exact_samples_is_unbiased_and_within_its_floor():
    # 40 pairs of 300 draws of N(0, I₂): the mean of the estimates is 0 within 4 standard errors
    # of the mean (a V-statistic, the diagonal kept, is high by 2 (1 − E k)/n ≈ 3e-3, 2.6
    # standard errors of this sample's mean: outside); one estimate within 5 floors of 0 (the
    # ratio of an estimate to an RMS over 4 pairs is about t with 4 degrees of freedom).
    generator = torch.Generator().manual_seed(0)
    draw = lambda n: torch.randn(n, 2, generator=generator)  # noqa: E731
    values = torch.tensor([mmd2(draw(300), draw(300)) for _ in range(40)])
    assert values.mean().abs() <= 4 * values.std() / math.sqrt(len(values))
    assert (values < 0).any() and (values > 0).any()  # an unbiased estimate of 0 has both signs
    floor = noise_floor(mmd2, _pairs(draw, 300))
    assert floor > 0
    assert abs(mmd2(draw(300), draw(300))) <= 5 * floor


def test_a_missing_mode_raises_mmd_and_sliced_w2_far_above_their_floors():
    # four_modes without its heaviest mode (region 3, weight 0.4): 1000 draws a side against
    # 1000 exact ones, each distance more than 10 times what two exact samples read
    target = make_target("four_modes")
    generator = torch.Generator().manual_seed(1)
    draw = lambda n: target.sample(n, generator)  # noqa: E731
    pool = draw(4000)
    dropped = pool[target.assign_modes(pool) != 3][:1000]
    exact = torch.stack([draw(1000) for _ in range(9)])
    missing = sample_distances(dropped, exact, generator)
    assert missing.mmd > 10 * missing.mmd_floor and missing.sw2 > 10 * missing.sw2_floor
    same = sample_distances(draw(5000), exact, generator)  # all modes: within a few floors
    assert abs(same.mmd) <= 5 * same.mmd_floor and same.sw2 <= 5 * same.sw2_floor
    assert isinstance(same, SampleDistances) and 0 < same.sw2 < missing.sw2


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0])
def test_the_sliced_w2_of_two_shifted_1d_gaussians_is_the_squared_shift(shift):
    # In 1-D every direction is ±1 and SW₂² = W₂² of the samples: for N(0, 1) and N(m, 1),
    # W₂²(x, y' + m) = W₂²(x, y') − 2m(x̄ − ȳ') + m², with y' ~ N(0, 1): m² within
    # 2m · 4 √(2/n) (the means' difference) + 5 floors (W₂² between two exact samples)
    n = 20_000
    generator = torch.Generator().manual_seed(2)
    draw = lambda n: torch.randn(n, 1, generator=generator)  # noqa: E731
    theta = random_directions(1, 256, generator)
    assert set(theta.reshape(-1).tolist()) <= {-1.0, 1.0}
    value = sliced_w2(draw(n), draw(n) + shift, theta)
    floor = noise_floor(lambda a, b: sliced_w2(a, b, theta), _pairs(draw, n))
    assert floor < 1e-3
    assert abs(value - shift**2) <= 2 * shift * 4 * math.sqrt(2 / n) + 5 * floor


def test_non_finite_draws_give_nan_and_mismatched_shapes_are_refused():
    x = torch.zeros(10, 2)
    x[3, 1] = math.inf
    y = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    theta = random_directions(2, 8, torch.Generator().manual_seed(0))
    assert math.isnan(mmd2(x, y)) and math.isnan(sliced_w2(x, y, theta))
    with pytest.raises(ValueError, match="sliced_w2 needs"):
        sliced_w2(y[:5], y, theta)
    with pytest.raises(ValueError, match="mmd2 needs"):
        mmd2(y[:1], y)


def test_modes_found_on_exact_draws_are_all_and_one_less_without_a_mode():
    target = make_target("four_modes")
    truth = target.region_weights().weights
    x = target.sample(4000, torch.Generator().manual_seed(3))
    regions = target.assign_modes(x)
    assert modes_found(sample_weights(regions, target.n_modes), truth) == target.n_modes
    kept = regions[regions != 0]  # without mode 0's draws the others' shares rise
    assert modes_found(sample_weights(kept, target.n_modes), truth) == target.n_modes - 1


def test_a_mode_is_found_from_half_its_true_weight():
    truth = torch.tensor([0.5, 0.5])
    assert modes_found(torch.tensor([0.25, 0.75]), truth) == 2  # exactly half: found
    assert modes_found(torch.tensor([0.2, 0.8]), truth) == 1
