"""Cluster autoscaling policies: how many nodes each elastic group should have.

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from ..scenario.base import Duration
from .base import AutoscalingPolicy, ClusterView, Params, Pool, ScaleDecision
from .registry import register
from .scheduling import _queued


@register("autoscaling", "queue")
class QueueAutoscaler(AutoscalingPolicy):
    """Queue-based scaling, as the Kubernetes cluster autoscaler does for pending pods.

    - **Out**: the *shortfall* is the GPUs asked by queued jobs and by service replicas
      waiting for devices, minus the GPUs already being provisioned. Once it has stayed
      positive for ``delay`` seconds, and at least ``cooldown`` seconds after the last
      scale-out, pools grow (in scenario order, each up to its max) by
      ``ceil(shortfall / GPUs per node)`` nodes.
    - **In**: once the queue has stayed empty with idle nodes for ``idle`` seconds, every idle
      node is released (each pool down to its min).
    """

    class Params(Params):
        delay: Duration = Field(default=60.0, description="shortfall must last this long")
        cooldown: Duration = Field(default=300.0, description="between scale-outs")
        idle: Duration = Field(default=600.0, description="idle time before releasing")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._short_since: float | None = None
        self._idle_since: float | None = None
        self._last_out = -math.inf

    def scale(self, view: ClusterView, pools: list[Pool]) -> ScaleDecision:
        p, now = self.params, view.now
        queued = _queued(view)
        coming = sum(pool.provisioning * pool.gpus_per_node for pool in pools)
        wanted = int(view.gpus[queued].sum()) + view.pending_service_gpus
        short = wanted - coming
        targets: dict[int, int] = {}
        wakes = []
        if short > 0:
            self._short_since = now if self._short_since is None else self._short_since
            ready = max(self._short_since + p.delay, self._last_out + p.cooldown)
            if now >= ready - 1e-9:
                for pool in pools:
                    size = pool.online + pool.provisioning
                    add = min(pool.max - size, math.ceil(short / pool.gpus_per_node))
                    if add > 0:
                        targets[pool.index] = size + add
                        short -= add * pool.gpus_per_node
                    if short <= 0:
                        break
                self._last_out, self._short_since = now, None
            else:
                wakes.append(ready)
        else:
            self._short_since = None
        if wanted == 0 and any(pool.idle for pool in pools):
            self._idle_since = now if self._idle_since is None else self._idle_since
            if now >= self._idle_since + p.idle - 1e-9:
                for pool in pools:
                    if pool.idle:
                        targets[pool.index] = pool.online + pool.provisioning - pool.idle
                self._idle_since = None
            else:
                wakes.append(self._idle_since + p.idle)
        else:
            self._idle_since = None
        return ScaleDecision(targets, min(wakes) if wakes else None)


@register("autoscaling", "utilization")
class UtilizationAutoscaler(AutoscalingPolicy):
    """Target utilisation, as a horizontal autoscaler does for replicas: keep the devices of
    the elastic pools at ``target`` busy. Demand is the GPUs running jobs hold in the pools plus
    the GPUs queued jobs ask for; the pools (in scenario order) are sized to
    ``ceil(demand / target)`` GPUs. Growing happens at once; shrinking only after the smaller
    size has been enough for ``cooldown`` seconds (only idle nodes are ever released)."""

    class Params(Params):
        target: float = Field(default=0.8, gt=0, le=1, description="busy / online GPUs")
        cooldown: Duration = Field(default=600.0, description="before scaling in")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lower_since: float | None = None

    def demand(self, view: ClusterView, pools: list[Pool]) -> float:
        """GPUs the pools should hold busy."""
        queued = _queued(view)
        elastic = np.isin(view.topology.node_group, [pool.index for pool in pools])
        # nodes that are not online show no free devices: take their devices back out
        held = int((view.topology.node_gpus - view.free_gpus)[elastic].sum())
        busy = held - sum((pool.max - pool.online) * pool.gpus_per_node for pool in pools)
        return busy + int(view.gpus[queued].sum()) + view.pending_service_gpus

    def scale(self, view: ClusterView, pools: list[Pool]) -> ScaleDecision:
        p, now = self.params, view.now
        sizes = _fill(pools, math.ceil(self.demand(view, pools) / p.target - 1e-9))
        have = {pool.index: pool.online + pool.provisioning for pool in pools}
        if any(sizes[i] > have[i] for i in sizes):
            self._lower_since = None
            return ScaleDecision({i: max(sizes[i], have[i]) for i in sizes}, self.recheck(now))
        if all(sizes[i] == have[i] for i in sizes):
            self._lower_since = None
            return ScaleDecision({}, self.recheck(now))
        self._lower_since = now if self._lower_since is None else self._lower_since
        if now >= self._lower_since + p.cooldown - 1e-9:
            self._lower_since = None
            return ScaleDecision(sizes, self.recheck(now))
        return ScaleDecision({}, self._lower_since + p.cooldown)

    def recheck(self, now: float) -> float | None:
        """When to look again with nothing else happening (never: demand only changes with
        events)."""
        return None


@register("autoscaling", "predictive")
class PredictiveAutoscaler(UtilizationAutoscaler):
    """Sizes the pools for the load of the recent past rather than the present queue: by
    Little's law the GPUs busy on average are the GPU-seconds arriving per second, estimated
    as the sum of GPUs x (oracle) run time of the jobs submitted in the last ``window``
    seconds, divided by ``window``; pools are sized to that over ``target``, but never below
    what ``utilization`` would ask now (so a job waiting now always gets room). It looks again
    when the oldest of those jobs leaves the window (arrivals bring passes anyway); shrinking
    waits ``cooldown`` as for ``utilization``."""

    class Params(UtilizationAutoscaler.Params):
        window: Duration = Field(default=3600.0, gt=0, description="arrivals looked back at")

    def demand(self, view: ClusterView, pools: list[Pool]) -> float:
        submit = view.jobs.submit_s
        lo, hi = np.searchsorted(submit, [view.now - self.params.window, view.now], "right")
        recent = np.arange(lo, hi)
        self._next_change = float(submit[lo]) + self.params.window if recent.size else None
        now_demand = super().demand(view, pools)
        if recent.size == 0:
            return now_demand
        run = view.jobs.duration_s[recent]
        unknown = np.isnan(run)  # model jobs: their oracle time consolidated on idle nodes
        if unknown.any():
            run = run.copy()
            run[unknown] = view.remaining_s_many(recent[unknown])
        predicted = float((view.gpus[recent] * run).sum() / self.params.window)
        return max(predicted, now_demand)

    def recheck(self, now: float) -> float | None:
        return self._next_change


@register("autoscaling", "schedule")
class ScheduledAutoscaler(AutoscalingPolicy):
    """Sizes by the clock, e.g. more nodes in working hours: ``sizes`` maps a pool name to
    ``[[time, nodes], ...]`` (times within one ``period``, the first at 0), repeated every
    ``period``. Pools not listed keep their size; only idle nodes are ever released."""

    class Params(Params):
        sizes: dict[str, list[tuple[Duration, int]]]
        period: Duration = Field(default=86400.0, gt=0, description="the schedule repeats")

    def scale(self, view: ClusterView, pools: list[Pool]) -> ScaleDecision:
        p, now = self.params, view.now
        phase = now % p.period
        targets, wakes = {}, []
        for pool in pools:
            steps = sorted(p.sizes.get(pool.name, []))
            if not steps:
                continue
            current = [n for t, n in steps if t <= phase + 1e-9]
            targets[pool.index] = current[-1] if current else steps[-1][1]
            later = [t for t, _ in steps if t > phase + 1e-9]
            wakes.append(now - phase + (later[0] if later else p.period + steps[0][0]))
        return ScaleDecision(targets, min(wakes) if wakes else None)


def _fill(pools: list[Pool], gpus: int) -> dict[int, int]:
    """Node counts per pool (in order, each between min and max) holding ``gpus``."""
    out = {}
    for pool in pools:
        n = min(max(math.ceil(max(gpus, 0) / pool.gpus_per_node), pool.min), pool.max)
        out[pool.index] = n
        gpus -= n * pool.gpus_per_node
    return out
