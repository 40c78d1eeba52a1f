"""Jarzynski-weighted ULA walkers against known answers: a Gaussian whose scale grows from 1 to 2
along a known path, U_t(x) = |x|²/2s_t², whose log Z changes by d·log 2 and whose E|x|² ends at
d·s² = 8 — with a ULA step large enough that the unweighted walkers are visibly wrong."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.jarzynski_ula import JarzynskiParams, JarzynskiWalkers
from benchmark.errors import ParamError
from benchmark.samplers import ULA, Potential

DIM, WALKERS, STEP = 2, 20_000, 0.2
_RUNS = 8  # independent runs per known-answer check


def _run_path(steps: int, ess_threshold: float, seed: int) -> tuple[JarzynskiWalkers, int]:
    """Walkers from exact N(0, I) draws, one ULA step per change of s (1 → 2 in `steps`). Returns
    the walkers and the number of resamplings."""
    scale = torch.tensor(1.0)
    potential = Potential(lambda x: x.square().sum(-1) / (2 * scale**2))
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(WALKERS, DIM, generator=generator)
    walkers = JarzynskiWalkers(ULA(potential, STEP), start, ess_threshold)
    resampled = 0
    for t in range(1, steps + 1):
        scale.fill_(1.0 + t / steps)
        walkers.step(generator)
        resampled += walkers.resample_if_degenerate(generator)
    assert potential.counter.grad == WALKERS * (steps + 1)  # one gradient per walker and step
    return walkers, resampled


@pytest.mark.parametrize(("steps", "threshold"), [(100, 0.0), (50, 0.9)])
def test_the_weights_track_log_z_and_the_moments_through_a_change_of_scale(steps, threshold):
    # log Z and E|x|² = d s² = 8 under the final Gaussian, each from the weighted walkers of 8
    # independent runs, within 4 standard errors of their mean — the spread of the runs, not a
    # formula: after resampling the walkers share ancestors, which the weights' ESS does not see
    # (on a path of 10 steps the runs' spread is 5× the ESS-based error).
    estimates = []
    for seed in range(_RUNS):
        walkers, resampled = _run_path(steps, threshold, seed)
        assert (resampled > 0) == (threshold > 0)
        r2, w = walkers.state.x.square().sum(-1), walkers.weights()
        estimates.append((walkers.log_normaliser(), float((w * r2).sum())))
        if threshold == 0 and seed == 0:  # never resampled: the walkers lag, with ULA's bias
            assert abs(float(r2.mean()) - DIM * 4) > 5 * math.sqrt(2 * DIM * 16 / WALKERS)
    runs = torch.tensor(estimates, dtype=torch.float64)
    centre, error = runs.mean(0), 4 * runs.std(0) / math.sqrt(_RUNS)
    truth = torch.tensor([DIM * math.log(2), DIM * 4.0], dtype=torch.float64)
    assert bool(((centre - truth).abs() <= error).all()), (centre.tolist(), error.tolist())


def test_ess_threshold_must_be_a_fraction():
    with pytest.raises(ParamError, match="ess_threshold"):
        JarzynskiParams(ess_threshold=1.5)
