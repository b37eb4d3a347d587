"""The failure trace a ``failures.trace`` names: rows of (time, component, repair time),
checked like the job traces (see :mod:`.failures`).

Must not import: numba, simpy.
"""

from __future__ import annotations

import numpy as np

from ..scenario.failures import CLASSES
from ..scenario.spec import ClusterSpec

TRACE_CLASSES = CLASSES[:4]  # the classes a trace row may name (not power domains)


def read_trace(path: str, cluster: ClusterSpec) -> list[tuple[float, str, str, int, float]]:
    """The rows of a failure trace as (time, class, group, rank, repair seconds), checked:
    every problem is one line with the file, line and column (:class:`ScenarioError`)."""
    from ..workload.traces.base import number, read_columns, text, timestamp

    def check(cols: dict[str, np.ndarray]) -> list[tuple[np.ndarray, str, str]]:
        t, parts = cols["time"], [str(c).split(":") for c in cols["component"]]
        unknown = np.array([not _component(p, cluster) for p in parts], dtype=bool)
        back = np.zeros(len(t), dtype=bool)
        back[1:] = t[1:] < np.fmax.accumulate(np.nan_to_num(t, nan=-np.inf))[:-1]
        return [
            (unknown, "component", "{value!r} names no component (gpu|node|nic|rack:group:rank)"),
            (cols["duration"] <= 0, "duration", "{value!r}: a repair takes a positive time"),
            (back, "time", "{value!r} is before an earlier row's time: rows must be in time order"),
        ]

    cols, _ = read_columns(
        path,
        {"time": timestamp(), "component": text(), "duration": number(minimum=None)},
        on_error="raise",
        check=check,
    )
    rows = []
    for t, c, d in zip(cols["time"], cols["component"], cols["duration"], strict=True):
        name, group, rank = str(c).split(":")
        rows.append((float(t), name, group, int(rank), float(d)))
    return rows


def _component(parts: list[str], cluster: ClusterSpec) -> bool:
    """``class:group:rank`` names a component of the cluster."""
    if len(parts) != 3 or parts[0] not in TRACE_CLASSES or not parts[2].isdigit():
        return False
    group = next((g for g in cluster.node_groups if g.name == parts[1]), None)
    if group is None:
        return False
    count = group.count if parts[0] != "rack" else -(-group.count // group.nodes_per_rack)
    return int(parts[2]) < count
