"""Time-weighted means of level series (piecewise constant, sampled after every pass).

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import math

import numpy as np


def time_weighted_mean(t: np.ndarray, v: np.ndarray, start: float, end: float) -> float:
    """Mean over ``[start, end]`` of the step function that is ``v[i]`` from ``t[i]`` on
    (0 before ``t[0]``)."""
    if end <= start:
        return math.nan
    tt = np.clip(np.append(t, end), start, end)
    return float(np.sum(v * np.diff(tt)) / (end - start))


def used_gpu_seconds(t: np.ndarray, busy: np.ndarray, end_time_s: float) -> float:
    """Device-seconds allocated (to jobs and replicas) from t=0 to ``end_time_s``."""
    if end_time_s <= 0:
        return 0.0
    used = time_weighted_mean(t, busy, 0.0, end_time_s) * end_time_s
    return 0.0 if math.isnan(used) else used
