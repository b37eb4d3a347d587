"""Non-preemptive scheduling (ordering) policies: FIFO, SJF, EASY backfilling (the
preemptive ones are in :mod:`.preemptive`).

Must not import: simpy, numba.
"""

from __future__ import annotations

import math

import numpy as np

from .base import ClusterView, ScheduleDecision, SchedulingPolicy
from .registry import register


@register("scheduling", "fifo")
class Fifo(SchedulingPolicy):
    """First-in first-out with head-of-line blocking.

    Jobs are tried in submit order (ties: job id); the pass stops at the first job that does
    not fit, so no job ever starts before an earlier-submitted one.
    """

    _decision: ScheduleDecision | None = None

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        # the queue is a live view, so one decision object serves every pass of a run
        if self._decision is None or self._decision.order is not view.queue:
            self._decision = ScheduleDecision(order=view.queue, blocking=True)
        return self._decision


def _running(view: ClusterView) -> np.ndarray:
    """Running job ids in no particular order (rankings break ties by id)."""
    return view.running_ids()


def _queued(view: ClusterView) -> np.ndarray:
    """Queued job ids in no particular order (rankings break ties by id)."""
    return view.queued_ids()


def _shares(view: ClusterView, queued: np.ndarray) -> bool:
    """Some queued job asks for a share of a device: it may start on an open shared device
    although no whole device is free, or although a ranking did not keep it."""
    return bool((view.jobs.gpu_milli[queued] < 1000).any())


def _candidates(view: ClusterView) -> np.ndarray:
    return np.concatenate([_running(view), _queued(view)])


@register("scheduling", "sjf")
class ShortestJobFirst(SchedulingPolicy):
    """Shortest job first, non-preemptive, with oracle run times (``view.remaining_s``).

    Queued jobs are tried shortest first; one that does not fit is skipped (no blocking), so
    long jobs can starve under a steady stream of short ones. A running job is never stopped.
    """

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        queued = _queued(view)
        if view.free_total == 0 and not _shares(view, queued):
            return ScheduleDecision(order=[], blocking=False)  # no job could start
        order = queued[np.lexsort((queued, view.remaining_s_many(queued)))]
        return ScheduleDecision(order=order.tolist(), blocking=False)


@register("scheduling", "easy_backfill")
class EasyBackfill(SchedulingPolicy):
    """EASY backfilling (Lifka 1995; Mu'alem and Feitelson 2001) with oracle run times.

    Jobs start in submit order while they fit. The first one that does not fit gets a
    reservation at the shadow time: the earliest time enough GPUs are free, given the running
    jobs' (oracle) ends. A later job may start now if it fits and either ends before the
    shadow time or uses only GPUs the reserved job will not need then, so backfilling never
    delays the reserved start. GPUs are counted cluster-wide: with placements that may refuse
    a job although enough GPUs are free (filters), the reservation is not guaranteed.
    """

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        gpus, free = view.gpus, view.free_total
        if free == 0:  # every job asks for a device at least: none starts or backfills
            return ScheduleDecision(order=[], blocking=False)
        order, queue = [], iter(view.queue)
        head = None
        for job in queue:
            if gpus[job] > free:
                head = job
                break
            order.append(job)
            free -= int(gpus[job])
        if head is None:
            return ScheduleDecision(order=order, blocking=False)
        shadow, extra = self.reservation(view, head, free, order)
        rest = np.fromiter(queue, dtype=np.int64)  # after the head, in submit order
        rest = rest[gpus[rest] <= free]
        ends = view.now + view.remaining_s_many(rest)
        for job, end in zip(rest.tolist(), ends.tolist(), strict=True):
            need = int(gpus[job])
            if need > free:
                continue
            ends_before = end <= shadow
            if ends_before or need <= extra:
                order.append(job)
                free -= need
                if not ends_before:
                    extra -= need
        return ScheduleDecision(order=order, blocking=False)

    @staticmethod
    def reservation(
        view: ClusterView, head: int, free: int, starting: list[int]
    ) -> tuple[float, int]:
        """Shadow time of ``head`` and the GPUs left over at that time, with ``free`` GPUs
        free now once the ``starting`` jobs (ahead of it) have started."""
        need = int(view.gpus[head])
        jobs = np.array([*view.running, *starting], dtype=np.int64)
        end_s = (view.now + view.remaining_s_many(jobs)).tolist()
        ends = sorted(zip(end_s, jobs.tolist(), strict=True))
        available = free
        for end, job in ends:
            available += int(view.gpus[job])
            if available >= need:
                return end, available - need
        return math.inf, 0
