"""`make bench-compare`: one flowMC-EBM training iteration here against the same iteration written
in JAX under one `jax.jit`, on one CPU core, in 2-D (`four_modes`) and 16-D (`hd16`).

The iteration (the method's defaults): refresh U and ∇U at 256 persistent chains, 2 sweeps of one
i-SIR move (pool 64: 256 × 63 flow draws) and 8 MALA steps (with the step size adapted after each
sweep), one Adam step on the EBM (cosine learning rate) on a batch of 256 data points and the
chains, one Adam step of maximum likelihood of the flow on the chains. The energy is the MLP of
the runner (3×64 SiLU in 2-D, 3×128 in 16-D), the flow the RealNVP of `benchmark.models.flows` (4
couplings, ReLU hyper-networks), both starting from the project's initial parameters. The JAX
version is written as one would write it for speed: one compiled function per iteration, the MALA
steps in a `lax.scan`, optax Adam; the couplings slice the even and odd features statically.

Both run in this process, pinned to one core, one thread each (XLA's Eigen pool off), in
alternating blocks of 10 iterations: the project's `fit` runs and, from its progress call after
every tenth iteration, ten JAX iterations run, timed apart and taken out of the project's time.
Blocks keep both under the same load on a shared machine (its speed drifts over seconds) while
each iteration finds its own data in the caches: alternating single iterations made every
iteration start after the other framework's and slowed both (the project's 2-D iteration from
about 20 to 26 ms, JAX's from 23 to 26 ms). The project runs as the shipped profiles run it
(`compile = true`: its flowMC sweeps and the flow's loss compiled by `torch.compile`, the
compilation in its first iteration). Printed, leaving out the first block: the median seconds per
iteration of each, and project/JAX as the median over blocks of the ratio of their medians (each
project block over the JAX block run right after it), with its quartiles; then the project's
first iteration and JAX's compile time. Needs the optional extra: `pip install -e ".[compare]"`.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

__all__ = ["main"]

_TARGETS = ("four_modes", "hd16")
_BLOCK = 10  # iterations of one, then of the other


def _pin_to_one_core() -> None:
    """One core for this process (both frameworks), one thread for torch and XLA."""
    if hasattr(os, "sched_getaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()


def _jax_iteration(
    dim: int, sigma: float, params: Any, iterations: int
) -> tuple[Callable, Callable, Callable]:
    """The flowMC-EBM iteration in JAX: `init(energy_layers, flow_layers, chains) -> carry`, the
    jitted `step(carry, data, key) -> (carry, finite)`, and `models(energy_layers, flow_layers,
    x, z) -> (U(x), ∇U(x), log λ(x), T(z), log|det ∂T/∂z|)` to check them against the project."""
    import jax
    import jax.numpy as jnp
    import optax

    n, pool, local_steps = params.batch_size, params.pool_size, params.local_steps
    var = sigma**2
    log_slope = math.log(1e-3)
    ebm_optimizer = optax.adam(optax.cosine_decay_schedule(params.lr, iterations))
    flow_optimizer = optax.adam(params.flow_lr)

    def mlp(layers: Any, x: Any, activation: Callable) -> Any:
        for w, b in layers[:-1]:
            x = activation(x @ w + b)
        w, b = layers[-1]
        return x @ w + b

    def energy(p: Any, x: Any) -> Any:
        return mlp(p, x, jax.nn.silu)[:, 0]

    def potential(p: Any, x: Any) -> Any:
        log_rho = -0.5 * (x**2).sum(-1) / var - 0.5 * dim * jnp.log(2 * jnp.pi * var)
        return energy(p, x) - log_rho

    def value_and_grad(p: Any, x: Any) -> tuple[Any, Any]:
        u, pullback = jax.vjp(partial(potential, p), x)
        return u, pullback(jnp.ones_like(u))[0]

    def shift_and_log_scale(layers: Any, fixed: Any) -> tuple[Any, Any]:
        phi = mlp(layers, fixed, jax.nn.relu)
        raw = phi[:, 1::2]
        return phi[:, 0::2], raw / (1 + jnp.abs(raw / log_slope))

    def merge(even: Any, odd: Any) -> Any:
        x = jnp.zeros((even.shape[0], dim), even.dtype)
        return x.at[:, 0::2].set(even).at[:, 1::2].set(odd)

    def flow_to_latent(fp: Any, x: Any) -> tuple[Any, Any]:
        halves, ladj = [x[:, 0::2], x[:, 1::2]], 0.0
        for i, layers in enumerate(fp):
            fixed, moved = halves[i % 2], halves[1 - i % 2]
            shift, log_scale = shift_and_log_scale(layers, fixed)
            halves[1 - i % 2] = moved * jnp.exp(log_scale) + shift
            ladj = ladj + log_scale.sum(-1)
        return merge(*halves), ladj

    def flow_from_latent(fp: Any, z: Any) -> tuple[Any, Any]:
        halves, ladj = [z[:, 0::2], z[:, 1::2]], 0.0
        for i in reversed(range(len(fp))):
            fixed, moved = halves[i % 2], halves[1 - i % 2]
            shift, log_scale = shift_and_log_scale(fp[i], fixed)
            halves[1 - i % 2] = (moved - shift) / jnp.exp(log_scale)
            ladj = ladj - log_scale.sum(-1)
        return merge(*halves), ladj

    def base_log_prob(z: Any) -> Any:
        return (-0.5 * (z / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(-1)

    def flow_log_prob(fp: Any, x: Any) -> Any:
        z, ladj = flow_to_latent(fp, x)
        return base_log_prob(z) + ladj

    def mala_step(p: Any, carry: Any, key: Any) -> tuple[Any, Any]:
        x, u, g, h = carry
        k_noise, k_accept = jax.random.split(key)
        y = x - h * g + jnp.sqrt(2 * h) * jax.random.normal(k_noise, x.shape)
        u_y, g_y = value_and_grad(p, y)

        def log_q(to: Any, start: Any, grad: Any) -> Any:
            return -((to - start + h * grad) ** 2).sum(-1) / (4 * h)

        log_ratio = u - u_y + log_q(x, y, g_y) - log_q(y, x, g)
        accept = jnp.log(jax.random.uniform(k_accept, u.shape)) < log_ratio
        keep = accept[:, None]
        new = (jnp.where(keep, y, x), jnp.where(accept, u_y, u), jnp.where(keep, g_y, g), h)
        return new, accept.mean()

    def isir(p: Any, fp: Any, x: Any, u: Any, g: Any, key: Any) -> tuple[Any, Any, Any]:
        k_draw, k_pick = jax.random.split(key)
        m = pool - 1
        z = sigma * jax.random.normal(k_draw, (n * m, dim))
        fresh, ladj = flow_from_latent(fp, z)
        log_w_fresh = -potential(p, fresh) - (base_log_prob(z) - ladj)
        log_w_old = -u - flow_log_prob(fp, x)
        log_w = jnp.concatenate([log_w_old[:, None], log_w_fresh.reshape(n, m)], axis=1)
        pick = jax.random.categorical(k_pick, log_w, axis=1)
        candidates = jnp.concatenate([x[:, None], fresh.reshape(n, m, dim)], axis=1)
        new = candidates[jnp.arange(n), pick]
        u_new, g_new = value_and_grad(p, new)
        moved = pick != 0
        return (
            jnp.where(moved[:, None], new, x),
            jnp.where(moved, u_new, u),
            jnp.where(moved[:, None], g_new, g),
        )

    def ebm_loss(p: Any, positives: Any, negatives: Any) -> tuple[Any, Any]:
        e_pos, e_neg = energy(p, positives), energy(p, negatives)
        loss = e_pos.mean() - e_neg.mean()
        if params.energy_l2:
            loss = loss + params.energy_l2 * (e_pos**2 + e_neg**2).mean()
        return loss, jnp.isfinite(e_pos).all() & jnp.isfinite(e_neg).all()

    @jax.jit
    def step(carry: Any, data: Any, key: Any) -> tuple[Any, Any]:
        p, fp, ebm_state, flow_state, x, h = carry
        k_data, k_sweeps = jax.random.split(key)
        u, g = value_and_grad(p, x)
        for _ in range(params.sweeps):
            k_sweeps, k_global, k_local = jax.random.split(k_sweeps, 3)
            x, u, g = isir(p, fp, x, u, g, k_global)
            keys = jax.random.split(k_local, local_steps)
            (x, u, g, _), accepted = jax.lax.scan(partial(mala_step, p), (x, u, g, h), keys)
            h = h * jnp.exp(0.05 * (accepted.mean() - params.target_accept))
        positives = data[jax.random.randint(k_data, (n,), 0, data.shape[0])]
        (_, finite), grads = jax.value_and_grad(ebm_loss, has_aux=True)(p, positives, x)
        updates, ebm_state = ebm_optimizer.update(grads, ebm_state, p)
        p = optax.apply_updates(p, updates)
        flow_grads = jax.grad(lambda fp: -flow_log_prob(fp, x).mean())(fp)
        updates, flow_state = flow_optimizer.update(flow_grads, flow_state, fp)
        fp = optax.apply_updates(fp, updates)
        return (p, fp, ebm_state, flow_state, x, h), finite & jnp.isfinite(x).all()

    def init(energy_layers: Any, flow_layers: Any, chains: Any) -> Any:
        return (
            energy_layers,
            flow_layers,
            ebm_optimizer.init(energy_layers),
            flow_optimizer.init(flow_layers),
            chains,
            jnp.float32(params.step_size),
        )

    def models(p: Any, fp: Any, x: Any, z: Any) -> tuple[Any, ...]:
        return (*value_and_grad(p, x), flow_log_prob(fp, x), *flow_from_latent(fp, z))

    return init, step, models


def _layers(linears: list[Any]) -> list[tuple[Any, Any]]:
    """torch Linear layers -> [(W (in, out), b (out,))] as JAX arrays."""
    import jax.numpy as jnp

    return [
        (jnp.asarray(layer.weight.detach().numpy().T), jnp.asarray(layer.bias.detach().numpy()))
        for layer in linears
    ]


def _setup(target_name: str, iterations: int, seed: int) -> tuple[Any, Any, Any, Any]:
    """The runner's problem for (target, seed), the method's default parameters, and the flow and
    chains `fit` will start from: (problem, params, flow, chains)."""
    import torch

    from baselines.flowmc_ebm import FlowMCEBMParams
    from benchmark.models.energy import MLPEnergy, TiltedEBM, base_std_from_data
    from benchmark.suite.settings import SuiteSettings
    from benchmark.targets import make_target
    from benchmark.training.method import Problem
    from benchmark.training.parts import make_flow

    target = make_target(target_name)
    data = target.sample(10_000, torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    energy = MLPEnergy(target.dim, SuiteSettings().energy_width(target.dim))
    ebm = TiltedEBM(energy, target.dim, base_std_from_data(data))
    params = FlowMCEBMParams()
    problem = Problem(data, ebm, iterations, target, compile=True)
    with torch.random.fork_rng():  # leave the global RNG to `fit`, which makes the same flow
        flow = make_flow(problem, params)
    chains = flow.sample(params.batch_size, torch.Generator().manual_seed(seed))
    return problem, params, flow, chains


def _check_models(
    models: Callable, energy_layers: Any, flow_layers: Any, ebm: Any, flow: Any, seed: int
) -> None:
    """The JAX potential, gradient and flow must be the project's, up to float32 rounding: on
    random parameters (the initial ones are trivial: E ≡ 0, T = identity)."""
    import jax
    import jax.numpy as jnp
    import torch

    generator = torch.Generator().manual_seed(seed)
    ebm, flow = copy.deepcopy(ebm), copy.deepcopy(flow)
    with torch.no_grad():
        for p in [*ebm.parameters(), *flow.parameters()]:
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    x = 2 * torch.randn(64, ebm.dim, generator=generator)
    z = 2 * torch.randn(64, ebm.dim, generator=generator)
    with torch.no_grad():
        expected = (*ebm.potential_and_grad(x), flow.log_prob(x), *flow.from_latent(z))
    found = models(
        _layers(ebm.energy._linears),
        [_layers(coupling._linears) for coupling in flow.couplings],
        jnp.asarray(x.numpy()),
        jnp.asarray(z.numpy()),
    )
    names = ["U", "grad U", "log λ", "T(z)", "log det"]
    for name, a, b in zip(names, expected, found, strict=True):
        b = torch.from_numpy(np.array(jax.device_get(b)))
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4, msg=f"JAX reference: {name} differs")


def compare(
    target_name: str, iterations: int, seed: int = 0, block: int = _BLOCK
) -> dict[str, float]:
    """Seconds per iteration of the project and of JAX, interleaved in blocks: the project's
    `fit` runs `iterations` iterations and, from its progress call after every `block`-th,
    `block` JAX iterations run (timed apart, their time taken out of the project's)."""
    import jax
    import jax.numpy as jnp
    import torch

    from baselines.flowmc_ebm import fit

    problem, params, flow, chains = _setup(target_name, iterations, seed)
    ebm = problem.ebm
    init, step, models = _jax_iteration(ebm.dim, float(ebm.base_std), params, iterations)
    energy_layers = _layers(ebm.energy._linears)
    flow_layers = [_layers(coupling._linears) for coupling in flow.couplings]
    _check_models(models, energy_layers, flow_layers, ebm, flow, seed)
    carry = init(energy_layers, flow_layers, jnp.asarray(chains.numpy()))
    data, key = jnp.asarray(problem.data.numpy()), jax.random.PRNGKey(seed)
    start = time.perf_counter()
    jax.block_until_ready(step(carry, data, key))
    compile_seconds = time.perf_counter() - start
    project: list[float] = []
    reference: list[float] = []
    state = {"carry": carry, "key": key, "clock": time.perf_counter()}

    def progress(iteration: int) -> None:
        project.append(time.perf_counter() - state["clock"])
        if iteration % block == 0:  # as many JAX iterations as the project has just run
            for _ in range(block):
                state["key"], subkey = jax.random.split(state["key"])
                start = time.perf_counter()
                state["carry"], finite = step(state["carry"], data, subkey)
                if not bool(finite):  # blocks until done; the project checks every iteration
                    raise RuntimeError("the JAX iteration diverged")
                reference.append(time.perf_counter() - start)
        state["clock"] = time.perf_counter()

    state["clock"] = time.perf_counter()
    fit(problem, params, torch.Generator().manual_seed(seed), progress)
    # block by block (the first one, with the compilation, left out): the ratio of the medians
    blocks = range(block, len(reference), block)
    ratios = [
        statistics.median(project[i : i + block]) / statistics.median(reference[i : i + block])
        for i in blocks
    ]
    quartiles = statistics.quantiles(ratios, n=4)
    return {
        "dim": problem.ebm.dim,
        "project": statistics.median(project[block:]),
        "jax": statistics.median(reference[block:]),
        "ratio": statistics.median(ratios),
        "ratio_q1": quartiles[0],
        "ratio_q3": quartiles[2],
        "project_first": project[0],
        "jax_compile": compile_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="tools/bench_compare.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--iterations", type=int, default=200, help="iterations of each")
    args = parser.parse_args(argv)
    _pin_to_one_core()
    import torch

    torch.set_num_threads(1)
    timed = args.iterations - _BLOCK
    print(
        f"flowMC-EBM iteration on one core, {timed} iterations each in alternating blocks of "
        f"{_BLOCK}: median times, and the median (quartiles) of the blocks' ratios"
    )
    for name in _TARGETS:
        r = compare(name, args.iterations)
        print(
            f"{name:<10} d={r['dim']:<3} project {1e3 * r['project']:6.1f} ms   "
            f"JAX {1e3 * r['jax']:6.1f} ms   project/JAX {r['ratio']:.2f} "
            f"({r['ratio_q1']:.2f}–{r['ratio_q3']:.2f})   (first iteration "
            f"{r['project_first']:.0f} s with compilation; JAX compile {r['jax_compile']:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
