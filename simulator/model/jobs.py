"""JobTable: the whole workload as columnar arrays, one row per job, built before the run.

Role: the immutable inputs of every job (submit time, requested GPUs, reference duration,
originating stream). Rows are sorted by submit time (ties: stream order, then sequence number)
and the row index is the job id. The engine keeps its mutable per-job outputs (start, end,
state) in its own arrays.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class JobKind(IntEnum):
    TRAINING = 0


class JobState(IntEnum):
    """State of a job; at the horizon every submitted job is in exactly one of these."""

    QUEUED = 0
    RUNNING = 1
    FINISHED = 2
    FAILED = 3


STATE_NAMES = tuple(s.name.lower() for s in JobState)
KIND_NAMES = tuple(k.name.lower() for k in JobKind)


@dataclass(frozen=True)
class JobTable:
    """Columnar job inputs. Arrays are read-only; ``len(table)`` is the number of jobs."""

    submit_s: np.ndarray  # float64
    duration_s: np.ndarray  # float64, run time with the requested GPUs on the reference chip
    gpus: np.ndarray  # int64
    kind: np.ndarray  # int8 (JobKind)
    stream: np.ndarray  # int64, index into stream_names
    seq: np.ndarray  # int64, index of the job within its stream
    stream_names: tuple[str, ...]
    stream_tenants: tuple[str, ...] = ()  # tenant of each stream (default: its name)
    trace_wait_s: np.ndarray | None = None  # float64, the wait a trace recorded (NaN: none)
    skipped_rows: int = 0  # malformed trace rows skipped while reading

    def __post_init__(self) -> None:
        if not self.stream_tenants:
            object.__setattr__(self, "stream_tenants", self.stream_names)
        n = len(self.submit_s)
        if self.trace_wait_s is None:
            object.__setattr__(self, "trace_wait_s", np.full(n, np.nan))
        for name in ("submit_s", "duration_s", "gpus", "kind", "stream", "seq", "trace_wait_s"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"JobTable.{name} has shape {arr.shape}, expected ({n},)")
            arr.setflags(write=False)
        if n and np.any(np.diff(self.submit_s) < 0):
            raise ValueError("JobTable rows must be sorted by submit_s")

    def __len__(self) -> int:
        return len(self.submit_s)

    @classmethod
    def concat(
        cls,
        parts: list[dict[str, np.ndarray]],
        stream_names: tuple[str, ...],
        stream_tenants: tuple[str, ...] = (),
        skipped_rows: int = 0,
    ) -> JobTable:
        """Merge per-stream columns and sort rows by (submit, stream, seq); a part without
        ``trace_wait_s`` has none recorded."""
        for p in parts:
            p.setdefault("trace_wait_s", np.full(len(p["submit_s"]), np.nan))
        cols = {
            k: np.concatenate([p[k] for p in parts]) if parts else np.empty(0)
            for k in ("submit_s", "duration_s", "gpus", "kind", "stream", "seq", "trace_wait_s")
        }
        order = np.lexsort((cols["seq"], cols["stream"], cols["submit_s"]))
        return cls(
            submit_s=cols["submit_s"].astype(np.float64)[order],
            duration_s=cols["duration_s"].astype(np.float64)[order],
            gpus=cols["gpus"].astype(np.int64)[order],
            kind=cols["kind"].astype(np.int8)[order],
            stream=cols["stream"].astype(np.int64)[order],
            seq=cols["seq"].astype(np.int64)[order],
            stream_names=stream_names,
            stream_tenants=stream_tenants,
            trace_wait_s=cols["trace_wait_s"].astype(np.float64)[order],
            skipped_rows=skipped_rows,
        )
