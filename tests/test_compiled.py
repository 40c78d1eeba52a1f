"""The compiled samplers and flow loss (`SuiteSettings.compile`): the same draws as the eager
ones, so the same chains and flow steps up to float32 rounding, the same evaluation counts, and one
graph for every step size and tilt σ (a recompilation per value would cost each training iteration
seconds to tens of seconds).

Each test compiles small graphs (a few seconds each with inductor's on-disk cache, tens without).
"""

import torch
from tolerance import float32_tolerance, mlp_operations
from torch._dynamo.utils import counters

from benchmark.models.energy import MLPEnergy, TiltedEBM
from benchmark.models.flows import Flow, maximum_likelihood_step
from benchmark.samplers import ISIR, MALA, ULA, FlowMC, Potential
from benchmark.training.parts import ULA_BLOCK, run_ula

DIM, CHAINS = 2, 16
#: One potential and gradient evaluation: the energy MLP (2 → 8 → 8 → 1) and the tilt.
POTENTIAL_OPERATIONS = mlp_operations([DIM, 8, 8, 1]) + 4 * DIM
#: One flow pass: two couplings, each an MLP (1 → 8 → 2) and an affine map.
FLOW_OPERATIONS = 2 * (mlp_operations([1, 8, 2]) + 4)
#: Positions are of magnitude up to ~8 (2 · N(0, 1) starts under a tilt of σ ≤ 2.5).
POSITION_SCALE = 8.0


def _tilted_ebm(base_std: float, seed: int) -> TiltedEBM:
    """A tilted MLP EBM with random (non-trivial) weights."""
    torch.manual_seed(seed)
    energy = MLPEnergy(DIM, hidden=8, depth=2)
    with torch.no_grad():
        for p in energy.parameters():
            p.normal_(0, 0.5)
    return TiltedEBM(energy, DIM, base_std)


def _flowmc(ebm: TiltedEBM, compiled: bool) -> FlowMC:
    torch.manual_seed(1)
    flow = Flow(DIM, float(ebm.base_std), couplings=2, hidden=(8,))
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    potential = Potential(ebm.potential, value_and_grad=ebm.potential_and_grad)
    return FlowMC(
        MALA(potential, 0.05, target_accept=0.6),
        ISIR(potential, flow, pool_size=4),
        [("global", 1), ("local", 2)],
        compiled=compiled,
    )


def _sweeps(sampler: FlowMC, sweeps: int) -> tuple[list[torch.Tensor], list[dict]]:
    """Positions and acceptances of `sweeps` adapted sweeps from fixed starting points."""
    generator = torch.Generator().manual_seed(0)
    state = sampler.init(2 * torch.randn(CHAINS, DIM, generator=generator))
    positions, acceptances = [], []
    for _ in range(sweeps):
        state, info = sampler.step(state, generator)
        sampler.adapt(info)
        positions.append(state.x)
        acceptances.append(info.acceptance)
    return positions, acceptances


def test_a_compiled_flowmc_sweep_moves_the_chains_as_the_eager_one():
    ebm = _tilted_ebm(1.5, seed=0)
    eager, compiled = _flowmc(ebm, compiled=False), _flowmc(ebm, compiled=True)
    x_eager, acc_eager = _sweeps(eager, 4)
    x_compiled, acc_compiled = _sweeps(compiled, 4)
    # a sweep: the pool's flow pass and potential, then 2 MALA steps; after k sweeps, k of them
    sweep = FLOW_OPERATIONS + 3 * POTENTIAL_OPERATIONS
    for k, (a, b) in enumerate(zip(x_eager, x_compiled, strict=True), start=1):
        torch.testing.assert_close(b, a, **float32_tolerance(k * sweep, POSITION_SCALE))
    for a, b in zip(acc_eager, acc_compiled, strict=True):
        assert a.keys() == b.keys() == {"global", "local"}
        for kind in a:
            torch.testing.assert_close(b[kind], a[kind])
    assert compiled.local.step_size == eager.local.step_size  # adapted alike
    counts = [vars(s.local.potential.counter) for s in (eager, compiled)]
    # init: CHAINS of each; a sweep: the pool's 4 energies and a gradient per chain, then 2 MALA;
    # flow passes, counted outside the graph: the pool's 3 draws and the current state's density
    expected = {"energy": CHAINS + 4 * CHAINS * (4 + 2), "grad": CHAINS + 4 * CHAINS * 3}
    assert counts[0] == counts[1] == expected | {"flow": 4 * CHAINS * 4}


def test_a_new_step_size_or_tilt_does_not_compile_again():
    _sweeps(_flowmc(_tilted_ebm(1.5, seed=0), compiled=True), 1)  # compiled (or cached) here
    graphs = counters["stats"]["unique_graphs"]
    sampler = _flowmc(_tilted_ebm(2.5, seed=1), compiled=True)  # another σ, other weights
    _sweeps(sampler, 3)  # and the step size adapted after each sweep
    assert counters["stats"]["unique_graphs"] == graphs


def test_compiled_ula_blocks_move_the_chains_as_eager_steps():
    ebm = _tilted_ebm(1.5, seed=2)
    steps = 2 * ULA_BLOCK + 3  # two compiled blocks, then three eager steps
    start = 2 * torch.randn(CHAINS, DIM, generator=torch.Generator().manual_seed(0))
    finals, counts = [], []
    for compiled in (False, True):
        potential = Potential(ebm.potential, value_and_grad=ebm.potential_and_grad)
        sampler = ULA(potential, 0.01)
        generator = torch.Generator().manual_seed(1)
        finals.append(run_ula(sampler, start, steps, generator, compiled))
        counts.append((potential.counter.energy, potential.counter.grad))
    tolerance = float32_tolerance(steps * POTENTIAL_OPERATIONS, POSITION_SCALE)
    torch.testing.assert_close(finals[1], finals[0], **tolerance)
    assert counts[0] == counts[1] == (CHAINS * (steps + 1),) * 2


def test_a_compiled_flow_loss_takes_the_eager_step():
    x = 2 * torch.randn(CHAINS, DIM, generator=torch.Generator().manual_seed(0))
    stepped = []
    for compiled in (False, True):
        torch.manual_seed(3)
        flow = Flow(DIM, 1.5, couplings=2, hidden=(8,))
        with torch.no_grad():
            for p in flow.parameters():
                p.add_(0.1 * torch.randn(p.shape))
        optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
        for _ in range(3):
            maximum_likelihood_step(flow, optimizer, x, compiled)
        stepped.append([p.detach().clone() for p in flow.parameters()])
    # a step: the flow's pass over the batch, its sum over CHAINS rows, Adam's update (≈ 10
    # operations); parameters of magnitude ≲ 1
    step = FLOW_OPERATIONS + CHAINS + 10
    for a, b in zip(*stepped, strict=True):
        torch.testing.assert_close(b, a, **float32_tolerance(3 * step))
