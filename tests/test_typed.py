"""Typed settings tables: the `[suite]` settings and a method's hyperparameters are read from TOML,
converted and refused alike (`benchmark.typed`), and a dataclass built directly is checked too."""

from __future__ import annotations

import pytest

from benchmark.errors import ParamError
from benchmark.suite.registry import load_methods
from benchmark.suite.settings import SuiteSettings
from benchmark.training.parts import FlowMCParams, LangevinParams
from benchmark.typed import from_table

SUITE = {"name": "demo", "seeds": [0, 1], "methods": ["ula_ebm"], "iterations": 5}


def test_a_table_converts_lists_to_tuples_and_integers_to_floats():
    settings = SuiteSettings.from_table({**SUITE, "warmup_fraction": 0})
    assert settings.seeds == (0, 1) and settings.methods == ("ula_ebm",)
    assert isinstance(settings.warmup_fraction, float)
    params = load_methods()["flowmc_ebm"].configure({"lr": 1, "flow_hidden": [8, 8]})
    assert (params.lr, params.flow_hidden) == (1.0, (8, 8)) and isinstance(params.lr, float)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({**SUITE, "n_chain": 4}, "n_chain: unknown key (did you mean 'n_chains'?); known: "),
        ({**SUITE, "n_chains": 2.5}, "n_chains: must be an integer, got 2.5"),
        ({**SUITE, "compile": 1}, "compile: must be true or false, got 1"),
        ({**SUITE, "seeds": [0, "1"]}, "seeds: must be a list of integers, got [0, '1']"),
        ({**SUITE, "n_chains": 1}, "n_chains: must be an integer ≥ 2, got 1"),
        ({k: v for k, v in SUITE.items() if k != "iterations"}, "iterations: missing"),
    ],
)
def test_the_suite_table_names_the_key_the_type_and_the_closest_key(table, message):
    with pytest.raises(ParamError) as info:
        SuiteSettings.from_table(table)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"local_step": 4}, "local_step: unknown hyperparameter (did you mean 'local_steps'?)"),
        ({"local_steps": 2.5}, "local_steps: must be an integer, got 2.5"),
        ({"lr": True}, "lr: must be a number, got True"),
        ({"flow_hidden": [8, "8"]}, "flow_hidden: must be a list of integers, got [8, '8']"),
        ({"global_move": "mh"}, "global_move: must be one of 'isir', 'imh', got 'mh'"),
        ({"pool_size": 1}, "pool_size: must be at least 2, got 1"),
    ],
)
def test_a_hyperparameter_table_is_refused_in_the_same_words(table, message):
    with pytest.raises(ParamError) as info:
        from_table(FlowMCParams, table, noun="hyperparameter")
    assert str(info.value).startswith(message)


def test_a_dataclass_built_directly_is_checked_too():
    with pytest.raises(ParamError, match=r"^noise: must be one of 'auto', 'uniform', 'gaussian'"):
        LangevinParams(noise="normal")
    with pytest.raises(ParamError, match=r"^flow_hidden: must be a tuple of integers, got \[8\]"):
        FlowMCParams(flow_hidden=[8])  # a field holds a tuple: a list is a table's value
    with pytest.raises(ParamError, match=r"^seeds: must be a tuple of integers, got \(0, '1'\)"):
        SuiteSettings(seeds=(0, "1"))
