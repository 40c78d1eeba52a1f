"""Table statistics and cell formatting with known answers: the mean and its t interval over the
estimable ok seeds, not-estimable seeds and failures counted, one number format everywhere, the
best and those indistinguishable from it in bold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import sem as stats_sem
from scipy.stats import t as stats_t
from synthetic_records import failed_record, ok_record

from benchmark.metrics.columns import COLUMNS, METRICS, SUMMARY_GROUPS
from benchmark.reporting.frames import runs_frame, steady_train_seconds
from benchmark.reporting.tables import (
    RANKING,
    format_cell,
    format_exact,
    format_number,
    make_tables,
    markdown,
    stats,
)

# Two seeds [1, 3]: mean 2, s = √2, half-width t(0.975, 1) · s / √2 = 12.706: [-10.7, 14.7].


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (1.0, "1.00"),
        (0.99996, "1.00"),  # rounding carries into the next decade
        (5.3012, "5.30"),
        (121.4, "121"),
        (12345.0, "12300"),
        (123456.0, "1.23e5"),
        (2534400.0, "2.53e6"),
        (0.0013, "0.00130"),
        (0.001, "0.00100"),
        (0.000999, "9.99e-4"),
        (8.59e-5, "8.59e-5"),
        (-0.0123, "-0.0123"),
        (float("nan"), "nan"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_format_exact_keeps_the_papers_digits():
    assert [format_exact(v) for v in (58.75, 0.97, 1.19e-3, 9.27e-4, 3.12e-5)] == [
        "58.75", "0.97", "0.00119", "9.27e-4", "3.12e-5",
    ]  # fmt: skip


def _frame(values, statuses, reasons=None):
    frame = pd.DataFrame({"method": "m", "status": statuses, "x": values})
    if reasons is not None:
        frame["x_ne"] = reasons
    return frame


@pytest.mark.parametrize(
    ("values", "statuses", "reasons", "cell"),
    [
        ([1.0, 3.0, np.nan], ["ok", "ok", "failed"], None, "2.00 [-10.7, 14.7] (1 failed)"),
        ([np.nan, np.nan], ["failed", "missing"], None, "— (2 failed)"),
        ([0.5], ["ok"], None, "0.500 (1 seed)"),
        ([np.nan, np.nan], ["ok", "ok"], None, "n/a"),
        (
            [1.0, 3.0, np.nan],
            ["ok", "ok", "ok"],
            [np.nan, np.nan, "IS ESS too small"],
            "2.00 [-10.7, 14.7] (1 n/e)",
        ),
        (
            [np.nan, np.nan, np.nan],
            ["ok", "ok", "failed"],
            ["ESS 3", "ESS 5", np.nan],
            "n/e (2 of 2) (1 failed)",
        ),
        (
            [4.0, np.nan, np.nan],
            ["ok", "ok", "missing"],
            [np.nan, "ESS 3", np.nan],
            "4.00 (1 seed, 1 n/e, 1 failed)",
        ),
    ],
)
def test_cells_count_not_estimable_seeds_and_failures(values, statuses, reasons, cell):
    row = stats(_frame(values, statuses, reasons), ["x"], ["method"]).iloc[0]
    assert format_cell(row) == cell


def test_stats_of_a_synthetic_not_estimable_record_through_runs_frame():
    records = [
        ok_record("four_modes", "a", 0, metrics={"mass_far_model": 0.02}),
        ok_record("four_modes", "a", 1, metrics={"mass_far_model": 0.04}),
        ok_record("four_modes", "a", 2, not_estimable={"mass_far_model": "IS ESS 4 < 100"}),
        failed_record("four_modes", "a", 3),
    ]
    row = stats(runs_frame(records), ["mass_far_model"], ["method"]).iloc[0]
    assert (row.n_ok, row.n_values, row.n_ne, row.n_failed) == (3, 2, 1, 1)
    # a positive metric, on the log scale: geometric mean √(0.02 · 0.04) = 0.0283; the t-interval
    # of ln 0.02, ln 0.04 (half-width t(0.975, 1) · (ln 2 / √2) / √2 = 12.706 · 0.3466 = 4.404)
    # transformed back: 0.0283 · e^∓4.404 = [3.46e-4, 2.31], above 0 although the linear one is
    # not; a fraction, so cut at 1
    assert row["mean"] == pytest.approx(np.sqrt(0.02 * 0.04)) and row.scale == "log"
    low, high = np.exp(stats_t.interval(0.95, 1, loc=np.log(0.02 * 0.04) / 2,
                                        scale=stats_sem(np.log([0.02, 0.04]))))
    assert high == pytest.approx(2.312, abs=1e-3)
    assert (row.ci_low, row.ci_high) == pytest.approx((low, 1.0), rel=1e-12)
    assert format_cell(row) == "0.0283 [3.46e-4, 1.00] (1 n/e, 1 failed)"


def test_table_3_is_one_table_per_view_and_the_summary_uses_new_metrics_when_present():
    records = [ok_record(t, m, 0) for t in ("four_modes", "eight_gaussians") for m in ("a", "b")]
    names = {"a": "A", "b": "B"}
    tables = {t.name: t for t in make_tables(runs_frame(records), names)}
    assert [n for n in tables if n.startswith("table3")] == [
        "table3a_mw_mse_init", "table3b_mw_mse_negatives", "table3c_mw_mse_model",
    ]  # fmt: skip
    summary = tables["summary"].to_markdown()
    assert "ESS/s" not in summary and "ESS per 1k cost" not in summary  # neither was measured
    assert "mass far" not in summary
    records[0]["metrics"] |= {"ess_bulk_per_kcost": 12.0, "ess_per_second": 100.0}
    summary = {t.name: t for t in make_tables(runs_frame(records), names)}["summary"]
    text = summary.to_markdown()
    assert "ESS per 1k cost" in text and "ESS/s" not in text
    assert "**four_modes: samplers**" in text and "**eight_gaussians: cost**" in text


def test_the_metric_table_holds_together():
    assert len(COLUMNS) == len(METRICS)  # one row per name
    for m in METRICS:
        assert m.summary is None or m.summary in SUMMARY_GROUPS, m.name
        assert m.label or not m.summary, m.name  # a summary column has a heading
        if m.instead_of:  # fills a column of the same summary group, itself no fallback
            assert COLUMNS[m.instead_of].summary == m.summary and m.summary, m.name
            assert COLUMNS[m.instead_of].instead_of is None, m.name
        assert not isinstance(m.floor, str) or m.floor in COLUMNS, m.name
        assert m.scale == "log" or m.origin == 0.0, m.name  # an origin only on the log scale
        assert not m.compared_on_log or m.scale == "linear", m.name
    assert all(any(m.summary == group for m in METRICS) for group in SUMMARY_GROUPS)


def _planted(tv: dict[str, list[float]]) -> list[dict]:
    """Records on four_modes, one per method and seed, with the mode-weight TV given."""
    return [
        ok_record("four_modes", method, seed, metrics={"mw_tv_model": value})
        for method, values in tv.items()
        for seed, value in enumerate(values)
    ]


def test_the_best_and_its_ties_are_bold_the_clearly_worse_and_the_oracle_are_not():
    records = _planted(
        {
            "oracle": [1e-6, 2e-6, 1e-6],  # far the lowest, but a reference: not ranked
            "good": [0.010, 0.020, 0.015],
            "tie": [0.012, 0.019, 0.017],  # differences +0.002, −0.001, +0.002: not significant
            "bad": [0.110, 0.125, 0.112],  # worse by 0.1 ± 0.005 on every seed
            "one": [0.001, None, None],  # one seed: neither best nor tested
        }
    )
    records[-1]["status"] = records[-2]["status"] = "failed"
    names = {m: m.upper() for m in ("oracle", "good", "tie", "bad", "one")}
    frame = runs_frame(records).assign(variant=lambda f: f.variant.map(names))
    long = stats(frame, ["mw_tv_model", "train_seconds"], ["target", "variant"], among="variant")
    verdict = long[long.metric == "mw_tv_model"].set_index("variant").verdict
    assert verdict.drop("ORACLE").to_dict() == {
        "GOOD": "best", "TIE": "indistinguishable", "BAD": "worse", "ONE": "untested",
    }  # fmt: skip
    assert np.isnan(verdict["ORACLE"])
    assert long[long.metric == "train_seconds"].verdict.isna().all()  # cost is not ranked
    summary = {t.name: t for t in make_tables(runs_frame(records), names)}["summary"]
    first = summary.to_markdown().split("\n\n")[1].splitlines()[2:]  # four_modes: mode weights
    rows = {line.split("|")[1].strip(): line for line in first}
    # geometric means: (0.010 · 0.020 · 0.015)^(1/3) = 0.0144, TIE's 0.0157, BAD's 0.115
    assert "| **0.0144 [" in rows["GOOD"] and "| **0.0157 [" in rows["TIE"]
    assert "| 0.115 [" in rows["BAD"] and "| 0.00100 (1 seed, 2 failed)" in rows["ONE"]
    assert "**" not in rows["ORACLE"].split("|")[2]
    assert RANKING in summary.caption


def test_a_variant_missing_on_a_target_is_not_run_not_nan():
    records = [ok_record("four_modes", "a", 0), ok_record("four_modes", "b", 0)]
    records.append(ok_record("eight_gaussians", "a", 0))
    tables = {t.name: t for t in make_tables(runs_frame(records), {"a": "A", "b": "B"})}
    (_, display), = tables["table3c_mw_mse_model"].sections
    assert display.loc["B", "eight_gaussians"] == "not run"
    assert display.loc["B", "four_modes"].startswith("0 (1 seed")


def test_markdown_splits_wide_tables_and_keeps_the_cells_text():
    table = pd.DataFrame(
        [["1.00", "2.50", "3", "4", "5"]],
        index=pd.Index(["A"], name="method"),
        columns=list("pqrst"),
    )
    text = markdown(table, max_columns=2)
    parts = text.split("\n\n")
    assert len(parts) == 3
    assert all(part.startswith("| method") for part in parts)
    assert "1.00" in parts[0] and "2.50" in parts[0]  # not re-parsed as numbers


def _row(long: pd.DataFrame, method: str, metric: str) -> pd.Series:
    return long[(long.method == method) & (long.metric == metric)].iloc[0]


def test_a_noisy_method_over_the_factor_is_marked_and_never_bold():
    # "noisy"'s log-density errors span three decades: its log interval covers far over 10×, so
    # it is inconclusive (‡), not the "indistinguishable" a linear t-test gives it
    records = [
        ok_record("four_modes", m, s, metrics={"logdens_err": v})
        for m, values in {"steady": [0.28, 0.281, 0.282], "noisy": [0.5, 80.0, 1000.0]}.items()
        for s, v in enumerate(values)
    ]
    long = stats(runs_frame(records), ["logdens_err"], ["target", "method"], among="method")
    noisy = _row(long, "noisy", "logdens_err")
    assert noisy.verdict == "inconclusive" and noisy.ci_high / noisy.ci_low > 10
    assert noisy.ci_low > 0  # on the linear scale the interval goes to −1.33e3
    assert format_cell(noisy).endswith(" ‡") and "**" not in format_cell(noisy)
    assert format_cell(_row(long, "steady", "logdens_err")).startswith("**0.281 [")


def test_below_its_noise_floor_a_cell_prints_the_floor_and_ties_at_it():
    # negatives vs E_θ: "lucky" at 1.1e-5 is below its floor 1.7e-5 on every seed, "exact" at the
    # floor: raised to the floor they tie (a constant log ratio 0), neither outranks the other;
    # "worse" is 10× the floor on every seed.
    values = {"lucky": [1.0e-5, 1.1e-5, 1.2e-5], "exact": [1.7e-5] * 3, "worse": [1.7e-4] * 3}
    records = [
        ok_record("four_modes", m, s, metrics={"mw_mse_negatives": v, "mw_mse_floor": 1.7e-5})
        for m, vs in values.items()
        for s, v in enumerate(vs)
    ]
    long = stats(runs_frame(records), ["mw_mse_negatives"], ["target", "method"], among="method")
    cells = {m: format_cell(_row(long, m, "mw_mse_negatives")) for m in values}
    assert cells["lucky"] == "**< floor 1.70e-5**"
    assert cells["exact"].startswith("**1.70e-5 [1.70e-5, 1.70e-5]")
    assert not cells["worse"].startswith("**")
    # the centre itself stays in the CSV: the geometric mean (1.0 · 1.1 · 1.2)^(1/3) e-5
    assert _row(long, "lucky", "mw_mse_negatives")["mean"] == pytest.approx(1.09696e-5, rel=1e-5)


def test_an_ess_at_arviz_cap_prints_a_bound():
    # 128 chains × 8 kept draws: N = 1024, ArviZ caps the ESS at N·log10 N = 3082.5 (its
    # autocorrelation time floored at 1 / log10 N); a seed below the cap gives the number
    n = 1024
    cap = n * np.log10(n)
    rows = [
        ok_record("four_modes", m, s, metrics={"ess_bulk_min": e, "n_chains": 128.0,
                                                "sample_draws": 8.0})
        for m, es in {"capped": [cap, cap], "mixed": [cap, 1500.0]}.items()
        for s, e in enumerate(es)
    ]  # fmt: skip
    long = stats(runs_frame(rows), ["ess_bulk_min"], ["target", "method"])
    assert format_cell(_row(long, "capped", "ess_bulk_min")) == "≥ 3080"
    mixed = _row(long, "mixed", "ess_bulk_min")
    assert mixed.n_at_ceiling == 1
    assert format_cell(mixed).startswith(format_number(np.sqrt(cap * 1500)))  # 2150


def test_a_c2st_within_its_binomial_chance_band_prints_the_floor():
    # 300 draws a side: 600 held-out draws, chance band 0.5 ± 1.96 · √(0.25 / 600) = ± 0.0400
    records = [
        ok_record("four_modes", m, s, metrics={"c2st": v, "n_chains": 128.0, "sample_draws": 8.0})
        for m, vs in {"chance": [0.47, 0.52, 0.51], "told": [0.62, 0.64, 0.66]}.items()
        for s, v in enumerate(vs)
    ]
    for r in records:
        r["config"]["suite"] = {"n_c2st": 300}
    long = stats(runs_frame(records), ["c2st"], ["target", "method"])
    assert format_cell(_row(long, "chance", "c2st")) == "< floor 0.540"
    assert format_cell(_row(long, "told", "c2st")).startswith("0.640 [")  # linear: a mean


def test_steady_training_seconds_leave_out_the_first_checkpoint_interval():
    # 100 iterations, compilation in the first: 30 s, then 0.1 s per iteration; the first
    # checkpoint at iteration 10: from there (30.9 s) to 100 (39.9 s) 0.1 s/iteration, × 100
    record = ok_record("four_modes", "m", 0)
    iterations = np.arange(1, 101)
    record["curves"]["train"] = {"iteration": iterations.tolist(),
                                 "seconds": (30.0 + 0.1 * (iterations - 1)).tolist()}  # fmt: skip
    assert steady_train_seconds(record) == pytest.approx(10.0)
    assert runs_frame([record]).train_seconds_steady.iloc[0] == pytest.approx(10.0)


def test_an_interval_of_a_fraction_stops_at_1():
    # TVs 0.01, 0.5, 0.9: the log interval exp(mean ln v ± 4.303 · s_ln / √3) reaches 1.3e3
    records = [ok_record("four_modes", "m", s, metrics={"mw_tv_model": v})
               for s, v in enumerate([0.01, 0.5, 0.9])]  # fmt: skip
    row = stats(runs_frame(records), ["mw_tv_model"], ["method"]).iloc[0]
    assert 0 < row.ci_low < row["mean"] and row.ci_high == 1.0


def test_an_interval_of_a_count_stops_at_0():
    # erasures 0, 0, 1: mean 1/3 ± 4.303 · 0.577 / √3 = [−1.10, 1.77], cut at 0 below
    records = [ok_record("four_modes", "m", s, metrics={"mode_erasures": v})
               for s, v in enumerate([0.0, 0.0, 1.0])]  # fmt: skip
    row = stats(runs_frame(records), ["mode_erasures"], ["method"]).iloc[0]
    assert row.scale == "linear" and row["mean"] == pytest.approx(1 / 3)
    high = 1 / 3 + 4.303 * 0.57735 / 3**0.5
    assert row.ci_low == 0.0 and row.ci_high == pytest.approx(high, rel=1e-3)


def test_the_sample_distances_print_their_floors_and_rank_the_sampler_draws_section():
    # "exact" reads MMD² −1e-4, 2e-4, 1e-4 (an unbiased estimate near 0: linear mean 6.67e-5,
    # below its floor 5e-4) and SW₂² under its floor 0.02; "dropped" is far above both and finds
    # 3 of 4 modes on every seed: worse in all three, the exact one bold (values below the floor
    # tie at it).
    values = {
        "exact": ([-1e-4, 2e-4, 1e-4], [0.010, 0.012, 0.015], 4.0),
        "dropped": ([0.10, 0.12, 0.11], [1.2, 1.3, 1.1], 3.0),
    }
    records = [
        ok_record("four_modes", method, s, metrics={
            "mmd": m, "mmd_floor": 5e-4, "sw2": w, "sw2_floor": 0.02, "modes_found": found,
            "n_modes": 4.0})
        for method, (mmd, sw2, found) in values.items()
        for s, (m, w) in enumerate(zip(mmd, sw2, strict=True))
    ]  # fmt: skip
    metrics = ["mmd", "sw2", "modes_found"]
    long = stats(runs_frame(records), metrics, ["target", "method"], among="method")
    assert [_row(long, "exact", k).scale for k in metrics] == ["linear", "log", "linear"]
    cells = {(m, k): format_cell(_row(long, m, k)) for m in values for k in metrics}
    assert cells["exact", "mmd"] == "**< floor 5.00e-4**"
    assert cells["exact", "sw2"] == "**< floor 0.0200**"
    assert cells["exact", "modes_found"].startswith("**4.00 [4.00, 4.00]")
    assert cells["dropped", "mmd"].startswith("0.110 [")  # linear: the mean
    assert all(not cells["dropped", k].startswith("**") for k in metrics)
    names = {m: m for m in values}
    text = {t.name: t for t in make_tables(runs_frame(records), names)}["summary"].to_markdown()
    section = text.split("**four_modes: sampler's draws vs p★**")[1].split("\n\n")[1]
    assert all(label in section for label in ("MMD²", "sliced W₂²", "modes found"))


def test_an_mmd_scattered_over_orders_of_magnitude_is_inconclusive_not_bold():
    # the committed quick report's CoopFlow on four_modes: MMD² from its floor 7e-4 to 0.9 over the
    # seeds, linear mean 0.31 [0, 0.69]; a linear paired t-test could not tell it from a method at
    # its floor. Raised to the floor, its logs span a factor of 10³ over the seeds: on the log
    # scale its interval covers far more than 10×, so it is ‡, never bold
    values = {"steady": [1e-3, 1.2e-3, 0.9e-3, 1.1e-3, 1e-3],
              "scattered": [-2e-4, 0.05, 0.9, 0.6, 0.01]}  # fmt: skip
    records = [
        ok_record("four_modes", method, s, metrics={"mmd": v, "mmd_floor": 7e-4})
        for method, mmd in values.items()
        for s, v in enumerate(mmd)
    ]
    long = stats(runs_frame(records), ["mmd"], ["target", "method"], among="method")
    scattered = _row(long, "scattered", "mmd")
    assert scattered.scale == "linear" and scattered.ci_low == 0.0  # summarised as before
    assert scattered.verdict == "inconclusive"
    assert format_cell(scattered).endswith("‡") and not format_cell(scattered).startswith("**")
    assert _row(long, "steady", "mmd").verdict == "best"


def test_the_summary_states_each_runs_training_cost_in_its_units():
    # flow passes 1e4 and 1e6 on two seeds: geometric mean 1e5; a method without a flow: 0
    records = [
        ok_record("four_modes", "a", seed, metrics={"flow_passes": passes, "grad_evals": 400.0})
        for seed, passes in enumerate([1e4, 1e6])
    ] + [ok_record("four_modes", "b", seed, metrics={"flow_passes": 0.0}) for seed in (0, 1)]
    summary = {t.name: t for t in make_tables(runs_frame(records), {"a": "A", "b": "B"})}["summary"]
    cells = summary.long.set_index(["method", "metric"])["mean"]
    assert cells["A", "flow_passes"] == pytest.approx(1e5)
    assert cells["A", "grad_evals"] == pytest.approx(400.0)
    assert cells["B", "flow_passes"] == 0
    text = summary.to_markdown()
    assert "flow passes" in text and "grad evals" in text and "train s" in text
    assert "one point through a normalizing flow in one direction" in summary.caption
    assert "U and ∇U at one point" in summary.caption
