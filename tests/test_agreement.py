"""A run against its reference (`benchmark.reporting.agreement`, `python -m benchmark compare`):
planted DIRs whose answer is known — a copy is identical, draws of the same distribution agree, a
metric shifted far beyond the seeds' spread differs and is named — and Holm's adjustment by hand."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic_records import ok_record, suite_json, write_suite

from benchmark.execution.machine import differences
from benchmark.reporting.agreement import LEVEL, agreement, verdicts

ROOT = Path(__file__).resolve().parents[1]
SEEDS = list(range(5))


def _runs(values: dict[str, list[float]], method: str = "a") -> pd.DataFrame:
    """A runs frame of one (target, method) with one row per seed and the given metric columns."""
    rows = [
        {"target": "t", "method": method, "variant": method, "seed": s, "status": "ok"}
        | {m: v[i] for m, v in values.items()}
        for i, s in enumerate(SEEDS)
    ]
    return pd.DataFrame(rows)


def _lognormal(seed: int, median: float, sd_log: float = 0.3) -> list[float]:
    rng = np.random.default_rng(seed)
    return (median * np.exp(sd_log * rng.standard_normal(len(SEEDS)))).tolist()


def test_a_copy_is_identical():
    runs = _runs({"mw_tv_model": _lognormal(0, 0.03), "heldout_loglik": [-1.1, -1.2, -1, -1, -1.3]})
    cells = agreement(runs, runs.copy())
    assert set(cells.test) == {"identical"} and not cells.differs.any()
    (line,) = verdicts(cells, {}).itertuples()
    assert line.verdict == "identical" and "5 seeds bit for bit" in line.detail


def test_draws_of_the_same_distribution_agree_and_a_shifted_metric_differs():
    # Other seeds of the same log-normal errors: any difference found would be by chance
    # (probability ≤ LEVEL for the whole comparison). A tenfold TV with a log-spread of 0.3 over
    # 5 seeds a side is a t of about 12: far beyond any adjusted threshold.
    here = _runs({"mw_tv_model": _lognormal(1, 0.03), "logdens_err": _lognormal(2, 0.5)})
    same = _runs({"mw_tv_model": _lognormal(3, 0.03), "logdens_err": _lognormal(4, 0.5)})
    shifted = _runs({"mw_tv_model": _lognormal(3, 0.3), "logdens_err": _lognormal(4, 0.5)})
    agree = agreement(here, same)
    assert set(agree.test) == {"welch (log)"} and not agree.differs.any()
    assert verdicts(agree, {"a": "A"}).iloc[0].to_dict() | {"detail": ""} == {
        "target": "t", "method": "A", "verdict": "agrees", "detail": ""
    }  # fmt: skip
    differ = agreement(here, shifted)
    assert differ.set_index("metric").differs.to_dict() == {
        "mw_tv_model": True,
        "logdens_err": False,
    }
    line = verdicts(differ, {}).iloc[0]
    assert line.verdict == "DIFFERS" and line.detail.startswith("mw_tv_model ")


def test_holm_adjusts_all_cells_together():
    # Three methods, one metric each, with p-values p1 < p2 < p3 from Welch's test: Holm's
    # adjusted values are 3 p1, max(3 p1, 2 p2), max(…, p3), capped at 1.
    here = pd.concat([_runs({"logdens_err": _lognormal(i, 1.0)}, m) for i, m in enumerate("abc")])
    there = pd.concat(
        [_runs({"logdens_err": _lognormal(10 + i, f)}, m) for i, (m, f) in enumerate(
            [("a", 3.0), ("b", 1.5), ("c", 1.0)])]
    )  # fmt: skip
    cells = agreement(here, there).sort_values("p")
    p = cells.p.to_numpy()
    expected = np.minimum(1, np.maximum.accumulate([3 * p[0], 2 * p[1], p[2]]))
    np.testing.assert_allclose(cells.p_holm.to_numpy(), expected, rtol=1e-12)
    assert (cells.differs == (cells.p_holm < LEVEL)).all()


def test_too_few_seeds_is_not_testable():
    here = _runs({"mw_tv_model": [0.1, None, None, None, None]})
    cells = agreement(here, _runs({"mw_tv_model": _lognormal(0, 0.1)}))
    assert cells.test.tolist() == ["not testable"] and not cells.differs.any()
    assert verdicts(cells, {}).verdict.tolist() == ["not testable"]


def test_machine_differences_name_each_package_and_the_processor():
    ours = {"benchmark": "1", "zuko": "1.6.0", "cpu": "A (AVX2)", "numpy": "2"}
    theirs = {"benchmark": "1", "zuko": "1.5.0", "numpy": "2"}  # an older record: no cpu
    assert differences(theirs, ours) == ["zuko 1.5.0 (here 1.6.0)", "cpu unknown (here A (AVX2))"]
    assert differences(ours, ours) == []
    assert differences({**ours, "benchmark": "0"}, ours) == ["benchmark 0 (here 1)"]


def _compare(here: Path, reference: Path) -> subprocess.CompletedProcess:
    """`python -m benchmark compare here reference`, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "benchmark", "compare", str(here), str(reference)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def _dir(out: Path, tv: dict[int, float]) -> Path:
    suite = suite_json(["four_modes"], ["m"], SEEDS)
    records = [ok_record("four_modes", "m", s, metrics={"mw_tv_model": tv[s]}) for s in SEEDS]
    return write_suite(out, suite, records)


@pytest.mark.parametrize(("factor", "verdict"), [(1.0, "identical"), (10.0, "DIFFERS")])
def test_compare_command_prints_a_line_per_method_and_writes_the_report_section(
    tmp_path, factor, verdict
):
    tv = dict(zip(SEEDS, _lognormal(5, 0.02), strict=True))
    reference = _dir(tmp_path / "reference", tv)
    here = _dir(tmp_path / "here", {s: factor * v for s, v in tv.items()})
    done = _compare(here, reference)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "four_modes" in x]
    assert line.split()[:3] == ["four_modes", "M", f"{verdict}:"]
    report = (here / "report.md").read_text()
    assert f"## Agreement with the reference `{reference}`" in report
    cells = pd.read_csv(here / "agreement.csv")
    assert bool(cells.set_index("metric").differs["mw_tv_model"]) == (verdict == "DIFFERS")
    assert json.loads((here / "suite.json").read_text())["suite"]["name"] == "synthetic"


def test_compare_with_another_suite_is_a_user_error(tmp_path):
    reference = _dir(tmp_path / "reference", dict.fromkeys(SEEDS, 0.1))
    suite = json.loads((reference / "suite.json").read_text())
    suite["suite"]["name"] = "other"
    (reference / "suite.json").write_text(json.dumps(suite))
    here = _dir(tmp_path / "here", dict.fromkeys(SEEDS, 0.1))
    done = _compare(here, reference)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: {reference}: suite.name: is 'other'")


def test_compare_with_a_reference_of_another_version_is_refused_with_the_reason(tmp_path):
    """Records of another version of the package are foreign to this one: nothing to compare."""
    suite = suite_json(["four_modes"], ["m"], SEEDS)
    old = [ok_record("four_modes", "m", s) for s in SEEDS]
    for record in old:
        record["versions"]["benchmark"] = "0.0.1"
    reference = write_suite(tmp_path / "reference", suite, old)
    here = _dir(tmp_path / "here", dict.fromkeys(SEEDS, 0.1))
    done = _compare(here, reference)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "versions.benchmark" in done.stderr
    assert f"no record of {reference} is usable here" in done.stderr
