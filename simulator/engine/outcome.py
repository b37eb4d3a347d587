"""The raw result of one engine run.

Must not import: numba.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
