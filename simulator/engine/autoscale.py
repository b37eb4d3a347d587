"""Pools (node groups with an ``elastic`` block) under an autoscaling policy (an engine part).

After each scheduling pass the autoscaler sets a target per pool (an elastic node group):
growing requests offline nodes (lowest ids first; usable ``provision`` seconds later, billed
from the request); shrinking first cancels provisioning nodes (newest first), then releases
idle online nodes (highest ids first; a node with any work on it is never released), each
billed ``decommission`` seconds more. Node statuses belong to :mod:`.nodes`.

Must not import: numba.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..policies.base import AutoscalingPolicy, Pool
from ..scenario.spec import ClusterSpec
from .nodes import OFFLINE, ONLINE, PROVISIONING
from .parts import Engine, Part


class Autoscale(Part):
    """The autoscaler's decisions applied to the elastic node groups."""

    name = "autoscale"

    def __init__(self, spec: ClusterSpec, policy: AutoscalingPolicy):
        self.scaling = {i: g.elastic for i, g in enumerate(spec.node_groups) if g.elastic}
        self.names = [g.name for g in spec.node_groups]
        self.policy = policy
        self._wake_version = 0
        self._wake_at: float | None = None

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self.nodes = engine.nodes
        self._members = {gi: self.nodes.group == gi for gi in self.scaling}

    def after_pass(self) -> None:
        """Ask the autoscaler for targets and apply them."""
        engine, nodes = self.engine, self.nodes
        state, now, status = engine.state, engine.now, nodes.status
        idle = (state.free == state.usable) & (status == ONLINE)
        pools = []
        for gi, e in self.scaling.items():
            mine = self._members[gi]
            pools.append(
                Pool(
                    gi,
                    self.names[gi],
                    int(nodes.gpus[mine][0]),
                    e.min,
                    int(mine.sum()),
                    int((status[mine] == ONLINE).sum()),
                    int((status[mine] == PROVISIONING).sum()),
                    int((idle & mine).sum()),
                )
            )
        decision = self.policy.scale(engine.view, pools)
        for pool in pools:
            target = decision.targets.get(pool.index)
            if target is None:
                continue
            target = min(max(int(target), pool.min), pool.max)
            current = pool.online + pool.provisioning
            if target > current:
                self._grow(pool.index, target - current)
            elif target < current:
                self._shrink(pool.index, current - target)
        if decision.wake_at is not None and decision.wake_at > now:
            self._wake_at = decision.wake_at
            self._wake_version += 1
            engine.call_at(decision.wake_at, partial(self._on_wake, self._wake_version))

    def _grow(self, gi: int, count: int) -> None:
        delay, status = self.scaling[gi].provision, self.nodes.status
        offline = np.flatnonzero(self._members[gi] & (status == OFFLINE))[:count]
        for node in offline.tolist():
            self.nodes.request(node, delay)
        self.engine.log("scale_out", f"{self.names[gi]}+{len(offline)}")
        if delay <= 0:
            self.engine.request_pass()

    def _shrink(self, gi: int, count: int) -> None:
        state, status, mine = self.engine.state, self.nodes.status, self._members[gi]
        provisioning = np.flatnonzero(mine & (status == PROVISIONING))[::-1]
        idle = np.flatnonzero(mine & (status == ONLINE) & (state.free == state.usable))
        chosen = [*provisioning.tolist(), *idle[::-1].tolist()][:count]
        for node in chosen:
            self.nodes.release(node, self.scaling[gi].decommission)
        if chosen:
            self.engine.log("scale_in", f"{self.names[gi]}-{len(chosen)}")

    def _on_wake(self, version: int, _event) -> None:
        if version == self._wake_version:
            self._wake_at = None
            self.engine.request_pass()

    def settled(self) -> bool:
        """No wake-up pending and no node on its way."""
        return self._wake_at is None and self.nodes.provisioning == 0
