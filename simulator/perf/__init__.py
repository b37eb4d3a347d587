"""Throughput model: how long collectives and training steps take on given hardware.

Public entry points: :func:`allreduce` and :func:`step` (what ``clustersim perf`` prints), the
building blocks :func:`comm_path`, :func:`allreduce_s`, :func:`step_time`, and the zoo
(:mod:`simulator.scenario.zoo`). The engine uses the same functions through batch kernels.
"""

from .collectives import CommPath, allreduce_s, comm_path
from .query import allreduce, hardware, step
from .step import Parallelism, StepBreakdown, step_time

__all__ = [
    "CommPath",
    "Parallelism",
    "StepBreakdown",
    "allreduce",
    "allreduce_s",
    "comm_path",
    "hardware",
    "step",
    "step_time",
]
