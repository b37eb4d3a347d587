"""What policies may ask the engine beyond the cluster state: oracle remaining times and
attained service (the ``View`` forwards to these).

Must not import: numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .ledger import RUNNING

if TYPE_CHECKING:
    from .simulation import Simulation


def remaining_s(sim: Simulation, job: int) -> float:
    """Oracle seconds ``job`` still needs: its work left at its current speed if running (plus
    what is left of a restore), else at the speed it would get consolidated on idle nodes."""
    now, ledger = sim.env.now, sim.ledger
    running = ledger.state[job] == RUNNING
    restore = max(ledger.resume_at[job] - now, 0.0) if running else 0.0
    if job in sim.links and sim.links.speed_of(job) > 0:
        return sim.links.left_of(job, now) / sim.links.speed_of(job)
    if running and not restore and job not in sim.links:
        return ledger.left[job] / ledger.rate[job] - (now - ledger.since[job])
    return restore + float(ledger.left[job]) / oracle_rate(sim, job)


def oracle_rate(sim: Simulation, job: int) -> float:
    """Work units per second of ``job`` consolidated on idle nodes (cached)."""
    rate = sim._oracle_rate[job]
    if rate != rate:  # NaN: not estimated yet; one estimate per (stream, GPUs)
        key = (int(sim.jobs.stream[job]), sim.ledger.gpus[job])
        if key not in sim._oracle_cache:
            sim._oracle_cache[key] = sim.throughput.estimate_rate(job)
        rate = sim._oracle_rate[job] = sim._oracle_cache[key]
    return rate


def remaining_s_many(sim: Simulation, jobs: np.ndarray) -> np.ndarray:
    """:meth:`remaining_s` of many jobs at once (vectorised for the common cases)."""
    jobs, ledger = np.asarray(jobs, dtype=np.int64), sim.ledger
    now, left = sim.env.now, ledger.left[jobs]
    running = ledger.state[jobs] == RUNNING
    rate = sim._oracle_rate[jobs]
    unknown = np.isnan(rate) & ~running
    if unknown.any():
        for i in np.flatnonzero(unknown).tolist():
            rate[i] = oracle_rate(sim, int(jobs[i]))
    out = left / rate
    if not running.any():
        return out
    run = jobs[running]
    out[running] = left[running] / ledger.rate[run] - (now - ledger.since[run])
    special = ledger.resume_at[run] > now  # restoring, or on shared links: one at a time
    if len(sim.links):
        special |= np.fromiter((j in sim.links for j in run.tolist()), bool, len(run))
    for i in np.flatnonzero(running)[special].tolist():
        out[i] = remaining_s(sim, int(jobs[i]))
    return out


def work_left(sim: Simulation, jobs: np.ndarray) -> np.ndarray:
    """Units of work each job has left now (a restoring job has made no progress yet)."""
    jobs, ledger = np.asarray(jobs, dtype=np.int64), sim.ledger
    now, out = sim.env.now, ledger.left[jobs]
    for i in np.flatnonzero(ledger.state[jobs] == RUNNING):
        job = int(jobs[i])
        if job in sim.links:
            out[i] = sim.links.left_of(job, now)
        elif ledger.resume_at[job] <= now:
            out[i] -= ledger.rate[job] * (now - ledger.since[job])
    return np.maximum(out, 0.0)


def rates_by_chip(sim: Simulation, jobs: np.ndarray) -> np.ndarray:
    """Work units per second of each job consolidated on idle nodes of each chip type (one
    estimate per stream, GPU count and type, cached)."""
    jobs = np.asarray(jobs, dtype=np.int64)
    n_chips = len(sim.cluster.topology.chips)
    stream, gpus = sim.jobs.stream[jobs], sim.ledger.size[jobs]
    first, inverse = _classes(stream * (int(sim.ledger.size.max()) + 1) + gpus)
    rows = np.empty((len(first), n_chips))
    for u, i in enumerate(first.tolist()):
        for chip in range(n_chips):
            key = (int(stream[i]), int(gpus[i]), chip)
            if key not in sim._oracle_cache:
                sim._oracle_cache[key] = sim.throughput.estimate_rate(int(jobs[i]), chip)
            rows[u, chip] = sim._oracle_cache[key]
    return rows[inverse]


def _classes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)[1:]`` for small non-negative
    keys, by a table over the key range instead of a sort when that range is small."""
    span = int(keys.max(initial=-1)) + 1
    if span > 4 * len(keys) + 1024:
        return np.unique(keys, return_index=True, return_inverse=True)[1:]
    first = np.empty(span, dtype=np.int64)
    first[keys[::-1]] = np.arange(len(keys) - 1, -1, -1)  # the last write is the first index
    present = np.zeros(span, dtype=bool)
    present[keys] = True
    return first[present], (np.cumsum(present) - 1)[keys]
