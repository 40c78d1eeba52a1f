"""Fault injection through the command line: every fault a user meets ends either in exit status 2
and one line naming the file and key (before anything runs), or in failed runs recorded with their
reason and a report that builds — never a traceback, never a finished record lost or rewritten."""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli import snapshot
from test_config import tiny_toml, write

from benchmark.__main__ import main
from benchmark.api import load_runs
from benchmark.execution import runner, store
from benchmark.execution.reference import committed_reference
from benchmark.execution.runner import Job, make_jobs, run_job
from benchmark.suite.config import TargetConfig, load_config
from benchmark.suite.registry import load_methods
from benchmark.suite.settings import SuiteSettings
from benchmark.suite.variants import Variant

ROOT = Path(__file__).resolve().parents[1]

#: A plugin with one method per way a method can fail; the healthy runs train ULA-EBM's tiny
#: test configuration.
FAULT_PLUGIN = """
import os
import time
from dataclasses import dataclass

import numpy
import torch

from benchmark.training.method import TrainParams
from benchmark.suite.registry import get_method, register_method

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


@_register("fault_sleep")
def sleeps_after_saying_where(problem, params, generator, progress):
    folder = os.environ["FAULT_PID_DIR"]
    open(os.path.join(folder, str(os.getpid())), "w").close()
    time.sleep(600)


def _checkpoint_iterations(kind):
    def fit(problem, params, generator, progress):
        fitted = _ula(problem, generator, progress)
        for checkpoint in fitted.checkpoints:
            checkpoint.iteration = kind(checkpoint.iteration)
        return fitted

    return fit


_register("fault_numpy_iteration")(_checkpoint_iterations(numpy.int64))
_register("fault_tensor_iteration")(_checkpoint_iterations(torch.tensor))
_register("fault_object_iteration")(_checkpoint_iterations(lambda i: type("Step", (), {})()))


@dataclass(frozen=True)
class Labelled(TrainParams):
    label: str = "a"


@register_method("fault_labelled", display="Labelled", params=Labelled, test_config=Labelled())
def labelled(problem, params, generator, progress):
    return _ula(problem, generator, progress)
"""

#: Plugins that misbehave at import.
PLUGINS_AT_IMPORT = {
    "exit_plugin": "import sys\n\nsys.exit(0)\n",
    "slash_plugin": (
        "from benchmark.training.method import TrainParams\n"
        "from benchmark.suite.registry import register_method\n\n"
        "register_method('a/b', display='A/B', params=TrainParams, test_config=TrainParams())(\n"
        "    lambda problem, params, generator, progress: None\n"
        ")\n"
    ),
}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> str:
    """The fault plugin's module name, importable in this process and in spawned workers."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "fault_plugin.py").write_text(FAULT_PLUGIN)
    for name, text in PLUGINS_AT_IMPORT.items():
        (folder / f"{name}.py").write_text(text)
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


def test_a_plugin_missing_on_a_worker_fails_the_run_not_the_suite():
    settings = SuiteSettings(methods=("ula_ebm",), plugins=("no_such_module_on_this_worker",))
    target = TargetConfig("four_modes", "four_modes", {})
    variant = Variant("ula_ebm", "ula_ebm", {}, load_methods()["ula_ebm"].params())
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


def _measured(target: str, method: str, iterations: int, train: float, evaluate: float) -> dict:
    """A finished run's record as far as its cost goes, measured on 'Test CPU (AVX2)'."""
    return {
        "status": "ok", "target": target, "method": method,
        "config": {"suite": {"iterations": iterations}},
        "metrics": {"train_seconds": train, "eval_seconds": evaluate},
        "versions": {"cpu": "Test CPU (AVX2)"},
    }  # fmt: skip


def test_the_estimate_on_a_fresh_dir_comes_from_the_committed_reference(tmp_path, capsys):
    """A checkout's `benchmark/configs/P.toml` run into an empty DIR: the line before the runs
    prices them from `reports/P`'s runs of the same target and method, their training seconds
    per iteration scaled to this suite's iterations, plus their evaluation seconds."""
    runs = tmp_path / "reports/tiny/runs"
    for folder in (runs, tmp_path / "benchmark/configs"):
        folder.mkdir(parents=True)
    config = write(tmp_path / "benchmark/configs", tiny_toml(seeds="[0, 1]"), "tiny.toml")
    # 30 iterations at 20 and 40 s each: 3 iterations cost 60 + 30 and 120 + 60 s
    store.write_json(runs / "a.json", _measured("four_modes", "flowmc_ebm", 30, 600.0, 30.0))
    store.write_json(runs / "b.json", _measured("four_modes", "flowmc_ebm", 30, 1200.0, 60.0))
    store.write_json(runs / "c.json", {**_measured("four_modes", "flowmc_ebm", 30, 1e6, 0.0),
                                       "status": "failed"})  # fmt: skip
    (runs / "d.json").write_text("{ not json")
    assert run(config, tmp_path / "out") == 0
    minutes = 2 * (90 + 180) / 2 / 60  # 2 runs at the median cost, on 1 worker
    assert (
        f"2 runs to do, 3 iterations each, on 1 worker(s): about {minutes:.1f} min from the cost "
        f"of {tmp_path / 'reports/tiny'}'s runs (made on Test CPU (AVX2); scaled from 30 "
        "iterations)\n"
    ) in capsys.readouterr().err


def test_the_estimate_counts_runs_measured_nowhere_apart(tmp_path):
    config = load_config(write(tmp_path, tiny_toml(methods='["flowmc_ebm", "ula_ebm"]')))
    todo = make_jobs(config, "cpu", 1)
    reference = tmp_path / "reference"
    (reference / "runs").mkdir(parents=True)
    store.write_json(
        reference / "runs/a.json", _measured("four_modes", "flowmc_ebm", 3, 600.0, 60.0)
    )
    expected = store.expected_runs(config.resolved())
    line = runner.estimate_line(todo, tmp_path / "out", expected, 2, [reference])
    assert line == (
        "2 runs to do, 3 iterations each, on 2 worker(s): about 5.5 min from the cost of "
        f"{reference}'s runs (made on Test CPU (AVX2)); 1 more not yet measured"
    )  # (600 + 60) / 2 workers
    line = runner.estimate_line(todo[1:], tmp_path / "out", expected, 2, [reference])
    assert line.endswith(
        f"; no estimate yet (no run of their target and method has finished in DIR or {reference})"
    )


def test_a_newcomers_quick_benchmark_is_priced_from_reports_quick(monkeypatch):
    """`make benchmark` on a fresh clone: every run into an empty results/quick, priced from the
    committed reports/quick, of the order of the wall-clock that reference took."""
    monkeypatch.chdir(ROOT)  # as make runs it
    config = load_config("benchmark/configs/quick.toml")
    reference = committed_reference(config.path)
    assert reference == ROOT / "reports/quick"
    todo = make_jobs(config, "cpu", 1)
    expected = store.expected_runs(config.resolved())
    line = runner.estimate_line(todo, ROOT / "results/no-such-dir", expected, 2, [reference])
    cpus = {r["versions"]["cpu"] for r in records(reference).values()}
    iterations = config.settings.iterations
    start = f"{len(todo)} runs to do, {iterations} iterations each, on 2 worker(s): about "
    assert line.startswith(start)
    made_on = ", ".join(sorted(cpus))
    assert line.endswith(f" min from the cost of reports/quick's runs (made on {made_on})")
    provenance = json.loads((reference / "provenance.json").read_text())
    assert provenance["workers"] == 2
    minutes = float(line.removeprefix(start).split()[0])
    assert 0.5 <= minutes * 60 / provenance["wall_clock_seconds"] <= 1.5


def test_a_committed_reference_is_reports_beside_its_config(tmp_path):
    (tmp_path / "benchmark/configs/paper").mkdir(parents=True)
    config = write(tmp_path / "benchmark/configs/paper", tiny_toml(), "2d.toml")
    assert committed_reference(config) is None  # none committed
    (tmp_path / "reports/paper/2d/runs").mkdir(parents=True)
    assert committed_reference(config) == tmp_path / "reports/paper/2d"
    assert committed_reference(write(tmp_path, tiny_toml(), "2d.toml")) is None
    assert committed_reference(None) is None


# A record's identity, records read back, processes and sizes: each case a user (or a careless
# plugin author) meets ends in exit 2 with one line before anything is written, or in recorded
# failures and a report that builds.

ULA_ONLY = {"methods": '["ula_ebm"]', "flowmc_table": False}
ULA_TEST_SIZE = "[methods.ula_ebm]\nbatch_size = 32\nsteps = 2\ncheckpoints = 2\n"


def _config(targets: str | None = None, tables: str = "", **settings: str) -> str:
    """The tiny suite of ULA-EBM with `tables` appended and `[suite]` values replaced."""
    text = tiny_toml(**ULA_ONLY, **({"targets": targets} if targets else {})) + tables
    for key, value in settings.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
    return text


BAD_CONFIGS = {
    "grid values that print alike": (
        _config(tables="[methods.ula_ebm]\nlr = [0.001, 0.0010000001]\n"),
        (),
        "methods.ula_ebm.lr: values [0.001, 0.0010000001] print alike as lr=0.001",
    ),
    "an integer and a float that print alike": (
        _config(tables="[methods.ula_ebm]\nlr = [1, 1.0]\n"),
        (),
        "methods.ula_ebm.lr: values [1, 1.0] print alike as lr=1,",
    ),
    "an infinite ring radius": (
        _config(targets='[[targets]]\nfamily = "rings"\nradii = [1.0, inf]\n'),
        (),
        "targets[0].radii[1]: must be a finite number, got inf",
    ),
    "a seed beyond 64 bits": (
        _config(seeds=f"[{2**70}]"),
        (),
        "suite.seeds: must be distinct, at least one, each in [0, 2**63), got ",
    ),
    "an infinite learning rate": (
        _config(tables="[methods.ula_ebm]\nlr = inf\n"),
        (),
        "methods.ula_ebm.lr: must be a finite number, got inf",
    ),
    "an infinite regulariser": (
        _config(tables="[defaults]\nenergy_l2 = inf\n"),
        (),
        "defaults.energy_l2: must be a finite number, got inf",
    ),
    "an infinite step size": (
        _config(tables="[methods.ula_ebm]\nstep_size = inf\n"),
        (),
        "methods.ula_ebm.step_size: must be a finite number, got inf",
    ),
    "a 230-character target name": (
        _config(targets=f'[[targets]]\ntarget = "four_modes"\nname = "{"t" * 230}"\n'),
        (),
        "targets[0].name: must be letters, digits, '_', '.' or '-', at most 64 of them",
    ),
    "a method name with a slash": (
        _config(methods='["a/b"]'),
        ("--plugin", "slash_plugin"),
        "suite.methods: method 'a/b': a name in a record's file name must be letters",
    ),
    "a string grid value with a slash": (
        _config(
            methods='["fault_labelled"]', tables='[methods.fault_labelled]\nlabel = ["a", "b/c"]\n'
        ),
        ("--plugin", "fault_plugin"),
        "methods.fault_labelled.label: value 'b/c' cannot be part of a file name",
    ),
    "gmm in d = 100000": (
        _config(
            targets='[[targets]]\nfamily = "gmm"\ndim = 100000\nn_modes = 2\nseparation = 3.0\n'
        ),
        (),
        "targets[0].dim: must be an integer ≥ 1 and ≤ 1024, got 100000",
    ),
    "paper_hd in d = 1e10": (
        _config(targets='[[targets]]\nfamily = "paper_hd"\ndim = 10000000000\n'),
        (),
        "targets[0].dim: must be an integer ≥ 1 and ≤ 1024, got 10000000000",
    ),
    "mog with 1e8 modes": (
        _config(targets='[[targets]]\nfamily = "mog"\ndim = 2\nn_modes = 100000000\n'),
        (),
        "targets[0].n_modes: must be an integer ≥ 1 and ≤ 1000, got 100000000",
    ),
    "1e9 chains": (_config(n_chains="1000000000"), (), "suite.n_chains: must be at most 100,000"),
    "1e12 iterations": (
        _config(iterations="1000000000000"),
        (),
        "suite.iterations: must be at most 100,000,000",
    ),
    "a data set too large for memory": (
        _config(targets='[[targets]]\ntarget = "hd64"\n', n_data="10000000"),
        (),
        "suite.n_data: 10000000 points in d = 64 (targets[0]) are more than 268,435,456 values",
    ),
    "a plugin calling sys.exit(0) at import": (
        _config(),
        ("--plugin", "exit_plugin"),
        "suite.plugins: cannot import 'exit_plugin': it called sys.exit(0)",
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_a_config_that_cannot_be_stored_or_fit_exits_2_before_anything_runs(
    tmp_path, capsys, plugin, case
):
    text, extra, expected = BAD_CONFIGS[case]
    config = write(tmp_path, text)
    assert run(config, tmp_path / "out", *extra) == 2
    one_error_line(capsys, f"{config}: {expected}")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """(config, DIR) of the tiny flowMC-EBM suite with seeds 0 and 1, run once."""
    folder = tmp_path_factory.mktemp("finished")
    config = write(folder, tiny_toml(seeds="[0, 1]"))
    assert run(config, folder / "out") == 0
    return config, folder / "out"


SEED0, SEED1 = "four_modes__flowmc_ebm__seed0", "four_modes__flowmc_ebm__seed1"


def _edit(key: str, value: object) -> Callable[[dict, dict], object]:
    """An edit setting the dotted `key` of a record to `value` (and keeping its hash)."""

    def edit(record: dict, other: dict) -> dict:
        *path, last = key.split(".")
        functools.reduce(dict.__getitem__, path, record)[last] = value
        return record

    return edit


#: Ways a file of runs/ (seed 0's) stops being its run's record: (edit, key, message start).
TAMPERED = {
    "a record of the 0.1.0 format": (
        lambda r, o: {k: v for k, v in r.items() if k != "variant"},
        "variant",
        "missing",
    ),
    "a status only": (lambda r, o: {"status": "ok"}, "run_id", "missing"),
    "the other seed's record": (lambda r, o: o, "run_id", f'the record is of "{SEED1}"'),
    "a swapped seed": (_edit("seed", 1), "seed", "the record is of 1, its file name of 0"),
    "an edited target": (
        _edit("config.target.params", {"weights": [0.25] * 4}),
        "config.target.params.weights",
        "the record has [0.25, 0.25, 0.25, 0.25], this suite missing",
    ),
    "version 9.9.9": (
        _edit("versions.benchmark", "9.9.9"),
        "versions.benchmark",
        'computed by benchmark "9.9.9", this is',
    ),
    "other iterations": (
        _edit("config.suite.iterations", 7),
        "config.suite.iterations",
        "the record has 7, this suite 3",
    ),
    "an edited metric": (
        _edit("metrics.mw_tv_model", 0.0),
        "sha256",
        "the record was edited after its run wrote it",
    ),
}


def tamper(out: Path, case: str) -> Path:
    """Apply the `TAMPERED` edit `case` to seed 0's record in DIR `out`; returns its path."""
    path = out / "runs" / f"{SEED0}.json"
    edited = TAMPERED[case][0](json.loads(path.read_text()), records(out)[SEED1])
    store.write_json(path, edited)
    return path


@pytest.mark.parametrize("case", TAMPERED)
def test_a_record_that_is_not_its_runs_is_left_out_of_the_results_as_foreign(
    tmp_path, finished, case
):
    out = shutil.copytree(finished[1], tmp_path / "out")
    tamper(out, case)
    runs = load_runs(out).set_index("seed")
    _, key, message = TAMPERED[case]
    assert runs.loc[0, "status"] == "missing" and runs.loc[1, "status"] == "ok"
    assert runs.loc[0, "error"].startswith(f"foreign record left out: {key}: {message}")


@pytest.mark.slow
def test_report_lists_a_foreign_record_in_one_line_and_builds(tmp_path, finished, capsys):
    out = shutil.copytree(finished[1], tmp_path / "out")
    path = tamper(out, "a swapped seed")
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"foreign record left out: {path}: seed: the record is of 1, its file name of 0" in err
    assert "Traceback" not in err
    report = (out / "report.md").read_text()
    assert "## Foreign records" in report and f"`{path.name}`: seed: " in report
    assert "(1 seed, 1 failed)" in report  # the foreign run counted as missing


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "line"),
    [
        ("the other seed's record", "foreign record moved to {moved}, its run redone: {path}: "),
        ("version 9.9.9", "stale record, its run redone: {path}: versions.benchmark: "),
    ],
)
def test_a_rerun_redoes_a_foreign_or_stale_record(tmp_path, finished, capsys, case, line):
    """Another run's record is kept aside in foreign/; one of this run by another version of
    the package is redone over."""
    config, _ = finished
    out = shutil.copytree(finished[1], tmp_path / "out")
    path = tamper(out, case)
    foreign = path.read_bytes()
    seed1 = (out / "runs" / f"{SEED1}.json").read_bytes()
    assert run(config, out) == 0
    captured = capsys.readouterr()
    assert "1 ok, 0 failed, 1 already done" in captured.out
    moved = out / "foreign" / path.name
    assert line.format(moved=moved, path=path) in captured.err
    if case != "version 9.9.9":
        assert moved.read_bytes() == foreign  # nothing lost
    assert (out / "runs" / f"{SEED1}.json").read_bytes() == seed1  # nothing rewritten
    expected = store.expected_runs(json.loads((out / "suite.json").read_text()))
    assert store.check_record(records(out)[SEED0], expected[SEED0]) is None


@pytest.mark.parametrize(
    ("case", "key", "message"),
    [
        ("a swapped seed", "seed", "the reference is of 1, its file name of 0"),
        ("an edited metric", "sha256", "the reference was edited after its run wrote it"),
    ],
)
def test_against_refuses_a_reference_record_not_of_its_run_by_name(
    tmp_path, finished, capsys, case, key, message
):
    config, _ = finished
    reference = shutil.copytree(finished[1], tmp_path / "reference")
    path = tamper(reference, case)
    assert run(config, tmp_path / "mine", "--against", str(reference)) == 2
    one_error_line(capsys, f"{path}: {key}: {message}")
    assert not (tmp_path / "mine").exists()


@pytest.mark.slow
def test_against_an_unedited_reference_says_its_hashes_were_checked(tmp_path, finished, capsys):
    config, reference = finished
    assert run(config, tmp_path / "mine", "--against", str(reference)) == 0
    assert "0 ok, 0 failed, 0 already done, 2 from the reference" in capsys.readouterr().out
    assert "each record's content hash was checked" in (tmp_path / "mine/report.md").read_text()


@pytest.mark.slow
def test_values_of_numpy_or_torch_are_stored_and_other_objects_fail_their_run(tmp_path, plugin):
    methods = '["fault_numpy_iteration", "fault_tensor_iteration", "fault_object_iteration"]'
    config = write(tmp_path, tiny_toml(methods=methods, flowmc_table=False))
    assert run(config, tmp_path / "out", "--plugin", plugin) == 0
    found = records(tmp_path / "out")
    for kind in ("numpy", "tensor"):
        record = found[f"four_modes__fault_{kind}_iteration__seed0"]
        assert record["status"] == "ok"
        assert [c["iteration"] for c in record["curves"]["checkpoints"]] == [2, 3]
    failed = found["four_modes__fault_object_iteration__seed0"]
    assert failed["status"] == "failed"
    assert failed["error"].startswith(
        "not JSON data: curves.checkpoints[0].iteration: a Step is not JSON data"
    )
    assert sorted(p.name for p in (tmp_path / "out/runs").iterdir()) == sorted(
        f"{rid}.json" for rid in found
    )  # no temporary file left
    assert (tmp_path / "out/report.md").exists()


def assert_only_the_dying_runs_failed(found: dict[str, dict]) -> None:
    """`fault_die`'s two seeds failed with the lost process's reason, `ula_ebm`'s two are ok."""
    assert {rid: r["status"] for rid, r in found.items()} == {
        "four_modes__fault_die__seed0": "failed",
        "four_modes__fault_die__seed1": "failed",
        "four_modes__ula_ebm__seed0": "ok",
        "four_modes__ula_ebm__seed1": "ok",
    }
    error = "worker lost: its worker process exited with status 3 before returning a result"
    assert found["four_modes__fault_die__seed0"]["error"] == error
    assert found["four_modes__fault_die__seed1"]["error"] == error


def test_a_dying_worker_fails_only_its_own_run(tmp_path, plugin, capsys):
    text = tiny_toml(methods='["fault_die", "ula_ebm"]', seeds="[0, 1]", flowmc_table=False)
    config = write(tmp_path, text + ULA_TEST_SIZE)
    command = ["run", str(config), "--out", str(tmp_path / "out"), "--workers", "2"]
    assert main([*command, "--plugin", plugin]) == 0
    assert_only_the_dying_runs_failed(records(tmp_path / "out"))
    assert "(2 failed)" in (tmp_path / "out/report.md").read_text()
    assert "Traceback" not in capsys.readouterr().err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, marks=pytest.mark.slow), signal.SIGKILL]
)
def test_no_worker_outlives_a_killed_run_and_the_lock_is_free(tmp_path, plugin, signum):
    config = write(
        tmp_path, tiny_toml(methods='["fault_sleep"]', seeds="[0, 1]", flowmc_table=False)
    )
    pids = tmp_path / "pids"
    pids.mkdir()
    plugin_dir = next(p for p in sys.path if (Path(p) / "fault_plugin.py").exists())
    env = {**os.environ, "FAULT_PID_DIR": str(pids), "PYTHONPATH": plugin_dir}
    out = tmp_path / "out"
    command = [sys.executable, "-m", "benchmark", "run", str(config), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--workers", "2", "--plugin", plugin], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2
    process.send_signal(signum)
    status = process.wait(30)
    assert status == (143 if signum == signal.SIGTERM else -signal.SIGKILL)
    if signum == signal.SIGTERM:
        assert "Traceback" not in process.stderr.read()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))
    with open(out / ".lock", "a+") as lock:  # released by the kernel with its holder
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert not list((out / "runs").iterdir())


@pytest.mark.slow
def test_a_dask_cluster_without_workers_fails_the_waiting_runs(tmp_path, monkeypatch, capsys):
    from distributed import LocalCluster

    monkeypatch.setattr(runner, "DASK_NO_WORKER_SECONDS", 1.0)
    monkeypatch.setattr(runner, "_DASK_POLL_SECONDS", 0.2)
    config = write(tmp_path, tiny_toml())
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        command = ["run", str(config), "--out", str(tmp_path / "out")]
        assert main([*command, "--scheduler", cluster.scheduler_address]) == 0
    record = records(tmp_path / "out")["four_modes__flowmc_ebm__seed0"]
    assert record["status"] == "failed"
    assert record["error"].startswith(
        f"no Dask worker in the cluster at {cluster.scheduler_address} for 1 s"
    )
    assert "0 ok, 1 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_a_run_that_kills_its_process_on_dask_fails_alone(tmp_path, plugin, capsys):
    """Two runs at a time on one Dask worker (under its nanny, as `dask worker` starts one): the
    runs that kill their process fail with that reason, the others finish, and the Dask worker
    lives on — Dask neither reruns its runs nor retries the killer elsewhere."""
    from distributed import Client, LocalCluster

    text = tiny_toml(methods='["fault_die", "ula_ebm"]', seeds="[0, 1]", flowmc_table=False)
    config = write(tmp_path, text + ULA_TEST_SIZE)
    command = ["run", str(config), "--out", str(tmp_path / "out"), "--plugin", plugin]
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        before = set(client.scheduler_info()["workers"])
        assert main([*command, "--scheduler", cluster.scheduler_address]) == 0
        assert set(client.scheduler_info()["workers"]) == before
    assert_only_the_dying_runs_failed(records(tmp_path / "out"))
    assert "2 ok, 2 failed" in capsys.readouterr().out
    assert "(2 failed)" in (tmp_path / "out/report.md").read_text()
