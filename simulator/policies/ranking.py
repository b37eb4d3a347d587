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
    _last: _QueueOrder | None = None

    def _queue_order(self, view: ClusterView) -> _QueueOrder:
        """The queued jobs' rank order at the last contended pass (a ranking kernel's
        starting order: a queued job's keys seldom change while it waits)."""
        if self._last is None:
            self._last = _QueueOrder(len(view.jobs))
        return self._last

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
        last = self._queue_order(view)
        kernels.rank_fit(
            p, s, jobs, view.gpus[jobs], len(running), self._installed, keep, rows, *last.args()
        )
        last.keep(jobs, p, s, rows)
        return _decision(jobs, p, s, keep, rows, len(running)), keep

    def _rank(self, view: ClusterView, kernel, running, queued, *args):
        """Run a kernel that ranks the candidates itself (:func:`~simulator.kernels.las_rank`,
        :func:`~simulator.kernels.gandiva_rank`: ``running``, ``queued``, then ``args``, then
        its outputs and starting order). Returns its result, the decision and the kept mask."""
        n = len(running) + len(queued)
        jobs, p, s, keep = np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n, bool)
        rows, last = np.empty(len(queued), np.int64), self._queue_order(view)
        out = kernel(running, queued, *args, jobs, p, s, keep, rows, *last.args())
        last.keep(jobs, p, s, rows)
        return out, _decision(jobs, p, s, keep, rows, len(running)), keep


class _QueueOrder:
    """Queued job ids in a ranking kernel's rank order, with their two keys then: the next
    contended pass starts from them (:func:`~simulator.kernels.rank_fit` re-sorts only the
    jobs that are new to the queue or whose keys changed, and gives a full sort's order from
    any starting order)."""

    __slots__ = ("ids", "keys", "pos")

    def __init__(self, n_jobs: int):
        self.ids = np.empty(0, dtype=np.int64)
        self.keys = np.empty((2, 0))
        self.pos = np.full(n_jobs, -1, dtype=np.int32)  # the kernel's scratch, per job id

    def args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.ids, self.keys, self.pos

    def keep(self, jobs: np.ndarray, p: np.ndarray, s: np.ndarray, rows: np.ndarray) -> None:
        """Keep a kernel's outputs (candidates ``jobs``, keys, queued ``rows`` in order)."""
        self.ids, self.keys = jobs[rows], np.stack([p[rows], s[rows]])


def _decision(jobs, p, s, keep, rows, n_running: int) -> ScheduleDecision:
    """The decision of a ranking (:func:`~simulator.kernels.rank_fit`'s outputs over the
    candidates ``jobs``, running first): the running jobs not kept are preempted, in rank
    order; the queued ones kept are tried first, then the others, in rank order."""
    lost = np.flatnonzero(~keep[:n_running])
    preempt = jobs[lost[np.lexsort((jobs[lost], s[lost], p[lost]))]].tolist() if len(lost) else []
    kept_q = keep[rows]
    order = np.concatenate([jobs[rows[kept_q]], jobs[rows[~kept_q]]])
    return ScheduleDecision(order=order, blocking=False, preempt=preempt)


def _order(queued: np.ndarray, *keys) -> list[int]:
    """Queued jobs best first by ``keys`` (functions of the queued ids, called only if some
    job waits; the last one first, as in :func:`numpy.lexsort`), ties by job id."""
    if not len(queued):
        return []
    return queued[np.lexsort((queued, *(key(queued) for key in keys)))].tolist()
