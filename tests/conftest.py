"""Shared test settings: one CPU thread (the machine is shared, and timings stay comparable), and
`--device`: the tests that take the `device` fixture (every method's contract, the runner end to
end) run there, e.g. `pytest --device cuda` on a GPU machine."""

import sys
from pathlib import Path

import pytest
import torch

from benchmark.suite import registry
from benchmark.suite.registry import METHODS, load_methods


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


@pytest.fixture
def clean_registry():
    """Undo every registration and plugin import a test makes. The built-in methods are registered
    first: undoing must never unregister a module that stays imported."""
    load_methods()
    methods, loaded = dict(METHODS), set(registry._loaded)
    yield
    METHODS.clear()
    METHODS.update(methods)
    for module in registry._loaded - loaded:
        sys.modules.pop(module, None)
    registry._loaded.clear()
    registry._loaded.update(loaded)


@pytest.fixture
def planted_plugin(clean_registry, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module name of the planted plugin method (tests/plugins/planted_q.py, registered as
    "planted"; outside the collected modules, so that only the tests asking for it register it),
    for `--plugin`, its folder on the path; its registration undone afterwards."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins"))
    return "planted_q"
