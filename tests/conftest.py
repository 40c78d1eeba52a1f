"""Shared test settings: one CPU thread (the machine is shared, and timings stay comparable), and
`--device`: the tests that take the `device` fixture (every method's contract, the runner end to
end) run there, e.g. `pytest --device cuda` on a GPU machine."""

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu", help="torch device of the tests (cpu or cuda)")


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)
    device = config.getoption("--device")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError("--device cuda: CUDA is not available on this machine")


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device given by `--device` (default cpu)."""
    return torch.device(request.config.getoption("--device"))


@pytest.fixture
def generator() -> torch.Generator:
    """A fresh CPU generator with a fixed seed (known-answer tests run on the CPU)."""
    return torch.Generator().manual_seed(0)
