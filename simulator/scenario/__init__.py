"""WHAT to simulate: validated, immutable scenario data (no simpy, no numba)."""

from .load import dump_scenario, load_scenario
from .problems import Problem, ScenarioError
from .spec import Scenario

__all__ = ["Problem", "Scenario", "ScenarioError", "dump_scenario", "load_scenario"]
