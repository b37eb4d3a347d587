"""WHAT to simulate: validated, immutable scenario data (no simpy, no numba)."""

from .load import dump_scenario, load_scenario
from .model import Scenario
from .problems import Problem, ScenarioError

__all__ = ["Problem", "Scenario", "ScenarioError", "dump_scenario", "load_scenario"]
