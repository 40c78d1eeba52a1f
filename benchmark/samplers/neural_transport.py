"""Neural-transport MALA (Hoffman et al. 2019; Nijkamp et al. 2022): MALA on the latent potential
U_z(z) = U(T(z)) − log|det ∂T/∂z| of a flow T."""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.flows import Flow
from .base import Info, Potential, State
from .langevin import MALA

__all__ = ["NeuralTransportMALA"]


class NeuralTransportMALA:
    """Chains live in the flow's latent space: `state.x` holds z; `position(state)` gives T(z).

    Energy and gradient evaluations are counted on `potential.counter`, and the flow passes with
    them: every evaluation of U_z is one pass T(z), `init` adds T⁻¹(x), `position` T(z).
    """

    def __init__(
        self,
        potential: Potential,
        flow: Flow,
        step_size: float,
        target_accept: float | None = None,
    ) -> None:
        self.potential = potential
        self.flow = flow
        latent = Potential(self._latent_potential, potential.counter)
        self.mala = MALA(latent, step_size, target_accept)

    def _latent_potential(self, z: Tensor) -> Tensor:
        x, log_det = self.flow.from_latent(z)
        return self.potential.fn(x) - log_det

    def init(self, x: Tensor) -> State:
        self.potential.count(flow=2 * x.shape[0])  # T⁻¹(x), then U_z at z
        with torch.no_grad():
            z = self.flow.to_latent(x)
        return self.mala.init(z)

    def step(self, state: State, generator: torch.Generator) -> tuple[State, Info]:
        self.potential.count(flow=state.x.shape[0])  # U_z at each proposal
        return self.mala.step(state, generator)

    def adapt(self, info: Info) -> None:
        """Warm-up only: tune the latent step size toward the target acceptance."""
        self.mala.adapt(info)

    @torch.no_grad()
    def position(self, state: State) -> Tensor:
        self.potential.count(flow=state.x.shape[0])
        return self.flow.from_latent(state.x)[0]
