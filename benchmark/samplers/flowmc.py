"""flowMC (Gabrié, Rotskoff, Vanden-Eijnden 2022): global moves from a flow alternated with blocks
of local MALA moves, the schedule an ordered list of phases; and flowMC's training phase, which
fits the flow to the chains by maximum likelihood while they run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from ..models.compiled import compiled as compiled_fn
from ..models.flows import Flow, maximum_likelihood_step
from .base import Info, State
from .independent import IMH, ISIR
from .langevin import MALA

__all__ = ["Phase", "FlowMC", "fit_flow_to_chains"]

Phase = tuple[Literal["global", "local"], int]


class FlowMC:
    """One `step` is one sweep through `schedule`, e.g. `[("global", 1), ("local", 8)]`.

    Info holds each chain's mean acceptance over the sweep's global and local moves. A sweep draws
    the randomness of all its moves first, in the order the moves use it, then runs the moves:
    with `compiled`, as one graph compiled by `torch.compile` for the shapes at hand (the same
    draws, so the same chains up to floating-point rounding).
    """

    def __init__(
        self,
        local: MALA,
        global_move: ISIR | IMH,
        schedule: Sequence[Phase] = (("global", 1), ("local", 8)),
        compiled: bool = False,
    ) -> None:
        for kind, count in schedule:
            if kind not in ("global", "local") or count < 1:
                raise ValueError(
                    f"schedule: phases are ('global'|'local', count ≥ 1), got {schedule!r}"
                )
        self.local = local
        self.global_move = global_move
        self.schedule = list(schedule)
        self.compiled = compiled

    def init(self, x: Tensor) -> State:
        return self.local.init(x)

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        kernels = [
            self.global_move if kind == "global" else self.local
            for kind, count in self.schedule
            for _ in range(count)
        ]
        draws = [kernel.draw(state, generator) for kernel in kernels]
        for kernel in kernels:
            kernel.count(state.x.shape[0])
        if self.compiled:
            return compiled_fn(_sweep)(self, state, torch.tensor(self.local.step_size), draws)
        return _sweep(self, state, self.local.step_size, draws)

    def adapt(self, info: Info) -> None:
        """Warm-up only: tune the local step size (see `MALA.adapt`)."""
        if "local" in info.acceptance:
            self.local.adapt(info)

    def position(self, state: State) -> Tensor:
        return state.x


def _sweep(
    sampler: FlowMC, state: State, step_size: float | Tensor, draws: list[tuple[Tensor, ...]]
) -> tuple[State, Info]:
    """The moves of one sweep given their draws (`FlowMC.step`)."""
    accepted: dict[str, list[Tensor]] = {}
    moves = iter(draws)
    for kind, count in sampler.schedule:
        for _ in range(count):
            if kind == "global":
                state, info = sampler.global_move.move(state, *next(moves))
            else:
                state, info = sampler.local.move(state, step_size, *next(moves))
            accepted.setdefault(kind, []).append(info.acceptance[kind])
    return state, Info({kind: torch.stack(a).mean(0) for kind, a in accepted.items()})


def fit_flow_to_chains(
    sampler: FlowMC,
    flow: Flow,
    state: State,
    sweeps: int,
    generator: torch.Generator,
    lr: float = 1e-3,
    on_sweep: Callable[[int, State, Info], None] | None = None,
    compiled: bool = False,
) -> State:
    """flowMC's training phase: after each sweep, one Adam step of maximum likelihood of the flow
    on the chains' positions (and step-size adaptation), then `on_sweep(sweep, state, info)`.
    Returns the last state. `compiled`: the flow's loss as a compiled graph. The fit's flow
    passes (one per chain) are counted on the sampler's potential, as its steps are."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr, fused=True)
    for i in range(sweeps):
        state, info = sampler.step(state, generator)
        sampler.adapt(info)
        maximum_likelihood_step(flow, optimizer, state.x, compiled)
        sampler.local.potential.count(flow=state.x.shape[0])
        if on_sweep is not None:
            on_sweep(i, state, info)
    return state
