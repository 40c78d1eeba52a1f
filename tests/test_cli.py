"""The command line: `list`, a run and its resume, and every bad input — exit status 2, one line
`error: <file>: <key>: ...` on stderr, no traceback, nothing in DIR changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_config import tiny_toml, write

from benchmark.__main__ import main
from benchmark.suite.registry import METHODS, load_methods
from benchmark.targets import FAMILIES, PRESETS

ROOT = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_list_prints_targets_and_methods(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    load_methods()
    for name in [*PRESETS, *FAMILIES]:
        assert f"  {name}" in out
    for name, spec in METHODS.items():
        assert name in out and spec.display in out


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny suite (one run) in DIR = <tmp>/out, config <tmp>/suite.toml."""
    tmp = tmp_path_factory.mktemp("cli")
    path = write(tmp, tiny_toml())
    assert main(["run", str(path), "--out", str(tmp / "out"), "--workers", "1"]) == 0
    return tmp


def test_run_writes_the_suite_and_a_rerun_skips_it(finished, capsys):
    out = finished / "out"
    for name in ("suite.json", "results.csv", "weights.csv", "report.md", "provenance.json"):
        assert (out / name).exists()
    before = snapshot(out / "runs")
    command = ["run", str(finished / "suite.toml"), "--out", str(out), "--workers", "1"]
    assert main(command) == 0
    assert "0 ok, 0 failed, 1 already done" in capsys.readouterr().out
    assert snapshot(out / "runs") == before


def bad_input(tmp: Path, case: str) -> tuple[list[str], str]:
    """(arguments, expected start of the error line after 'error: ') for each bad input."""
    out = str(tmp / "out")
    good = tiny_toml()
    if case == "missing config":
        return ["run", str(tmp / "none.toml"), "--out", out], f"{tmp / 'none.toml'}: cannot read"
    texts = {
        "invalid TOML": ("[suite\n", ": invalid TOML"),
        "unknown method": (
            tiny_toml(methods='["flowmc"]'),
            ": suite.methods: unknown method 'flowmc' (did you mean 'flowmc_ebm'?)",
        ),
        "unknown family": (
            tiny_toml(targets='[[targets]]\nfamily = "ring"\n'),
            ": targets[0].family: unknown family or preset 'ring' (did you mean 'rings'?)",
        ),
        "invalid parameter": (good + "flow_lr = 0\n", ": methods.flowmc_ebm.flow_lr: "),
        "different suite": (tiny_toml(seeds="[7]"), None),
    }
    text, fragment = texts[case]
    path = write(tmp, text, "other.toml")
    if fragment is None:
        return ["run", str(path), "--out", out], f"{tmp / 'out' / 'suite.json'}: suite.seeds: "
    return ["run", str(path), "--out", out], f"{path}{fragment}"


CASES = [
    "missing config",
    "invalid TOML",
    "unknown method",
    "unknown family",
    "invalid parameter",
    "different suite",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_and_leaves_dir_untouched(finished, case, capsys):
    before = snapshot(finished / "out")
    args, expected = bad_input(finished, case)
    assert main([*args, "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(finished / "out") == before


def test_bad_device_and_foreign_dir(tmp_path, capsys):
    path = write(tmp_path, tiny_toml())
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--device", "nonsense"]) == 2
    assert capsys.readouterr().err.startswith("error: --device: ")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["run", str(path), "--out", str(foreign)]) == 2
    assert "holds no suite.json" in capsys.readouterr().err
    assert snapshot(foreign) == {"notes.txt": b"mine"}


def test_a_real_process_exits_2_without_traceback(tmp_path):
    path = write(tmp_path, tiny_toml(methods='["ula_ebn"]'))
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", str(path), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {path}: suite.methods: unknown method 'ula_ebn'")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_grid_gives_variants_and_the_tuned_view_picks_by_held_out_likelihood(tmp_path):
    text = tiny_toml(methods='["ula_ebm"]', seeds="[0, 1]", flowmc_table=False)
    text += "[methods.ula_ebm]\nlr = [1e-3, 3e-2]\nbatch_size = 32\nsteps = 2\n"
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, text)), "--out", str(out), "--workers", "1"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[:4]) == ["target", "method", "variant", "lr"]
    assert sorted(results.variant.unique()) == ["ula_ebm[lr=0.001]", "ula_ebm[lr=0.03]"]
    assert (results.method == "ula_ebm").all() and sorted(results.lr.unique()) == [1e-3, 3e-2]
    means = results.groupby("variant").heldout_loglik.mean()
    tuned = pd.read_csv(out / "tables/tuned.csv")
    assert tuned.method.tolist() == [f"ULA-EBM [lr={means.idxmax().split('=')[1][:-1]}]"]
    assert "### Tuned" in (out / "report.md").read_text()


@pytest.mark.slow  # ≈ 1 minute: mog32's reference weights and evaluation in d = 32
def test_the_fields_targets_run_end_to_end_with_their_own_tables(tmp_path):
    """gmm40 (40 modes in 2-D) and mog32 (10 modes in d = 32) through the CLI as the 0.3.0 tuned
    profile ran them (no shipped profile runs them now): a learning-rate grid for the suite, one
    variant on gmm40 by its target table."""
    targets = '[[targets]]\ntarget = "gmm40"\ndefaults = { lr = 1e-3 }\n\n'
    targets += '[[targets]]\ntarget = "mog32"\n'
    text = tiny_toml(methods='["ula_ebm"]', targets=targets, flowmc_table=False)
    text += "\n[defaults]\nlr = [1e-3, 1e-2]\n\n[methods.ula_ebm]\nbatch_size = 32\nsteps = 2\n"
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, text)), "--out", str(out), "--workers", "1"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert (results.status == "ok").all()
    assert results[results.target == "gmm40"].variant.tolist() == ["ula_ebm"]
    assert results[results.target == "mog32"].variant.tolist() == [
        "ula_ebm[lr=0.001]", "ula_ebm[lr=0.01]",
    ]  # fmt: skip
    weights = pd.read_csv(out / "weights.csv")
    assert weights.groupby("target")["mode"].nunique().to_dict() == {"gmm40": 40, "mog32": 10}
    report = (out / "report.md").read_text()
    assert "**gmm40: mode weights and density**" in report and "### Tuned" in report
