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


def _run_path(steps: int, ess_threshold: float) -> tuple[JarzynskiWalkers, list[float], int]:
    """Walkers from exact N(0, I) draws, one ULA step per change of s (1 → 2 in `steps`). Returns
    the walkers, the ESS of each segment between resamplings (the last one included) and the
    number of resamplings."""
    scale = torch.tensor(1.0)
    potential = Potential(lambda x: x.square().sum(-1) / (2 * scale**2))
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(WALKERS, DIM, generator=generator)
    walkers = JarzynskiWalkers(ULA(potential, STEP), start, ess_threshold)
    segments, resampled = [], 0
    for t in range(1, steps + 1):
        scale.fill_(1.0 + t / steps)
        walkers.step(generator)
        ess = walkers.ess()
        if walkers.resample_if_degenerate(generator):
            segments.append(ess)
            resampled += 1
    segments.append(walkers.ess())
    assert potential.counter.grad == WALKERS * (steps + 1)  # one gradient per walker and step
    return walkers, segments, resampled


def _log_z_stderr(segments: list[float]) -> float:
    """Delta-method standard error of log mean(w) summed over independent segments:
    Var ≈ CV²(w)/n = (n/ESS − 1)/n per segment."""
    return math.sqrt(sum((WALKERS / ess - 1) / WALKERS for ess in segments))


@pytest.mark.parametrize(("steps", "threshold"), [(100, 0.0), (10, 0.9)])
def test_the_weights_track_log_z_and_the_moments_through_a_change_of_scale(steps, threshold):
    walkers, segments, resampled = _run_path(steps, threshold)
    assert (resampled > 0) == (threshold > 0)  # the fast path degenerates the weights
    log_z = walkers.log_normaliser()
    assert abs(log_z - DIM * math.log(2)) <= 4 * _log_z_stderr(segments)

    # E|x|² = d s² = 8 under the final Gaussian; |x|² is then (s²)·χ²_d, of variance 2d s⁴ = 64
    r2, w = walkers.state.x.square().sum(-1), walkers.weights()
    weighted_se = math.sqrt(2 * DIM * 16 / segments[-1])
    assert abs(float((w * r2).sum()) - DIM * 4) <= 4 * weighted_se
    if threshold == 0:  # never resampled: the walkers themselves lag and carry ULA's bias
        assert abs(float(r2.mean()) - DIM * 4) > 5 * math.sqrt(2 * DIM * 16 / WALKERS)


def test_ess_threshold_must_be_a_fraction():
    with pytest.raises(ParamError, match="ess_threshold"):
        JarzynskiParams(ess_threshold=1.5)
