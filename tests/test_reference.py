"""Comparing a suite against a reference DIR: a plugin run `--against` a tiny real reference trains
only the plugin and reports every method; every setting that matters, when it differs, is refused
with exit status 2 and one line; what is taken when a reference's run failed or is missing (on
records written by hand, with the runner's real headers); and the committed reports are valid
references of this version."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_cli import snapshot
from test_config import write

from benchmark import __version__
from benchmark.__main__ import main
from benchmark.errors import ConfigError
from benchmark.execution import runner
from benchmark.execution.machine import versions
from benchmark.execution.reference import SETTINGS_THAT_MATTER, check_reference, plan_reference
from benchmark.execution.store import (
    check_record,
    claim,
    content_hash,
    expected_runs,
    read_suite,
    run_id,
    write_json,
)
from benchmark.suite.config import load_config
from benchmark.suite.settings import SuiteSettings

ROOT = Path(__file__).resolve().parents[1]

#: A plugin with a method built on ULA-EBM's tiny test configuration, and one that always fails.
PLUGIN = """
from benchmark.training.method import TrainParams
from benchmark.suite.registry import get_method, register_method


@register_method("plug_ebm", display="Plug-EBM", params=TrainParams, test_config=TrainParams())
def fit(problem, params, generator, progress):
    spec = get_method("ula_ebm")
    return spec.fit(problem, spec.test_config, generator, progress)


@register_method("plug_fail", display="Plug-fail", params=TrainParams,
                 test_config=TrainParams())
def fails(problem, params, generator, progress):
    raise RuntimeError("not written yet")
"""


def suite_toml(
    methods: str, seeds: str = "[0]", iterations: int = 3, targets: str = "", extra: str = ""
) -> str:
    """A tiny suite on four_modes (3 iterations, 200 data points, 16 chains of 40 cost units)."""
    targets = targets or '[[targets]]\ntarget = "four_modes"\n'
    return f"""
[suite]
name = "tiny"
seeds = {seeds}
methods = {methods}
iterations = {iterations}
n_data = 200
n_chains = 16
sample_cost = 40
c2st_max_dim = 0

{targets}
{ULA_TEST_SIZE if "ula_ebm" in methods else ""}
{extra}
"""


ULA_TEST_SIZE = """
[methods.ula_ebm]
batch_size = 32
steps = 2
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "ref_plugin.py").write_text(PLUGIN)
    sys.path.insert(0, str(folder))
    yield "ref_plugin"
    sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A real tiny reference (its runs, no report): VERA, the cheapest method, on four_modes."""
    tmp = tmp_path_factory.mktemp("reference")
    config = load_config(write(tmp, suite_toml('["vera"]')))
    with contextlib.redirect_stdout(io.StringIO()):
        assert runner.run_suite(config, tmp / "ref", workers=1)["ok"] == 1
    return tmp / "ref"


def run_against(config: Path, out: Path, *references: Path) -> tuple[int, list[str], str]:
    """Run the plugin's suite `config` into `out` against `references`: (exit status, the run ids
    trained, stdout)."""
    trained = []

    def spy(job: runner.Job) -> dict:
        trained.append(job.run_id)
        return run_job(job)

    run_job = runner.run_job
    args = ["run", str(config), "--out", str(out), "--workers", "1", "--plugin", "ref_plugin"]
    args += [a for r in references for a in ("--against", str(r))]
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setattr(runner, "run_job", spy)
        status = main(args)
    return status, trained, stdout.getvalue()


@pytest.fixture(scope="module")
def compared(tmp_path_factory, plugin, reference) -> tuple[Path, list[str], str]:
    """The plugin alone in its config, run against the reference."""
    tmp = tmp_path_factory.mktemp("compared")
    config = write(tmp, suite_toml('["plug_ebm"]'))
    status, trained, stdout = run_against(config, tmp / "mine", reference)
    assert status == 0, stdout
    return tmp / "mine", trained, stdout


def test_only_the_plugin_is_trained_and_the_report_has_every_method(compared, reference):
    mine, trained, stdout = compared
    assert trained == ["four_modes__plug_ebm__seed0"]
    assert "1 ok, 0 failed, 0 already done, 1 from the reference" in stdout
    results = pd.read_csv(mine / "results.csv")
    assert results.variant.tolist() == ["vera", "plug_ebm"]
    assert (results.status == "ok").all()
    assert results.reference.tolist()[0] == str(reference) and results.reference.isna()[1]
    rid = run_id("four_modes", "vera", 0)  # the reference's record, unchanged but for the mark
    copied = json.loads((mine / "runs" / f"{rid}.json").read_text())
    assert copied.pop("reference") == str(reference)
    assert copied == json.loads((reference / "runs" / f"{rid}.json").read_text())
    table = pd.read_csv(mine / "tables" / "table3c_mw_mse_model.csv")
    assert table.method.tolist() == ["VERA (ref)", "Plug-EBM"]
    report = (mine / "report.md").read_text()
    assert f"**from the reference `{reference}`, not trained here:** 1 of 2 runs (VERA)" in report
    assert "| VERA (ref) " in report and "| Plug-EBM " in report


def test_a_rerun_resumes_and_one_without_the_reference_is_refused(compared, reference, capsys):
    mine, _, _ = compared
    before = snapshot(mine / "runs")
    config = mine.parent / "suite.toml"
    status, trained, stdout = run_against(config, mine, reference)
    assert (status, trained) == (0, [])
    assert "0 ok, 0 failed, 1 already done, 1 from the reference" in stdout
    assert snapshot(mine / "runs") == before
    suite = (mine / "suite.json").read_bytes()
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(mine), "--plugin", "ref_plugin"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {mine / 'suite.json'}: reference: this directory was run --against "
        f"{reference}; give the same --against\n"
    )
    assert (mine / "suite.json").read_bytes() == suite and snapshot(mine / "runs") == before


def test_a_dir_run_without_the_reference_takes_it_when_rerun_with_it(plugin, reference, tmp_path):
    config = write(tmp_path, suite_toml('["plug_fail"]'))
    status, trained, stdout = run_against(config, tmp_path / "mine")
    assert (status, trained) == (0, ["four_modes__plug_fail__seed0"])
    status, trained, stdout = run_against(config, tmp_path / "mine", reference)
    assert status == 0
    assert trained == ["four_modes__plug_fail__seed0"]  # failed: redone, as on any rerun
    assert "0 ok, 1 failed, 0 already done, 1 from the reference" in stdout
    suite = json.loads((tmp_path / "mine" / "suite.json").read_text())
    assert suite["reference"]["dirs"] == [str(reference)]
    results = pd.read_csv(tmp_path / "mine" / "results.csv")
    assert results.status.tolist() == ["ok", "failed"]


def mismatch(tmp: Path, reference: Path, case: str) -> tuple[str, str, Path]:
    """(config text, expected start of the error line after 'error: ', the reference to use)."""
    at = f"{reference / 'suite.json'}: "
    mine = '["plug_ebm"]'
    if case == "iterations":
        text, expected = suite_toml(mine, iterations=4), "suite.iterations: the reference has 3, "
        return text, f"{at}{expected}this suite 4; ", reference
    if case == "evaluation budget":
        text = suite_toml(mine).replace("n_chains = 16", "n_chains = 32")
        return text, f"{at}suite.n_chains: the reference has 16, this suite 32; ", reference
    if case == "target parameter":
        targets = '[[targets]]\ntarget = "four_modes"\nweights = [0.1, 0.2, 0.3, 0.4]\n'
        expected = "targets.four_modes.params.weights: the reference has missing, this suite [0.1"
        return suite_toml(mine, targets=targets), f"{at}{expected}", reference
    if case == "method hyperparameter":
        text = suite_toml('["plug_ebm", "vera"]', extra="[methods.vera]\nlr = 0.01\n")
        expected = "variants.four_modes.vera.params.lr: the reference has 0.001, this suite 0.01"
        return text, f"{at}{expected}", reference
    if case == "seed":
        expected = "suite.seeds: seed 5 of this suite is not among the reference's seeds [0]"
        return suite_toml(mine, seeds="[0, 5]"), f"{at}{expected}", reference
    if case == "no shared target":
        text = suite_toml(mine, targets='[[targets]]\ntarget = "eight_gaussians"\n')
        expected = "targets: no target of this suite is the reference's (four_modes)"
        return text, f"{at}{expected}", reference
    if case == "not a suite's DIR":
        (tmp / "empty").mkdir()
        expected = f"{tmp / 'empty'}: --against: holds no suite.json"
        return suite_toml(mine), expected, tmp / "empty"
    assert case == "version"
    copy = tmp / "old"
    shutil.copytree(reference, copy)
    path = copy / "runs" / f"{run_id('four_modes', 'vera', 0)}.json"
    record = json.loads(path.read_text())
    record["versions"]["benchmark"] = "0.0.1"
    write_json(path, record)
    expected = f'{path}: versions.benchmark: computed by benchmark "0.0.1", this is {__version__}'
    return suite_toml(mine), expected, copy


CASES = [
    "iterations",
    "evaluation budget",
    "target parameter",
    "method hyperparameter",
    "seed",
    "no shared target",
    "not a suite's DIR",
    "version",
]


@pytest.mark.parametrize("case", CASES)
def test_a_mismatch_is_refused_with_one_line_before_anything_is_written(
    plugin, reference, tmp_path, case, capsys
):
    text, expected, against = mismatch(tmp_path, reference, case)
    before = snapshot(against)
    status, trained, _ = run_against(write(tmp_path, text), tmp_path / "mine", against)
    err = capsys.readouterr().err
    assert (status, trained) == (2, [])
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err
    assert not (tmp_path / "mine").exists() and snapshot(against) == before


def test_records_of_other_package_versions_or_another_processor_are_taken_with_a_warning(
    plugin, reference, tmp_path, capsys
):
    copy = tmp_path / "elsewhere"
    shutil.copytree(reference, copy)
    path = copy / "runs" / f"{run_id('four_modes', 'vera', 0)}.json"
    record = json.loads(path.read_text())
    record["versions"] |= {"zuko": "0.0.1", "cpu": "Other CPU (NEON)"}
    record["sha256"] = content_hash(record)  # as that machine would have written it
    write_json(path, record)
    config = write(tmp_path, suite_toml('["plug_ebm"]'))
    status, trained, _ = run_against(config, tmp_path / "mine", copy)
    assert (status, trained) == (0, ["four_modes__plug_ebm__seed0"])
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    here = versions()
    assert warning == (
        f"warning: {copy}: records computed with zuko 0.0.1 (here {here['zuko']}), cpu Other CPU "
        f"(NEON) (here {here['cpu']}); they agree with this machine's runs only in distribution "
        f"(test it: python -m benchmark compare DIR {copy})"
    )


def test_the_settings_that_matter_are_every_setting_but_the_suites_identity():
    names = {f for f in SuiteSettings.__dataclass_fields__}
    assert set(SETTINGS_THAT_MATTER) == names - {"name", "methods", "plugins", "seeds"}
    assert {"iterations", "n_data", "n_chains", "sample_cost", "n_c2st"} <= set(
        SETTINGS_THAT_MATTER
    )


# --- what is taken, on references written by hand with the runner's real record headers ---


def hand_written(folder: Path, config_text: str, statuses: dict[str, str]) -> Path:
    """A reference DIR of the suite `config_text`: one record per run, of the status `statuses`
    gives its run id ("missing": no record; default "ok"), each with the runner's header."""
    config = load_config(write(folder.parent, config_text, f"{folder.name}.toml"))
    (folder / "runs").mkdir(parents=True)
    write_json(folder / "suite.json", config.resolved())
    for job in runner.make_jobs(config, "cpu", None):
        status = statuses.get(job.run_id, "ok")
        if status != "missing":
            record = runner._header(job) | {"status": status, "error": None}
            if status == "ok":
                record |= {"metrics": {}, "weights": {}, "curves": {}, "dim": 2}
            else:
                record["error"] = "diverged: non-finite energies"
            write_json(folder / "runs" / f"{job.run_id}.json", record)
    return folder


def test_what_is_taken_when_a_reference_run_failed_or_is_missing(tmp_path):
    text = suite_toml('["ula_ebm", "vera", "short_run"]', seeds="[0, 1]")
    ref = hand_written(
        tmp_path / "ref",
        text,
        {
            "four_modes__ula_ebm__seed1": "failed",  # the suite runs ula_ebm: it trains this one
            "four_modes__vera__seed1": "failed",  # only the reference runs vera: a result
            "four_modes__short_run__seed0": "missing",
        },
    )
    mine = load_config(write(tmp_path, suite_toml('["ula_ebm"]', seeds="[0, 1]")))
    plan = plan_reference(mine, [ref], tmp_path / "mine")
    assert sorted(plan.taken) == [
        "four_modes__short_run__seed1",
        "four_modes__ula_ebm__seed0",
        "four_modes__vera__seed0",
        "four_modes__vera__seed1",
    ]
    assert {t.reference for t in plan.taken.values()} == {str(ref)}
    only_theirs = plan.resolved["reference"]["variants"]["four_modes"]
    assert [v["name"] for v in only_theirs] == ["vera", "short_run"]
    assert plan.resolved["variants"] == mine.resolved()["variants"]


def test_a_second_reference_fills_what_the_first_lacks_and_must_agree_with_it(tmp_path):
    first = hand_written(
        tmp_path / "first", suite_toml('["vera"]'), {"four_modes__vera__seed0": "failed"}
    )
    second = hand_written(tmp_path / "second", suite_toml('["vera", "ula_ebm"]'), {})
    mine = load_config(write(tmp_path, suite_toml('["short_run"]')))
    plan = plan_reference(mine, [first, second], tmp_path / "mine")
    assert plan.taken["four_modes__vera__seed0"].reference == str(second)  # the finished one
    assert plan.taken["four_modes__ula_ebm__seed0"].reference == str(second)
    other = hand_written(
        tmp_path / "other", suite_toml('["vera"]', extra="[methods.vera]\nlr = 0.01\n"), {}
    )
    with pytest.raises(ConfigError, match=r"variants\.four_modes\.vera\.params\.lr: "):
        plan_reference(mine, [first, other], tmp_path / "mine")


def test_a_record_that_is_not_its_suites_run_is_refused(tmp_path):
    ref = hand_written(tmp_path / "ref", suite_toml('["vera"]'), {})
    path = ref / "runs" / "four_modes__vera__seed0.json"
    record = json.loads(path.read_text())
    record["config"]["suite"]["iterations"] = 7  # e.g. copied in from another suite
    write_json(path, record)
    mine = load_config(write(tmp_path, suite_toml('["short_run"]')))
    with pytest.raises(ConfigError, match=r"config\.suite\.iterations: the reference has 7, this"):
        plan_reference(mine, [ref], tmp_path / "mine")
    with pytest.raises(ConfigError, match=r"config\.suite\.iterations: "):
        check_reference(ref)


def test_every_committed_report_is_a_complete_reference_of_this_version():
    """Each DIR under reports/ holds one record per run of its suite, each computed by this
    version of the package with its suite's settings: regenerate a report when the version
    changes (bump `benchmark.__version__` whenever a change alters a number a record holds)."""
    folders = sorted(p.parent for p in (ROOT / "reports").rglob("suite.json"))
    assert folders
    for folder in folders:
        suite = json.loads((folder / "suite.json").read_text())
        runs = sum(len(v) for v in suite["variants"].values()) * len(suite["suite"]["seeds"])
        assert check_reference(folder) == runs, folder


def test_a_dir_is_taken_again_only_with_its_reference_as_it_was(tmp_path):
    ref = hand_written(tmp_path / "ref", suite_toml('["vera"]'), {})
    mine = load_config(write(tmp_path, suite_toml('["short_run"]')))
    out = tmp_path / "mine"
    with claim(out, plan_reference(mine, [ref], out).resolved):
        pass
    shutil.rmtree(ref)  # the reference regenerated with another method
    hand_written(ref, suite_toml('["vera", "ula_ebm"]'), {})
    changed = r"reference\.variants\.four_modes: the reference has changed since this directory"
    with (
        pytest.raises(ConfigError, match=changed),
        claim(out, plan_reference(mine, [ref], out).resolved),
    ):
        pass


def test_a_record_from_before_a_setting_existed_stands_for_its_default_only():
    # A record written before `sampler_track` existed says nothing of it, and was computed
    # without the track, the setting's default (as reports/quick's records of version 0.6.0,
    # made before the setting, were). It stands for a run of the same suite with the track off,
    # not for one with it on. Made here from a committed record by removing the setting.
    folder = ROOT / "reports" / "paper" / "2d"
    suite = read_suite(folder)
    assert suite["suite"].pop("sampler_track") is False
    rid = next(iter(expected_runs(suite)))
    record = json.loads((folder / "runs" / f"{rid}.json").read_text())
    del record["config"]["suite"]["sampler_track"]
    record["sha256"] = content_hash(record)  # as a run of that time wrote it
    for on, problem in ((False, None), (True, "config.suite.sampler_track")):
        expected = expected_runs({**suite, "suite": {**suite["suite"], "sampler_track": on}})
        found = check_record(record, expected[rid], "the reference")
        assert (found and found[0]) == problem
