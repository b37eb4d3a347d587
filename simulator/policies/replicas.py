"""Replica autoscaling policies: how many replicas an inference service should have.

Each is asked at every tick of its service (``autoscaler.interval``) with the service's
:class:`ServiceStats` and returns a replica count; the engine clamps it to
``[min_replicas, max_replicas]``, starts new replicas (placement, then ``startup``) and drains
surplus ones (no new requests; released when their batch is done).

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import numpy as np
from pydantic import Field

from ..scenario.base import Duration
from .base import Params, ReplicaPolicy, ServiceStats
from .registry import register


class _CooledDown(ReplicaPolicy):
    """A policy with scale-out and scale-in cooldowns: a change in one direction waits
    ``up_cooldown`` / ``down_cooldown`` after the last change in the same direction."""

    class Params(Params):
        up_cooldown: Duration = 60.0
        down_cooldown: Duration = 300.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last = {1: -math.inf, -1: -math.inf}

    def _cooled(self, stats: ServiceStats, want: int) -> int:
        """``want``, or the present count while the cooldown of its direction runs."""
        if want == stats.replicas:
            return want
        sign = 1 if want > stats.replicas else -1
        wait = self.params.up_cooldown if sign > 0 else self.params.down_cooldown
        if stats.now < self._last[sign] + wait - 1e-9:
            return stats.replicas
        self._last[sign] = stats.now
        return want


@register("replicas", "hpa")
class Hpa(ReplicaPolicy):
    """The Kubernetes Horizontal Pod Autoscaler rule.

    ``desired = ceil(replicas x metric / target)``, unchanged while ``|metric / target - 1|``
    is within ``tolerance``. ``metric: concurrency`` is (in-flight + queued requests) per
    serving replica; ``utilization`` is in-flight requests / (serving replicas x max_batch).
    Scale-out is immediate; scale-in takes the highest recommendation of the last
    ``stabilization`` seconds (the HPA's downscale stabilisation window).
    """

    class Params(Params):
        metric: Literal["concurrency", "utilization"] = "concurrency"
        target: float = Field(default=8.0, gt=0, description="metric value per replica")
        tolerance: float = Field(default=0.1, ge=0)
        stabilization: Duration = Field(default=300.0, description="scale-in window")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._recent: deque[tuple[float, int]] = deque()

    def replicas(self, stats: ServiceStats) -> int:
        p = self.params
        demand = stats.in_flight + (stats.queue if p.metric == "concurrency" else 0)
        if stats.ready == 0:
            want = max(stats.replicas, 1 if stats.queue + stats.in_flight else 0)
        else:
            if p.metric == "concurrency":
                metric = demand / stats.ready
            else:
                metric = demand / (stats.ready * stats.max_batch)
            ratio = metric / p.target
            if abs(ratio - 1) <= p.tolerance:
                want = stats.replicas
            else:
                want = math.ceil(stats.ready * ratio - 1e-9)
        self._recent.append((stats.now, want))
        while self._recent[0][0] < stats.now - p.stabilization - 1e-9:
            self._recent.popleft()
        if want < stats.replicas:
            want = min(max(w for _, w in self._recent), stats.replicas)
        return want


@register("replicas", "queue")
class QueueLength(_CooledDown):
    """Enough replicas for the requests present: ``ceil((queued + in flight) / per_replica)``
    (``per_replica`` defaults to ``max_batch``), with cooldowns per direction."""

    class Params(_CooledDown.Params):
        per_replica: int | None = Field(default=None, ge=1, description="default max_batch")

    def replicas(self, stats: ServiceStats) -> int:
        p = self.params
        per = p.per_replica or stats.max_batch
        return self._cooled(stats, math.ceil((stats.queue + stats.in_flight) / per))


@register("replicas", "slo")
class SloDriven(_CooledDown):
    """Scale on the latency objective itself.

    The policy watches the ``quantile`` of the TTFTs of requests whose first token came since
    the last tick. Above ``slo x (1 - headroom)``: grow in proportion,
    ``ceil(replicas x quantile / (slo x (1 - headroom)))``, at least ``step`` more. Below
    ``slo x low`` with an empty queue, and if ``replicas - 1`` would still be at most ``fill``
    full (requests in flight / their batch slots): remove one. Cooldowns per direction.
    ``ttft`` defaults to the service's ``slo.ttft``.
    """

    class Params(_CooledDown.Params):
        ttft: Duration | None = Field(default=None, description="default: the service's SLO")
        quantile: float = Field(default=0.9, gt=0, lt=1)
        headroom: float = Field(default=0.2, ge=0, lt=1)
        low: float = Field(default=0.3, gt=0, lt=1)
        fill: float = Field(default=0.5, gt=0, le=1)
        step: int = Field(default=1, ge=1)

    def replicas(self, stats: ServiceStats) -> int:
        p = self.params
        slo = p.ttft if p.ttft is not None else stats.slo_ttft_s
        if slo is None:
            raise ValueError("the slo replica policy needs params.ttft or the service's slo.ttft")
        seen = stats.recent_ttft_s
        ttft = float(np.quantile(seen, p.quantile)) if len(seen) else math.nan
        target = slo * (1 - p.headroom)
        want = stats.replicas
        if stats.ready == 0 and stats.queue:
            want = max(stats.replicas, 1)
        elif ttft > target:  # NaN compares false
            want = max(stats.replicas + p.step, math.ceil(stats.replicas * ttft / target))
        elif (
            ttft < slo * p.low
            and stats.queue == 0
            and stats.in_flight <= (stats.replicas - 1) * stats.max_batch * p.fill
        ):
            want = stats.replicas - 1
        return self._cooled(stats, want)
