"""The raw result of one engine run, and the error of a run stopped at its event limit.

Must not import: numba.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenario.problems import Problem, ScenarioError


@dataclass(frozen=True)
class Outcome:
    """Raw result of one run (arrays indexed by job id; series sampled after every pass)."""

    start_s: np.ndarray
    end_s: np.ndarray
    state: np.ndarray
    series_t: np.ndarray
    series: dict[str, np.ndarray]
    end_time_s: float
    events: int
    event_log: list[tuple[float, str, int, str]] | None
    preemptions: np.ndarray
    gpu_service_s: np.ndarray
    restarts: np.ndarray
    lost_s: np.ndarray
    migrations: np.ndarray
    resizes: np.ndarray
    reports: dict[str, Any]  # each part's raw report by its name; "nodes": the bill
    interruptions: np.ndarray  # stops without a checkpoint (failures, reclaims without notice)
    checkpoint_s: np.ndarray  # seconds spent writing periodic checkpoints
    redo_s: np.ndarray  # seconds of progress lost to interruptions (part of ``lost_s``)
    failure_reason: dict[int, str]  # why each failed job gave up


class EventLimitError(ScenarioError):
    """The run went past the scenario's ``limits.max_events`` (the estimate checked up front
    can fall short, e.g. for model jobs' run times under a time-slicing policy)."""

    def __init__(self, limit: float, now: float):
        message = (
            f"the run passed limits.max_events = {limit:,.0f} simulation events at simulated "
            f"time {now:,.0f} s and was stopped; shorten it (horizon, counts, quanta) or raise "
            "limits.max_events"
        )
        super().__init__([Problem("<run>", "limits.max_events", message)])

    def __reduce__(self):
        return (ScenarioError, (self.problems,))
