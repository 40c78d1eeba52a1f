"""Samplers over a batch of chains: `init(x) -> State`, `step(state, generator) -> (State, Info)`.

Every sampler targets a `Potential` U = −log π (up to a constant) and counts its energy and
gradient evaluations; the randomness comes only from the `torch.Generator` passed to `step`.
"""

from .base import (
    GRAD_COST,
    EvalCounter,
    Info,
    Potential,
    Sampler,
    State,
    run_for_cost,
    sample_chains,
    select,
)
from .flowmc import FlowMC, Phase, fit_flow_to_chains
from .independent import IMH, ISIR, NoiseProposal, Proposal
from .langevin import MALA, ULA
from .neural_transport import NeuralTransportMALA
from .replica_exchange import LadderState, ReplicaExchange, geometric_ladder, swap_log_acceptance

__all__ = [
    "GRAD_COST",
    "EvalCounter",
    "FlowMC",
    "IMH",
    "ISIR",
    "Info",
    "LadderState",
    "MALA",
    "NeuralTransportMALA",
    "NoiseProposal",
    "Phase",
    "Potential",
    "Proposal",
    "ReplicaExchange",
    "Sampler",
    "State",
    "ULA",
    "fit_flow_to_chains",
    "geometric_ladder",
    "run_for_cost",
    "sample_chains",
    "select",
    "swap_log_acceptance",
]
