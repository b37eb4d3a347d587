"""Inference-service outputs: the requests table, the per-service summary block and series.

Works on the plain arrays a service kept (see :mod:`simulator.engine.services`).

Must not import: simpy, numba.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .levels import time_weighted_mean
from .schema import REQUEST_COLUMNS, SERVICE_KEYS, SERVICE_SERIES, arrow_schema


def _latencies(svc) -> dict[str, np.ndarray]:
    ttft = svc.first_s - svc.arrival
    e2e = svc.end_s - svc.arrival
    tpot = (svc.end_s - svc.first_s) / svc.output
    slo = svc.spec.slo
    met = ~np.isnan(svc.end_s)
    for limit, x in ((slo.ttft, ttft), (slo.tpot, tpot), (slo.e2e, e2e)):
        if limit is not None:
            met &= x <= limit + 1e-9
    return {"ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e, "slo_met": met}


def _states(svc, end_time: float) -> np.ndarray:
    state = np.full(len(svc.arrival), "queued", dtype=object)
    state[~np.isnan(svc.admit_s)] = "in_flight"
    state[~np.isnan(svc.end_s)] = "served"
    state[svc.dropped] = "dropped"
    return state[svc.arrival <= end_time]


def requests_table(services, end_time: float) -> pa.Table:
    """One row per request that arrived by ``end_time``, every service (:data:`REQUEST_COLUMNS`)."""
    parts = []
    for svc in services:
        n = int(np.searchsorted(svc.arrival, end_time, side="right"))
        lat = _latencies(svc)
        cols = {
            "service": pa.array([svc.spec.name] * n, pa.string()),
            "request_id": pa.array(np.arange(n, dtype=np.int64)),
            "arrival_s": svc.arrival[:n],
            "prompt_tokens": pa.array(svc.prompt[:n], pa.int64()),
            "output_tokens": pa.array(svc.output[:n], pa.int64()),
            "admit_s": svc.admit_s[:n],
            "first_token_s": svc.first_s[:n],
            "end_s": svc.end_s[:n],
            **{k: v[:n] for k, v in lat.items()},
            "state": pa.array(_states(svc, end_time), pa.string()),
        }
        cols = {
            k: pa.array(v, type=REQUEST_COLUMNS[k][0], from_pandas=True)
            if isinstance(v, np.ndarray)
            else v
            for k, v in cols.items()
        }
        parts.append(pa.Table.from_pydict(cols, schema=arrow_schema(REQUEST_COLUMNS)))
    if not parts:
        return arrow_schema(REQUEST_COLUMNS).empty_table()
    return pa.concat_tables(parts)


def _q(x: np.ndarray, q: float) -> float | None:
    return float(np.percentile(x, q)) if len(x) else None


def service_summary(svc, start_s: float, end_time: float) -> dict:
    """The summary block of one service: every key of :data:`SERVICE_KEYS`."""
    n = int(np.searchsorted(svc.arrival, end_time, side="right"))
    lat = {k: v[:n] for k, v in _latencies(svc).items()}
    served = ~np.isnan(svc.end_s[:n])
    dropped = svc.dropped[:n]
    ttft, tpot, e2e = (lat[k][served] for k in ("ttft_s", "tpot_s", "e2e_s"))
    met = int(lat["slo_met"].sum())
    decided = int(served.sum() + dropped.sum())
    t = np.asarray(svc.t)
    replicas = np.asarray([lv[0] for lv in svc.levels], dtype=float)
    mean_rep = time_weighted_mean(t, replicas, start_s, end_time)
    out = {
        "requests_arrived": n,
        "requests_served": int(served.sum()),
        "requests_dropped": int(dropped.sum()),
        "requests_unfinished": int(n - decided),
        "mean_ttft_s": float(ttft.mean()) if len(ttft) else None,
        "p50_ttft_s": _q(ttft, 50),
        "p90_ttft_s": _q(ttft, 90),
        "p99_ttft_s": _q(ttft, 99),
        "p50_tpot_s": _q(tpot, 50),
        "p99_tpot_s": _q(tpot, 99),
        "p50_e2e_s": _q(e2e, 50),
        "p99_e2e_s": _q(e2e, 99),
        "slo_attainment": met / decided if decided else None,
        "goodput_rps": met / (end_time - start_s) if end_time > start_s else None,
        "mean_replicas": None if np.isnan(mean_rep) else mean_rep,
        "peak_replicas": int(replicas.max()) if len(replicas) else 0,
        "replica_gpu_hours": svc.gpu_s / 3600.0,
    }
    assert list(out) == list(SERVICE_KEYS)
    return out


def service_series(svc) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The service's level series (``replicas``, ``ready_replicas``, ``service_queue``,
    ``in_flight``) sampled at its ticks and replica changes."""
    t = np.asarray(svc.t, dtype=float)
    levels = np.asarray(svc.levels, dtype=float).reshape(-1, len(SERVICE_SERIES))
    return t, {name: levels[:, k] for k, name in enumerate(SERVICE_SERIES)}
