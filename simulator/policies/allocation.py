"""Gavel's allocation problems: what fraction of time each job should spend on each chip type.

Narayanan et al., "Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning
Workloads", OSDI 2020. An allocation ``X[j, k]`` is the fraction of wall-clock time job ``j``
runs on chip type ``k``; its effective throughput is ``sum_k T[j, k] X[j, k]`` where ``T`` holds
the job's throughput (work units per second) on each type, 0 where the type cannot host it.
Every allocation obeys Gavel's base constraints::

    0 <= X[j, k] <= 1,   sum_k X[j, k] <= 1,   sum_j s_j X[j, k] <= W_k

with ``s_j`` the job's GPU count (Gavel's scale factor) and ``W_k`` the GPUs of type ``k``.

The linear programs are solved with SciPy's HiGHS (``scipy.optimize.linprog``).

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, hstack, vstack

from .. import kernels


def proportional_throughput(T: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Throughput of each job under Gavel's proportional split: every job gets the same share
    of every type, proportional to the type's size (``X[j, k] = W_k / sum W``)."""
    return T @ (W / W.sum())


def max_min_fairness(
    T: np.ndarray, scale: np.ndarray, W: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Gavel's ``max_min_fairness_perf``: maximise the smallest weighted, normalised effective
    throughput ``min_j sum_k T[j, k] s_j X[j, k] / (w_j T_prop[j])``, where ``T_prop`` is the
    :func:`proportional_throughput`. Multiplying by ``s_j`` makes a job on one GPU receive
    ``s_j`` times the time of an equally fast job on ``s_j`` GPUs (equal GPU-time).
    The heterogeneity-agnostic variant is this with ``T`` replaced by 1 where a type fits.

    Jobs with the same speeds, size and weight are interchangeable, and averaging an optimal
    allocation over them keeps it optimal (the problem is convex and symmetric in them), so
    the LP is solved once per class of such jobs: its size follows the number of distinct
    job kinds, not the queue."""
    n, m = T.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if not T.any(axis=1).all():
        return _hosted(T, lambda f: max_min_fairness(T[f], scale[f], W, w[f]))
    if n == 0:
        return np.zeros((0, m))
    code = np.zeros(n, dtype=np.int64)  # equal rows of (T, scale, w), equal codes
    for column in (*T.T, scale, w):
        values, index = np.unique(column, return_inverse=True)
        code = np.unique(code * len(values) + index, return_inverse=True)[1]
    _, first, inverse, counts = np.unique(
        code, return_index=True, return_inverse=True, return_counts=True
    )
    X = _max_min(T[first], scale[first], W, w[first], counts)
    return X[inverse]


def _max_min(T, scale, W, w, counts) -> np.ndarray:
    """The max-min LP over job classes of ``counts`` identical jobs each."""
    n, m = T.shape
    prop = proportional_throughput(T, W)
    coef = T * scale[:, None] / (w * np.where(prop > 0, prop, 1.0))[:, None]
    # variables: X (row-major, n*m), then t; maximise t s.t. t <= coef_j . X_j
    objective = np.zeros(n * m + 1)
    objective[-1] = -1.0
    rows = np.repeat(np.arange(n), m)
    level = hstack(
        [coo_matrix((-coef.ravel(), (rows, np.arange(n * m))), (n, n * m)), np.ones((n, 1))]
    )
    return _solve(objective, level, np.zeros(n), T, scale * counts, W, coef * counts[:, None])


def min_makespan(T: np.ndarray, scale: np.ndarray, W: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Gavel's ``min_total_duration_perf``: the allocation that finishes all the remaining
    ``work`` soonest if it were held until the end. Gavel binary-searches the makespan ``M``
    over feasibility problems ``sum_k T[j, k] X[j, k] >= work_j / M``; with ``z = 1 / M`` this
    is the single LP ``max z`` subject to ``sum_k T[j, k] X[j, k] >= work_j z``, solved here."""
    n, m = T.shape
    work = np.asarray(work, dtype=np.float64)
    if not T.any(axis=1).all():
        return _hosted(T, lambda f: min_makespan(T[f], scale[f], W, work[f]))
    if n == 0:
        return np.zeros((0, m))
    objective = np.zeros(n * m + 1)
    objective[-1] = -1.0
    rows = np.repeat(np.arange(n), m)
    need = coo_matrix((-T.ravel(), (rows, np.arange(n * m))), (n, n * m))
    level = hstack([need, coo_matrix(work[:, None])])
    return _solve(objective, level, np.zeros(n), T, scale, W, T / work[:, None])


def _hosted(T: np.ndarray, solve) -> np.ndarray:
    """``solve(mask)`` for the jobs some type can host; a job no type can host gets nothing
    (its effective throughput would otherwise pin the optimum at 0)."""
    fits = T.any(axis=1)
    X = np.zeros(T.shape)
    if fits.any():
        X[fits] = solve(fits)
    return X


def fifo(T: np.ndarray, scale: np.ndarray, W: np.ndarray, rng=None) -> np.ndarray:
    """Gavel's ``fifo_perf``: jobs in the given (arrival) order each take the whole of the
    type where they run fastest among those with enough GPUs left; a job that fits nowhere
    waits, and later jobs may still take what is left. With ``rng`` (the agnostic ``fifo``)
    the type is drawn uniformly among those that fit instead."""
    speed = T if rng is None else rng.random(T.shape) * (T > 0)  # argmax: uniform among fits
    speed = np.ascontiguousarray(speed, dtype=np.float64)
    out = np.empty(len(T), dtype=np.int64)
    left = np.array(W, dtype=np.float64)
    kernels.fastest_fit(speed, np.asarray(scale, dtype=np.float64), left, out)
    X = np.zeros(T.shape)
    placed = np.flatnonzero(out >= 0)
    X[placed, out[placed]] = 1.0
    return X


def _solve(objective, level, level_rhs, T, scale, W, secondary) -> np.ndarray:
    """Maximise the last variable under ``level`` rows and Gavel's base constraints (``scale``:
    the devices one unit of a row's time takes of its type); then,
    among the optimal allocations (the max-min optimum is rarely unique), the one with the
    largest ``sum(secondary * X)``, so no GPU time that raises some job's throughput without
    lowering the optimum is left unallocated."""
    n, m = T.shape
    nm = n * m
    cols = np.arange(nm)
    per_job = coo_matrix((np.ones(nm), (np.repeat(np.arange(n), m), cols)), (n, nm))
    per_type = coo_matrix(
        (np.repeat(scale.astype(np.float64), m), (np.tile(np.arange(m), n), cols)), (m, nm)
    )
    base = hstack([vstack([per_job, per_type]), coo_matrix((n + m, 1))])
    A = vstack([level, base]).tocsr()
    b = np.concatenate([level_rhs, np.ones(n), np.asarray(W, dtype=np.float64)])
    bounds = np.stack([np.zeros(nm + 1), np.append(np.where(T.ravel() > 0, 1.0, 0.0), np.inf)], 1)
    res = linprog(objective, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status == 0:
        bounds[-1, 0] = res.x[-1] * (1 - 1e-9)
        second = np.append(-np.asarray(secondary, dtype=np.float64).ravel(), 0.0)
        res = linprog(second, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"Gavel allocation LP failed: {res.message}")
    return np.clip(res.x[:nm].reshape(n, m), 0.0, 1.0)
