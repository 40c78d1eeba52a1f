"""Known answers for the models at initialisation, the flow's invertibility, the negatives the
training loop keeps, and the fast paths (written-out gradient, blocked evaluation, the flow's own
couplings) against their references."""

import pytest
import torch
import zuko
from tolerance import float64
from torch import nn
from torch.distributions import MultivariateNormal

from benchmark.models.energy import (
    MLPEnergy,
    TiltedEBM,
    autograd_value_and_grad,
    base_std_from_data,
    log_isotropic_normal,
)
from benchmark.models.flows import Flow
from benchmark.targets import make_target
from benchmark.training.method import VIEW_DRAWS, Problem, TrainParams, maximum_likelihood


def _normal_log_prob(x, std):
    dim = x.shape[-1]
    covariance = std**2 * torch.eye(dim, dtype=x.dtype)
    return MultivariateNormal(torch.zeros(dim, dtype=x.dtype), covariance).log_prob(x)


def test_mlp_energy_is_exactly_zero_at_init(generator):
    torch.manual_seed(0)
    energy = MLPEnergy(3, hidden=32)
    x = 5 * torch.randn(100, 3, generator=generator, requires_grad=True)
    e = energy(x)
    assert e.shape == (100,)
    assert torch.equal(e, torch.zeros(100))
    (grad,) = torch.autograd.grad(e.sum(), x)
    assert torch.equal(grad, torch.zeros_like(x))


def test_tilted_ebm_is_its_base_at_init(generator):
    """Against torch's multivariate normal (another formula): compared in float64."""
    torch.manual_seed(0)
    ebm = TiltedEBM(MLPEnergy(4), 4, base_std=1.7)
    float64(ebm)
    x = 3 * torch.randn(100, 4, generator=generator, dtype=torch.float64)
    expected = _normal_log_prob(x, 1.7)
    torch.testing.assert_close(ebm.log_base(x), expected)
    torch.testing.assert_close(ebm.log_unnormalised(x), expected)  # normalised at E ≡ 0
    torch.testing.assert_close(ebm.potential(x), -expected)


def test_base_std_is_the_largest_data_std(generator):
    data = torch.randn(1000, 3, generator=generator) * torch.tensor([1.0, 3.0, 2.0])
    assert base_std_from_data(data) == float(data.var(0).max().sqrt())


def test_flow_is_the_identity_at_init(generator):
    """Zero-initialised last layers: x · exp(0) + 0 is x exactly; the density against torch's
    multivariate normal (another formula) in float64."""
    torch.manual_seed(0)
    flow = Flow(5, base_std=2.0)
    x = 3 * torch.randn(100, 5, generator=generator)
    assert torch.equal(flow.to_latent(x), x)
    z, log_det = flow.from_latent(x)
    assert torch.equal(z, x) and torch.equal(log_det, torch.zeros(100))
    float64(flow)
    x = x.double()
    torch.testing.assert_close(flow.log_prob(x), _normal_log_prob(x, 2.0))
    torch.testing.assert_close(flow.base_log_prob(x), _normal_log_prob(x, 2.0))


def _perturbed_flow(dim, generator):
    torch.manual_seed(0)
    flow = Flow(dim, base_std=1.5)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
    return flow


def test_flow_is_invertible_after_perturbation(generator):
    """Forward and inverse passes are different computations: compared in float64."""
    flow = _perturbed_flow(4, generator)
    float64(flow)
    x = 2 * torch.randn(200, 4, generator=generator, dtype=torch.float64)
    z = flow.to_latent(x)
    assert (z - x).abs().max() > 0.1  # the perturbation made the map non-trivial
    x_back, log_det = flow.from_latent(z)
    torch.testing.assert_close(x_back, x)
    # Change of variables: log λ(x) = log ρ(T⁻¹x) − log|det ∂T/∂z| at z = T⁻¹x.
    torch.testing.assert_close(flow.log_prob(x), flow.base_log_prob(z) - log_det)
    # sample_and_log_prob reports the density of its own draws.
    samples, log_q = flow.sample_and_log_prob(200, generator)
    torch.testing.assert_close(log_q, flow.log_prob(samples))


def test_flow_sample_is_reproducible_and_leaves_the_global_rng_alone():
    flow = _perturbed_flow(3, torch.Generator().manual_seed(1))
    state = torch.get_rng_state()
    a = flow.sample(50, torch.Generator().manual_seed(7))
    b = flow.sample(50, torch.Generator().manual_seed(7))
    c = flow.sample(50, torch.Generator().manual_seed(8))
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (50, 3) and not a.requires_grad
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_training_keeps_the_last_view_draws_negatives():
    # Negatives of iteration i are all equal to i: with batches of 3000, the last 10 000 rows are
    # 1000 of iteration 2 and all of iterations 3, 4 and 5, in order; the checkpoints keep their
    # own iteration's batch.
    data = torch.zeros(100, 2)
    ebm = TiltedEBM(MLPEnergy(2, 8, 1), 2, 1.0)
    problem = Problem(data, ebm, 5, make_target("four_modes"))
    params = TrainParams(batch_size=3000, checkpoints=5)

    def negatives(iteration: int) -> torch.Tensor:
        return torch.full((3000, 2), float(iteration))

    checkpoints, last = maximum_likelihood(
        problem, params, torch.Generator().manual_seed(0), lambda i: None, negatives
    )
    assert last.shape == (VIEW_DRAWS, 2)
    expected = torch.cat(
        [torch.full((1000,), 2.0), *(torch.full((3000,), float(i)) for i in (3, 4, 5))]
    )
    assert torch.equal(last[:, 0], expected)
    assert [float(c.negatives[0, 0]) for c in checkpoints] == [1, 2, 3, 4, 5]


def _perturbed_ebm(dim, hidden, generator):
    torch.manual_seed(0)
    ebm = TiltedEBM(MLPEnergy(dim, hidden), dim, base_std=1.3)
    with torch.no_grad():
        for p in ebm.energy.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
    return ebm


@pytest.mark.parametrize(("dim", "hidden"), [(2, 64), (16, 128)])
def test_written_out_gradient_is_autograd(dim, hidden, generator):
    """Our backward pass against autograd's (other kernels, another order): in float64."""
    ebm = _perturbed_ebm(dim, hidden, generator)
    float64(ebm)
    x = 2 * torch.randn(300, dim, generator=generator, dtype=torch.float64)
    energy, grad = ebm.energy.value_and_grad(x)
    expected_energy, expected_grad = autograd_value_and_grad(ebm.energy, x)
    assert grad.abs().max() > 0.1  # a non-trivial energy
    torch.testing.assert_close(energy, expected_energy)
    torch.testing.assert_close(grad, expected_grad)
    u, grad_u = ebm.potential_and_grad(x)
    expected_u, expected_grad_u = autograd_value_and_grad(ebm.potential, x)
    torch.testing.assert_close(u, expected_u)
    torch.testing.assert_close(grad_u, expected_grad_u)
    assert all(p.grad is None for p in ebm.parameters())


class _Quadratic(nn.Module):
    def forward(self, x):
        return (x**2).sum(-1)


def test_potential_and_grad_of_another_energy_is_autograd(generator):
    """An energy without a written-out gradient, E(x) = |x|²: ∇U(x) = 2x + x / σ²."""
    ebm = TiltedEBM(_Quadratic(), 3, base_std=1.3)
    x = torch.randn(50, 3, generator=generator)
    u, grad = ebm.potential_and_grad(x)
    torch.testing.assert_close(u, ebm.potential(x))
    torch.testing.assert_close(grad, 2 * x + x / 1.3**2)


def test_tilt_is_log_isotropic_normal_exactly(generator):
    ebm = TiltedEBM(MLPEnergy(5), 5, base_std=1.7)
    x = 3 * torch.randn(1000, 5, generator=generator)
    assert torch.equal(ebm.log_base(x), log_isotropic_normal(x, ebm.base_std))


def test_blocked_evaluation_is_the_whole_one(generator):
    """Energies and flow draws of large batches are computed in row blocks: the same numbers as
    one pass over all rows (a BLAS may choose another kernel for another number of rows, so the
    two are compared in float64)."""
    ebm = _perturbed_ebm(2, 64, generator)
    flow = _perturbed_flow(3, generator)
    float64(ebm, flow)
    x = 2 * torch.randn(10_000, 2, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ebm.energy(x), ebm.energy._forward(x))
    draws, log_q = flow.sample_and_log_prob(10_000, torch.Generator().manual_seed(5))
    noise = torch.randn(10_000, 3, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected_draws, expected_log_q = flow._draw(noise.double())
    torch.testing.assert_close(draws, expected_draws)
    torch.testing.assert_close(log_q, expected_log_q)


@pytest.mark.parametrize(("dim", "hidden"), [(2, (16, 16, 16)), (5, (12, 12))])
def test_flow_is_zukos_realnvp(dim, hidden, generator):
    """The couplings are zuko's RealNVP written out: with the same seed, the same parameters, and
    (after the same perturbation) the same map and density — compared in float64, since the two
    are different computations (other kernels, another order of operations)."""
    torch.manual_seed(0)
    flow = Flow(dim, base_std=1.5, couplings=4, hidden=hidden)
    torch.manual_seed(0)
    reference = zuko.flows.RealNVP(dim, transforms=4, hidden_features=hidden)
    couplings = reference.transform.transforms
    for ours, theirs in zip(flow.couplings, couplings, strict=True):
        nn.init.zeros_(theirs.hyper[-1].weight)
        nn.init.zeros_(theirs.hyper[-1].bias)
        pairs = list(zip(ours.hyper.parameters(), theirs.hyper.parameters(), strict=True))
        assert all(torch.equal(a, b) for a, b in pairs)
        with torch.no_grad():
            for a, b in pairs:
                noise = 0.3 * torch.randn(a.shape, generator=generator)
                a.add_(noise)
                b.add_(noise)
    float64(flow, reference)
    base = torch.distributions.Independent(
        torch.distributions.Normal(
            torch.zeros(dim, dtype=torch.float64), torch.full((dim,), 1.5, dtype=torch.float64)
        ),
        1,
    )
    x = 2 * torch.randn(500, dim, generator=generator, dtype=torch.float64)
    transform = reference.transform()
    z, ladj = transform.call_and_ladj(x)
    with torch.no_grad():
        torch.testing.assert_close(flow.to_latent(x), z)
        torch.testing.assert_close(flow.log_prob(x), base.log_prob(z) + ladj)
        x_back, log_det = flow.from_latent(z)
        expected_x, expected_log_det = transform.inv.call_and_ladj(z)
        torch.testing.assert_close(x_back, expected_x)
        torch.testing.assert_close(log_det, expected_log_det)
    assert (z - x).abs().max() > 0.1  # the perturbation made the map non-trivial
