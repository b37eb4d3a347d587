"""Per-tenant quotas: the capacity scheduler (virtual clusters with guaranteed shares).

Must not import: simpy, numba.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, field_validator

from .base import ClusterView, Params, ScheduleDecision, SchedulingPolicy
from .registry import register


class TenantQuota(Params):
    """A tenant's virtual cluster: guaranteed and maximum fractions of the cluster's GPUs."""

    share: float = Field(default=0.0, ge=0, le=1, description="guaranteed fraction")
    max_share: float = Field(default=1.0, gt=0, le=1, description="never more than this")
    priority: int = Field(default=0, description="higher is served first")


@register("scheduling", "capacity")
class CapacityScheduler(SchedulingPolicy):
    """Per-tenant quotas, like Hadoop YARN's capacity scheduler (virtual clusters).

    Each tenant (a workload stream's ``tenant``, default its name) has a guaranteed ``share``
    of the GPUs and may grow into idle capacity up to ``max_share``. Passes repeatedly serve
    the tenant of highest ``priority``, then the lowest used / guaranteed ratio, taking its
    jobs in submit order; a tenant whose oldest job does not fit waits (no overtaking inside
    a tenant). With ``preempt``, a tenant below its guarantee whose oldest job does not fit
    reclaims GPUs by preempting the most recently submitted jobs of tenants above theirs (a
    whole job, even if that leaves its tenant a little below its guarantee: jobs are gangs).
    Tenants not listed have no guarantee and use idle capacity only.
    """

    class Params(Params):
        tenants: dict[str, TenantQuota] = Field(default_factory=dict)
        preempt: bool = False

        @field_validator("tenants")
        @classmethod
        def _shares_fit(cls, value: dict[str, TenantQuota]) -> dict[str, TenantQuota]:
            total = sum(q.share for q in value.values())
            if total > 1 + 1e-9:
                raise ValueError(f"guaranteed shares add up to {total:g} > 1")
            for name, q in value.items():
                if q.max_share < q.share:
                    raise ValueError(f"tenant {name!r}: max_share below its share")
            return value

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        if view.free_total == 0 and not self.params.preempt:  # no job could start
            return ScheduleDecision(order=[], blocking=False)
        jobs, gpus, total = view.jobs, view.gpus, float(view.topology.node_gpus.sum())
        names, tenant = self._tenants(jobs)
        quota = {t: self.params.tenants.get(t, TenantQuota()) for t in names}
        running, queued = view.running_ids(), view.queued_ids()
        held = np.bincount(tenant[running], weights=gpus[running], minlength=len(names))
        used = dict(zip(names, held.astype(np.int64).tolist(), strict=True))
        free, order, blocked = view.free_total, [], []
        # Each job taken needs a device (free shrinks by >= 1), so a tenant takes at most
        # ``free`` jobs here and at most one more by reclaiming: only its oldest free + 2
        # queued jobs can matter, and the queue (oldest first) is read until every tenant has
        # them (or all it has queued).
        want = np.bincount(tenant[queued], minlength=len(names))
        if len(queued) and gpus[queued].min() >= 1:
            want = np.minimum(want, free + 2)
        want, left = want.tolist(), int(want.sum())
        lists: list[list[int]] = [[] for _ in names]
        tenant_of = self._tenant_of
        for job in view.queue if left else ():
            t = tenant_of[job]
            if len(lists[t]) < want[t]:
                lists[t].append(job)
                left -= 1
                if not left:
                    break
        for queue in lists:
            queue.reverse()  # pop() takes the oldest
        waiting = dict(zip(names, lists, strict=True))

        def rank(t: str) -> tuple:
            share = quota[t].share * total
            return (-quota[t].priority, used[t] / share if share else math.inf, t)

        while True:
            ready = [
                t
                for t, q in waiting.items()
                if q and t not in blocked and used[t] + gpus[q[-1]] <= quota[t].max_share * total
            ]
            if not ready:
                break
            t = min(ready, key=rank)
            need = int(gpus[waiting[t][-1]])
            if need > free:
                blocked.append(t)
                continue
            order.append(waiting[t].pop())
            used[t] += need
            free -= need
        preempt = self._reclaim(view, quota, used, waiting, blocked, free, order, total)
        return ScheduleDecision(order=order, blocking=False, preempt=preempt)

    _tenants_of = None  # the job table the tenant indices below were built for

    def _tenants(self, jobs) -> tuple[list[str], np.ndarray]:
        """The tenants (sorted) and each job's tenant index (an array; also kept as a list)."""
        names = sorted(set(jobs.stream_tenants))
        if self._tenants_of is not jobs:
            self._tenants_of = jobs
            index = {t: i for i, t in enumerate(names)}
            by_stream = np.array([index[t] for t in jobs.stream_tenants], dtype=np.int64)
            self._by_job = by_stream[jobs.stream]
            self._tenant_of = self._by_job.tolist()
        return names, self._by_job

    def _reclaim(self, view, quota, used, waiting, blocked, free, order, total) -> list[int]:
        """With ``preempt``: free GPUs for the oldest job of each blocked tenant below its
        guarantee, from the newest jobs of tenants above theirs."""
        if not self.params.preempt:
            return []
        jobs, gpus = view.jobs, view.gpus
        tenant_of = {j: jobs.stream_tenants[jobs.stream[j]] for j in view.running}
        victims = sorted(view.running, key=lambda j: (jobs.submit_s[j], j), reverse=True)
        preempt = []
        for t in blocked:
            head = waiting[t][-1]
            need = int(gpus[head])
            if used[t] + need > quota[t].share * total:
                continue  # beyond its guarantee: it waits for idle capacity
            taken, gained = [], 0
            for v in victims:
                owner = tenant_of[v]
                over = used[owner] - quota[owner].share * total
                if v in preempt or owner == t or over <= 0:
                    continue
                taken.append(v)
                gained += int(gpus[v])
                used[owner] -= int(gpus[v])
                if free + gained >= need:
                    break
            if free + gained < need:
                for v in taken:  # not enough to reclaim: undo
                    used[tenant_of[v]] += int(gpus[v])
                continue
            preempt += taken
            free += gained - need
            used[t] += need
            order.append(waiting[t].pop())
        return preempt
