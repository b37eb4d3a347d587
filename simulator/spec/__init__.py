"""WHAT to simulate: validated, immutable scenario data (no simpy, no numba)."""

from .load import Problem, ScenarioError, dump_scenario, load_scenario
from .model import Scenario

__all__ = ["Problem", "Scenario", "ScenarioError", "dump_scenario", "load_scenario"]
