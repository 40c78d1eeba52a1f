"""From DIR/runs/*.json to results.csv, weights.csv, tables (Markdown and CSV), figures and
report.md. Every table is a function of one long DataFrame of all runs; runs that failed or are
missing are counted in every cell they belong to, never dropped silently."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, ParamError
from .figures import make_figures
from .registry import METHODS, load_methods
from .store import Record, load_records, read_suite, run_id
from .variants import Variant, display_name

__all__ = ["RESULT_COLUMNS", "runs_frame", "weights_frame", "stats", "build_report"]

#: The first columns of results.csv (every other metric follows).
RESULT_COLUMNS = [
    "target", "method", "variant", "seed", "status", "mw_mse_model", "mw_tv_model", "mw_max_model",
    "mass_far_model", "mw_mse_negatives", "mw_tv_negatives", "logdens_err", "rhat_max",
    "ess_bulk_min", "ess_tail_min", "ess_bulk_per_kcost", "switch_rate", "c2st", "accept_local",
    "accept_global", "train_seconds", "grad_evals",
]  # fmt: skip

_VIEWS = {
    "mw_mse_init": "init vs E",
    "mw_mse_negatives": "negatives vs E",
    "mw_mse_floor": "sampling floor",
    "mw_mse_model": "E vs p★",
}
_SUMMARY = {
    "mw_tv_model": "mode-weight TV",
    "mass_far_model": "mass far",
    "mw_model_spread": "weight spread (last 3 ckpt)",
    "logdens_err": "log-density err",
    "rhat_max": "max R-hat",
    "ess_per_second": "ESS/s",
    "c2st": "C2ST",
    "train_seconds": "train s",
    "grad_evals": "grad evals",
}


def runs_frame(records: list[Record]) -> pd.DataFrame:
    """One row per run: target, method, variant, the swept hyperparameters, then the rest of
    RESULT_COLUMNS, the other metrics and the error message."""
    rows = [
        {
            "target": r["target"],
            "method": r["method"],
            "variant": r["variant"],
            "seed": r["seed"],
            "status": r["status"],
            **r.get("swept", {}),
            **{k: np.nan if v is None else v for k, v in r.get("metrics", {}).items()},
            "not_estimable": _reasons(r.get("not_estimable", {})),
            "error": r.get("error"),
        }
        for r in records
    ]
    frame = pd.DataFrame(rows)
    for column in [*RESULT_COLUMNS, *_VIEWS, *_SUMMARY]:  # present even when no run finished
        if column not in frame:
            frame[column] = np.nan
    swept = list(dict.fromkeys(k for r in records for k in r.get("swept", {})))
    last = ["not_estimable", "error"]
    rest = [c for c in frame.columns if c not in [*RESULT_COLUMNS, *swept, *last]]
    return frame[[*RESULT_COLUMNS[:3], *swept, *RESULT_COLUMNS[3:], *rest, *last]]


def _reasons(not_estimable: dict[str, str]) -> str | None:
    """A record's not-estimable metrics grouped by reason: "reason: metric, metric; …"."""
    grouped: dict[str, list[str]] = {}
    for metric, reason in not_estimable.items():
        grouped.setdefault(reason, []).append(metric)
    return (
        "; ".join(f"{reason}: {', '.join(metrics)}" for reason, metrics in grouped.items()) or None
    )


def weights_frame(records: list[Record]) -> pd.DataFrame:
    """Long table: target, method, seed, mode, weight_true, weight_model, weight_negatives."""
    rows = [
        {
            "target": r["target"],
            "method": r["method"],
            "variant": r["variant"],
            "seed": r["seed"],
            "mode": k,
            "weight_true": r["weights"]["true"][k],
            "weight_model": r["weights"]["model"][k],
            "weight_negatives": r["weights"]["negatives"][k],
        }
        for r in records
        if r["status"] == "ok"
        for k in range(len(r["weights"]["true"]))
    ]
    columns = ["target", "method", "variant", "seed", "mode"]
    return pd.DataFrame(rows, columns=[*columns, "weight_true", "weight_model", "weight_negatives"])


def stats(frame: pd.DataFrame, metrics: list[str], by: list[str]) -> pd.DataFrame:
    """Long statistics: per group and metric, mean and std over ok seeds, n_ok and n_failed
    (failed or missing runs)."""
    rows = []
    for key, group in frame.groupby(by, sort=False):
        ok = group[group.status == "ok"]
        for metric in metrics:
            values = ok[metric].astype(float)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "metric": metric,
                    "mean": values.mean(),
                    "std": values.std(ddof=1) if values.count() > 1 else np.nan,
                    "n_ok": len(ok),
                    "n_failed": len(group) - len(ok),
                }
            )
    return pd.DataFrame(rows)


def _cell(row: pd.Series) -> str:
    if row.n_ok == 0:
        text = "—"
    elif np.isnan(row["mean"]):
        text = "n/a"
    elif np.isnan(row["std"]):
        text = f"{row['mean']:.3g}"
    else:
        text = f"{row['mean']:.3g} ± {row['std']:.2g}"
    return text + (f" ({row.n_failed} failed)" if row.n_failed else "")


def _pivot(long: pd.DataFrame, index: str | list[str], columns: str) -> pd.DataFrame:
    """Cells "mean ± std (k failed)", rows and columns in order of first appearance."""
    cells = long.assign(cell=long.apply(_cell, axis=1))
    table = cells.pivot(index=index, columns=columns, values="cell")
    keys = cells[index] if isinstance(index, str) else zip(*(cells[i] for i in index), strict=True)
    return table.loc[list(dict.fromkeys(keys)), list(dict.fromkeys(cells[columns]))]


def _tables(
    frame: pd.DataFrame, names: dict[str, str]
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """name -> (display table, long CSV table)."""
    shown = frame.assign(method=frame.variant.map(lambda m: names.get(m, m)))
    tables = {}
    for name, metric in (("table1_logdens_err", "logdens_err"), ("table2_rhat_max", "rhat_max")):
        long = stats(shown, [metric], ["method", "target"])
        tables[name] = (_pivot(long, "method", "target"), long)
    long = stats(shown, list(_VIEWS), ["method", "target"])
    table = long.assign(view=long.metric.map(_VIEWS))
    table = table.assign(column=table.target + ": " + table.view)
    tables["table3_mode_weight_mse"] = (_pivot(table, "method", "column"), long)
    long = stats(shown, list(_SUMMARY), ["target", "method"])
    wide = _pivot(long.assign(metric=long.metric.map(_SUMMARY)), ["target", "method"], "metric")
    tables["summary"] = (wide, long)
    return tables


_CAPTIONS = {
    "table1_logdens_err": "Table 1 analogue — log-density error: median of (log p_θ − log p★)² "
    "on exact target draws (lower is better).",
    "table2_rhat_max": "Table 2 analogue — max rank-normalised split R-hat of the chains of each "
    "method's own sampler, every method's chains run for the same cost, warm-up discarded "
    "(1 is ideal).",
    "table3_mode_weight_mse": "Table 3 analogue — mode-weight MSE, three views: the method's "
    "initialisation vs the EBM, its negatives vs the EBM (each from 10 000 draws), beside the "
    "sampling floor Σw(1−w)/(K·n) that n independent draws of the EBM would show, and the EBM vs "
    "the truth.",
    "summary": "Summary — mode-weight TV (EBM vs truth), the EBM's mass outside every mode's "
    "99.9 % region, spread of the EBM's weights over the last 3 checkpoints, log-density error, "
    "R-hat, ESS per second, C2ST (0.5 = indistinguishable), training seconds and gradient "
    "evaluations.",
}


def _markdown(table: pd.DataFrame) -> str:
    """A display table as Markdown, its row labels (method, or target and method) as columns."""
    return table.reset_index().to_markdown(index=False)


def _provenance(out: Path, records: list[Record]) -> list[str]:
    path = out / "provenance.json"
    lines = []
    if path.exists():
        p = json.loads(path.read_text())
        runs = p["runs"]
        lines += [
            f"- command: `{p['command']}` (config `{p['config']}`)",
            f"- started {p['started']}; wall-clock of the last invocation "
            f"{p['wall_clock_seconds']:.0f} s ({runs['ok']} ok, {runs['failed']} failed, "
            f"{runs['skipped']} already done)",
            f"- machine: {p['machine']}; device {p['device']}; workers {p['workers']}"
            + (f"; Dask scheduler {p['scheduler']}" if p["scheduler"] else ""),
        ]
    done = [r for r in records if "versions" in r]
    if done:
        v = done[0]["versions"]
        lines.append(
            f"- versions: benchmark {v['benchmark']}, torch {v['torch']}, numpy {v['numpy']}, "
            f"Python {v['python']}"
        )
    return lines


def build_report(out: Path, plugins: list[str] | None = None) -> Path:
    """Write results.csv, weights.csv, tables/, figures/ and report.md into `out`."""
    out = Path(out)
    suite = read_suite(out)
    if suite is None:
        raise ConfigError(out, "", "holds no suite.json (run a suite into it first)")
    with contextlib.suppress(ParamError):  # a plugin not importable here: its records name it
        load_methods([*suite["suite"]["plugins"], *(plugins or [])])
    variants = [Variant(**v) for vs in suite["variants"].values() for v in vs]
    registered = {
        v.name: display_name(METHODS[v.method], v) for v in variants if v.method in METHODS
    }
    records = load_records(out, suite, registered)
    names = {r["variant"]: r["display"] for r in records if "config" in r} | registered
    for record in records:  # one display name per variant, stubs included
        record["display"] = names.get(record["variant"], record["variant"])
    frame = runs_frame(records)
    frame.to_csv(out / "results.csv", index=False)
    weights_frame(records).to_csv(out / "weights.csv", index=False)
    tables = _tables(frame, names)
    (out / "tables").mkdir(exist_ok=True)
    for name, (table, long) in tables.items():
        long.to_csv(out / "tables" / f"{name}.csv", index=False)
        (out / "tables" / f"{name}.md").write_text(_markdown(table) + "\n")
    order = list(dict.fromkeys(v.name for v in variants))
    figures = make_figures(records, frame, order, out / "figures")
    counts = frame.status.value_counts()
    lines = [
        f"# Benchmark report: {suite['suite']['name']}",
        "",
        f"{len(frame)} runs ({', '.join(f'{n} {s}' for s, n in counts.items())}): "
        f"{len(suite['targets'])} targets × {len(order)} methods × "
        f"{len(suite['suite']['seeds'])} seeds, {suite['suite']['iterations']} iterations each. "
        "Cells: mean ± std over seeds of the runs that finished; failed or missing runs are "
        "counted in brackets. Per-run numbers: `results.csv`, `weights.csv`, `runs/`.",
        "",
    ]
    if not (frame.status == "ok").any():
        lines += [
            "**No run finished successfully**: every cell below is empty; each run's reason is "
            "listed under *Failed runs*.",
            "",
        ]
    lines += [
        "## Provenance",
        "",
        *_provenance(out, records),
    ]
    for name, (table, _) in tables.items():
        lines += ["", f"## {name}", "", _CAPTIONS[name], "", _markdown(table)]
    failed = frame[frame.status != "ok"]
    if len(failed):
        lines += ["", "## Failed runs", ""]
        for r in failed.itertuples():
            lines.append(f"- `{run_id(r.target, r.variant, r.seed)}`: {r.error}")
    lines += ["", "## Figures"]
    for file, caption in figures:
        lines += ["", f"![{file}](figures/{file})", "", caption]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
