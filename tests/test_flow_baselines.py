"""Known-answer tests of the sampling machinery of NT-EBM, CoopFlow, VERA and the reverse-KL flow.

The energy is fixed to −log p★ of `two_modes` (a tilted EBM whose `log_unnormalised` is
`target.log_prob`) and nothing trains the EBM: each test checks how well the method's way of making
negatives reproduces the target's mode weights w★ = (1/3, 2/3), and records what its mechanism
allows. Tolerances: n independent chains (or draws) estimate a weight with binomial standard error
√(w(1 − w)/n); we allow 4 of them (two-sided p ≈ 6e-5 per check) unless stated otherwise.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from baselines.coopflow import CoopFlowParams, paper_step_size, refine
from baselines.nt_ebm import NTEBMParams, latent_mala
from baselines.vera import Generator, VERAParams, generator_step, make_optimizers
from baselines.vi_flow import VIFlowParams, flow_negatives, reverse_kl_step
from benchmark.metrics import sample_weights
from benchmark.models.energy import MLPEnergy, TiltedEBM, base_std_from_data
from benchmark.models.flows import Flow
from benchmark.samplers import ULA, NeuralTransportMALA, Potential
from benchmark.suite.registry import get_method, load_methods
from benchmark.targets import GaussianMixture, make_target
from benchmark.training.method import FittedModel, Problem, TrainParams

FIT_DRAWS = 4000


class TargetEnergy(nn.Module):
    """E(x) = −log p★(x) + log ρ(x), so that the tilted EBM's log p̃ is exactly log p★."""

    def __init__(self, target: GaussianMixture, base_std: float) -> None:
        super().__init__()
        self.target = target
        self.var = base_std**2

    def forward(self, x: Tensor) -> Tensor:
        d = x.shape[-1]
        log_base = -0.5 * (x**2).sum(-1) / self.var - 0.5 * d * math.log(2 * math.pi * self.var)
        return -self.target.log_prob(x) + log_base


def tolerance(w: float, n: float, k: float = 4.0) -> float:
    """k binomial standard errors of a weight w estimated from n independent points."""
    return k * math.sqrt(w * (1 - w) / n)


@pytest.fixture(scope="module")
def target() -> GaussianMixture:
    return make_target("two_modes")


@pytest.fixture(scope="module")
def truth(target: GaussianMixture) -> Tensor:
    return target.region_weights().weights


@pytest.fixture(scope="module")
def base_std(target: GaussianMixture) -> float:
    return base_std_from_data(target.sample(FIT_DRAWS, torch.Generator().manual_seed(0)))


@pytest.fixture(scope="module")
def potential(target: GaussianMixture, base_std: float) -> Potential:
    return Potential(TiltedEBM(TargetEnergy(target, base_std), target.dim, base_std).potential)


def weights(target: GaussianMixture, x: Tensor) -> Tensor:
    return sample_weights(target.assign_modes(x), target.n_modes)


def fitted_flow(draws: Tensor, base_std: float, seed: int) -> Flow:
    """A flow fitted by maximum likelihood to `draws`: 300 Adam steps (lr 1e-2), batches of 256."""
    torch.manual_seed(seed)  # zuko's hidden-layer initialisation uses the global RNG
    generator = torch.Generator().manual_seed(seed)
    flow = Flow(draws.shape[1], base_std)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    for _ in range(300):
        index = torch.randint(len(draws), (256,), generator=generator)
        loss = -flow.log_prob(draws[index]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return flow


@pytest.fixture(scope="module")
def flow_exact(target: GaussianMixture, base_std: float) -> Flow:
    """Fitted to exact draws of the target."""
    return fitted_flow(target.sample(FIT_DRAWS, torch.Generator().manual_seed(1)), base_std, 1)


@pytest.fixture(scope="module")
def flow_equal(base_std: float) -> Flow:
    """Fitted to draws of the same mixture with equal weights: right modes, wrong weights."""
    equal = make_target("two_modes", weights=[0.5, 0.5])
    return fitted_flow(equal.sample(FIT_DRAWS, torch.Generator().manual_seed(2)), base_std, 2)


# NT-EBM: 2000 chains, 128 latent MALA steps (the paper's), step adapted toward 0.75.
NT_CHAINS = 2000


def test_nt_ebm_recovers_weights_with_fitted_flow(target, truth, potential, flow_exact):
    generator = torch.Generator().manual_seed(3)
    sampler = NeuralTransportMALA(potential, flow_exact, 0.05, 0.75)
    x = latent_mala(sampler, flow_exact, NT_CHAINS, 128, generator)
    w = weights(target, x)
    assert abs(w[0] - truth[0]) < tolerance(float(truth[0]), NT_CHAINS)


def test_nt_ebm_corrects_flow_with_wrong_weights(target, truth, potential, flow_equal):
    """The flow puts ≈ 1/2 on each mode; latent MALA on the exact potential moves chains between
    the halves of the latent space (no barrier there: the latent potential is the Gaussian base
    tilted by log p★/λ) and recovers w★ — the correction NT-EBM relies on."""
    generator = torch.Generator().manual_seed(4)
    start = weights(target, flow_equal.sample(NT_CHAINS, generator))
    assert abs(start[0] - truth[0]) > 2 * tolerance(float(truth[0]), NT_CHAINS)
    sampler = NeuralTransportMALA(potential, flow_equal, 0.05, 0.75)
    w = weights(target, latent_mala(sampler, flow_equal, NT_CHAINS, 128, generator))
    assert abs(w[0] - truth[0]) < tolerance(float(truth[0]), NT_CHAINS)


# CoopFlow: 20 000 chains, the paper's 256 ULA steps of 5e-4 in 2-D.
COOP_CHAINS = 20_000


def test_coopflow_keeps_fitted_flows_weights(target, truth, potential, flow_exact):
    """A short ULA run moves points within their mode, not between modes: almost no chain changes
    region, so the negatives carry the flow's weights, here those of a fit to 4000 exact draws —
    right within the fit's own sampling error plus the chains'."""
    generator = torch.Generator().manual_seed(5)
    ula = ULA(potential, paper_step_size(2))
    proposals, refined = refine(ula, flow_exact, COOP_CHAINS, 256, generator)
    switched = (target.assign_modes(proposals) != target.assign_modes(refined)).float().mean()
    assert switched < 0.01
    w = weights(target, refined)
    allowed = tolerance(float(truth[0]), FIT_DRAWS) + tolerance(float(truth[0]), COOP_CHAINS)
    assert abs(w[0] - truth[0]) < allowed


def test_coopflow_at_init_stays_at_flows_split(target, truth, potential, base_std):
    """With the flow at initialisation (λ = ρ, whose region masses are ≈ 0.36 / 0.64), ULA leaves
    the split where ρ put it, away from w★ = 1/3: the refined weights agree with those of
    independent draws of ρ within 4 standard errors of the difference of two estimates."""
    generator = torch.Generator().manual_seed(6)
    flow = Flow(target.dim, base_std)
    ula = ULA(potential, paper_step_size(2))
    _, refined = refine(ula, flow, COOP_CHAINS, 256, generator)
    split = weights(target, flow.sample(COOP_CHAINS, generator))
    w = weights(target, refined)
    gap = math.sqrt(2) * tolerance(float(split[0]), COOP_CHAINS)
    assert abs(w[0] - split[0]) < gap
    assert abs(w[0] - truth[0]) > gap


def train_vera(potential: Potential, base_std: float, steps: int, seed: int) -> Generator:
    """VERA's generator trained against the fixed potential with default hyperparameters."""
    torch.manual_seed(seed)  # the MLP's initialisation uses the global RNG
    generator = torch.Generator().manual_seed(seed)
    params = VERAParams()
    q = Generator(2, base_std, params.generator_hidden)
    optimizer, posterior_optimizer = make_optimizers(q, params)
    for _ in range(steps):
        generator_step(q, potential, optimizer, posterior_optimizer, params, generator)
    return q


def test_vera_generator_collapses_to_heavy_mode(target, potential, base_std):
    """Observed, not hoped for: VERA's generator (a smooth MLP map of a Gaussian), trained by its
    entropy-regularised reverse KL against the exact −log p★ from q ≈ ρ, drops the light mode
    within a few hundred steps and sits on the heavy one. Reverse KL is mode-seeking: keeping
    both modes would need a steep map with mass on the low-density bridge between them, and the
    entropy term does not pay for it. So as a sampler of negatives, VERA gets the weights wrong
    unless the EBM compensates (it then over-weights the mode the generator misses)."""
    q = train_vera(potential, base_std, 400, seed=7)
    with torch.no_grad():
        x = q.rsample(4000, torch.Generator().manual_seed(8))[0]
    w = weights(target, x)
    assert w[0] < 0.01  # observed 0 in 4000 draws
    heavy = target.means[1]
    assert (x.mean(0) - heavy).norm() < 0.1  # on the heavy mode, not in between


def test_vera_fits_an_anisotropic_gaussian():
    """The entropy estimator on an analytic case: against N(m, diag(0.25², 0.15²)), the generator
    matches both standard deviations, which needs the posterior importance sampling — the plain
    conditional score −ε/σ credits all entropy to σ and gives the isotropic reverse-KL fit, whose
    std is √(harmonic mean of the variances) ≈ 0.18 in both dimensions."""
    mean, std = torch.tensor([1.0, -0.5]), torch.tensor([0.25, 0.15])
    potential = Potential(lambda x: 0.5 * (((x - mean) / std) ** 2).sum(-1))
    generator = torch.Generator().manual_seed(9)
    torch.manual_seed(9)
    params = VERAParams(generator_lr=3e-3)
    q = Generator(2, 1.4, params.generator_hidden)
    optimizer, posterior_optimizer = make_optimizers(q, params)
    for _ in range(1500):
        generator_step(q, potential, optimizer, posterior_optimizer, params, generator)
    with torch.no_grad():
        x = q.rsample(20_000, generator)[0]
    # 20 000 draws: the sample std's standard error is std/√(2n) < 0.002; the rest is the fit.
    assert torch.allclose(x.std(0), std, atol=0.02)
    assert torch.allclose(x.mean(0), mean, atol=0.03)


def test_vi_flow_mode_seeking(target, potential, base_std):
    """The expected failure: a flow trained by reverse KL against the exact −log p★, from λ = ρ,
    drops the light mode (observed: 0 of 4000 draws there), and SNIS reweighting cannot bring it
    back — weights p̃/λ only redistribute mass among points λ actually draws."""
    torch.manual_seed(10)
    generator = torch.Generator().manual_seed(10)
    flow = Flow(target.dim, base_std)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    for _ in range(300):
        reverse_kl_step(flow, potential, optimizer, 256, generator)
    plain = weights(target, flow_negatives(flow, potential, 4000, False, generator))
    reweighted = weights(target, flow_negatives(flow, potential, 4000, True, generator))
    assert plain[0] < 0.01
    assert reweighted[0] < 0.01


def test_vi_flow_reweighting_corrects_covered_modes(target, truth, potential, flow_equal):
    """What reweighting does fix: a flow that covers both modes with wrong weights (≈ 1/2 each)
    gives, after SNIS resampling, w★. Error: the SNIS estimate has standard error ≈
    √(w(1−w)/ESS) and the multinomial resampling adds √(w(1−w)/n); 4 of their combination."""
    n = 4000
    generator = torch.Generator().manual_seed(11)
    x, log_q = flow_equal.sample_and_log_prob(n, generator)
    w_is = torch.softmax(-potential.value(x) - log_q, 0)
    ess = float(1 / (w_is**2).sum())
    assert ess > n / 2  # the flow covers the target well: the check below is not vacuous
    w = weights(target, flow_negatives(flow_equal, potential, n, True, generator))
    plain = weights(target, flow_equal.sample(n, generator))
    allowed = math.sqrt(tolerance(float(truth[0]), ess) ** 2 + tolerance(float(truth[0]), n) ** 2)
    assert abs(plain[0] - truth[0]) > allowed
    assert abs(w[0] - truth[0]) < allowed


# Training cost: planted runs whose evaluations and flow passes are counted by hand (n chains,
# 4 iterations, checkpoints at 2 and 4). A gradient evaluation is also an energy evaluation.
COST_ITERATIONS = 4


def planted_fit(name: str, params: TrainParams) -> tuple[Problem, FittedModel]:
    """The registered method on two_modes (200 data points), a fresh EBM, no progress."""
    load_methods()
    target = make_target("two_modes")
    data = target.sample(200, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    ebm = TiltedEBM(MLPEnergy(2), 2, base_std_from_data(data))
    problem = Problem(data, ebm, COST_ITERATIONS, target)
    fitted = get_method(name).fit(problem, params, torch.Generator().manual_seed(0), lambda i: None)
    return problem, fitted


def spent(fitted: FittedModel) -> list[tuple[int, int, int]]:
    """(energy, grad, flow) at each checkpoint, then the totals."""
    counts = [c.spent for c in fitted.checkpoints] + [fitted.counter]
    return [(c.energy, c.grad, c.flow) for c in counts]


def test_nt_ebm_counts_its_flow_passes():
    # Per iteration, n chains and K latent MALA steps: n flow draws, T⁻¹ of them and U_z at the
    # start (2n passes, n gradients), K steps (a pass and a gradient each per chain), T(z) at the
    # end (n), the flow's fit (n): n(K + 5) passes, n(K + 1) gradients.
    n, k = 8, 3
    problem, fitted = planted_fit("nt_ebm", NTEBMParams(batch_size=n, mala_steps=k, checkpoints=2))
    assert fitted.counter is problem.counter
    per = (n * (k + 1), n * (k + 1), n * (k + 5))
    assert spent(fitted) == [tuple(i * c for c in per) for i in (2, 4, 4)]


def test_coopflow_counts_pretraining_and_proposals():
    # Pre-training: 5 steps of n points; per iteration n flow draws, ULA from them (U and ∇U at
    # the start, then K steps: n(K + 1) gradients) and the flow's fit (n passes).
    n, k, pre = 8, 3, 5
    params = CoopFlowParams(batch_size=n, ula_steps=k, pretrain_steps=pre, checkpoints=2)
    _, fitted = planted_fit("coopflow", params)
    grads = n * (k + 1)
    assert spent(fitted) == [(i * grads, i * grads, pre * n + i * 2 * n) for i in (2, 4, 4)]


def test_vi_flow_counts_training_and_the_diagnostic_warm_up():
    # Per iteration: n reweighted flow draws (n passes, n energies), 2 reverse-KL steps (n
    # passes and n gradients each). After the last iteration, the diagnostic flowMC's warm-up
    # (counted in training, not at a checkpoint): n flow draws to start, U and ∇U there, then 3
    # sweeps of an IMH move (a gradient and 2 passes per chain) and 2 MALA steps.
    n, steps, sweeps, local = 8, 2, 3, 2
    params = VIFlowParams(batch_size=n, reweight=True, flow_steps=steps, local_steps=local,
                          mala_warmup=sweeps, checkpoints=2)  # fmt: skip
    _, fitted = planted_fit("vi_flow", params)
    per = (n + steps * n, steps * n, n + steps * n)
    after = (n + sweeps * (1 + local) * n, n + sweeps * (1 + local) * n, n + sweeps * 2 * n)
    loop = [tuple(i * c for c in per) for i in (2, 4)]
    assert spent(fitted) == [*loop, tuple(a + b for a, b in zip(loop[-1], after, strict=True))]


def test_vera_counts_its_generator_as_a_flow():
    # Per iteration: n generator draws (the negatives), then a generator step: ∇U at n draws and
    # generator passes at those n, twice at their k posterior draws, once for the ELBO. After the
    # last iteration, the diagnostic MALA's warm-up from n draws: its init and 3 steps.
    n, k, warm = 8, 4, 3
    params = VERAParams(batch_size=n, generator_hidden=8, posterior_samples=k, mala_warmup=warm,
                        checkpoints=2)  # fmt: skip
    _, fitted = planted_fit("vera", params)
    per = (n, n, n + n * (2 + 2 * k))
    loop = [tuple(i * c for c in per) for i in (2, 4)]
    after = ((1 + warm) * n, (1 + warm) * n, n)
    assert spent(fitted) == [*loop, tuple(a + b for a, b in zip(loop[-1], after, strict=True))]
