"""VERA (Grathwohl et al. 2021, "No MCMC for me"): a tilted EBM trained by maximum likelihood with
negatives drawn from a generator q(x) = ∫ N(x; g(z), σ² I) N(z; 0, I) dz, itself trained to
minimise E_q[U(x)] − λ H(q), U = E_θ − log ρ the tilted potential (λ = 1: the reverse KL to p_θ).
No MCMC in training.

The entropy gradient follows the paper's Sec. 3: ∇_φ H(q) = −E[∇_x log q(x) · ∂x/∂φ], with
the score ∇_x log q(x) = E_{q(z|x)}[−(x − g(z)) / σ²] estimated by self-normalised importance
sampling over the posterior: k draws z_i ~ N(z₀, η²) around the latent z₀ that made x, weighted by
q(x, z_i) / N(z_i; z₀, η²); η (per latent dimension) is fitted by maximising the ELBO
E[log q(x, z)] + H(N(z₀, η²)), and σ is learned and clamped to [`sigma_min`, `sigma_max`], as in
the authors' code.

Departures from the paper: an MLP generator g(z) = σ_ρ z + MLP(z) with a zero-initialised last
layer, so that q starts (up to σ) at ρ, the EBM at E ≡ 0, like the flows of the other methods;
σ starts at 0.1 (the authors': 0.01) and η at the exact posterior std at initialisation, and η
learns at 1e-2: when η lags the generator, the estimate degenerates to the conditional score
−ε/σ, which credits all entropy to σ (against N(m, diag(0.25², 0.15²)) the generator then ends
isotropic, std ≈ 0.18; with these settings it matches both, see the tests); no gradient penalty on
the EBM (pure maximum likelihood, the same for every method). The
diagnostic sampler is MALA on the trained EBM started from generator draws (VERA itself has no
sampler for the EBM), its step size adapted toward `target_accept` over `mala_warmup` steps at the
end of training (counted in the evaluations) and then frozen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from benchmark.samplers import MALA, Potential
from benchmark.suite.registry import register_method
from benchmark.training.method import (
    VIEW_DRAWS,
    FittedModel,
    Problem,
    Progress,
    TrainParams,
    counted_potential,
    maximum_likelihood,
    require,
)
from benchmark.training.parts import warm_up

__all__ = ["VERAParams", "Generator", "generator_step", "make_optimizers", "fit"]


@dataclass(frozen=True)
class VERAParams(TrainParams):
    """VERA hyperparameters.

    Attributes:
        entropy_weight: λ in E_q[U] − λ H(q) (1: reverse KL).
        generator_lr: Adam learning rate of the generator (g and σ).
        generator_steps: Generator updates per training iteration.
        generator_hidden: Width of the generator MLP's two hidden layers.
        posterior_samples: k, importance samples of the posterior per point.
        posterior_lr: Adam learning rate of the posterior proposal's scale η.
        sigma_min: Lower clamp of the generator noise σ.
        sigma_max: Upper clamp of the generator noise σ (the authors' 0.3).
        step_size: Initial step size of the diagnostic MALA.
        target_accept: Acceptance its step size is adapted toward.
        mala_warmup: Adaptation steps of the diagnostic MALA at the end of training.
    """

    entropy_weight: float = 1.0
    generator_lr: float = 1e-3
    generator_steps: int = 1
    generator_hidden: int = 64
    posterior_samples: int = 20
    posterior_lr: float = 1e-2
    sigma_min: float = 0.01
    sigma_max: float = 0.3
    step_size: float = 0.01
    target_accept: float = 0.6
    mala_warmup: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.entropy_weight >= 0, "entropy_weight", self.entropy_weight, "must be non-negative"
        )
        require(self.generator_lr > 0, "generator_lr", self.generator_lr, "must be positive")
        require(
            self.generator_steps >= 1, "generator_steps", self.generator_steps, "must be at least 1"
        )
        require(
            self.generator_hidden >= 1,
            "generator_hidden",
            self.generator_hidden,
            "must be at least 1",
        )
        require(
            self.posterior_samples >= 1,
            "posterior_samples",
            self.posterior_samples,
            "must be at least 1",
        )
        require(self.posterior_lr > 0, "posterior_lr", self.posterior_lr, "must be positive")
        require(
            0 < self.sigma_min <= self.sigma_max,
            "sigma_min",
            self.sigma_min,
            "must be positive and at most sigma_max",
        )
        require(self.step_size > 0, "step_size", self.step_size, "must be positive")
        require(
            0 < self.target_accept < 1, "target_accept", self.target_accept, "must be in (0, 1)"
        )
        require(self.mala_warmup >= 0, "mala_warmup", self.mala_warmup, "must be non-negative")


class Generator(nn.Module):
    """q(x) = ∫ N(x; g(z), σ² I) N(z; 0, I) dz with g(z) = `scale` · z + MLP(z), z ∈ R^d, and the
    posterior proposal N(z₀, η²) of the entropy estimator.

    Arguments:
        dim: Dimension d (of x and z).
        scale: The linear part of g at initialisation (σ_ρ: q starts at ρ).
        hidden: Width of the MLP's two hidden layers.
        sigma: Initial σ.
    """

    def __init__(self, dim: int, scale: float, hidden: int = 64, sigma: float = 0.1) -> None:
        super().__init__()
        self.dim = dim
        self.scale = scale
        last = nn.Linear(hidden, dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), last
        )
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma)))
        # η starts at the exact posterior std of z given x at initialisation, σ / √(scale² + σ²)
        self.log_eta = nn.Parameter(torch.full((dim,), math.log(sigma / math.hypot(scale, sigma))))

    def mean(self, z: Tensor) -> Tensor:
        """g(z), (..., d) -> (..., d)."""
        return self.scale * z + self.net(z)

    def rsample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Reparameterised draws x = g(z) + σ ε and their latents z, ((n, d), (n, d))."""
        device = self.log_sigma.device
        z = torch.randn(n, self.dim, generator=generator, device=device)
        eps = torch.randn(n, self.dim, generator=generator, device=device)
        return self.mean(z) + self.log_sigma.exp() * eps, z

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """log N(x; g(z), σ² I) + log N(z; 0, I), (..., d) -> (...)."""
        var = self.log_sigma.exp() ** 2
        log_x = -0.5 * ((x - self.mean(z)) ** 2).sum(-1) / var - 0.5 * self.dim * torch.log(
            2 * math.pi * var
        )
        return log_x - 0.5 * (z**2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)

    @torch.no_grad()
    def score(self, x: Tensor, z: Tensor, k: int, generator: torch.Generator) -> Tensor:
        """∇_x log q(x) ≈ Σ_i w_i · (g(z_i) − x) / σ², z_i ~ N(z, η²), w ∝ q(x, z_i)/N(z_i; z, η²)
        self-normalised over the k draws; x, z (n, d) -> (n, d)."""
        eta = self.log_eta.exp()
        noise = torch.randn(k, *z.shape, generator=generator, device=z.device)
        zs = z + eta * noise  # (k, n, d)
        log_proposal = -0.5 * (noise**2).sum(-1) - self.log_eta.sum()  # up to a constant
        w = torch.softmax(self.log_joint(x, zs) - log_proposal, dim=0)  # (k, n)
        mean = (w[..., None] * self.mean(zs)).sum(0)
        return (mean - x) / self.log_sigma.exp() ** 2

    def posterior_loss(self, x: Tensor, z: Tensor, generator: torch.Generator) -> Tensor:
        """−ELBO of the proposal N(z, η²) for the posterior q(z | x), reparameterised in η."""
        noise = torch.randn(z.shape, generator=generator, device=z.device)
        elbo = self.log_joint(x, z + self.log_eta.exp() * noise) + self.log_eta.sum()
        return -elbo.mean()

    def clamp_sigma(self, sigma_min: float, sigma_max: float) -> None:
        """Keep σ within [sigma_min, sigma_max]."""
        with torch.no_grad():
            self.log_sigma.clamp_(math.log(sigma_min), math.log(sigma_max))


def generator_step(
    q: Generator,
    potential: Potential,
    optimizer: torch.optim.Optimizer,
    posterior_optimizer: torch.optim.Optimizer,
    params: VERAParams,
    generator: torch.Generator,
) -> None:
    """One Adam step of g and σ on E_q[U(x)] − λ H(q) and one of η on the posterior ELBO.

    The surrogate (∇U(x) + λ ∇_x log q(x)) · x, both factors held fixed, has the objective's
    gradient in the generator's parameters (through x = g(z) + σ ε). The generator plays a
    flow's part and its passes count as flow passes on `potential` (docs/SCIENCE.md §7.7): g at
    the n draws, twice at the k posterior draws of each (`score`), once more for the ELBO."""
    potential.count(flow=params.batch_size * (2 + 2 * params.posterior_samples))
    x, z = q.rsample(params.batch_size, generator)
    _, grad_u = potential.value_and_grad(x)
    score = q.score(x.detach(), z, params.posterior_samples, generator)
    loss = ((grad_u + params.entropy_weight * score) * x).sum(-1).mean()
    optimizer.zero_grad()
    loss.backward(inputs=list(q.net.parameters()) + [q.log_sigma])
    optimizer.step()
    q.clamp_sigma(params.sigma_min, params.sigma_max)
    posterior_loss = q.posterior_loss(x.detach(), z, generator)
    posterior_optimizer.zero_grad()
    posterior_loss.backward(inputs=[q.log_eta])
    posterior_optimizer.step()


def make_optimizers(
    q: Generator, params: VERAParams
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam on (g, σ) and Adam on η."""
    generator_parameters = list(q.net.parameters()) + [q.log_sigma]
    optimizer = torch.optim.Adam(generator_parameters, lr=params.generator_lr, fused=True)
    return optimizer, torch.optim.Adam([q.log_eta], lr=params.posterior_lr, fused=True)


@register_method(
    "vera",
    display="VERA",
    params=VERAParams,
    test_config=VERAParams(
        batch_size=32, generator_hidden=8, posterior_samples=4, mala_warmup=2, checkpoints=2
    ),
)
def fit(
    problem: Problem, params: VERAParams, generator: torch.Generator, progress: Progress
) -> FittedModel:
    """Train the tilted EBM on generator draws, the generator by VERA's entropy-regularised
    objective after each EBM step."""
    ebm = problem.ebm
    q = Generator(ebm.dim, float(ebm.base_std), params.generator_hidden).to(problem.data.device)
    optimizer, posterior_optimizer = make_optimizers(q, params)
    potential = counted_potential(ebm, problem.counter)

    def draw(n: int = params.batch_size) -> Tensor:
        with torch.no_grad():
            return q.rsample(n, generator)[0]

    def fit_generator(x_neg: Tensor) -> None:
        for _ in range(params.generator_steps):
            generator_step(q, potential, optimizer, posterior_optimizer, params, generator)

    def negatives(iteration: int) -> Tensor:
        problem.counter.add(flow=params.batch_size)  # g at each draw, as a flow pass
        return draw()

    trained = maximum_likelihood(problem, params, generator, progress, negatives, fit_generator)
    sampler = MALA(potential, params.step_size, params.target_accept)
    problem.counter.add(flow=params.batch_size)  # the warm-up's start, counted as it is
    warm_up(sampler, draw(), params.mala_warmup, generator)
    return FittedModel(
        ebm=ebm,
        negatives=trained.negatives,
        initial=draw(VIEW_DRAWS),
        sampler=sampler,
        start=draw(),
        checkpoints=trained.checkpoints,
        counter=problem.counter,
    )
