"""Known answers for the models at initialisation, the flow's invertibility, and the negatives
the training loop keeps."""

import torch
from torch.distributions import MultivariateNormal

from benchmark.energy import MLPEnergy, TiltedEBM, base_std_from_data
from benchmark.flows import Flow
from benchmark.method import VIEW_DRAWS, Problem, TrainParams, maximum_likelihood
from benchmark.targets import make_target


def _normal_log_prob(x, std):
    dim = x.shape[-1]
    return MultivariateNormal(torch.zeros(dim), std**2 * torch.eye(dim)).log_prob(x)


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
    torch.manual_seed(0)
    ebm = TiltedEBM(MLPEnergy(4), 4, base_std=1.7)
    x = 3 * torch.randn(100, 4, generator=generator)
    expected = _normal_log_prob(x, 1.7)
    torch.testing.assert_close(ebm.log_base(x), expected)
    torch.testing.assert_close(ebm.log_unnormalised(x), expected)  # normalised at E ≡ 0
    torch.testing.assert_close(ebm.potential(x), -expected)


def test_base_std_is_the_largest_data_std(generator):
    data = torch.randn(1000, 3, generator=generator) * torch.tensor([1.0, 3.0, 2.0])
    assert base_std_from_data(data) == float(data.var(0).max().sqrt())


def test_flow_is_the_identity_at_init(generator):
    torch.manual_seed(0)
    flow = Flow(5, base_std=2.0)
    x = 3 * torch.randn(100, 5, generator=generator)
    torch.testing.assert_close(flow.log_prob(x), _normal_log_prob(x, 2.0))
    torch.testing.assert_close(flow.base_log_prob(x), _normal_log_prob(x, 2.0))
    torch.testing.assert_close(flow.to_latent(x), x)
    z, log_det = flow.from_latent(x)
    torch.testing.assert_close(z, x)
    torch.testing.assert_close(log_det, torch.zeros(100))


def _perturbed_flow(dim, generator):
    torch.manual_seed(0)
    flow = Flow(dim, base_std=1.5)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
    return flow


def test_flow_is_invertible_after_perturbation(generator):
    flow = _perturbed_flow(4, generator)
    x = 2 * torch.randn(200, 4, generator=generator)
    z = flow.to_latent(x)
    assert (z - x).abs().max() > 0.1  # the perturbation made the map non-trivial
    x_back, log_det = flow.from_latent(z)
    torch.testing.assert_close(x_back, x, atol=1e-4, rtol=1e-4)
    # Change of variables: log λ(x) = log ρ(T⁻¹x) − log|det ∂T/∂z| at z = T⁻¹x.
    torch.testing.assert_close(flow.log_prob(x), flow.base_log_prob(z) - log_det)
    # sample_and_log_prob reports the density of its own draws.
    samples, log_q = flow.sample_and_log_prob(200, generator)
    torch.testing.assert_close(log_q, flow.log_prob(samples), atol=1e-4, rtol=1e-4)


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
