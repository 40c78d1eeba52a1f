"""Every DataFrame built from the run records and the suite: long tables that the report's tables
and figures are functions of (they never read a record themselves). A run's rows carry its
`method` (the registered method) and its `variant` (the point of the method's grid, the method
itself without one): tables and figures compare variants; `variants_frame` and `methods_frame`
say how each is shown (display name, colour, marker).

A record may mark metrics as *not estimable*: `record["not_estimable"] = {metric: reason}` with
that metric null in `record["metrics"]`; `runs_frame` turns it into a column `<metric>_ne` holding
the reason (NaN where the metric was estimable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..execution.store import Record, suite_variants
from ..metrics import weight_tv
from ..metrics.columns import METRICS
from ..targets import Target, make_target
from .palette import method_markers, method_palette

__all__ = [
    "Frames",
    "build_frames",
    "suite_target",
    "RESULT_COLUMNS",
    "NE_SUFFIX",
    "runs_frame",
    "weights_frame",
    "checkpoints_frame",
    "COST_COLUMNS",
    "costs_frame",
    "rhat_frame",
    "density_frame",
    "truth_density_frame",
    "modes_frame",
    "variants_frame",
    "methods_frame",
]


#: The first columns of results.csv: the run, then the headline metrics (every other follows).
RESULT_COLUMNS = [
    "target", "method", "variant", "seed", "status", "reference",
    *(m.name for m in METRICS if m.headline),
]  # fmt: skip

#: Suffix of the column holding why a metric is not estimable in a run.
NE_SUFFIX = "_ne"

_RUN_KEYS = ["target", "method", "variant", "seed"]
_TRUTH_GRID = 128  # resolution of the target's density in the figures


def _ok(records: list[Record]) -> list[Record]:
    return [r for r in records if r["status"] == "ok"]


def steady_train_seconds(record: Record) -> float:
    """Training seconds without one-time compilation and warm-up: the rate of the training curve
    from the first checkpoint (a tenth of training) to its last iteration, times that iteration;
    NaN without a curve past the first checkpoint."""
    train, checkpoints = record["curves"].get("train"), record["curves"].get("checkpoints")
    if not train or not checkpoints:
        return np.nan
    iterations, seconds = np.asarray(train["iteration"]), np.asarray(train["seconds"])
    start = int(np.searchsorted(iterations, checkpoints[0]["iteration"]))
    if start >= len(iterations) - 1:
        return np.nan
    rate = (seconds[-1] - seconds[start]) / (iterations[-1] - iterations[start])
    return float(rate * iterations[-1])


def _derived(record: Record) -> dict[str, float]:
    """Columns an ok record implies: `train_seconds_steady`, and `c2st_n`, the draws a side of
    its C2ST (the setting, or fewer when the sampler kept fewer draws)."""
    metrics, settings = record["metrics"], record.get("config", {}).get("suite", {})
    draws = (metrics.get("n_chains") or np.nan) * (metrics.get("sample_draws") or np.nan)
    n_c2st = settings.get("n_c2st", np.nan)
    return {"train_seconds_steady": steady_train_seconds(record), "c2st_n": min(n_c2st, draws)}


def runs_frame(records: list[Record]) -> pd.DataFrame:
    """One row per run: RESULT_COLUMNS (`reference`: the reference DIR a record was taken from,
    empty for a run of this suite), each swept hyperparameter and the other metrics,
    `<metric>_ne` reasons, the error."""
    rows = []
    for r in records:
        row = {key: r[key] for key in _RUN_KEYS} | {"status": r["status"]}
        row["reference"] = r.get("reference")  # the DIR its record was copied from, if any
        row |= r.get("swept", {})
        row |= {k: np.nan if v is None else v for k, v in r.get("metrics", {}).items()}
        row |= _derived(r) if r["status"] == "ok" else {}
        row |= {f"{k}{NE_SUFFIX}": reason for k, reason in r.get("not_estimable", {}).items()}
        rows.append(row | {"error": r.get("error")})
    frame = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    rest = [c for c in frame.columns if c not in RESULT_COLUMNS and c != "error"]
    metrics = [c for c in rest if not c.endswith(NE_SUFFIX)]
    reasons = [c for c in rest if c.endswith(NE_SUFFIX)]
    return frame[[*RESULT_COLUMNS, *metrics, *reasons, "error"]]


def weights_frame(records: list[Record]) -> pd.DataFrame:
    """Final weights, one row per ok run and mode: target, method, variant, seed, mode,
    weight_true, weight_model (the EBM's density), weight_negatives."""
    rows = [
        {
            **{key: r[key] for key in _RUN_KEYS},
            "mode": k,
            "weight_true": r["weights"]["true"][k],
            "weight_model": r["weights"]["model"][k],
            "weight_negatives": r["weights"]["negatives"][k],
        }
        for r in _ok(records)
        for k in range(len(r["weights"]["true"]))
    ]
    columns = [*_RUN_KEYS, "mode", "weight_true", "weight_model", "weight_negatives"]
    return pd.DataFrame(rows, columns=columns)


def checkpoints_frame(records: list[Record]) -> pd.DataFrame:
    """Weights over training, one row per ok run, checkpoint, mode and source ("model": the EBM's
    density, "negatives"): target, method, variant, seed, iteration, mode, weight_true, source,
    weight, stderr (the model weight's standard error where the record has it, else NaN),
    n_negatives (the negatives a checkpoint keeps: the method's `batch_size`, NaN where it has
    none)."""
    rows = [
        {
            **{key: r[key] for key in _RUN_KEYS},
            "iteration": c["iteration"],
            "mode": k,
            "weight_true": r["weights"]["true"][k],
            "source": source,
            "weight": c[source][k],
            "stderr": _number((c.get(f"{source}_stderr") or [None] * len(c[source]))[k]),
            "n_negatives": _number(r["config"].get("method", {}).get("batch_size")),
        }
        for r in _ok(records)
        for c in r["curves"].get("checkpoints", [])
        for source in ("model", "negatives")
        for k in range(len(r["weights"]["true"]))
    ]
    columns = [
        *_RUN_KEYS, "iteration", "mode", "weight_true", "source", "weight", "stderr", "n_negatives"
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


#: A checkpoint's cumulative training cost (docs/SCIENCE.md §7.7): gradient and energy
#: evaluations, flow passes, seconds since training began.
COST_COLUMNS = ["grad_evals", "energy_evals", "flow_passes", "seconds"]


def _number(value: float | None) -> float:
    return np.nan if value is None else float(value)


def costs_frame(records: list[Record]) -> pd.DataFrame:
    """Accuracy against cumulative training cost, one row per ok run and checkpoint that records
    its cost (`COST_COLUMNS`; records before they did have none): target, method, variant, seed,
    iteration, the cost columns, mw_tv_model (TV of the checkpoint's cheap estimate of the EBM's
    weights to the truth) and logdens_err (its log-density error); NaN where not estimable."""
    rows = []
    for r in _ok(records):
        true = torch.tensor(r["weights"]["true"], dtype=torch.float64)
        for c in r["curves"].get("checkpoints", []):
            if not all(key in c for key in COST_COLUMNS):
                continue
            model = torch.tensor([_number(w) for w in c["model"]], dtype=torch.float64)
            rows.append(
                {
                    **{key: r[key] for key in _RUN_KEYS},
                    "iteration": c["iteration"],
                    **{key: _number(c[key]) for key in COST_COLUMNS},
                    "mw_tv_model": weight_tv(model, true),
                    "logdens_err": _number(c.get("logdens_err")),
                }
            )
    columns = [*_RUN_KEYS, "iteration", *COST_COLUMNS, "mw_tv_model", "logdens_err"]
    return pd.DataFrame(rows, columns=columns)


def rhat_frame(records: list[Record]) -> pd.DataFrame:
    """Max R-hat of the diagnostic chains on growing prefixes of their draws, one row per ok run
    and prefix: target, method, variant, seed, draws, seconds (wall-clock), grad_evals (per
    chain, the run's `sample_grad_evals` pro rata over the draws), cost (the curve's own cost
    units, NaN when the record has none), rhat."""
    rows = []
    for r in _ok(records):
        curve = r["curves"]["rhat_time"]
        metrics = r["metrics"]
        total, chains = metrics.get("sample_grad_evals"), metrics.get("n_chains")
        per_draw = (
            total / chains / curve["draws"][-1] if total and chains and curve["draws"] else np.nan
        )
        costs = curve.get("cost", [None] * len(curve["draws"]))
        for draws, seconds, cost, value in zip(
            curve["draws"], curve["seconds"], costs, curve["rhat"], strict=True
        ):
            rows.append(
                {
                    **{key: r[key] for key in _RUN_KEYS},
                    "draws": draws,
                    "seconds": seconds,
                    "grad_evals": per_draw * draws,
                    "cost": np.nan if cost is None else cost,
                    "rhat": np.nan if value is None else value,
                }
            )
    columns = [*_RUN_KEYS, "draws", "seconds", "grad_evals", "cost", "rhat"]
    return pd.DataFrame(rows, columns=columns)


def _grid(bounds: tuple[float, float], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a resolution² grid over the box, rows = y (the layout of the stored density)."""
    axis = np.linspace(bounds[0], bounds[1], resolution)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return x.ravel(), y.ravel()


def density_frame(records: list[Record]) -> pd.DataFrame:
    """The learned normalised log density of each ok 2-D run on its stored grid over the target's
    box: target, method, variant, seed, x, y, log_p."""
    parts = []
    for r in _ok(records):
        grid = r["curves"].get("density")
        if grid is None:
            continue
        log_p = np.asarray(grid, dtype=float)
        x, y = _grid(suite_target(r["config"]["target"]).bounds, log_p.shape[0])
        keys = {key: r[key] for key in _RUN_KEYS}
        parts.append(pd.DataFrame({**keys, "x": x, "y": y, "log_p": log_p.ravel()}))
    columns = [*_RUN_KEYS, "x", "y", "log_p"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def suite_target(entry: dict[str, Any]) -> Target:
    """The target of a suite.json `targets` entry ({name, kind, params}) or of a record's
    `config.target` ({name, kind, **params})."""
    params = dict(
        entry.get("params", {k: v for k, v in entry.items() if k not in ("name", "kind")})
    )
    return make_target(entry["kind"], name=entry["name"], **params)


def truth_density_frame(
    suite_targets: list[dict[str, Any]], resolution: int = _TRUTH_GRID
) -> pd.DataFrame:
    """log p★ of every 2-D target on a resolution² grid over its box: target, x, y, log_p."""
    parts = []
    for entry in suite_targets:
        target = suite_target(entry)
        if target.dim != 2:
            continue
        x, y = _grid(target.bounds, resolution)
        points = torch.tensor(np.stack([x, y], axis=-1), dtype=torch.float32)
        log_p = target.log_prob(points).double().numpy()
        parts.append(pd.DataFrame({"target": entry["name"], "x": x, "y": y, "log_p": log_p}))
    columns = ["target", "x", "y", "log_p"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def modes_frame(suite_targets: list[dict[str, Any]]) -> pd.DataFrame:
    """Where each mode of each target is marked (`Target.mode_markers`): target, mode, its
    centre's first two coordinates x, y and its ring radius (NaN where it has none)."""
    rows = []
    for entry in suite_targets:
        target = suite_target(entry)
        centres, radii = target.mode_markers()
        for k in range(target.n_modes):
            rows.append(
                {
                    "target": entry["name"],
                    "mode": k,
                    "x": float(centres[k, 0]),
                    "y": float(centres[k, 1]),
                    "radius": float(radii[k]),
                }
            )
    return pd.DataFrame(rows, columns=["target", "mode", "x", "y", "radius"])


def variants_frame(
    variants: dict[str, str],
    records: list[Record],
    known: dict[str, str],
    registered: Mapping[str, str],
) -> pd.DataFrame:
    """One row per variant of the suite (`variants`: name -> its method, in the suite's order):
    variant, method, display (from `known`, else from a record, else the name; made unique),
    colour and marker (by the registry's order, `registered`: `palette.method_palette`)."""
    from_records = {r["variant"]: r["display"] for r in records if r["status"] != "missing"}
    names = list(variants)
    display = [known.get(v) or from_records.get(v) or v for v in names]
    unique = [
        d if display.count(d) == 1 else f"{d} ({v})" for v, d in zip(names, display, strict=True)
    ]
    colours, markers = method_palette(names, registered), method_markers(names, registered)
    return pd.DataFrame(
        {
            "variant": names,
            "method": [variants[v] for v in names],
            "display": unique,
            "colour": [colours[v] for v in names],
            "marker": [markers[v] for v in names],
        }
    )


def methods_frame(methods: list[str], registered: Mapping[str, str]) -> pd.DataFrame:
    """One row per method of the suite, in its order (each method shown once, as the tuned view
    shows it): method, display (the registry's, from `registered`, else the code name), colour
    and marker (by the registry's order)."""
    colours, markers = method_palette(methods, registered), method_markers(methods, registered)
    return pd.DataFrame(
        {
            "method": methods,
            "display": [registered.get(m, m) for m in methods],
            "colour": [colours[m] for m in methods],
            "marker": [markers[m] for m in methods],
        }
    )


@dataclass(frozen=True)
class Frames:
    """Every long frame of one report (see each builder for the columns)."""

    runs: pd.DataFrame
    weights: pd.DataFrame
    checkpoints: pd.DataFrame
    costs: pd.DataFrame
    rhat: pd.DataFrame
    density: pd.DataFrame
    truth_density: pd.DataFrame
    modes: pd.DataFrame
    variants: pd.DataFrame
    methods: pd.DataFrame

    @property
    def names(self) -> dict[str, str]:
        """Each variant's display name, by its name (the `names` of `tables.make_tables`)."""
        return dict(zip(self.variants.variant, self.variants.display, strict=True))


def build_frames(
    records: list[Record],
    suite: dict[str, Any],
    known: dict[str, str],
    registered: Mapping[str, str] | None = None,
) -> Frames:
    """All frames of a suite (its suite.json content) and its records (one per expected run, a
    `missing` stub where none was written); `known`: each variant's display name; `registered`:
    the registry's methods, in its order, with their display names (default: none, the
    methods then coloured in the suite's order)."""
    variants = {v["name"]: v["method"] for vs in suite_variants(suite).values() for v in vs}
    registered = registered or {}
    return Frames(
        runs=runs_frame(records),
        weights=weights_frame(records),
        checkpoints=checkpoints_frame(records),
        costs=costs_frame(records),
        rhat=rhat_frame(records),
        density=density_frame(records),
        truth_density=truth_density_frame(suite["targets"]),
        modes=modes_frame(suite["targets"]),
        variants=variants_frame(variants, records, known, registered),
        methods=methods_frame(list(dict.fromkeys(variants.values())), registered),
    )
