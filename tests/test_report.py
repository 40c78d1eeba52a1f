"""The report: aggregation with known answers (mean ± std, failures counted), and a tiny real
run (a 2-D and a 4-D target, a failing method) producing every file, table and figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_config import tiny_toml, write
from test_runner import FAILING_PLUGIN

from benchmark.config import load_config
from benchmark.figures import method_palette
from benchmark.registry import METHODS, load_methods
from benchmark.report import RESULT_COLUMNS, _cell, build_report, runs_frame, stats
from benchmark.runner import run_suite
from benchmark.targets import make_target

TABLES = ["table1_logdens_err", "table2_rhat_max", "table3_mode_weight_mse", "summary"]
FIGURES = [
    "density_four_modes.png",
    "mode_weight_vs_iteration.png",
    "rhat_vs_time.png",
    "mode_weights.png",
    "error_vs_cost.png",
]


def test_stats_mean_and_std_over_ok_seeds_and_failures_counted():
    frame = pd.DataFrame(
        {
            "method": ["a", "a", "a", "b", "b"],
            "status": ["ok", "ok", "failed", "failed", "missing"],
            "x": [1.0, 3.0, np.nan, np.nan, np.nan],
        }
    )
    long = stats(frame, ["x"], ["method"]).set_index("method")
    assert long.loc["a", "mean"] == 2.0 and long.loc["a", "std"] == pytest.approx(np.sqrt(2))
    assert (long.loc["a", "n_ok"], long.loc["a", "n_failed"]) == (2, 1)
    assert (long.loc["b", "n_ok"], long.loc["b", "n_failed"]) == (0, 2)
    assert _cell(long.loc["a"]) == "2 ± 1.4 (1 failed)"
    assert _cell(long.loc["b"]) == "— (2 failed)"


def test_not_estimable_metrics_are_nan_with_their_reasons_in_a_column():
    record = {
        "target": "hd16", "method": "m", "seed": 0, "status": "ok",
        "metrics": {"mw_tv_model": None, "log_z": None, "rhat_max": 1.2},
        "not_estimable": {"mw_tv_model": "IS ESS 3 < 655", "log_z": "IS ESS 3 < 655"},
    }  # fmt: skip
    row = runs_frame([record, {**record, "seed": 1, "not_estimable": {}}]).iloc[0]
    assert np.isnan(row.mw_tv_model) and np.isnan(row.log_z) and row.rhat_max == 1.2
    assert row.not_estimable == "IS ESS 3 < 655: mw_tv_model, log_z"
    assert runs_frame([{**record, "not_estimable": {}}]).not_estimable.isna().all()


def test_palette_is_fixed_by_the_registry_order():
    load_methods()
    first, *_ = METHODS
    alone = method_palette([first])
    assert alone[first] == method_palette(list(METHODS))[first]
    colours = method_palette(list(METHODS))
    assert len(set(colours.values())) == len(METHODS)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """A real tiny suite: four_modes and a 4-D paper_hd target, flowmc_ebm and a failing method,
    2 seeds; then the report."""
    tmp = tmp_path_factory.mktemp("report")
    (tmp / "report_fail_plugin.py").write_text(FAILING_PLUGIN.format(name="diverges_too"))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp))
        targets = '[[targets]]\ntarget = "four_modes"\n\n[[targets]]\nname = "hd4"\n'
        targets += 'family = "paper_hd"\ndim = 4\nweights = [0.4, 0.3, 0.2, 0.1]\n'
        text = tiny_toml(seeds="[0, 1]", methods='["flowmc_ebm", "diverges_too"]', targets=targets)
        config = load_config(write(tmp, text), ["report_fail_plugin"])
        run_suite(config, tmp / "out", workers=1)
        build_report(tmp / "out")
    return tmp / "out"


def test_report_has_every_file_table_and_figure(tiny_report):
    out = tiny_report
    for name in TABLES:
        assert (out / "tables" / f"{name}.md").read_text().startswith("|")
        assert not pd.read_csv(out / "tables" / f"{name}.csv").empty
    for name in FIGURES:
        assert (out / "figures" / name).stat().st_size > 1000
    report = (out / "report.md").read_text()
    for name in [*TABLES, *FIGURES]:
        assert name in report
    assert "## Failed runs" in report and "diverged: non-finite energies" in report


def test_results_and_weights_tables(tiny_report):
    results = pd.read_csv(tiny_report / "results.csv")
    assert list(results.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert len(results) == 2 * 2 * 2
    assert (results.status == "ok").sum() == 4 and (results.status == "failed").sum() == 4
    weights = pd.read_csv(tiny_report / "weights.csv")
    assert len(weights) == 4 * 4  # ok runs × modes
    four = weights[weights.target == "four_modes"].groupby("mode").weight_true.first()
    expected = make_target("four_modes").region_weights().weights
    assert torch.allclose(torch.tensor(four.values, dtype=torch.float32), expected)
    sums = weights.groupby(["target", "method", "seed"])[["weight_true", "weight_negatives"]].sum()
    assert np.allclose(sums.values, 1.0, atol=1e-6)


def test_tables_agree_with_the_runs_and_show_failures(tiny_report):
    results = pd.read_csv(tiny_report / "results.csv")
    long = pd.read_csv(tiny_report / "tables" / "table1_logdens_err.csv")
    row = long[(long.method == "flowMC-EBM") & (long.target == "hd4")].iloc[0]
    runs = results[(results.method == "flowmc_ebm") & (results.target == "hd4")].logdens_err
    assert row["mean"] == pytest.approx(runs.mean()) and row["std"] == pytest.approx(runs.std())
    failed = long[long.method == "Diverges diverges_too"]
    assert (failed.n_ok == 0).all() and (failed.n_failed == 2).all()
    table = (tiny_report / "tables" / "table1_logdens_err.md").read_text()
    assert "Diverges diverges_too" in table and "— (2 failed)" in table


def test_report_is_rebuilt_from_the_records_alone(tiny_report):
    before = (tiny_report / "results.csv").read_text()
    (tiny_report / "results.csv").unlink()
    build_report(tiny_report)
    assert (tiny_report / "results.csv").read_text() == before
    record = json.loads((tiny_report / "runs" / "hd4__flowmc_ebm__seed0.json").read_text())
    assert record["dim"] == 4 and "density" not in record["curves"]
