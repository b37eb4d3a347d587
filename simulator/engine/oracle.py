"""What policies may ask the engine beyond the cluster state: oracle remaining times and
attained service (the ``View`` forwards to these).

Must not import: numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..world.jobs import JobState

if TYPE_CHECKING:
    from .simulation import Simulation


def remaining_s(sim: Simulation, job: int) -> float:
    """Oracle seconds ``job`` still needs: its work left at its current speed if running (plus
    what is left of a restore), else at the speed it would get consolidated on idle nodes."""
    now, ledger = sim.env.now, sim.ledger
    running = ledger.state[job] == JobState.RUNNING
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
    running = ledger.state[jobs] == JobState.RUNNING
    rate = sim._oracle_rate[jobs]
    for i in np.flatnonzero(~running & np.isnan(rate)):
        rate[i] = oracle_rate(sim, int(jobs[i]))
    out = left / rate
    run = jobs[running]
    out[running] = left[running] / ledger.rate[run] - (now - ledger.since[run])
    special = [
        i
        for i in np.flatnonzero(running)
        if jobs[i] in sim.links or ledger.resume_at[jobs[i]] > now
    ]
    for i in special:
        out[i] = remaining_s(sim, int(jobs[i]))
    return out


def work_left(sim: Simulation, jobs: np.ndarray) -> np.ndarray:
    """Units of work each job has left now (a restoring job has made no progress yet)."""
    jobs, ledger = np.asarray(jobs, dtype=np.int64), sim.ledger
    now, out = sim.env.now, ledger.left[jobs]
    for i in np.flatnonzero(ledger.state[jobs] == JobState.RUNNING):
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
    _, first, inverse = np.unique(
        stream * (int(sim.ledger.size.max()) + 1) + gpus, return_index=True, return_inverse=True
    )
    rows = np.empty((len(first), n_chips))
    for u, i in enumerate(first.tolist()):
        for chip in range(n_chips):
            key = (int(stream[i]), int(gpus[i]), chip)
            if key not in sim._oracle_cache:
                sim._oracle_cache[key] = sim.throughput.estimate_rate(int(jobs[i]), chip)
            rows[u, chip] = sim._oracle_cache[key]
    return rows[inverse]
