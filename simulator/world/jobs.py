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
    gpu_milli: np.ndarray | None = None  # int64, thousandths of a device (< 1000: a share)
    chips: np.ndarray | None = None  # object: catalog chips a job may use, "a|b" ("": any)

    def __post_init__(self) -> None:
        if not self.stream_tenants:
            object.__setattr__(self, "stream_tenants", self.stream_names)
        n = len(self.submit_s)
        if self.trace_wait_s is None:
            object.__setattr__(self, "trace_wait_s", np.full(n, np.nan))
        if self.gpu_milli is None:
            object.__setattr__(self, "gpu_milli", np.full(n, 1000, dtype=np.int64))
        if self.chips is None:
            object.__setattr__(self, "chips", np.full(n, "", dtype=object))
        if np.any((self.gpu_milli < 1000) & (self.gpus != 1)):
            raise ValueError("only 1-GPU jobs may ask for a share of a device (gpu_milli < 1000)")
        columns = ("submit_s", "duration_s", "gpus", "kind", "stream", "seq", "trace_wait_s")
        for name in (*columns, "gpu_milli", "chips"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"JobTable.{name} has shape {arr.shape}, expected ({n},)")
            arr.setflags(write=False)
        if n and np.any(np.diff(self.submit_s) < 0):
            raise ValueError("JobTable rows must be sorted by submit_s")

    def __len__(self) -> int:
        return len(self.submit_s)

    @property
    def gpu_amount(self) -> np.ndarray:
        """Devices each job occupies when running: GPUs, or the share of one device."""
        return self.gpus * (self.gpu_milli / 1000.0)

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
            p.setdefault("gpu_milli", np.full(len(p["submit_s"]), 1000, dtype=np.int64))
            p.setdefault("chips", np.full(len(p["submit_s"]), "", dtype=object))
        names = ("submit_s", "duration_s", "gpus", "kind", "stream", "seq")
        cols = {
            k: np.concatenate([p[k] for p in parts]) if parts else np.empty(0)
            for k in (*names, "trace_wait_s", "gpu_milli", "chips")
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
            gpu_milli=cols["gpu_milli"].astype(np.int64)[order],
            chips=cols["chips"].astype(object)[order],
            skipped_rows=skipped_rows,
        )
