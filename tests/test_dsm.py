"""Denoising score matching as the negative control of mode weights: its loss cannot tell the true
two-mode density from one with the weights swapped (the likelihood can), and, trained, its weight
error stays far above a likelihood-trained EBM's."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.dsm import DSMParams, dsm_loss
from benchmark.errors import ParamError
from benchmark.metrics.density import grid_weights
from benchmark.metrics.weights import weight_tv
from benchmark.models.energy import MLPEnergy, TiltedEBM, base_std_from_data
from benchmark.suite.registry import get_method, load_methods
from benchmark.targets import make_target
from benchmark.training.method import Problem
from benchmark.training.parts import TrueEnergy

load_methods()
TRUE, SWAPPED = [1 / 3, 2 / 3], [2 / 3, 1 / 3]


def _true_ebm(weights: list[float]) -> TiltedEBM:
    target = make_target("two_modes", weights=weights)
    return TiltedEBM(TrueEnergy(target, 2.0), 2, 2.0)


def test_the_loss_is_blind_to_the_weights_of_separated_modes():
    """On data of two_modes (weights 1/3, 2/3; ≈ 45 nats of energy between the modes), the DSM
    loss of the true density and of the same modes with the weights swapped agree to float32
    rounding on the same noise — the score in each mode does not depend on the weights — while
    their negative log-likelihoods differ by KL = (1/3)log(1/2) + (2/3)log 2 ≈ 0.231 nats."""
    target = make_target("two_modes", weights=TRUE)
    x = target.sample(4096, torch.Generator().manual_seed(0))
    right, wrong = _true_ebm(TRUE), _true_ebm(SWAPPED)
    loss_right = dsm_loss(right, x, 0.1, torch.Generator().manual_seed(1)).item()
    loss_wrong = dsm_loss(wrong, x, 0.1, torch.Generator().manual_seed(1)).item()
    assert abs(loss_right - loss_wrong) <= 1e-5 * loss_right

    nll_gap = float((wrong.potential(x) - right.potential(x)).mean())  # both normalised
    kl = TRUE[0] * math.log(TRUE[0] / SWAPPED[0]) + TRUE[1] * math.log(TRUE[1] / SWAPPED[1])
    stderr = float((wrong.potential(x) - right.potential(x)).std()) / math.sqrt(len(x))
    assert abs(nll_gap - kl) <= 4 * stderr and kl > 0.2


def _trained_tv(method: str, weights: list[float], iterations: int) -> float:
    """Mode-weight TV of the method's EBM (quadrature) after training on two_modes."""
    target = make_target("two_modes", weights=weights)
    torch.manual_seed(0)
    data = target.sample(10_000, torch.Generator().manual_seed(0))
    ebm = TiltedEBM(MLPEnergy(2), 2, base_std_from_data(data))
    spec = get_method(method)
    params = spec.configure({"steps": 1} if method == "dsm" else {})
    problem = Problem(data, ebm, iterations, target)
    fitted = spec.fit(problem, params, torch.Generator().manual_seed(1), lambda i: None)
    with torch.no_grad():
        found = grid_weights(fitted.ebm.log_unnormalised, target, None, 256, 128)
    return weight_tv(found.weights, target.region_weights().weights)


@pytest.mark.slow
def test_trained_dsm_misses_the_weights_that_maximum_likelihood_finds():
    """300 iterations at the defaults on two_modes and on its swapped weights, mode-weight TV of
    the EBM by quadrature (exact to its grid). DSM's weights are set by how its network bridges
    the gap the data never visit, not by the data's mass, so on one weighting it may land near
    the truth by chance: the test takes the mean over the two. Measured when written: DSM 0.019
    and 0.273 (mean 0.146), flowMC-EBM 0.013 and 0.020; asserted: DSM's mean above 0.1,
    flowMC-EBM's below 0.03."""
    dsm = [_trained_tv("dsm", weights, 300) for weights in (TRUE, SWAPPED)]
    flowmc = [_trained_tv("flowmc_ebm", weights, 300) for weights in (TRUE, SWAPPED)]
    assert sum(dsm) / 2 > 0.1 and sum(flowmc) / 2 < 0.03


def test_noise_std_must_be_positive():
    with pytest.raises(ParamError, match="noise_std"):
        DSMParams(noise_std=0.0)
