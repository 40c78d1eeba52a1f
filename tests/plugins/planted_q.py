"""A planted model, a plugin method of the tests (`--plugin planted_q`, registered as "planted"):
q = (1 − s) p★ + s N(c, v I) as a tilted EBM, no training, true log Z = 0; its draws (start,
negatives, initialisation) are draws of q, or of p★ alone with `hidden` (the extra mass is then
never visited)."""

import math
from dataclasses import dataclass

import torch
from torch import nn

from benchmark.models.energy import TiltedEBM, log_isotropic_normal
from benchmark.samplers import MALA
from benchmark.suite.registry import register_method
from benchmark.training.method import VIEW_DRAWS, FittedModel, TrainParams, counted_potential


@dataclass(frozen=True)
class PlantedParams(TrainParams):
    centre: tuple[float, ...] = ()
    share: float = 0.2
    variance: float = 0.1
    hidden: bool = False
    step_size: float = 0.02


class PlantedEnergy(nn.Module):
    def __init__(self, target, base_std, params):
        super().__init__()
        self.target, self.params = target, params
        self.register_buffer("base_std", torch.tensor(float(base_std)))
        self.register_buffer("centre", torch.tensor(params.centre))

    def log_q(self, x):
        s, v = self.params.share, self.params.variance
        if s == 0:
            return self.target.log_prob(x)
        spurious = -0.5 * ((x - self.centre) ** 2).sum(-1) / v
        spurious = spurious - 0.5 * x.shape[-1] * math.log(2 * math.pi * v)
        return torch.logaddexp(math.log(1 - s) + self.target.log_prob(x), math.log(s) + spurious)

    def forward(self, x):
        return log_isotropic_normal(x, self.base_std) - self.log_q(x)


def draw_q(target, params, n, generator):
    x = target.sample(n, generator)
    if params.hidden or params.share == 0:
        return x
    spurious = torch.rand(n, generator=generator) < params.share
    noise = torch.randn(n, target.dim, generator=generator)
    far = torch.tensor(params.centre) + math.sqrt(params.variance) * noise
    return torch.where(spurious[:, None], far, x)


@register_method("planted", display="Planted q", params=PlantedParams, test_config=PlantedParams())
def fit(problem, params, generator, progress):
    energy = PlantedEnergy(problem.target, problem.ebm.base_std, params)
    ebm = TiltedEBM(energy, problem.ebm.dim, float(problem.ebm.base_std))
    for iteration in range(1, problem.iterations + 1):
        progress(iteration)
    return FittedModel(
        ebm=ebm,
        negatives=draw_q(problem.target, params, VIEW_DRAWS, generator),
        initial=draw_q(problem.target, params, VIEW_DRAWS, generator),
        sampler=MALA(counted_potential(ebm, problem.counter), params.step_size),
        start=draw_q(problem.target, params, params.batch_size, generator),
        counter=problem.counter,
    )
