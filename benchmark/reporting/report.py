"""From DIR/runs/*.json to results.csv, weights.csv, tables (Markdown and CSV), figures and
report.md. Every table is a function of one long DataFrame of all runs; runs that failed or are
missing are counted in every cell they belong to, never dropped silently."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, ParamError
from ..execution.store import (
    AGREEMENT_FILE,
    Foreign,
    Record,
    load_records,
    read_suite,
    run_id,
    suite_variants,
)
from ..metrics.columns import COLUMNS
from ..suite.registry import METHODS, load_methods
from ..suite.variants import display_name
from .conclusions import conclusions
from .figures import make_figures, tuned_view
from .frames import Frames, build_frames, suite_target
from .grid import grid_section
from .paper import PAPER_TARGETS, VIEWS, compare, ordering, paper_frame
from .selection import CRITERION, select_variants
from .tables import RANKING, format_cell, format_exact, format_number, make_tables, stats
from .verdicts import verdicts

__all__ = ["REFERENCE_MARK", "SuiteData", "read_dir", "against_the_paper", "build_report"]


def _weights_text(target: Any) -> str:
    return "/".join(format_number(w) for w in target.weights.tolist())


def _orderings(cells: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One row per paper table, suite target and metric: how the suite orders the methods
    against the paper."""
    rows = []
    for (table, target, metric), view in cells.groupby(["table", "target", "metric"], sort=False):
        by_method = view.set_index("method")
        order = ordering(by_method.paper, by_method["mean"])
        enough = order["n_methods"] >= 2
        rows.append(
            {
                "table": table,
                "target": f"`{target}`" + ("" if view["match"].iloc[0] == "same" else " †"),
                "metric": VIEWS[metric],
                "methods": str(order["n_methods"]),
                "Kendall τ": f"{order['tau']:.2f}" if enough else "—",
                "pairs alike": f"{order['pairs_agree']} of {order['pairs']}" if enough else "—",
                "lowest (paper / here)": " / ".join(
                    names.get(by_method[column].idxmin(), "") if enough else "—"
                    for column in ("paper", "mean")
                ),
            }
        )
    return pd.DataFrame(rows)


_VERDICTS = (
    "Each claim of the paper this suite can test, on each of its targets that is the paper's "
    "(docs/SCIENCE.md §8.1). A table's claim — its lowest method is the lowest — is judged among "
    "the paper's methods of that table that the suite ran, by the tables' paired test over seeds: "
    "**reproduced** when that method is the best and every other one is shown worse, **refuted** "
    "when another is shown lower, **inconclusive** otherwise (not separated, untested, n/e, fewer "
    "than 2 seeds; a cell spanning over 10× is compared too, as the paired test accounts for its "
    "spread), and inconclusive too when training had not settled (`converged`) on most seeds of "
    "a method the verdict rests on. Fig. 1 compares the lightest mode's final relative weight "
    "error |w − w★| / w★ of flowMC-EBM and ULA-EBM by the same test, under the same rule on "
    "settling; the claims about training count `mode_erasures` (docs/SCIENCE.md §7.10). In "
    "*here*, bold marks the best, or tied with it, by that test among the table's methods. † the "
    "paper's modes with other weights: a reference, not a test of the paper's claim."
)


def against_the_paper(
    frames: Frames, suite_targets: list[dict[str, Any]], claims: pd.DataFrame, tuned: bool = False
) -> list[str]:
    """The report section setting the paper's Tables 1–3 beside the suite's cells: the verdicts on
    its claims (`claims`, `verdicts.verdicts` of `frames`), how the two order the methods, then
    every paper cell whose target and method the suite ran. `tuned`: `frames` is the tuned view
    (each method at its selected variant), and the text says so."""
    built = {entry["name"]: suite_target(entry) for entry in suite_targets}
    matched = paper_frame(built)
    metrics = list(dict.fromkeys(matched.metric))
    # the paper names methods: a suite's cell is the variant of that name (the method itself, or
    # in the tuned view its chosen variant)
    cells = stats(frames.runs, metrics, ["target", "variant"], among="variant")
    cells = compare(matched, cells.rename(columns={"variant": "method"}))
    names = frames.names
    lines = [
        "",
        "## Against the paper",
        "",
        "The paper's Tables 1–3 (Grenioux, Moulines, Gabrié 2023) beside this suite's cells for "
        "the same target (family, dimension, mode geometry and weights) and method. The suite "
        "runs its own budget and settings (see the config), so compare the order of the methods "
        "and the orders of magnitude, not the digits. Lower is better in every table. The suite's "
        "cells read as in the tables below (interval, bold for the best and its ties among all "
        "the suite's methods on the target)."
        + (
            " The suite has a grid: each method's cell is the variant the tuned view selects on "
            "that target (held-out likelihood), ranked among those."
            if tuned
            else ""
        ),
    ]
    if len(claims):
        table = claims.assign(
            claim=[
                c + ("" if m == "same" else " †")
                for c, m in zip(claims.claim, claims["match"], strict=True)
            ],
            target=[f"`{t}`" for t in claims.target],
            verdict=[f"**{v}**" for v in claims.verdict],
        ).drop(columns="match")
        lines += ["", "### Verdicts", "", _VERDICTS, "",
                  table.to_markdown(index=False, disable_numparse=True)]  # fmt: skip
    if cells.empty:
        lines += ["", "No cell of this suite overlaps the paper's tables."]
    else:
        lines += [
            "",
            "How the suite orders the methods the paper compares: Kendall's τ between the paper's "
            "values and the suite's means (1: the same order, −1: reversed), the method pairs "
            "ordered alike, and the lowest method in each. † the paper's modes with other "
            "weights: a reference, not a test of the paper's claim.",
            "",
            _orderings(cells, names).to_markdown(index=False, disable_numparse=True),
        ]
    for (table, key, target), part in cells.groupby(
        ["table", "paper_target", "target"], sort=False
    ):
        lines += ["", f"### {table}: {PAPER_TARGETS[key].label} — suite target `{target}`", ""]
        if part["match"].iloc[0] != "same":
            lines += [
                f"† Not the paper's target: `{target}` has the paper's modes but weights "
                f"{_weights_text(built[target])}, the paper's are "
                f"{_weights_text(PAPER_TARGETS[key].build())}.",
                "",
            ]
        rows = [
            {
                "method": names.get(row.method, row.method),
                "metric": VIEWS[row.metric],
                "paper": format_exact(row.paper),
                "suite (centre [95 % CI])": format_cell(row),
                "suite ÷ paper": format_number(row["mean"] / row.paper) if row.n_values else "—",
            }
            for _, row in part.iterrows()
        ]
        lines.append(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True))
    missing = matched[matched.target.isna()]
    if len(missing):
        labels = ", ".join(
            f"{table} {PAPER_TARGETS[key].label}"
            for table, key in dict.fromkeys(zip(missing.table, missing.paper_target, strict=True))
        )
        lines += ["", f"Not measured by this suite (no target of it is the paper's): {labels}."]
    return lines


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
    if not lines and not done:
        lines.append("- none recorded (no provenance.json, no finished record)")
    if done:
        v = dict(done[0]["versions"])
        cpu = v.pop("cpu", None)
        lines.append("- versions: " + ", ".join(f"{name} {version}" for name, version in v.items()))
        if cpu:
            lines.append(f"- processor: {cpu}")
    return lines


def _references(out: Path, records: list[Record], names: dict[str, str]) -> list[str]:
    """One line per reference whose records the suite took instead of training them."""
    path = out / "provenance.json"
    against = json.loads(path.read_text()).get("against", {}) if path.exists() else {}
    lines = []
    for label in dict.fromkeys(r["reference"] for r in records if r.get("reference")):
        taken = [r for r in records if r.get("reference") == label]
        variants = dict.fromkeys(r["variant"] for r in taken)
        shown = ", ".join(names[v].removesuffix(REFERENCE_MARK) for v in variants)
        origin = against.get(label) or {}
        command = f"; its command `{origin['command']}`" if origin.get("command") else ""
        unhashed = sum("sha256" not in r for r in taken)
        verified = (
            "each record's content hash was checked"
            if not unhashed
            else f"{unhashed} of them carry no content hash (written before records had one), so "
            "an edit of those could not be detected"
        )
        lines.append(
            f"- **from the reference `{label}`, not trained here:** {len(taken)} of "
            f"{len(records)} runs ({shown}) are its records (benchmark "
            f"{taken[0]['versions']['benchmark']}{command}), copied into `runs/` with a "
            f"`reference` field; the settings that fix their numbers were checked to be this "
            f"suite's (`benchmark/execution/reference.py`) and {verified}. Marked "
            f"`{REFERENCE_MARK.strip()}` in every table and figure."
        )
    return lines


def _agreement(out: Path) -> list[str]:
    path = out / AGREEMENT_FILE
    return path.read_text().rstrip("\n").split("\n") if path.exists() else []


def _counts(frames: Frames, suite: dict[str, Any]) -> list[str]:
    runs = frames.runs
    counts = runs.status.value_counts()
    lines = [
        f"{len(runs)} runs ({', '.join(f'{n} {s}' for s, n in counts.items())}): "
        f"{len(suite['targets'])} targets × {len(frames.variants)} methods × "
        f"{len(suite['suite']['seeds'])} seeds, {suite['suite']['iterations']} iterations each. "
        "Cells: centre [95 % Student-t interval] over the seeds that finished — for errors, "
        "R-hat − 1, ESS and costs the geometric mean and the interval of the logs transformed "
        "back — bold for the best method on a target and those a paired t-test (on log values) "
        "cannot tell from it, ‡ for a cell whose interval spans over 10× (inconclusive, never "
        "bold), `< floor X` below a noise floor (see the tables' captions); seeds where a metric "
        "was not estimable (n/e) and runs that failed or are missing are counted in brackets. "
        "Per-run numbers: "
        "`results.csv`, `weights.csv`, `runs/`; every table also as CSV in `tables/`, every "
        "figure also as PDF in `figures/`."
    ]
    if not (runs.status == "ok").any():
        lines += ["", "**No run finished: this report holds no measurement.**"]
    return lines


_TUNED = (
    "Per target and method, the variant of its hyperparameter grid whose EBM gives held-out "
    "target draws the highest mean log-likelihood (`heldout_loglik`, draws never used in "
    "training) — a choice a practitioner could make without p★; variants failing on a seed come "
    "last, and a variant whose normaliser log Z was not estimable on some seed is excluded (the "
    "last column names it and why: a missed mass raises the held-out likelihood) "
    "(`benchmark/reporting/selection.py`). Beside it, its headline errors; every variant stays in "
    "`results.csv` and the tables above. The ranks compare the chosen variants of a target. "
    + RANKING
)


def _tuned(results: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The selected variant per (target, method) with its criterion and headline errors, each
    with its interval, ranked among the selected variants of the target."""
    chosen = select_variants(results)
    kept = results.merge(chosen[["target", "variant"]], on=["target", "variant"])
    criterion, tv, logdens = (COLUMNS[m] for m in (CRITERION, "mw_tv_model", "logdens_err"))
    metrics = [m.name for m in (criterion, tv, logdens)]
    headline = stats(kept, metrics, ["target", "variant"], among="variant")
    rows = []
    for row in chosen.itertuples():
        cells = headline[(headline.target == row.target) & (headline.variant == row.variant)]
        by_metric = {r.metric: format_cell(r) for _, r in cells.iterrows()}
        none = "— (every variant excluded)"
        rows.append(
            {
                "target": row.target,
                "method": names.get(row.variant, row.variant) if row.variant else none,
                "of": str(row.n_variants),
                criterion.label: by_metric.get(criterion.name, "—"),
                "seeds": f"{row.n_estimable} of {row.n_seeds}",
                tv.label: by_metric.get(tv.name, "—"),
                logdens.label: by_metric.get(logdens.name, "—"),
                "excluded (normaliser n/e)": "; ".join(
                    f"{names.get(v, v)} ({why})" for v, why in row.excluded
                )
                or "none",
            }
        )
    return pd.DataFrame(rows)


def _clear(folder: Path, extensions: tuple[str, ...]) -> None:
    """Create `folder`, or empty it of the files a previous report wrote there."""
    folder.mkdir(exist_ok=True)
    for path in folder.iterdir():
        if path.is_file() and path.suffix.lstrip(".") in extensions:
            path.unlink()


#: Appended to the display name of a variant whose records come from a reference.
REFERENCE_MARK = " (ref)"


@dataclass(frozen=True)
class SuiteData:
    """A DIR read back: its suite.json, the variants its report shows (`store.suite_variants`,
    as suite.json holds them: `Variant.to_json`), one record per expected run (a stub where a run
    is missing or its file is foreign), the long frames built from them, and the files of runs/
    left out as foreign (`store.check_record`)."""

    suite: dict[str, Any]
    variants: list[dict[str, Any]]
    records: list[Record]
    frames: Frames
    foreign: list[Foreign]

    @property
    def results(self) -> pd.DataFrame:
        """results.csv: one row per run, `method` the registered method, `variant` its grid
        point, then each swept hyperparameter and the frames' run columns."""
        runs = self.frames.runs
        swept = dict.fromkeys(k for v in self.variants for k in v["swept"])
        first = ["target", "method", "variant", *swept]
        return runs[[*first, *(c for c in runs.columns if c not in first)]]

    @property
    def weights(self) -> pd.DataFrame:
        """weights.csv: the weights frame in its published columns, `method` naming the variant
        (results.csv's `variant`)."""
        return self.frames.weights.drop(columns="method").rename(columns={"variant": "method"})


def read_dir(out: Path, plugins: list[str] | None = None) -> SuiteData:
    """Read DIR's suite and records; `plugins`: modules that register methods (display names)."""
    out = Path(out)
    suite = read_suite(out)
    if suite is None:
        raise ConfigError(out, "", "holds no suite.json (run a suite into it first)")
    with contextlib.suppress(ParamError):  # a plugin not importable here: its records name it
        load_methods([*suite["suite"]["plugins"], *(plugins or [])])
    variants = [v for vs in suite_variants(suite).values() for v in vs]
    known = {
        v["name"]: display_name(METHODS[v["method"]], v["swept"])
        for v in variants
        if v["method"] in METHODS
    }
    records, foreign = load_records(out, suite, known)
    referenced = {r["variant"]: r["display"] for r in records if r.get("reference")}
    shown = known | {v: known.get(v, d) + REFERENCE_MARK for v, d in referenced.items()}
    registered = {name: spec.display for name, spec in METHODS.items()}
    frames = build_frames(records, suite, shown, registered)
    return SuiteData(suite, variants, records, frames, foreign)


def build_report(out: Path, plugins: list[str] | None = None) -> Path:
    """Write results.csv, weights.csv, tables/, figures/ and report.md into `out`; each file of
    runs/ left out as foreign is one line on stderr and in the report."""
    out = Path(out)
    data = read_dir(out, plugins)
    for foreign in data.foreign:
        print(f"foreign record left out: {foreign}", file=sys.stderr)
    suite, variants, records, frames = data.suite, data.variants, data.records, data.frames
    results = data.results
    swept = list(dict.fromkeys(k for v in variants for k in v["swept"]))
    tunable = bool(swept) and CRITERION in results  # a grid, and a run with the criterion
    results.to_csv(out / "results.csv", index=False)
    data.weights.to_csv(out / "weights.csv", index=False)
    names = frames.names
    tables = make_tables(frames.runs, names)
    _clear(out / "tables", ("md", "csv"))
    for table in tables:
        table.long.to_csv(out / "tables" / f"{table.name}.csv", index=False)
        (out / "tables" / f"{table.name}.md").write_text(table.to_markdown() + "\n")
    _clear(out / "figures", ("png", "pdf"))
    figures = make_figures(frames, out / "figures", swept)
    shown = tuned_view(frames) if tunable else frames  # each method once, at its chosen variant
    claims = verdicts(shown, suite["targets"])
    lines = [
        f"# Benchmark report: {suite['suite']['name']}",
        "",
        *_counts(frames, suite),
        *conclusions(shown, claims, tunable),
        *grid_section(shown.runs, suite["targets"], names, list(shown.variants.variant),
                      out / "figures"),  # fmt: skip
        "",
        "## Provenance",
        "",
        *_provenance(out, records),
        *_references(out, records, names),
        *_agreement(out),
        *against_the_paper(shown, suite["targets"], claims, tunable),
        "",
        "## Tables",
    ]
    for table in tables:
        lines += ["", f"### {table.heading}", "", table.caption, "", table.to_markdown()]
    if tunable:
        tuned = _tuned(results, names)
        tuned.to_csv(out / "tables" / "tuned.csv", index=False)
        lines += ["", "### Tuned: each method's variant chosen without the truth", "", _TUNED]
        lines += ["", tuned.to_markdown(index=False, disable_numparse=True)]
    if data.foreign:
        lines += [
            "",
            "## Foreign records",
            "",
            "Files of `runs/` that hold no valid record of the run they are named after, left out "
            "(their runs count as missing; rerunning the suite moves them to `foreign/` and "
            "redoes those runs):",
            "",
            *(
                f"- `{f.path.name}`: {f.key + ': ' if f.key else ''}{f.message}"
                for f in data.foreign
            ),
        ]
    failed = frames.runs[frames.runs.status != "ok"]
    if len(failed):
        lines += ["", "## Failed runs", ""]
        for r in failed.itertuples():
            lines.append(f"- `{run_id(r.target, r.variant, r.seed)}`: {r.error}")
    lines += ["", "## Figures"]
    if tunable:
        lines += [
            "",
            "Each method appears at the variant the tuned view selects on each target; the "
            "sensitivity figures, the tables and `results.csv` hold every variant.",
        ]
    for file, caption in figures:
        lines += ["", f"![{file}](figures/{file})", "", caption]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
