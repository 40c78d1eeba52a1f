"""C2ST timings (pytest-benchmark, `make bench-micro`): the torch implementation against the
scikit-learn one sbibm runs, at 300 draws a side (the quick profile) and 1000 (the default n_c2st),
in 2-D and 16-D, N(0, I) against N(e₁, I). One CPU thread (see tests/conftest.py); each round is a
different seed, so the training lengths vary as in the runs. The scikit-learn rounds take about
2.5 min in all. Timings are reported, never asserted."""

import pytest
import torch
from sklearn_c2st import sklearn_c2st

from benchmark.metrics import c2st

SIZES = [(300, 2), (300, 16), (1000, 2), (1000, 16)]
ROUNDS = 3


@pytest.mark.parametrize(("n", "dim"), SIZES, ids=[f"n{n}-dim{d}" for n, d in SIZES])
@pytest.mark.parametrize("implementation", [c2st, sklearn_c2st], ids=["torch", "sklearn"])
def test_c2st(benchmark, implementation, n, dim):
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, n, dim, generator=generator)
    y[:, 0] += 1.0
    seeds = iter(range(ROUNDS))

    def setup():
        return (x, y), {"seed": next(seeds)}

    benchmark.pedantic(implementation, setup=setup, rounds=ROUNDS)
