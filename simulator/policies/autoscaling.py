"""Cluster autoscaling policies: how many nodes each elastic group should have.

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from ..spec.base import Duration
from .base import AutoscalingPolicy, ClusterView, Params, Pool, ScaleDecision
from .registry import register


@register("autoscaling", "queue")
class QueueAutoscaler(AutoscalingPolicy):
    """Queue-based scaling, as the Kubernetes cluster autoscaler does for pending pods.

    - **Out**: the *shortfall* is the GPUs asked by queued jobs minus the GPUs already being
      provisioned. Once it has stayed positive for ``delay`` seconds, and at least ``cooldown``
      seconds after the last scale-out, pools grow (in scenario order, each up to its max) by
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
        queued = np.fromiter(view.queue, dtype=np.int64, count=len(view.queue))
        coming = sum(pool.provisioning * pool.gpus_per_node for pool in pools)
        short = int(view.jobs.gpus[queued].sum()) - coming
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
        if len(queued) == 0 and any(pool.idle for pool in pools):
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
