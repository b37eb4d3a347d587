"""Scheduling (ordering) policies.

Must not import: simpy, numba.
"""

from __future__ import annotations

from .base import ClusterView, ScheduleDecision, SchedulingPolicy
from .registry import register


@register("scheduling", "fifo")
class Fifo(SchedulingPolicy):
    """First-in first-out with head-of-line blocking.

    Jobs are tried in submit order (ties: job id); the pass stops at the first job that does
    not fit, so no job ever starts before an earlier-submitted one.
    """

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        return ScheduleDecision(order=view.queue, blocking=True)
