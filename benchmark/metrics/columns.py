"""Every metric column of a run — a key of a record's `metrics`, a column of results.csv — as one
table, `METRICS`: what computes it and so when it is NaN, which way is better, the scale it is
summarised on, its bounds, noise floor and ceiling, and where the summary table shows it. The
evaluation (`evaluate.MODEL_METRICS`, …), the frames (`RESULT_COLUMNS`) and the tables (`BETTER`,
`LOG_SCALE`, `FLOORS`, the summary) read their per-metric rules from here.

Adding a metric: its function in `benchmark/metrics/`, its line in `evaluate`, its row here (and,
for the summary, a clause in its group's caption in `SUMMARY_GROUPS`). The definitions are in
docs/SCIENCE.md §7, the columns read in docs/REPORT.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .samples import DIRECTIONS, FLOOR_PAIRS, SAMPLE_DRAWS

__all__ = ["Kind", "Metric", "METRICS", "COLUMNS", "SUMMARY_GROUPS"]

#: Where a metric comes from, which decides when it is NaN: "model", from the EBM's weights or
#: log Z (NaN when the normaliser is not estimable); "training", from the checkpoints' estimates
#: (NaN when the last checkpoints' or the final normaliser is not); "mixing", R-hat, ESS and
#: switches of the diagnostic chains (NaN below `MIN_DIAGNOSTIC_DRAWS` draws per chain);
#: "sampler", the other numbers of the chains' and the negatives' draws; "track", the same sampler
#: on the true energy (only with `SuiteSettings.sampler_track`); "normaliser", the
#: normalisers' own diagnostics; "cost", what training and the diagnostics spent; "report",
#: computed by the report from a record; "former", only in the records of earlier versions.
Kind = Literal[
    "model", "training", "mixing", "sampler", "track", "normaliser", "cost", "report", "former"
]


@dataclass(frozen=True)
class Metric:
    """One metric column.

    Attributes:
        name: the column.
        kind: where it comes from and when it is NaN (`Kind`).
        better: which way is better where the tables rank it; None: never ranked.
        scale: "log" for a positive, multiplicative quantity (geometric mean, the t-interval of
            the logs), else "linear".
        origin: what a log-scale metric is measured from (R-hat − 1 is R-hat's error).
        at_least, at_most: bounds of the metric, where its interval is cut (a t-interval can
            pass 0, one symmetric in log can pass 1).
        floor: the run column holding its noise floor, or a number common to every run: below
            it a difference is noise, and values are ranked at it (docs/SCIENCE.md §6.3).
        shared_floor: the floor is one number for every run of a target, of which each run
            holds a noisy estimate: ranked against their mean over the compared runs.
        compared_on_log: summarised on its linear `scale` but compared between methods on the
            log scale of its values raised to the floor.
        ess_cap: capped by ArviZ at N·log10 N for N draws: the ESS itself ("count") or a rate
            of the bulk ESS ("rate").
        headline: one of results.csv's first columns (the rest follow in the records' order).
        summary: the summary's group (a key of `SUMMARY_GROUPS`) with a column for it.
        label: its column's heading in the summary and the tuned table.
        instead_of: the summary column it fills when no run reports that metric (a record of
            an earlier version).
    """

    name: str
    kind: Kind
    better: Literal["lower", "higher"] | None = None
    scale: Literal["log", "linear"] = "linear"
    origin: float = 0.0
    at_least: float | None = None
    at_most: float | None = None
    floor: str | float | None = None
    shared_floor: bool = False
    compared_on_log: bool = False
    ess_cap: Literal["count", "rate"] | None = None
    headline: bool = False
    summary: str | None = None
    label: str = ""
    instead_of: str | None = None


#: The summary's groups, in its order: a group's name heads its section, its caption is its
#: sentence of the summary's caption.
SUMMARY_GROUPS = {
    "mode weights and density": (
        "Mode weights and density: total-variation distance of the EBM's weights to the truth; the "
        "largest range of a mode's weight over the last 3 checkpoints (small: the final weights "
        "are not the lottery of the last step); erase-and-recreate events of a mode's weight over "
        "training (`mode_erasures`: a mode surely below a tenth of its true weight after being "
        "surely above half of it, then above half again); the EBM's mass far from every mode; the "
        "log-density error."
    ),
    "samplers": (
        "Samplers: max R-hat, bulk ESS, mode switches per chain, the negatives' and the sampler's "
        "mass far from every mode."
    ),
    "sampler's draws vs p★": (
        "The sampler's draws vs p★ (the diagnostic chains' draws against exact draws): the "
        "accuracy of a classifier telling them apart (C2ST, 0.5 = indistinguishable); the unbiased "
        "MMD² (Gaussian kernel, median-distance bandwidth; linear scale, as it can be negative; "
        "compared on the log scale of the values raised to the floor) and the sliced W₂² "
        f"({DIRECTIONS} directions) of at most {SAMPLE_DRAWS} draws a side, each `< floor X` when "
        "below what two exact samples of that size read (the root mean square over "
        f"{FLOOR_PAIRS} pairs); how many of the target's `n_modes` regions hold at least half "
        "their true weight among the draws."
    ),
    "cost": (
        "Cost: what one training run spent (geometric means over seeds) — seconds, gradient "
        "evaluations (one is U and ∇U at one point) and flow passes (one is one point through a "
        "normalizing flow in one direction, a draw or a log density; 0 for a method without a "
        "flow; docs/SCIENCE.md §7.7) — and the diagnostic sampling's cost per chain in cost "
        "units. Training seconds exclude one-time compilation and warm-up: the steady rate from "
        "the first checkpoint (a tenth of training) to the last iteration, times the iterations "
        "(`train_seconds_steady`; the total with compilation stays in `results.csv` as "
        "`train_seconds`)."
    ),
}

_WEIGHTS, _SAMPLERS, _DRAWS, _COST = SUMMARY_GROUPS

#: Every metric column. The order is results.csv's for the `headline` ones and the summary's
#: within each of its groups.
METRICS: tuple[Metric, ...] = (
    # the EBM's mode weights against p★'s, and its density (docs/SCIENCE.md §7.1–7.3)
    Metric("mw_mse_model", "model", "lower", "log", at_most=1.0, headline=True),
    Metric("mw_tv_model", "model", "lower", "log", at_most=1.0, headline=True,
           summary=_WEIGHTS, label="mode-weight TV"),
    Metric("mw_max_model", "model", scale="log", at_most=1.0, headline=True),
    # the weights over training (§7.10), beside them in the summary
    Metric("mw_model_spread", "training", "lower", "log", at_most=1.0, summary=_WEIGHTS,
           label="weight spread"),
    Metric("mode_erasures", "training", at_least=0.0, summary=_WEIGHTS, label="erasures"),
    Metric("mw_largest_drop", "training", at_least=0.0),
    Metric("converged", "training"),
    Metric("converged_at", "training"),
    Metric("mass_far_model", "model", "lower", "log", at_most=1.0, headline=True,
           summary=_WEIGHTS, label="mass far"),
    # the negatives and the initialisation against the EBM (the paper's Table 3 views)
    Metric("mw_mse_negatives", "model", "lower", "log", at_most=1.0, floor="mw_mse_floor",
           headline=True),
    Metric("mw_tv_negatives", "model", scale="log", at_most=1.0, headline=True),
    Metric("mw_max_negatives", "model", at_most=1.0),
    Metric("mw_mse_init", "model", "lower", "log", at_most=1.0, floor="mw_mse_floor"),
    Metric("mw_tv_init", "model", scale="log", at_most=1.0),
    Metric("mw_max_init", "model", at_most=1.0),
    Metric("mw_mse_floor", "model", at_most=1.0),
    Metric("logdens_err", "model", "lower", "log", headline=True, summary=_WEIGHTS,
           label="log-density err"),
    Metric("log_z", "model"),
    Metric("heldout_loglik", "model", "higher", label="held-out log-lik."),
    # the normalisers' own diagnostics (§7.2)
    Metric("log_z_stderr", "normaliser"),
    Metric("is_ess", "normaliser"),
    Metric("is_khat", "normaliser"),
    Metric("quad_edge_mass", "normaliser"),
    Metric("log_z_ais", "normaliser"),
    Metric("log_z_ais_stderr", "normaliser"),
    Metric("ais_ess", "normaliser"),
    Metric("heldout_loglik_truth", "normaliser"),
    Metric("heldout_loglik_truth_stderr", "normaliser"),
    # the diagnostic chains' mixing, at equal cost; R-hat's floor: what exact chains (the
    # oracle's) read at this number of draws
    Metric("rhat_max", "mixing", "lower", "log", origin=1.0, floor=1.05, headline=True,
           summary=_SAMPLERS, label="max R-hat"),
    Metric("ess_bulk_min", "mixing", scale="log", ess_cap="count", headline=True),
    Metric("ess_tail_min", "mixing", scale="log", ess_cap="count", headline=True),
    Metric("ess_bulk_per_kcost", "mixing", "higher", "log", ess_cap="rate", headline=True,
           summary=_SAMPLERS, label="ESS per 1k cost"),
    Metric("ess_per_second", "mixing", "higher", "log", ess_cap="rate", summary=_SAMPLERS,
           label="ESS/s", instead_of="ess_bulk_per_kcost"),
    Metric("switch_rate", "mixing", "higher", "log", headline=True, summary=_SAMPLERS,
           label="switches"),
    Metric("mode_switch_rate", "former", "higher", "log", summary=_SAMPLERS,
           label="switches per 1k steps", instead_of="switch_rate"),
    Metric("mass_far_negatives", "sampler", "lower", "log", at_most=1.0, summary=_SAMPLERS,
           label="mass far (negatives)"),
    Metric("mass_far_sampler", "sampler", "lower", "log", at_most=1.0, summary=_SAMPLERS,
           label="mass far (sampler)"),
    # the diagnostic chains' draws against exact draws (§7.12); the MMD²'s and W₂²'s floors: what
    # two exact samples of the same size read
    Metric("c2st", "sampler", at_most=1.0, headline=True, summary=_DRAWS, label="C2ST"),
    Metric("c2st_n", "report"),
    Metric("mmd", "sampler", "lower", at_least=0.0, floor="mmd_floor", shared_floor=True,
           compared_on_log=True, headline=True, summary=_DRAWS, label="MMD²"),
    Metric("mmd_floor", "sampler", headline=True),
    Metric("sw2", "sampler", "lower", "log", floor="sw2_floor", shared_floor=True,
           headline=True, summary=_DRAWS, label="sliced W₂²"),
    Metric("sw2_floor", "sampler", headline=True),
    Metric("modes_found", "sampler", "higher", at_least=0.0, headline=True, summary=_DRAWS,
           label="modes found"),
    Metric("n_modes", "sampler", at_least=0.0, headline=True),
    Metric("accept_local", "sampler", headline=True),
    Metric("accept_global", "sampler", headline=True),
    Metric("accept_swap", "sampler"),
    # the method's sampler on the true energy, from the same start for the same cost (§7.13)
    Metric("mw_mse_sampler_true", "track", "lower", "log", at_most=1.0),
    Metric("mw_tv_sampler_true", "track", "lower", "log", at_most=1.0),
    Metric("mw_max_sampler_true", "track", scale="log", at_most=1.0),
    Metric("rhat_max_sampler_true", "track", "lower", "log", origin=1.0, floor=1.05),
    Metric("switch_rate_sampler_true", "track", "higher", "log"),
    Metric("mass_far_sampler_true", "track", "lower", "log", at_most=1.0),
    # what training and the diagnostics cost (§7.7)
    Metric("train_seconds_steady", "report", scale="log", summary=_COST,
           label="train s (steady)"),
    Metric("train_seconds", "cost", scale="log", headline=True, summary=_COST, label="train s",
           instead_of="train_seconds_steady"),
    Metric("eval_seconds", "cost"),
    Metric("grad_evals", "cost", scale="log", headline=True, summary=_COST, label="grad evals"),
    Metric("energy_evals", "cost"),
    Metric("flow_passes", "cost", scale="log", headline=True, summary=_COST,
           label="flow passes"),
    Metric("train_cost", "cost"),
    Metric("sample_cost", "cost", scale="log", summary=_COST, label="sample cost"),
    Metric("warmup_cost", "cost"),
    Metric("sample_seconds", "cost"),
    Metric("warmup_seconds", "cost"),
    Metric("sample_draws", "cost"),
    Metric("sample_grad_evals", "cost"),
    Metric("sample_energy_evals", "cost"),
    Metric("sample_flow_passes", "cost"),
    Metric("n_chains", "cost"),
)  # fmt: skip

#: Each metric's row, by name.
COLUMNS: dict[str, Metric] = {m.name: m for m in METRICS}
