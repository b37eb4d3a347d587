"""Round-based leases for any scheduling policy (as in Gavel and Blox).

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import kernels
from .base import ClusterView, ScheduleDecision, SchedulingPolicy


class Rounds(SchedulingPolicy):
    """Wrap a scheduling policy so devices are leased for rounds of ``round_s`` seconds.

    At each round boundary every lease ends: the wrapped policy decides as if every active
    job (running or queued) were waiting on an idle cluster, and the jobs its order picks that
    fit together (counting GPUs; a blocking order stops at the first that does not) hold the
    devices for the next round. A picked running job keeps its devices (lease renewed); an
    unpicked one is preempted; picked queued jobs start. Between boundaries the wrapped policy
    may start jobs on free devices but cannot preempt: leases are never broken. Rounds start
    at time 0 and are counted on a fixed grid (``k x round_s``).
    """

    kind = "scheduling"

    def __init__(self, inner: SchedulingPolicy, round_s: float):
        super().__init__(inner.params, inner.rng)
        self.inner, self.round_s = inner, float(round_s)
        self.name = f"{inner.name or type(inner).__name__} (rounds of {round_s:g} s)"
        self._boundary = -math.inf  # start of the round whose leases were last handed out

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, r = view.now, self.round_s
        start = math.floor(now / r + 1e-9) * r
        end = start + r
        if start <= self._boundary or not view.running:  # mid-round (or nothing to lease)
            decision = self.inner.schedule(view)
            if not view.running:
                self._boundary = start
            wake = end if view.running or view.queue else None
            if decision.wake_at is not None:
                wake = min(wake or math.inf, decision.wake_at)
            return ScheduleDecision(decision.order, decision.blocking, (), wake, decision.chip_type)
        self._boundary = start
        decision = self.inner.schedule(AllWaiting(view))
        order = decision.order
        if not isinstance(order, np.ndarray):
            order = np.fromiter(order, dtype=np.int64)
        need, total = view.gpus[order], int(view.topology.node_gpus.sum())
        if decision.blocking:  # the longest prefix that fits
            take = np.cumsum(need) <= total
        else:
            take = np.empty(len(order), dtype=bool)
            kernels.greedy_fit(need, total, take)
        chosen = order[take]
        wake = end if decision.wake_at is None else min(end, decision.wake_at)
        ran = np.fromiter(view.running, dtype=np.int64, count=len(view.running))  # start order
        return ScheduleDecision(
            order=chosen[~np.isin(chosen, ran)],
            blocking=decision.blocking,
            preempt=ran[~np.isin(ran, chosen)].tolist(),
            wake_at=wake,
            chip_type=decision.chip_type,
        )


class AllWaiting:
    """What the wrapped policy sees at a round boundary: every active job queued in submit
    order, nothing running, every device free. Everything else is the live view."""

    def __init__(self, view: ClusterView):
        self._view = view
        self.running: dict = {}
        self._ids = np.concatenate([view.running_ids(), view.queued_ids()])
        self._ids.setflags(write=False)
        free = np.array(view.topology.node_gpus, dtype=np.int64)
        free.setflags(write=False)
        self.free_gpus = free
        self.free_total = int(free.sum())

    @functools.cached_property
    def queue(self) -> dict[int, None]:
        return dict.fromkeys(np.sort(self._ids).tolist())  # in submit order

    def queued_ids(self) -> np.ndarray:
        return self._ids

    def running_ids(self) -> np.ndarray:
        return self._ids[:0]

    def __getattr__(self, name):
        return getattr(self._view, name)
