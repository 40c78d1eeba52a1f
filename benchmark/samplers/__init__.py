"""Samplers over a batch of chains: `init(x) -> State`, `step(state, generator) -> (State, Info)`.

Every sampler targets a `Potential` U = −log π (up to a constant) and counts its energy and
gradient evaluations; the randomness comes only from the `torch.Generator` passed to `step`.
"""

from .base import EvalCounter, Info, Potential, Sampler, State, sample_chains, select
from .flowmc import FlowMC, Phase, fit_flow_to_chains
from .independent import IMH, ISIR, Proposal
from .langevin import MALA, ULA
from .neural_transport import NeuralTransportMALA

__all__ = [
    "EvalCounter",
    "FlowMC",
    "IMH",
    "ISIR",
    "Info",
    "MALA",
    "NeuralTransportMALA",
    "Phase",
    "Potential",
    "Proposal",
    "Sampler",
    "State",
    "ULA",
    "fit_flow_to_chains",
    "sample_chains",
    "select",
]
