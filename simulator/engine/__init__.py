"""The simpy engine: environment, RNG streams, mutable cluster state, the scheduling pass."""

from .rng import RngStreams
from .simulation import EngineError, InvariantError, Outcome, Simulation

__all__ = ["EngineError", "InvariantError", "Outcome", "RngStreams", "Simulation"]
