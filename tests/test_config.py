"""Suite configs: parsing, defaults, resolved hyperparameters, and every bad input named by file
and key (the CLI turns these into exit status 2, see test_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from benchmark.suite.config import ConfigError, load_config
from benchmark.suite.registry import get_method
from benchmark.suite.settings import SuiteSettings


def tiny_toml(
    name: str = "tiny",
    seeds: str = "[0]",
    methods: str = '["flowmc_ebm"]',
    targets: str = '[[targets]]\ntarget = "four_modes"\n',
    extra: str = "",
    flowmc_table: bool = True,
) -> str:
    """A suite small enough for tests: 3 iterations, 200 data points, 16 chains of 40 cost units, no
    C2ST, and flowmc_ebm at its registered test_config size."""
    text = f"""
[suite]
name = "{name}"
seeds = {seeds}
methods = {methods}
iterations = 3
n_data = 200
n_chains = 16
sample_cost = 40
c2st_max_dim = 0
{extra}
{targets}
"""
    return text + (FLOWMC_TEST_SIZE if flowmc_table else "")


FLOWMC_TEST_SIZE = """
[methods.flowmc_ebm]
batch_size = 32
pool_size = 4
local_steps = 2
sweeps = 1
checkpoints = 2
"""


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parses_presets_families_defaults_and_overrides(tmp_path):
    targets = """
[[targets]]
target = "four_modes"

[[targets]]
name = "three_modes"
family = "gmm"
means = [[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]]
weights = [0.6, 0.3, 0.1]
variances = [0.1, 0.1, 0.1]

[[targets]]
name = "hd16_equal"
target = "hd16"
weights = [0.25, 0.25, 0.25, 0.25]
"""
    config = load_config(write(tmp_path, tiny_toml(seeds="[0, 1, 2]", targets=targets)))
    settings = config.settings
    assert settings.name == "tiny" and settings.seeds == (0, 1, 2) and settings.iterations == 3
    assert settings.n_data == 200 and settings.energy_depth == SuiteSettings().energy_depth
    assert [t.name for t in config.targets] == ["four_modes", "three_modes", "hd16_equal"]
    built = [t.build() for t in config.targets]
    assert [t.dim for t in built] == [2, 2, 16]
    assert torch.allclose(built[1].weights, torch.tensor([0.6, 0.3, 0.1]))
    assert torch.allclose(built[2].weights, torch.full((4,), 0.25))
    assert settings.energy_width(2) == 64 and settings.energy_width(16) == 128
    expected = get_method("flowmc_ebm").configure({"batch_size": 32, "pool_size": 4})
    for target in ("four_modes", "three_modes", "hd16_equal"):
        (variant,) = config.variants[target]  # no grid: one variant per method, named after it
        assert variant.name == "flowmc_ebm" and variant.swept == {}
        assert variant.params.batch_size == expected.batch_size == 32
        assert variant.params.lr == expected.lr  # a default, resolved
    resolved = config.resolved()
    assert resolved["suite"]["plugins"] == []
    assert resolved["variants"]["four_modes"] == [config.variants["four_modes"][0].to_json()]


def test_energy_hidden_overrides_the_width_for_every_dimension(tmp_path):
    config = load_config(write(tmp_path, tiny_toml(extra="energy_hidden = 32")))
    assert config.settings.energy_width(2) == config.settings.energy_width(64) == 32


def test_command_line_plugins_join_the_configs_without_duplicates(tmp_path):
    config = load_config(write(tmp_path, tiny_toml()), ["json", "json"])
    assert config.settings.plugins == ("json",)


FOUR = '[[targets]]\ntarget = "four_modes"\n'
GENERATED = '[[targets]]\nfamily = "gmm"\ndim = 4\nn_modes = 2\nseparation = 3.0\n'

#: (config text, expected "<key>: <message>" fragment after the file name)
BAD = {
    "invalid TOML": ("[suite\nname = 1", ": invalid TOML: "),
    "no suite": (FOUR, ": suite: missing table [suite]"),
    "unknown suite key": (tiny_toml(extra="iteration = 3"), ": suite.iteration: unknown key"),
    "missing key": (tiny_toml().replace("iterations = 3", ""), ": suite.iterations: missing"),
    "bad seeds": (tiny_toml(seeds='["a"]'), ": suite.seeds: must be a list of integers"),
    "duplicate seeds": (tiny_toml(seeds="[1, 1]"), ": suite.seeds: must be distinct"),
    "no cost": (
        tiny_toml().replace("sample_cost = 40", "sample_cost = 0"),
        ": suite.sample_cost: ",
    ),
    "whole warm-up": (
        tiny_toml(extra="warmup_fraction = 1.0"),
        ": suite.warmup_fraction: ",
    ),
    "compile not a boolean": (
        tiny_toml(extra='compile = "yes"'),
        ": suite.compile: must be true or false, got 'yes'",
    ),
    "unknown method": (
        tiny_toml(methods='["flowmc_ebn"]'),
        ": suite.methods: unknown method 'flowmc_ebn' (did you mean 'flowmc_ebm'?)",
    ),
    "unknown family": (
        tiny_toml(targets='[[targets]]\nfamily = "gmn"\n'),
        ": targets[0].family: unknown family or preset 'gmn' (did you mean 'gmm'?)",
    ),
    "unknown preset": (
        tiny_toml(targets='[[targets]]\ntarget = "four_mode"\n'),
        ": targets[0].target: unknown family or preset 'four_mode' (did you mean 'four_modes'?)",
    ),
    "bad weights": (
        tiny_toml(targets=FOUR + '[[targets]]\ntarget = "four_modes"\nname = "w"\nweights = [1]'),
        ": targets[1].weights: expected 4 values",
    ),
    "bad value inside a generated target": (
        tiny_toml(targets=GENERATED + 'seed = "abc"\n'),
        ": targets[0].seed: must be an integer, got 'abc'",
    ),
    "unknown target parameter": (
        tiny_toml(targets='[[targets]]\ntarget = "rings"\nradius = [1.0]\n'),
        ": targets[0].radius: not a parameter of 'rings'",
    ),
    "both family and target": (
        tiny_toml(targets='[[targets]]\ntarget = "rings"\nfamily = "rings"\n'),
        ": targets[0]: give exactly one of 'family' or 'target'",
    ),
    "duplicate target names": (tiny_toml(targets=FOUR + FOUR), ": targets[1].name: duplicate"),
    "unsafe target name": (
        tiny_toml(targets='[[targets]]\ntarget = "rings"\nname = "a/b"\n'),
        ": targets[0].name: must be letters",
    ),
    "unknown hyperparameter": (
        tiny_toml() + "lrr = 0.1\n",
        ": methods.flowmc_ebm.lrr: unknown hyperparameter (did you mean 'lr'?)",
    ),
    "invalid hyperparameter value": (
        tiny_toml() + "lr = -1.0\n",
        ": methods.flowmc_ebm.lr: must be positive, got -1.0",
    ),
    "wrong hyperparameter type": (
        tiny_toml() + "global_move = 3\n",
        ": methods.flowmc_ebm.global_move: must be one of 'isir', 'imh', got 3",
    ),
    "override of an unknown method": (
        tiny_toml() + "[methods.ula_ebn]\nsteps = 3\n",
        ": methods.ula_ebn: overrides no registered method (did you mean 'ula_ebm'?)",
    ),
    "missing plugin": (
        tiny_toml(extra='plugins = ["no_such_plugin_module_x"]'),
        ": suite.plugins: cannot import 'no_such_plugin_module_x'",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_configs_name_the_file_and_key(tmp_path, case):
    text, fragment = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message


def test_unreadable_file_is_named(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=f"^{missing}: cannot read: "):
        load_config(missing)


CONFIGS = Path(__file__).resolve().parents[1] / "benchmark" / "configs"


def builtin(methods: dict) -> set[str]:
    """The methods of this package's `baselines` (not the plugins other tests register)."""
    return {name for name, spec in methods.items() if spec.fit.__module__.startswith("baselines.")}


def test_the_quick_profile_is_valid_and_covers_every_method():
    from benchmark.suite.registry import METHODS

    config = load_config(CONFIGS / "quick.toml")
    assert set(config.settings.methods) == builtin(METHODS)
    assert len(config.settings.seeds) >= 5  # the power argument in quick.toml's header
    assert [t.name for t in config.targets] == ["four_modes", "eight_gaussians"]


def test_a_copy_of_the_quick_profile_may_run_fewer_methods():
    # the README's "Comparing against a committed reference": its per-target tables of the
    # methods it no longer runs are unused, not an error
    import tomllib

    from benchmark.suite.config import config_from_dict

    raw = tomllib.loads((CONFIGS / "quick.toml").read_text())
    raw["suite"]["methods"] = ["ula_ebm"]
    config = config_from_dict(raw)
    quick = load_config(CONFIGS / "quick.toml")
    for target, variants in config.variants.items():
        assert variants == [v for v in quick.variants[target] if v.method == "ula_ebm"]


def test_the_quick_profile_runs_each_method_as_the_committed_tuned_report_chose():
    # docs/PROFILES.md: the quick profile's hyperparameters are the tuned profile's truth-free
    # choice at the same budget, read here from the committed tuned reference's records
    import pandas as pd

    from benchmark.reporting.selection import select_variants

    quick, tuned = (load_config(CONFIGS / f"{name}.toml") for name in ("quick", "tuned"))
    trained = ("iterations", "n_data", "n_chains", "compile", "energy_hidden", "energy_depth")
    for setting in trained:
        assert getattr(quick.settings, setting) == getattr(tuned.settings, setting), setting
    assert [t.name for t in quick.targets] == [t.name for t in tuned.targets]
    results = pd.read_csv(CONFIGS.parents[1] / "reports" / "tuned" / "results.csv")
    chosen = select_variants(results).set_index(["target", "method"]).variant
    for target, variants in tuned.variants.items():
        grid = {v.name: v.params for v in variants}
        for used in quick.variants[target]:
            assert used.params == grid[chosen[target, used.method]], (target, used.method)


def test_the_tuned_profile_sweeps_every_trained_method_on_the_quick_profiles_targets():
    from benchmark.suite.registry import METHODS

    config = load_config(CONFIGS / "tuned.toml")
    assert set(config.settings.methods) == builtin(METHODS) and len(config.settings.seeds) == 3
    for target in ("four_modes", "eight_gaussians"):
        grids = {}
        for v in config.variants[target]:
            grids.setdefault(v.method, set()).add(tuple(sorted(v.swept.items())))
        assert grids.pop("oracle") == {()}  # nothing to tune: its energy is the truth
        for method, points in grids.items():
            assert {dict(p)["lr"] for p in points} == {1e-3, 3e-3, 1e-2}, method
        assert {dict(p)["steps"] for p in grids["ula_ebm"] | grids["short_run"]} == {32, 128}
    runs = sum(len(vs) for vs in config.variants.values()) * len(config.settings.seeds)
    assert runs == 240  # the count its header budgets


PAPER_PARTS = ["2d", "hd16", "hd32", "hd64"]


@pytest.mark.parametrize("part", PAPER_PARTS)
def test_each_paper_part_runs_the_papers_methods_with_its_sampler_settings(part):
    config = load_config(CONFIGS / "paper" / f"{part}.toml")
    settings = config.settings
    assert settings.name == f"paper-{part}" and len(settings.seeds) >= 3
    assert settings.methods == ("flowmc_ebm", "ula_ebm", "nt_ebm", "coopflow")
    # docs/SCIENCE.md §3.4: the paper's sampler settings, the same on every target of the part
    per_target = [{v.method: v.params for v in vs} for vs in config.variants.values()]
    params = per_target[0]
    assert all(p == params for p in per_target)
    assert params["ula_ebm"].steps == 512 and params["coopflow"].ula_steps == 256
    assert params["nt_ebm"].mala_steps == 128
    flowmc = (getattr(params["flowmc_ebm"], k) for k in ("pool_size", "local_steps", "sweeps"))
    assert tuple(flowmc) == ((64, 24, 5) if part == "2d" else (128, 8, 16))


def test_the_paper_parts_together_hold_every_target_of_the_papers_tables():
    from benchmark.reporting.paper import PAPER_TARGETS, match_target

    targets = [
        t.build()
        for part in PAPER_PARTS
        for t in load_config(CONFIGS / "paper" / f"{part}.toml").targets
    ]
    for key, paper in PAPER_TARGETS.items():
        assert any(match_target(t, paper.build()) == "same" for t in targets), key


def test_the_whole_paper_profile_gives_each_target_its_parts_settings():
    """paper/all.toml: every target in one suite, each with its dimension's schedule from its own
    tables — the same resolved variants as the part that runs it, and the motivating example's
    i-SIR pool of 32 (docs/SCIENCE.md §3.4)."""
    whole = load_config(CONFIGS / "paper" / "all.toml")
    assert whole.settings.methods == ("flowmc_ebm", "ula_ebm", "nt_ebm", "coopflow")
    for part in PAPER_PARTS:
        config = load_config(CONFIGS / "paper" / f"{part}.toml")
        for target in config.targets:
            assert whole.variants[target.name] == config.variants[target.name], (part, target)
    two_modes = {v.method: v.params for v in whole.variants["two_modes"]}
    flowmc = (getattr(two_modes["flowmc_ebm"], k) for k in ("pool_size", "local_steps", "sweeps"))
    assert tuple(flowmc) == (32, 24, 5) and two_modes["ula_ebm"].steps == 512
    assert {t.name for t in whole.targets} == {
        "two_modes", *(t.name for part in PAPER_PARTS
                       for t in load_config(CONFIGS / "paper" / f"{part}.toml").targets),
    }  # fmt: skip


def test_readme_example_config_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("<!-- BEGIN run -->")[1].split("<!-- END run -->")[0]
    (example,) = re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    config = load_config(write(tmp_path, example))
    assert [t.name for t in config.targets] == ["three_modes", "hd16_equal"]
    assert config.settings.sample_cost == SuiteSettings().sample_cost
    assert config.settings.warmup_fraction == SuiteSettings().warmup_fraction


def test_defaults_table_applies_shared_hyperparameters_to_every_method(tmp_path):
    """`[defaults]` sets the shared (`TrainParams`) hyperparameters of all methods; a method's own
    table still wins."""
    extra = "[defaults]\nlr = 0.005\nbatch_size = 64\n"
    text = tiny_toml(methods='["flowmc_ebm", "ula_ebm"]', extra="", flowmc_table=False)
    text += extra + "\n[methods.ula_ebm]\nlr = 0.002\n"
    flowmc, ula = load_config(write(tmp_path, text)).variants["four_modes"]
    assert flowmc.params.lr == 0.005 and flowmc.params.batch_size == 64
    assert ula.params.lr == 0.002 and ula.params.batch_size == 64


@pytest.mark.parametrize(
    ("table", "key"),
    [("steps = 4", "defaults.steps"), ('lr = "fast"', "defaults.lr"), ("lr = -1.0", "defaults.lr")],
)
def test_defaults_table_rejects_method_specific_or_bad_values(tmp_path, table, key):
    text = tiny_toml(flowmc_table=False) + f"\n[defaults]\n{table}\n"
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'suite.toml'}: {key}: ")):
        load_config(write(tmp_path, text))


def test_a_list_of_values_expands_into_variants(tmp_path):
    text = tiny_toml(methods='["ula_ebm", "flowmc_ebm"]', flowmc_table=False)
    text += "[methods.ula_ebm]\nlr = [1e-3, 3e-3]\nsteps = [4, 8]\n"
    text += "[methods.flowmc_ebm]\nflow_hidden = [16, 16]\n"  # a list-valued setting, no grid
    variants = load_config(write(tmp_path, text)).variants["four_modes"]
    assert [v.name for v in variants] == [
        "ula_ebm[lr=0.001,steps=4]",
        "ula_ebm[lr=0.001,steps=8]",
        "ula_ebm[lr=0.003,steps=4]",
        "ula_ebm[lr=0.003,steps=8]",
        "flowmc_ebm",
    ]
    assert variants[2].swept == {"lr": 0.003, "steps": 4}
    assert (variants[2].params.lr, variants[2].params.steps) == (0.003, 4)
    assert variants[4].params.flow_hidden == (16, 16)


def test_a_grid_of_list_valued_settings_is_a_list_of_lists(tmp_path):
    text = tiny_toml(flowmc_table=False) + "[methods.flowmc_ebm]\nflow_hidden = [[8], [16, 16]]\n"
    variants = load_config(write(tmp_path, text)).variants["four_modes"]
    assert [v.params.flow_hidden for v in variants] == [(8,), (16, 16)]
    assert variants[1].name == "flowmc_ebm[flow_hidden=16x16]"


def test_a_grid_in_defaults_expands_every_method(tmp_path):
    text = tiny_toml(methods='["ula_ebm", "vera"]', flowmc_table=False)
    text += "[defaults]\nlr = [0.01, 0.001]\n"
    variants = load_config(write(tmp_path, text)).variants["four_modes"]
    assert [v.name for v in variants] == [
        "ula_ebm[lr=0.01]", "ula_ebm[lr=0.001]", "vera[lr=0.01]", "vera[lr=0.001]"
    ]  # fmt: skip


def test_a_target_table_overrides_the_suite_for_that_target_only(tmp_path):
    targets = (
        '[[targets]]\ntarget = "four_modes"\n'
        "[targets.methods.flowmc_ebm]\nlocal_steps = 24\n"
        "[targets.defaults]\nlr = 0.003\n"
        '[[targets]]\ntarget = "hd16"\n'
    )
    text = (
        tiny_toml(targets=targets, flowmc_table=False) + "[methods.flowmc_ebm]\nlocal_steps = 8\n"
    )
    text += "lr = 0.002\n"
    config = load_config(write(tmp_path, text))
    (two_d,), (high_d,) = config.variants["four_modes"], config.variants["hd16"]
    assert (two_d.params.local_steps, two_d.params.lr) == (24, 0.003)
    assert (high_d.params.local_steps, high_d.params.lr) == (8, 0.002)
    assert config.targets[0].methods == {"flowmc_ebm": {"local_steps": 24}}
    assert config.targets[0].build().n_modes == 4  # the tables are not target parameters


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("[methods.flowmc_ebm]\nlr = [0.1, 0.1]\n", "methods.flowmc_ebm.lr", "distinct values"),
        ("[methods.flowmc_ebm]\nlr = [0.1, -1.0]\n", "methods.flowmc_ebm.lr", "must be positive"),
        ("[defaults]\nlr = []\n", "defaults.lr", "a grid needs distinct values"),
    ],
)
def test_bad_grids_name_their_table(tmp_path, extra, key, message):
    with pytest.raises(ConfigError, match=re.escape(f": {key}: ") + f".*{message}"):
        load_config(write(tmp_path, tiny_toml(flowmc_table=False) + extra))


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[targets.methods.ula_ebn]\nsteps = 3\n", "targets[0].methods.ula_ebn: overrides no"),
        ("[targets.methods.flowmc_ebm]\nlrr = 3\n", "targets[0].methods.flowmc_ebm.lrr: unknown"),
        ("[targets.defaults]\nsteps = 3\n", "targets[0].defaults.steps: not a shared"),
    ],
)
def test_bad_target_tables_name_their_key(tmp_path, table, key):
    targets = '[[targets]]\ntarget = "four_modes"\n' + table
    with pytest.raises(ConfigError, match=re.escape(f": {key}")):
        load_config(write(tmp_path, tiny_toml(targets=targets, flowmc_table=False)))
