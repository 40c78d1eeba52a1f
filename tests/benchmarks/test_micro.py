"""Micro-benchmarks (pytest-benchmark, `make bench-micro`): one MALA step, one i-SIR step (pool
64) and one flowMC-EBM training iteration, for (chains, dim, hidden) = (256, 2, 64),
(1024, 32, 128), (8192, 64, 256), hidden being the width of the MLP energy. One CPU thread (see
tests/conftest.py). Timings are reported, never asserted."""

import dataclasses

import pytest
import torch

from baselines.flowmc_ebm import FlowMCEBMParams, fit
from benchmark.models.energy import MLPEnergy, TiltedEBM
from benchmark.models.flows import Flow
from benchmark.samplers import ISIR, MALA, Potential
from benchmark.targets import make_target
from benchmark.training.method import Problem

SIZES = [(256, 2, 64), (1024, 32, 128), (8192, 64, 256)]
IDS = [f"chains{c}-dim{d}-hidden{h}" for c, d, h in SIZES]


def _rounds(chains):
    """Few rounds for the largest size (seconds per call)."""
    return 3 if chains >= 8192 else 20


def _ebm(dim, hidden):
    torch.manual_seed(0)
    ebm = TiltedEBM(MLPEnergy(dim, hidden), dim, base_std=1.0)
    with torch.no_grad():  # a non-zero energy (the timing does not depend on the values)
        for p in ebm.energy.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    return ebm


def _potential(ebm):
    """The methods' potential: the written-out gradient of the MLP energy."""
    return Potential(ebm.potential, value_and_grad=ebm.potential_and_grad)


@pytest.mark.parametrize(("chains", "dim", "hidden"), SIZES, ids=IDS)
def test_mala_step(benchmark, chains, dim, hidden):
    generator = torch.Generator().manual_seed(0)
    mala = MALA(_potential(_ebm(dim, hidden)), step_size=0.01)
    state = mala.init(torch.randn(chains, dim, generator=generator))
    rounds = _rounds(chains) * 5
    benchmark.pedantic(mala.step, args=(state, generator), rounds=rounds, warmup_rounds=1)


@pytest.mark.parametrize(("chains", "dim", "hidden"), SIZES, ids=IDS)
def test_isir_step(benchmark, chains, dim, hidden):
    generator = torch.Generator().manual_seed(0)
    potential = _potential(_ebm(dim, hidden))
    isir = ISIR(potential, Flow(dim, base_std=1.0), pool_size=64)
    state = isir.init(torch.randn(chains, dim, generator=generator))
    benchmark.pedantic(isir.step, args=(state, generator), rounds=_rounds(chains), warmup_rounds=1)


@pytest.mark.parametrize(("chains", "dim", "hidden"), SIZES, ids=IDS)
def test_flowmc_ebm_iteration(benchmark, chains, dim, hidden):
    """One training iteration with the default parameters but batch_size = chains: `fit` with a
    budget of one iteration (this includes building the flow and its first draw of chains)."""
    params = dataclasses.replace(FlowMCEBMParams(), batch_size=chains, checkpoints=1)
    target = make_target("gmm", dim=dim, n_modes=2, separation=4.0)
    data = target.sample(4 * chains, torch.Generator().manual_seed(0))

    def setup():
        problem = Problem(data, _ebm(dim, hidden), 1, target)
        return (problem, params, torch.Generator().manual_seed(0), lambda i: None), {}

    benchmark.pedantic(fit, setup=setup, rounds=_rounds(chains), warmup_rounds=1)
