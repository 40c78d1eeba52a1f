"""Fault injection through the command line: every fault a user meets ends either in exit status 2
and one line naming the file and key (before anything runs), or in failed runs recorded with their
reason and a report that builds — never a traceback, never a finished record lost or rewritten."""

from __future__ import annotations

import errno
import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import snapshot
from test_config import tiny_toml, write

from benchmark import store
from benchmark.__main__ import main
from benchmark.config import TargetConfig
from benchmark.runner import Job, run_job
from benchmark.settings import SuiteSettings
from benchmark.variants import Variant

ROOT = Path(__file__).resolve().parents[1]

#: A plugin with one method per way a method can fail; the healthy runs train ULA-EBM's tiny
#: test configuration.
FAULT_PLUGIN = """
import os

import torch

from benchmark.method import TrainParams
from benchmark.registry import get_method, register_method

_calls = []


def _ula(problem, generator, progress):
    spec = get_method("ula_ebm")
    return spec.fit(problem, spec.test_config, generator, progress)


def _register(name):
    return register_method(name, display=name.title(), params=TrainParams,
                           test_config=TrainParams())


@_register("fault_raise")
def raises(problem, params, generator, progress):
    raise RuntimeError("a bug in the method")


@_register("fault_nan")
def nan_after_training(problem, params, generator, progress):
    fitted = _ula(problem, generator, progress)
    with torch.no_grad():
        for p in fitted.ebm.energy.parameters():
            p.fill_(float("nan"))
    return fitted


@_register("fault_die")
def dies(problem, params, generator, progress):
    os._exit(3)


@_register("fault_interrupt")
def interrupted_at_the_second_run(problem, params, generator, progress):
    _calls.append(1)
    if len(_calls) == 2:
        raise KeyboardInterrupt
    return _ula(problem, generator, progress)
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> str:
    """The fault plugin's module name, importable in this process and in spawned workers."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "fault_plugin.py").write_text(FAULT_PLUGIN)
    sys.path.insert(0, str(folder))
    yield "fault_plugin"
    sys.path.remove(str(folder))


def run(config: Path, out: Path, *extra: str) -> int:
    return main(["run", str(config), "--out", str(out), "--workers", "1", *extra])


def one_error_line(capsys: pytest.CaptureFixture, start: str) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {start}"), err
    assert "Traceback" not in err


def records(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}


def test_every_run_failing_still_builds_a_report_that_says_so(tmp_path):
    """ULA-EBM at lr 1e8 diverges; an absurd but finite target fails too."""
    absurd = (
        '[[targets]]\nname = "absurd"\nfamily = "gmm"\nmeans = [[1e30, 0.0], [0.0, 0.0]]\n'
        "variances = [1e-30, 1e-30]\n"
    )
    targets = '[[targets]]\ntarget = "four_modes"\n' + absurd
    text = tiny_toml(methods='["ula_ebm"]', targets=targets, flowmc_table=False)
    config = write(tmp_path, text + "[methods.ula_ebm]\nlr = 1e8\nbatch_size = 32\nsteps = 2\n")
    command = [sys.executable, "-m", "benchmark", "run", str(config), "--out"]
    done = subprocess.run(
        [*command, str(tmp_path / "out"), "--workers", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "0 ok, 2 failed" in done.stdout
    found = records(tmp_path / "out")
    assert {r["status"] for r in found.values()} == {"failed"}
    assert all(r["error"].startswith("diverged: ") for r in found.values())
    report = (tmp_path / "out/report.md").read_text()
    assert "No run finished" in report and "## Failed runs" in report
    assert report.count("(1 failed)") >= 2


def test_a_missing_record_leaves_the_others_untouched_and_the_report_builds(tmp_path, capsys):
    config = write(tmp_path, tiny_toml(seeds="[0, 1]"))
    out = tmp_path / "out"
    assert run(config, out) == 0
    (out / "runs/four_modes__flowmc_ebm__seed1.json").unlink()
    before = snapshot(out / "runs")
    assert main(["report", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert snapshot(out / "runs") == before
    assert "flowMC-EBM" in (out / "tables/summary.md").read_text()
    assert "(1 seed, 1 failed)" in (out / "report.md").read_text()  # the missing run counted


@pytest.mark.parametrize(
    ("setup", "start"),
    [
        ("out under a file", "{tmp}/file/out: "),
        ("out is a file", "{tmp}/file: --out: is a file"),
        ("foreign DIR", "{tmp}/foreign: --out: not empty and holds no suite.json"),
        ("broken suite.json", "{tmp}/broken/suite.json: unreadable"),
        ("not a suite", "{tmp}/other/suite.json: not a suite"),
    ],
)
def test_an_unusable_out_exits_2_with_one_line(tmp_path, capsys, setup, start):
    (tmp_path / "file").write_text("a regular file\n")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign/notes.txt").write_text("mine\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/suite.json").write_text("{ not json")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/suite.json").write_text("[1, 2]")
    out = {
        "out under a file": "file/out",
        "out is a file": "file",
        "foreign DIR": "foreign",
        "broken suite.json": "broken",
        "not a suite": "other",
    }[setup]
    before = snapshot(tmp_path)
    assert run(write(tmp_path, tiny_toml(), "suite.toml"), tmp_path / out) == 2
    one_error_line(capsys, start.format(tmp=tmp_path))
    after = snapshot(tmp_path)
    after.pop("suite.toml"), before.pop("suite.toml", None)
    assert after == before


def test_report_on_an_unusable_dir_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    one_error_line(capsys, f"{tmp_path / 'empty'}: holds no suite.json")


def test_a_bad_value_inside_a_generated_target_names_its_key(tmp_path, capsys):
    target = '[[targets]]\nfamily = "gmm"\ndim = 4\nn_modes = 2\nseparation = 3.0\nseed = "abc"\n'
    config = write(tmp_path, tiny_toml(targets=target))
    assert run(config, tmp_path / "out") == 2
    one_error_line(capsys, f"{config}: targets[0].seed: must be an integer, got 'abc'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("fault_raise", "RuntimeError: a bug in the method"),
        ("fault_nan", "diverged: non-finite density after training"),
    ],
)
def test_a_failing_method_is_recorded_and_the_suite_goes_on(tmp_path, plugin, method, error):
    config = write(tmp_path, tiny_toml(methods=f'["{method}", "flowmc_ebm"]'))
    assert run(config, tmp_path / "out", "--plugin", plugin) == 0
    found = records(tmp_path / "out")
    assert found[f"four_modes__{method}__seed0"]["status"] == "failed"
    assert found[f"four_modes__{method}__seed0"]["error"].startswith(error)
    assert found["four_modes__flowmc_ebm__seed0"]["status"] == "ok"
    assert "(1 failed)" in (tmp_path / "out/report.md").read_text()


def test_a_dying_worker_fails_its_runs_and_the_report_builds(tmp_path, plugin, capsys):
    config = write(tmp_path, tiny_toml(methods='["fault_die"]', seeds="[0, 1]", flowmc_table=False))
    command = ["run", str(config), "--out", str(tmp_path / "out"), "--workers", "2"]
    assert main([*command, "--plugin", plugin]) == 0
    found = records(tmp_path / "out")
    assert len(found) == 2 and {r["status"] for r in found.values()} == {"failed"}
    assert all(r["error"].startswith("worker lost: ") for r in found.values())
    assert (tmp_path / "out/report.md").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_a_plugin_missing_on_a_worker_fails_the_run_not_the_suite():
    settings = SuiteSettings(methods=("ula_ebm",), plugins=("no_such_module_on_this_worker",))
    target = TargetConfig("four_modes", "four_modes", {})
    variant = Variant("ula_ebm", "ula_ebm", {}, {})
    job = Job("four_modes__ula_ebm__seed0", target, variant, 0, settings, "cpu", 1)
    record = run_job(job)
    assert record["status"] == "failed"
    assert "cannot import 'no_such_module_on_this_worker'" in record["error"]


def test_ctrl_c_keeps_finished_records_and_a_rerun_resumes(tmp_path, plugin, capsys):
    config = write(
        tmp_path, tiny_toml(methods='["fault_interrupt"]', seeds="[0, 1, 2]", flowmc_table=False)
    )
    out = tmp_path / "out"
    assert run(config, out, "--plugin", plugin) == 130
    err = capsys.readouterr().err
    assert "interrupted: finished runs are kept" in err and "Traceback" not in err
    assert set(records(out)) == {"four_modes__fault_interrupt__seed0"}
    first = snapshot(out / "runs")
    assert run(config, out, "--plugin", plugin) == 0
    assert "2 ok, 0 failed, 1 already done" in capsys.readouterr().out
    after = snapshot(out / "runs")
    assert len(after) == 3 and all(after[name] == data for name, data in first.items())


def test_a_full_disk_while_writing_a_record_loses_nothing(tmp_path, capsys, monkeypatch):
    config = write(tmp_path, tiny_toml(seeds="[0, 1]"))
    out = tmp_path / "out"
    assert run(config, out) == 0
    (out / "runs/four_modes__flowmc_ebm__seed1.json").unlink()
    before = snapshot(out / "runs")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", no_space)
    assert run(config, out) == 2
    one_error_line(capsys, f"{out / 'runs/four_modes__flowmc_ebm__seed1.json'}: cannot write: No")
    assert snapshot(out / "runs") == before  # no temporary file left, the finished record intact


def test_a_second_run_on_a_busy_dir_is_refused(tmp_path, capsys):
    config = write(tmp_path, tiny_toml())
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        held.write("pid 12345\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run(config, out) == 2
    one_error_line(capsys, f"{out}: --out: in use by another run (pid 12345)")
    assert run(config, out) == 0  # free again
