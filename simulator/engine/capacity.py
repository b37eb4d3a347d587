"""Elastic capacity: node groups that grow and shrink under an autoscaler, and their bill.

Every node is *online* (usable), *provisioning* (requested, billed, not usable yet) or
*offline*. Elastic groups start with ``initial`` nodes online (the lowest ids); the rest are
offline. After each scheduling pass the autoscaler sets a target per pool: growing requests
offline nodes (usable ``provision`` seconds later, billed from the request); shrinking first
cancels provisioning nodes, then releases idle online nodes (highest ids first; a node with
any work on it is never released), each billed ``decommission`` seconds more. Fixed groups are
online and billed for the whole run.

Must not import: numba.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from ..policies.base import AutoscalingPolicy, Pool
from ..spec.model import ClusterSpec
from .environment import ARRIVAL, COMPLETION

if TYPE_CHECKING:
    from .simulation import Simulation

OFFLINE, PROVISIONING, ONLINE = 0, 1, 2


class Capacity:
    """Node states, the autoscaler's decisions applied, and billed node-seconds."""

    def __init__(
        self,
        spec: ClusterSpec,
        autoscaler: AutoscalingPolicy | None = None,
        rng_for: Callable[[int], np.random.Generator] | None = None,
        checkpoint_save_s: float = 0.0,
    ):
        groups = spec.node_groups
        self.reclaim_rate = {
            i: g.spot_reclaim_rate for i, g in enumerate(groups) if g.spot_reclaim_rate
        }
        self.reclaim_times = {i: g.spot_reclaim_times or [] for i, g in enumerate(groups)}
        self.notice = [g.spot_notice for g in groups]
        self.save_s = checkpoint_save_s
        self.rng_for = rng_for or (lambda node: np.random.default_rng(node))
        self._rngs: dict[int, np.random.Generator] = {}
        self.elastic = {i: g.elastic for i, g in enumerate(groups) if g.elastic is not None}
        self.names = [g.name for g in groups]
        self.group_price = np.array(
            [np.nan if g.price_per_hour is None else g.price_per_hour for g in groups]
        )
        self.group_pricing = [g.pricing for g in groups]
        self.autoscaler = autoscaler
        self._wake_version = 0
        self._wake_at: float | None = None

    def attach(self, sim: Simulation) -> None:
        """Take every elastic group down to its initial size (at t=0, before any job)."""
        self.sim = sim
        topo = sim.cluster.topology
        self.group = topo.node_group
        self.gpus = topo.node_gpus
        n = len(self.group)
        self.status = np.full(n, ONLINE, dtype=np.int8)
        self.billed_from = np.zeros(n)  # NaN: not billed now
        self.billed_s = np.zeros(n)
        self.version = np.zeros(n, dtype=np.int64)  # voids a cancelled request's ready event
        for gi, e in self.elastic.items():
            nodes = np.flatnonzero(self.group == gi)
            initial = e.min if e.initial is None else e.initial
            for node in nodes[initial:].tolist():
                sim.state.set_online(node, False)
                self.status[node] = OFFLINE
                self.billed_from[node] = np.nan
        self._online_gpus = int(self.gpus[self.status == ONLINE].sum())
        for node in np.flatnonzero(self.status == ONLINE).tolist():
            self._arm_reclaim(node, 0.0)
        for gi, times in self.reclaim_times.items():
            for t in times:
                sim.env.call_at(t, ARRIVAL, partial(self._on_trace_reclaim, gi))

    @property
    def online_gpus(self) -> int:
        return self._online_gpus  # kept up to date: read after every pass

    def after_pass(self) -> None:
        """Ask the autoscaler for targets and apply them."""
        if self.autoscaler is None or not self.elastic:
            return
        sim = self.sim
        state, now = sim.state, sim.env.now
        idle = (state.free == state.capacity) & (self.status == ONLINE)
        pools = []
        for gi, e in self.elastic.items():
            mine = self.group == gi
            pools.append(
                Pool(
                    gi,
                    self.names[gi],
                    int(self.gpus[mine][0]),
                    e.min,
                    int(mine.sum()),
                    int((self.status[mine] == ONLINE).sum()),
                    int((self.status[mine] == PROVISIONING).sum()),
                    int((idle & mine).sum()),
                )
            )
        decision = self.autoscaler.scale(sim.view, pools)
        for pool in pools:
            target = decision.targets.get(pool.index)
            if target is None:
                continue
            target = min(max(int(target), pool.min), pool.max)
            current = pool.online + pool.provisioning
            if target > current:
                self._grow(pool.index, target - current, now)
            elif target < current:
                self._shrink(pool.index, current - target, now)
        if decision.wake_at is not None and decision.wake_at > now:
            self._wake_at = decision.wake_at
            self._wake_version += 1
            sim.env.call_at(decision.wake_at, ARRIVAL, partial(self._on_wake, self._wake_version))

    def finish(self, end_time: float) -> None:
        """Close the bill at the end of the run. Reserved capacity is paid whether used or
        not: every node of a reserved group is billed for the whole run."""
        billed = ~np.isnan(self.billed_from)
        self.billed_s[billed] += end_time - self.billed_from[billed]
        self.billed_from[billed] = np.nan
        for gi, pricing in enumerate(self.group_pricing):
            if pricing == "reserved":
                self.billed_s[self.group == gi] = end_time

    def cost(self) -> dict[str, float | None] | None:
        """The bill (price per node-hour x billed hours) per pricing class (None: no group of
        that class has a price); None if no group has a price."""
        price = self.group_price[self.group]
        if np.isnan(price).all():
            return None
        pricing = np.array(self.group_pricing)[self.group]
        out = {}
        for cls in ("on_demand", "reserved", "spot"):
            mine = (pricing == cls) & ~np.isnan(price)
            out[cls] = float((price * self.billed_s)[mine].sum() / 3600.0) if mine.any() else None
        return out

    @property
    def billed_gpu_s(self) -> float:
        return float((self.gpus * self.billed_s).sum())

    # ------------------------------------------------------------------ helpers

    def _grow(self, gi: int, count: int, now: float) -> None:
        delay = self.elastic[gi].provision
        offline = np.flatnonzero((self.group == gi) & (self.status == OFFLINE))[:count]
        for node in offline.tolist():
            self.status[node] = PROVISIONING
            self.billed_from[node] = now
            self.version[node] += 1
            if delay <= 0:
                self._ready(node)
            else:
                ready = partial(self._on_ready, node, int(self.version[node]))
                self.sim.env.call_at(now + delay, COMPLETION, ready)
        self._log(now, "scale_out", f"{self.names[gi]}+{len(offline)}")
        if delay <= 0:
            self.sim._request_pass()

    def _shrink(self, gi: int, count: int, now: float) -> None:
        state, tail = self.sim.state, self.elastic[gi].decommission
        mine = self.group == gi
        provisioning = np.flatnonzero(mine & (self.status == PROVISIONING))[::-1]
        idle = np.flatnonzero(mine & (self.status == ONLINE) & (state.free == state.capacity))
        released = 0
        for node in [*provisioning.tolist(), *idle[::-1].tolist()][:count]:
            if self.status[node] == ONLINE:
                state.set_online(node, False)
                self._online_gpus -= int(self.gpus[node])
            self.status[node] = OFFLINE
            self.version[node] += 1
            self.billed_s[node] += now + tail - self.billed_from[node]
            self.billed_from[node] = np.nan
            released += 1
        if released:
            self._log(now, "scale_in", f"{self.names[gi]}-{released}")

    def _on_ready(self, node: int, version: int, _event) -> None:
        if version == self.version[node]:  # not cancelled (or re-requested) meanwhile
            self._ready(node)
            self.sim._request_pass()

    def _ready(self, node: int) -> None:
        self.status[node] = ONLINE
        self.sim.state.set_online(node, True)
        self._online_gpus += int(self.gpus[node])
        self._arm_reclaim(node, self.sim.env.now)

    def _arm_reclaim(self, node: int, now: float) -> None:
        """A spot node online from ``now`` is reclaimed after an exponential lifetime."""
        rate = self.reclaim_rate.get(int(self.group[node]))
        if rate:
            rng = self._rngs.setdefault(node, self.rng_for(node))
            at = now + rng.exponential(1.0 / rate)
            reclaim = partial(self._on_reclaim, node, int(self.version[node]))
            self.sim.env.call_at(at, ARRIVAL, reclaim)

    def _on_trace_reclaim(self, gi: int, _event) -> None:
        """A reclaim of the trace: the group's most recently added online node goes."""
        online = np.flatnonzero((self.group == gi) & (self.status == ONLINE))
        if len(online):
            self._on_reclaim(int(online[-1]), int(self.version[online[-1]]), None)

    def _on_reclaim(self, node: int, version: int, _event) -> None:
        """The provider takes a spot node back: its jobs are stopped and queued again. They
        keep their progress if the notice leaves time to write a checkpoint (``save``);
        otherwise the work of their current run is lost."""
        if version != self.version[node] or self.status[node] != ONLINE:
            return  # released (or re-provisioned) since
        sim, now = self.sim, self.sim.env.now
        saved = self.notice[int(self.group[node])] >= self.save_s
        for job in [j for j, p in sim.state.running.items() if node in p.nodes]:
            sim._preempt(job)
            if not saved:
                sim.ledger.redo_run(job, now)  # its run, done again
        if sim.services is not None:
            sim.services.evict(node)
        sim.state.set_online(node, False)
        self._online_gpus -= int(self.gpus[node])
        self.status[node] = OFFLINE
        self.version[node] += 1
        self.billed_s[node] += now - self.billed_from[node]
        self.billed_from[node] = np.nan
        self._log(now, "spot_reclaim", self.names[int(self.group[node])])
        sim._request_pass()

    def _on_wake(self, version: int, _event) -> None:
        if version == self._wake_version:
            self._wake_at = None
            self.sim._request_pass()

    def settled(self) -> bool:
        """Nothing more the capacity will do by itself: no autoscaler wake-up pending and no
        node on its way (a run whose jobs are all done may then end)."""
        return self._wake_at is None and not (self.status == PROVISIONING).any()

    def _log(self, now: float, event: str, detail: str) -> None:
        if self.sim._log is not None:
            self.sim._log.append((now, event, -1, detail))
