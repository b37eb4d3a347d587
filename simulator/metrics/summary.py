"""Turn an engine outcome into the output tables and the summary (see :mod:`.schema`).

Must not import: simpy, numba, anything from ``engine`` at import time (works on plain arrays).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..world.jobs import KIND_NAMES, STATE_NAMES, JobState, JobTable
from .cost import billed_gpu_s, cost_summary
from .energy import energy_summary
from .failures import failures_summary
from .levels import time_weighted_mean, used_gpu_seconds
from .schema import JOB_COLUMNS, SERIES_COLUMNS, arrow_schema
from .services import service_summary

if TYPE_CHECKING:
    from ..engine.outcome import Outcome


def jobs_table(
    jobs: JobTable,
    start_s: np.ndarray,
    end_s: np.ndarray,
    state: np.ndarray,
    stream_models: list | None = None,
    usage: Mapping | None = None,
) -> pa.Table:
    """One row per job with the columns of :data:`JOB_COLUMNS` (nulls for undefined times).

    ``usage`` holds the per-job ``preemptions``, ``restarts``, ``migrations``, ``resizes``,
    ``lost_work_s``, ``interruptions``, ``checkpoint_s`` and ``gpu_service_s`` arrays (zeros
    if absent) and ``failure_reason`` (job id -> reason of the failed jobs)."""
    n = len(jobs)
    streams = pa.array(
        np.asarray(jobs.stream_names, dtype=object)[jobs.stream] if n else [], type=pa.string()
    )
    names = pc.binary_join_element_wise(streams, pc.cast(pa.array(jobs.seq), pa.string()), "-")

    models = stream_models or [None] * len(jobs.stream_names)
    model_names = [m.name if m is not None else None for m in models]
    model_steps = [m.steps if m is not None else np.nan for m in models]

    def used(name: str) -> np.ndarray:
        return np.zeros(n) if usage is None or name not in usage else usage[name]

    def floats(x: np.ndarray) -> pa.Array:
        return pa.array(x, type=pa.float64(), from_pandas=True)  # NaN -> null

    columns = {
        "job_id": pa.array(np.arange(n, dtype=np.int64)),
        "name": names,
        "kind": pa.array(np.asarray(KIND_NAMES, dtype=object)[jobs.kind], type=pa.string()),
        "stream": streams,
        "submit_s": floats(jobs.submit_s),
        "start_s": floats(start_s),
        "end_s": floats(end_s),
        "wait_s": floats(start_s - jobs.submit_s),
        "jct_s": floats(end_s - jobs.submit_s),
        "gpus": pa.array(jobs.gpus),
        "duration_s": floats(jobs.duration_s),
        "model": pa.array(
            np.asarray(model_names, dtype=object)[jobs.stream] if n else [], type=pa.string()
        ),
        "steps": floats(
            np.asarray(model_steps, dtype=np.float64)[jobs.stream] if n else np.empty(0)
        ),
        "state": pa.array(np.asarray(STATE_NAMES, dtype=object)[state], type=pa.string()),
        "preemptions": pa.array(used("preemptions"), pa.int64()),
        "restarts": pa.array(used("restarts"), pa.int64()),
        "migrations": pa.array(used("migrations"), pa.int64()),
        "resizes": pa.array(used("resizes"), pa.int64()),
        "lost_work_s": floats(used("lost_work_s")),
        "interruptions": pa.array(used("interruptions"), pa.int64()),
        "checkpoint_s": floats(used("checkpoint_s")),
        "failure_reason": _reasons(usage.get("failure_reason") if usage else None, n),
        "gpu_milli": pa.array(jobs.gpu_milli, pa.int64()),
        "chips": pa.array(jobs.chips, pa.string()),
        "gpu_service_s": floats(used("gpu_service_s")),
        "trace_wait_s": floats(jobs.trace_wait_s),
    }
    return pa.Table.from_pydict(columns, schema=arrow_schema(JOB_COLUMNS))


def _kept(v: np.ndarray) -> np.ndarray:
    """Mask of the samples that change the level (the first always does)."""
    keep = np.empty(len(v), dtype=bool)
    keep[:1] = True
    np.not_equal(v[1:], v[:-1], out=keep[1:])
    return keep


def series_table(t: np.ndarray, series: dict[str, np.ndarray], entity: str = "cluster") -> pa.Table:
    """Long-format level series (``t_s, entity, metric, value``), compressed per metric: one
    sample per instant (the last) and none that repeats the level.

    ``entity`` and ``metric`` are dictionary-encoded (categoricals in pandas). Built into
    preallocated columns, one metric at a time, so the peak memory is the table plus one
    metric's masks rather than two copies of every metric."""
    last = _kept(t[::-1])[::-1]  # the last sample of each instant
    t = t[last]
    masks = [_kept(v[last]) for v in series.values()]
    lengths = [int(m.sum()) for m in masks]
    n = sum(lengths)
    t_out, v_out, at = np.empty(n), np.empty(n), 0
    for v, keep, k in zip(series.values(), masks, lengths, strict=True):
        t_out[at : at + k] = t[keep]
        v_out[at : at + k] = v[last][keep]
        at += k
    metric_codes = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    columns = {
        "t_s": pa.array(t_out, type=pa.float64()),
        "entity": pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int32), [entity]),
        "metric": pa.DictionaryArray.from_arrays(metric_codes, list(series)),
        "value": pa.array(v_out, type=pa.float64()),
    }
    return pa.Table.from_pydict(columns, schema=arrow_schema(SERIES_COLUMNS))


def _stat(x: np.ndarray, fn) -> float | None:
    return float(fn(x)) if len(x) else None


def _reasons(reasons: Mapping[int, str] | None, n: int) -> pa.Array:
    """The failure_reason column: null but for the failed jobs."""
    if not reasons:
        return pa.nulls(n, pa.string())
    out = np.full(n, None, dtype=object)
    out[list(reasons)] = list(reasons.values())
    return pa.array(out, pa.string())


def summarize(jobs: JobTable, out: Outcome, *, installed_gpus: int, wall_s: float) -> dict:
    """The run summary: every key of :data:`SUMMARY_KEYS`, in that order, from the engine's
    outcome and its parts' raw reports (the bill, energy, services)."""
    start_s, end_s, state = out.start_s, out.end_s, out.state
    t, series, end_time_s = out.series_t, out.series, out.end_time_s
    reports = out.reports
    used_s = used_gpu_seconds(t, series["busy_gpus"], end_time_s)
    bill = reports["nodes"]
    services = reports.get("services") or []
    finished = state == JobState.FINISHED
    started = ~np.isnan(start_s)
    jct = (end_s - jobs.submit_s)[finished]
    wait = (start_s - jobs.submit_s)[started]
    n = len(jobs)
    all_done = n > 0 and bool(finished.all())
    first = float(jobs.submit_s[0]) if n else 0.0
    last_end = float(np.max(end_s[finished])) if finished.any() else None
    window_end = last_end if all_done else end_time_s
    util = time_weighted_mean(t, series["busy_gpus"], first, window_end) / installed_gpus
    mean_q = time_weighted_mean(t, series["queue_length"], first, window_end)
    mean_frag = time_weighted_mean(t, series["fragmented_gpus"], first, window_end)
    out = {
        "jobs_submitted": n,
        "jobs_started": int(started.sum()),
        "jobs_finished": int(finished.sum()),
        "jobs_running": int(np.sum(state == JobState.RUNNING)),
        "jobs_queued": int(np.sum(state == JobState.QUEUED)),
        "mean_jct_s": _stat(jct, np.mean),
        "p50_jct_s": _stat(jct, lambda x: np.percentile(x, 50)),
        "p99_jct_s": _stat(jct, lambda x: np.percentile(x, 99)),
        "mean_wait_s": _stat(wait, np.mean),
        "p99_wait_s": _stat(wait, lambda x: np.percentile(x, 99)),
        "makespan_s": last_end - first if all_done else None,
        "gpu_utilization": 0.0 if math.isnan(util) else util,
        "mean_queue_length": None if math.isnan(mean_q) else mean_q,
        "mean_fragmented_gpus": None if math.isnan(mean_frag) else mean_frag,
        "window_start_s": first,
        "window_end_s": window_end,
        "installed_gpus": installed_gpus,
        "trace_rows_skipped": jobs.skipped_rows,
        "cost": _cost(cost_summary(bill), billed_gpu_s(bill), used_s),
        "energy": energy_summary(reports.get("energy"), used_s),
        "failures": failures_summary(reports.get("failures"), out, jobs.gpu_amount),
        "services": {svc.spec.name: service_summary(svc, 0.0, end_time_s) for svc in services},
        "events": out.events,
        "wall_s": wall_s,
    }
    return out


def _cost(by_class: dict | None, billed_gpu_s: float, used_s: float) -> dict | None:
    """The ``cost`` block: the bill, per GPU-hour used, the share paying for unused GPU-hours,
    and the bill per pricing class."""
    if by_class is None:
        return None
    total = sum(v for v in by_class.values() if v is not None)
    return {
        "total": total,
        "per_used_gpu_hour": total / (used_s / 3600) if used_s > 0 else None,
        "idle": total * (1 - used_s / billed_gpu_s) if billed_gpu_s > 0 else 0.0,
        **by_class,
    }
