"""Shared mechanics of the preemptive policies (:mod:`.preemptive`): ranking every running
and queued job under contention, keeping the best that fit, and turning a ranking kernel's
outputs into a decision.

Must not import: simpy, numba.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .base import ClusterView, ScheduleDecision, SchedulingPolicy


class _Ranking(SchedulingPolicy):
    """Shared mechanics of the preemptive policies."""

    _installed: int = -1

    def _fits_all(self, view: ClusterView) -> bool:
        """Every running and queued job could run at once (counting GPUs)."""
        if self._installed < 0:
            self._installed = int(view.topology.node_gpus.sum())
        return view.demand_gpus <= self._installed

    def _contended(self, view: ClusterView, running, queued, first, then=None):
        """Rank the candidates (``running`` then ``queued``; each key in that order) by
        ``first``, then ``then``, then job id, ascending (NaN last), and keep the best that fit
        together (:func:`~simulator.kernels.rank_fit`). Returns the decision (preemptions in
        rank order; the queued jobs kept, then the others, in rank order) and which of the
        candidates are kept (a mask over ``running`` then ``queued``)."""
        jobs = np.concatenate([running, queued])
        p = np.asarray(first, dtype=np.float64)
        s = np.zeros(len(jobs)) if then is None else np.asarray(then, dtype=np.float64)
        keep = np.empty(len(jobs), dtype=bool)
        rows = np.empty(len(queued), dtype=np.int64)
        kernels.rank_fit(p, s, jobs, view.gpus[jobs], len(running), self._installed, keep, rows)
        return _decision(jobs, p, s, keep, rows, len(running)), keep


def _buffers(n_running: int, n_queued: int):
    """Fresh outputs of a ranking kernel: candidate ids, first and second keys, kept mask
    (over the candidates) and the queued rows in rank order."""
    n = n_running + n_queued
    keep = np.empty(n, dtype=bool)
    return np.empty(n, np.int64), np.empty(n), np.empty(n), keep, np.empty(n_queued, np.int64)


def _decision(jobs, p, s, keep, rows, n_running: int) -> ScheduleDecision:
    """The decision of a ranking (:func:`~simulator.kernels.rank_fit`'s outputs over the
    candidates ``jobs``, running first): the running jobs not kept are preempted, in rank
    order; the queued ones kept are tried first, then the others, in rank order."""
    lost = np.flatnonzero(~keep[:n_running])
    preempt = jobs[lost[np.lexsort((jobs[lost], s[lost], p[lost]))]].tolist() if len(lost) else []
    kept_q = keep[rows]
    order = np.concatenate([jobs[rows[kept_q]], jobs[rows[~kept_q]]]).tolist()
    return ScheduleDecision(order=order, blocking=False, preempt=preempt)


def _order(queued: np.ndarray, *keys: np.ndarray) -> list[int]:
    """Queued jobs best first (``keys`` as in :func:`numpy.lexsort`, ties by job id)."""
    return queued[np.lexsort((queued, *keys))].tolist()
