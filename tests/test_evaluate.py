"""The yardstick end to end: a planted model with a spurious mode, run through the real command
line as a plugin method, must be scored at its true values (2-D, outside the target's box; and
16-D); an estimate carried by a few draws comes out "not estimable"; diagnostic chains of samplers
with different step costs run for the same cost."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_config import write
from torch import nn

from benchmark.__main__ import main
from benchmark.execution.evaluate import (
    MIXING_METRICS,
    MODEL_METRICS,
    TRACK_METRICS,
    TRAINING_METRICS,
    evaluate,
)
from benchmark.metrics import DiagonalGaussians
from benchmark.metrics.columns import METRICS
from benchmark.models.energy import TiltedEBM, log_isotropic_normal
from benchmark.samplers import IMH, ISIR, MALA, EvalCounter, FlowMC, Potential, ReplicaExchange
from benchmark.suite.settings import SuiteSettings
from benchmark.targets import make_target
from benchmark.training.method import Checkpoint, FittedModel


class LogDensityEnergy(nn.Module):
    """E = log ρ − log q for a normalised log density q: the tilted EBM exp(−E)·ρ is q."""

    def __init__(self, log_q, base_std: float) -> None:
        super().__init__()
        self.log_q = log_q
        self.register_buffer("base_std", torch.tensor(base_std))

    def forward(self, x):
        return log_isotropic_normal(x, self.base_std) - self.log_q(x)


def fitted_for(log_q, dim: int, start: torch.Tensor, sampler_factory) -> FittedModel:
    """A FittedModel whose EBM is q, negatives = initial = start, chains from `start`."""
    ebm = TiltedEBM(LogDensityEnergy(log_q, 1.0), dim, 1.0)
    potential = Potential(ebm.potential)
    return FittedModel(ebm, start, start, sampler_factory(potential), start, [], potential.counter)


def test_an_estimate_carried_by_a_few_draws_is_not_estimable():
    # An EBM N(0, 5² I) in 16-D, far broader than p★ and the tilt (σ = 1); its MALA chains,
    # started at p★'s draws with a small step, stay near p★'s modes. No part of the defensive
    # proposal reaches its tails: the ESS is a handful, and every metric that needs the EBM's
    # weights or log Z is NaN with the reason, while the sampler's metrics remain.
    target = make_target("hd16")
    broad = lambda x: -0.5 * (x**2).sum(-1) / 25 - 8 * math.log(2 * math.pi * 25)  # noqa: E731
    start = target.sample(128, torch.Generator().manual_seed(3))
    fitted = fitted_for(broad, 16, start, lambda potential: MALA(potential, 0.01))
    # 280 units: warm-up 2 + 34·2 = 70, then 105 MALA steps, enough draws for the diagnostics
    settings = SuiteSettings(n_chains=64, sample_cost=280, n_data=1000, c2st_max_dim=0)
    result = evaluate(fitted, target, settings, torch.Generator().manual_seed(0))
    m = result.metrics
    assert m["sample_draws"] == 105
    assert m["is_ess"] < 100
    assert set(result.not_estimable) == set(MODEL_METRICS)
    assert all(reason.startswith("IS ") for reason in result.not_estimable.values())
    assert all(math.isnan(m[key]) for key in MODEL_METRICS)
    assert all(math.isnan(w) for w in result.weights["model"])
    assert math.isfinite(m["rhat_max"]) and math.isfinite(m["mass_far_sampler"])
    # the draws against p★ need no normaliser: chains started at its draws find its 4 regions
    assert (m["modes_found"], m["n_modes"]) == (4, 4)
    assert all(math.isfinite(m[key]) for key in ("mmd", "mmd_floor", "sw2", "sw2_floor"))
    # every metric computed here has its row in the metric table, and every row a record holds is
    # computed here (the runner adds the two timings; the track's need `sampler_track`)
    recorded = {c.name for c in METRICS if c.kind not in ("report", "former", "track")}
    assert set(m) == recorded - {"train_seconds", "eval_seconds"}


def test_diagnostic_chains_of_different_step_cost_get_the_same_budget():
    # MALA: 2 units a step; flowMC sweep (i-SIR pool 8 + 2 MALA): 7 + 2 + 4 = 13 units. With
    # 300 units per chain and a quarter as warm-up (both include the 2-unit initialisation):
    # MALA: warm-up 2 + 37·2 = 76, production 112 steps (224), total 300; flowMC: warm-up
    # 2 + 6·13 = 80, production 17 sweeps (221), total 301. Equal cost, 112 vs 17 draws.
    target = make_target("two_modes")
    start = target.sample(32, torch.Generator().manual_seed(3))
    mixture = DiagonalGaussians(target.means, target.variances, target.weights)

    class exact:  # the mixture as an i-SIR proposal, its "noise" the draws themselves
        noise = staticmethod(lambda n, generator: mixture.sample_and_log_prob(n, generator)[0])
        from_noise = staticmethod(lambda x: (x, mixture.log_prob(x)))
        log_prob = staticmethod(mixture.log_prob)

    def flowmc(potential):
        return FlowMC(
            MALA(potential, 0.01), ISIR(potential, exact, 8), [("global", 1), ("local", 2)]
        )

    settings = SuiteSettings(n_chains=32, sample_cost=300, n_data=1000, c2st_max_dim=0)
    budgets, results = {}, {}
    for name, factory in (("mala", lambda potential: MALA(potential, 0.01)), ("flowmc", flowmc)):
        fitted = fitted_for(target.log_prob, 2, start, factory)
        results[name] = evaluate(fitted, target, settings, torch.Generator().manual_seed(0))
        m = results[name].metrics
        budgets[name] = (m["warmup_cost"], m["sample_cost"], m["sample_draws"])
    assert budgets == {"mala": (76, 300, 112), "flowmc": (80, 301, 17)}
    # MALA's 112 draws per chain carry the diagnostics: ESS (and switches) per 1000 cost units of
    # production, over all chains
    m = results["mala"].metrics
    production = 32 * (m["sample_cost"] - m["warmup_cost"])
    assert m["ess_bulk_per_kcost"] == pytest.approx(1000 * m["ess_bulk_min"] / production)
    assert not set(MIXING_METRICS) & set(results["mala"].not_estimable)
    # flowMC's 17 are too few: its R-hat, ESS and switch rate are n/e, saying why
    flowmc_result = results["flowmc"]
    assert {key: flowmc_result.not_estimable.get(key) for key in MIXING_METRICS} == {
        key: "17 draws per chain after warm-up, fewer than 100: raise sample_cost "
        "(one step costs 13 units)"
        for key in MIXING_METRICS
    }
    assert all(math.isnan(flowmc_result.metrics[key]) for key in MIXING_METRICS)
    assert math.isfinite(flowmc_result.metrics["accept_global"])
    # The draws against p★ (docs/SCIENCE.md §7.12), whatever the number of draws: both samplers
    # target p★ and started at its draws, so both find its 2 regions; their MMD² and sliced W₂²
    # have positive floors
    for result in results.values():
        m = result.metrics
        assert (m["modes_found"], m["n_modes"]) == (2, 2)
        assert m["mmd_floor"] > 0 and m["sw2_floor"] > 0 and m["sw2"] > 0
        assert math.isfinite(m["mmd"])


def test_the_sampler_track_samples_the_true_energy_and_leaves_the_ebm_trained():
    # The EBM is a planted wrong density q: p★'s two modes with the weights swapped (1:2 for
    # 2:1). The sampler is IMH whose proposal is p★ itself, so on the true energy every proposal
    # is accepted and the draws are independent draws of p★: their region weights are binomial
    # over n = chains × draws, and their TV to the exact masses is below 5 standard errors. The
    # EBM's own weights stay q's, a TV of about 1/3 away, and its energy is the planted one after.
    target = make_target("bimodal", name="planted", dim=2, separation=3.0)
    swapped = make_target("bimodal", name="swapped", dim=2, separation=3.0, weights=[1 / 3, 2 / 3])
    mixture = DiagonalGaussians(target.means, target.variances, target.weights)

    class exact:  # p★ as IMH's proposal, its "noise" the draws themselves
        noise = staticmethod(lambda n, generator: mixture.sample_and_log_prob(n, generator)[0])
        from_noise = staticmethod(lambda x: (x, mixture.log_prob(x)))
        log_prob = staticmethod(mixture.log_prob)

    start = swapped.sample(32, torch.Generator().manual_seed(3))
    fitted = fitted_for(swapped.log_prob, 2, start, lambda potential: IMH(potential, exact))
    planted = fitted.ebm.energy
    settings = SuiteSettings(
        n_chains=32, sample_cost=600, n_data=1000, c2st_max_dim=0, sampler_track=True
    )
    result = evaluate(fitted, target, settings, torch.Generator().manual_seed(0))
    m = result.metrics
    assert fitted.ebm.energy is planted
    assert set(TRACK_METRICS) <= set(m) and not set(TRACK_METRICS) & set(result.not_estimable)
    assert m["mw_tv_model"] == pytest.approx(1 / 3 * (1 - 2 * target.overlap), abs=0.02)
    w = target.region_weights().weights[0].item()
    # an IMH step costs 3 units per chain (a gradient, an energy); warm-up a quarter of 600
    n = 32 * m["sample_draws"]
    assert m["mw_tv_sampler_true"] < 5 * math.sqrt(w * (1 - w) / n)
    assert result.weights["sampler_true"] == pytest.approx(
        target.region_weights().weights.tolist(), abs=5 * math.sqrt(w * (1 - w) / n)
    )
    assert m["rhat_max_sampler_true"] < 1.05


def test_replica_exchange_records_its_swap_acceptance():
    # Two rungs at β = 1 and 0.999 are nearly the same distribution: a swap's log acceptance is
    # (β₀ − β₁)(U(x₀) − U(x₁)) ≈ 0, so nearly every proposed swap is accepted. MALA has none.
    target = make_target("two_modes")
    start = target.sample(32, torch.Generator().manual_seed(3))
    settings = SuiteSettings(n_chains=32, sample_cost=600, n_data=1000, c2st_max_dim=0)

    def ladder(potential):
        return ReplicaExchange(potential, 1.0, torch.tensor([1.0, 0.999]), 0.01)

    swaps = {}
    for name, factory in (("ladder", ladder), ("mala", lambda potential: MALA(potential, 0.01))):
        fitted = fitted_for(target.log_prob, 2, start, factory)
        m = evaluate(fitted, target, settings, torch.Generator().manual_seed(0)).metrics
        swaps[name] = m["accept_swap"]
    assert 0.95 < swaps["ladder"] <= 1.0
    assert math.isnan(swaps["mala"])


class WeightedMixtureEnergy(nn.Module):
    """E = log ρ − log q_w for q_w = Σ w_k p★_k, the target's components with weights w (a buffer,
    the checkpoints' "parameters")."""

    def __init__(self, target, weights: torch.Tensor) -> None:
        super().__init__()
        self.target = target
        self.register_buffer("weights", weights.clone())
        self.register_buffer("base_std", torch.tensor(1.0))

    def forward(self, x):
        log_q = torch.logsumexp(self.target.component_log_prob(x) + self.weights.log(), dim=-1)
        return log_isotropic_normal(x, self.base_std) - log_q


def test_a_mode_erased_and_recreated_over_training_is_counted_and_the_end_settled():
    # Five checkpoints of q_w on two_modes (weights 0.2, 0.8): the truth, mode 0 at 1e-4 (erased:
    # below 0.02), then the truth three times. One erase-and-recreate event, the largest drop
    # 0.2 − 1e-4 (the quadrature's errors are far below it), and training settled from the third
    # checkpoint (iteration 30), the last three identical.
    target = make_target("two_modes")
    truth = target.weights.clone()
    erased = torch.tensor([1e-4, 1 - 1e-4])
    energy = WeightedMixtureEnergy(target, truth)
    ebm = TiltedEBM(energy, 2, 1.0)
    potential = Potential(ebm.potential)
    start = target.sample(64, torch.Generator().manual_seed(3))
    checkpoints = [
        Checkpoint(
            10 * (i + 1),
            {"weights": w, "base_std": torch.tensor(1.0)},
            start,
            EvalCounter(10 * (i + 1), 5 * (i + 1), i),
        )
        for i, w in enumerate([truth, erased, truth, truth, truth])
    ]
    fitted = FittedModel(ebm, start, start, MALA(potential, 0.01), start, checkpoints,
                         potential.counter)  # fmt: skip
    settings = SuiteSettings(n_chains=32, sample_cost=280, n_data=1000, c2st_max_dim=0)
    result = evaluate(fitted, target, settings, torch.Generator().manual_seed(0))
    m = result.metrics
    assert not set(TRAINING_METRICS) & set(result.not_estimable)
    assert m["mode_erasures"] == 1
    assert m["mw_largest_drop"] == pytest.approx(float(truth[0]) - 1e-4, abs=1e-3)
    assert (m["converged"], m["converged_at"]) == (1.0, 30.0)
    assert m["mw_model_spread"] == pytest.approx(0.0, abs=1e-6)
    # each checkpoint's row carries its cost so far as given
    rows = result.curves["checkpoints"]
    assert [(r["energy_evals"], r["grad_evals"], r["flow_passes"]) for r in rows] == [
        (10.0 * (i + 1), 5.0 * (i + 1), float(i)) for i in range(5)
    ]


def run_planted(tmp_path, plugin: str, target: str, centre: list[float]) -> dict:
    """One run of the planted method through `python -m benchmark run`; its record."""
    text = f"""
[suite]
name = "planted"
seeds = [0]
methods = ["planted"]
iterations = 1
n_data = 2000
n_chains = 128
sample_cost = 400
c2st_max_dim = 0

[[targets]]
target = "{target}"

[methods.planted]
centre = {centre}
"""
    config = write(tmp_path, text, "planted.toml")
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--workers", "1", "--plugin", plugin]) == 0
    return json.loads((out / "runs" / f"{target}__planted__seed0.json").read_text())


def check_planted(record: dict, target_name: str, spurious_region: int) -> None:
    """The Done-when tolerances of the issue: mode-weight TV within 0.01 of q's true TV, log Z
    within 0.02 of 0, log-density error within 0.01 of (log 0.8)², far mass within 0.02 of 0.2.
    q's region masses are 0.8 w★ + 0.2 e_j: c is ≥ 7 std of N(c, 0.1 I) from every region
    boundary, so the spurious component's mass outside region j is < 1e-12."""
    assert record["status"] == "ok", record.get("error")
    target = make_target(target_name)
    w_true = target.region_weights().weights.double()
    w_q = 0.8 * w_true + 0.2 * torch.eye(target.n_modes, dtype=torch.float64)[spurious_region]
    true_tv = float(0.5 * (w_q - w_true).abs().sum())
    m = record["metrics"]
    assert abs(m["mw_tv_model"] - true_tv) <= 0.01
    assert abs(m["log_z"]) <= 0.02
    assert abs(m["logdens_err"] - math.log(0.8) ** 2) <= 0.01
    assert abs(m["mass_far_model"] - 0.2) <= 0.02
    assert record["not_estimable"] == {}


def test_planted_spurious_mode_outside_the_box_in_2_d(tmp_path, planted_plugin):
    # c = (−5, 9): outside four_modes' box ±4.1, nearest to mode 0 at (−3, 0); its true TV is
    # 0.2 (1 − w₀) = 0.18.
    record = run_planted(tmp_path, planted_plugin, "four_modes", [-5.0, 9.0])
    check_planted(record, "four_modes", 0)
    m = record["metrics"]
    assert m["quad_edge_mass"] < 1e-6
    # The negatives and the sampler are draws of q: their far mass is ≈ 0.2 too (binomial sd
    # over 10 000 negatives ≈ 0.004).
    assert abs(m["mass_far_negatives"] - 0.2) <= 0.02


def test_planted_spurious_mode_beyond_the_last_mode_in_16_d(tmp_path, planted_plugin):
    # hd16 and c = 4 μ₄ = −2.37·1: 7.1 from μ₄ (Mahalanobis² 50 > χ²₁₆(0.999) = 39.3, so
    # outside every 99.9 % ellipsoid), in region 3 (μ₄'s quadrant). The method's sampler starts
    # at draws of q, so its chains and negatives show the importance proposal where c is.
    target = make_target("hd16")
    centre = (4 * target.means[3]).tolist()
    record = run_planted(tmp_path, planted_plugin, "hd16", [round(v, 6) for v in centre])
    check_planted(record, "hd16", 3)
    assert record["metrics"]["is_ess"] >= 655
