"""The method registry: the contract every registered method keeps, name and hyperparameter
errors, plugins by module name and by entry point, and the README's example plugin."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import torch

from benchmark.errors import ParamError
from benchmark.models.energy import MLPEnergy, TiltedEBM, base_std_from_data
from benchmark.samplers import sample_chains
from benchmark.suite import registry
from benchmark.suite.config import load_config
from benchmark.suite.registry import METHODS, MethodSpec, get_method, load_methods, register_method
from benchmark.targets import make_target
from benchmark.training.method import FittedModel, Problem, TrainParams

ITERATIONS = 3
README = Path(__file__).resolve().parents[1] / "README.md"

load_methods()
BUILT_IN = sorted(METHODS)


def tiny_problem(device: torch.device) -> Problem:
    """two_modes with 500 data points and a fresh default-width EBM (E ≡ 0), on `device`."""
    target = make_target("two_modes")
    data = target.sample(500, torch.Generator().manual_seed(0)).to(device)
    ebm = TiltedEBM(MLPEnergy(target.dim), target.dim, base_std_from_data(data)).to(device)
    return Problem(data, ebm, ITERATIONS, target)


def run(
    spec: MethodSpec, seed: int, device: torch.device
) -> tuple[Problem, FittedModel, list[int]]:
    """The method's test config on `tiny_problem`, seeded as the runner does: the global RNG
    (parameter initialisation, the EBM's and any network the method builds) by
    `torch.manual_seed(seed)`, the method's randomness by its generator. Returns the problem,
    the fitted model and the progress calls."""
    calls: list[int] = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        problem = tiny_problem(device)
        generator = torch.Generator(device).manual_seed(seed + 1)
        fitted = spec.fit(copy.deepcopy(problem), spec.test_config, generator, calls.append)
    return problem, fitted, calls


def check_contract(spec: MethodSpec, device: torch.device) -> None:
    """What the runner relies on: shapes, finiteness, checkpoints, counts, progress, and that the
    same seed gives the same output (so no global RNG)."""
    assert isinstance(spec.test_config, spec.params)
    problem, fitted, calls = run(spec, 0, device)
    d = problem.ebm.dim
    assert isinstance(fitted, FittedModel)
    assert calls == list(range(1, ITERATIONS + 1))

    energies = fitted.ebm.energy(problem.data).detach()
    assert energies.shape == (len(problem.data),)
    assert torch.isfinite(energies).all()
    for name in ("negatives", "initial", "start"):
        x = getattr(fitted, name)
        assert x.ndim == 2 and x.shape[0] >= 1 and x.shape[1] == d, name
        assert x.dtype == torch.float32 and x.device.type == device.type, name
        assert torch.isfinite(x).all(), name

    state = fitted.sampler.init(fitted.start)
    generator = torch.Generator(device).manual_seed(2)
    _, draws, infos = sample_chains(fitted.sampler, state, 4, generator)
    assert draws.shape == (fitted.start.shape[0], 4, d)
    assert torch.isfinite(draws).all()
    assert len(infos) == 4

    assert fitted.checkpoints, "no checkpoints"
    iterations = [c.iteration for c in fitted.checkpoints]
    assert iterations == sorted(set(iterations))
    assert 1 <= iterations[0] and iterations[-1] == ITERATIONS
    for checkpoint in fitted.checkpoints:
        assert checkpoint.energy_state.keys() == fitted.ebm.energy.state_dict().keys()
        assert checkpoint.negatives.ndim == 2 and checkpoint.negatives.shape[1] == d
        assert torch.isfinite(checkpoint.negatives).all()
    assert fitted.counter.energy > 0

    _, again, _ = run(spec, 0, device)
    assert torch.equal(again.negatives, fitted.negatives)
    state_a, state_b = fitted.ebm.energy.state_dict(), again.ebm.energy.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_method_keeps_the_contract(name, device):
    check_contract(get_method(name), device)


def test_the_mcmc_baselines_and_oracle_are_registered():
    for name in ("flowmc_ebm", "ula_ebm", "short_run", "pcd", "oracle"):
        assert name in BUILT_IN


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(ValueError, match="did you mean 'ula_ebm'") as err:
        get_method("ula_ebn")
    for name in BUILT_IN:
        assert name in str(err.value)


@pytest.fixture
def dummy_fit():
    def fit(problem, params, generator, progress):
        raise AssertionError("never called")

    return fit


def test_registering_a_name_twice_fails(clean_registry, dummy_fit):
    register_method("twice", display="Twice", params=TrainParams, test_config=TrainParams())(
        dummy_fit
    )
    with pytest.raises(ValueError, match="'twice' is already registered"):
        register_method("twice", display="Again", params=TrainParams, test_config=TrainParams())(
            dummy_fit
        )
    with pytest.raises(ValueError, match="'ula_ebm' is already registered"):
        register_method("ula_ebm", display="x", params=TrainParams, test_config=TrainParams())(
            dummy_fit
        )


def test_a_display_name_is_taken_once(clean_registry, dummy_fit):
    """Tables group runs by display name: two methods sharing one would be merged."""
    with pytest.raises(ValueError, match="display name 'ULA-EBM' is taken by 'ula_ebm'"):
        register_method(
            "ula_copy", display="ULA-EBM", params=TrainParams, test_config=TrainParams()
        )(dummy_fit)
    assert "ula_copy" not in METHODS


def test_params_must_extend_train_params(clean_registry, dummy_fit):
    with pytest.raises(TypeError, match="extending TrainParams"):
        register_method("bad", display="Bad", params=dict, test_config=TrainParams())(dummy_fit)


def test_configure_applies_good_overrides():
    spec = get_method("ula_ebm")
    params = spec.configure({"steps": 100, "lr": 1, "noise": "gaussian"})
    assert (params.steps, params.lr, params.noise) == (100, 1.0, "gaussian")
    assert isinstance(params.lr, float)
    assert spec.configure({}) == spec.params()
    flow_params = get_method("flowmc_ebm").configure({"flow_hidden": [8, 8]})
    assert flow_params.flow_hidden == (8, 8)


def test_configure_rejects_unknown_keys_with_a_suggestion():
    with pytest.raises(ParamError, match=r"^step: unknown.*did you mean 'steps'") as info:
        get_method("ula_ebm").configure({"step": 10})
    assert info.value.key == "step"


@pytest.mark.parametrize(
    ("key", "value"),
    [("steps", "many"), ("steps", 2.5), ("steps", True), ("lr", "fast"), ("noise", 3)],
)
def test_configure_rejects_wrong_types(key, value):
    with pytest.raises(ParamError, match=rf"^{key}: must be ") as info:
        get_method("ula_ebm").configure({key: value})
    assert info.value.key == key


def test_configure_rejects_bad_values_naming_them():
    with pytest.raises(ParamError, match=r"^restart: must be in \[0, 1\]") as info:
        get_method("pcd").configure({"restart": 1.5})
    assert info.value.key == "restart"


PLUGIN = """
from benchmark.training.method import TrainParams
from benchmark.suite.registry import register_method


@register_method("{name}", display="Plugin", params=TrainParams, test_config=TrainParams())
def fit(problem, params, generator, progress):
    raise NotImplementedError
"""


def test_plugin_module_on_sys_path_registers(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "some_plugin_mod.py").write_text(PLUGIN.format(name="from_plugin"))
    monkeypatch.syspath_prepend(tmp_path)
    assert "from_plugin" not in METHODS
    methods = load_methods(plugins=["some_plugin_mod"])
    assert methods["from_plugin"].fit.__module__ == "some_plugin_mod"
    load_methods(plugins=["some_plugin_mod"])  # loading twice is harmless


def test_entry_point_of_an_installed_distribution_registers(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "fake_ep_mod.py").write_text(PLUGIN.format(name="from_entry_point"))
    info = tmp_path / "fake_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\nfake = fake_ep_mod\n")
    monkeypatch.syspath_prepend(tmp_path)
    assert "from_entry_point" not in METHODS
    assert load_methods()["from_entry_point"].fit.__module__ == "fake_ep_mod"


def test_missing_plugin_module_is_named(clean_registry):
    with pytest.raises(ValueError, match="cannot import 'no_such_plugin_module'"):
        load_methods(plugins=["no_such_plugin_module"])


def test_plugin_with_a_missing_dependency_is_named(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "broken_plugin_mod.py").write_text("import no_such_dependency_module\n")
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(ValueError, match="'broken_plugin_mod'.*no_such_dependency_module"):
        load_methods(plugins=["broken_plugin_mod"])


def readme_example() -> str:
    """The Python code block of the README's "Add a baseline" section."""
    text = README.read_text()
    section = text.split("<!-- BEGIN add-baseline -->")[1].split("<!-- END add-baseline -->")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section shows exactly one Python file"
    return blocks[0]


def test_readme_example_plugin_keeps_the_contract(clean_registry, tmp_path, monkeypatch, device):
    code = readme_example()
    assert len(code.splitlines()) < 45
    (tmp_path / "my_method.py").write_text(code)
    monkeypatch.syspath_prepend(tmp_path)
    before = set(METHODS)
    load_methods(plugins=["my_method"])
    added = set(METHODS) - before
    assert len(added) == 1
    check_contract(METHODS[added.pop()], device)


def test_readme_example_config_is_valid(clean_registry, tmp_path, monkeypatch):
    section = README.read_text().split("<!-- BEGIN add-baseline -->")[1]
    toml = re.findall(r"```toml\n(.*?)```", section.split("<!-- END add-baseline -->")[0], re.S)
    assert len(toml) == 1
    (tmp_path / "my_method.py").write_text(readme_example())
    (tmp_path / "my_config.toml").write_text(toml[0])
    monkeypatch.syspath_prepend(tmp_path)
    suite = load_config(tmp_path / "my_config.toml", extra_plugins=["my_method"])
    assert suite.settings.methods == ("mala_ebm", "ula_ebm")
    assert [t.kind for t in suite.targets] == ["four_modes"]
