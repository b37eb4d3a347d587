"""Scheduling kernels: turning a ranking into the set of jobs that run.

Must not import: anything outside numpy and ``._jit``.
"""

from __future__ import annotations

from ._jit import kernel


@kernel
def assign_types(pair_job, pair_type, need, left, out_type):
    """Serve (job, chip type) pairs in the given (priority) order: a pair is granted if its job
    has no type yet and its type still has ``need[job]`` devices in ``left`` (counting devices
    only). Writes each job's granted type (-1: none) into ``out_type``, updates ``left`` and
    returns the number of jobs granted."""
    out_type[:] = -1
    granted = 0
    for i in range(pair_job.shape[0]):
        job, k = pair_job[i], pair_type[i]
        if out_type[job] < 0 and left[k] >= need[job]:
            out_type[job] = k
            left[k] -= need[job]
            granted += 1
    return granted


@kernel
def fastest_fit(speed, need, left, out_type):
    """In row order, give each job the type where ``speed`` is highest (first on ties) among
    those with ``need[job]`` devices left and a positive speed; -1 if none. Writes
    ``out_type`` and updates ``left``."""
    for j in range(speed.shape[0]):
        best, best_speed = -1, 0.0
        for k in range(speed.shape[1]):
            if speed[j, k] > best_speed and left[k] >= need[j]:
                best, best_speed = k, speed[j, k]
        out_type[j] = best
        if best >= 0:
            left[best] -= need[j]
