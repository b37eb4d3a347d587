"""Node lifecycle: the one owner of every node's status and of its bill.

A node is *online* (usable), *provisioning* (requested, billed, not usable yet), *offline*
(not in the cluster, not billed), *down* (in the cluster and billed, but unusable: in
maintenance, failed) or a *spare* (billed and powered, held back from scheduling to replace a
failed node in a running job: :mod:`.failures`). Elastic groups start with ``initial``
nodes online (the lowest ids), the rest offline; every other node starts online. Parts
change statuses only through the methods here (the autoscaler requests and releases nodes,
spot reclaims and failures take them down, repairs bring them up or make them spares), and
every change is published to all parts (``on_node_status``; ``on_node_down`` when a usable
node goes, after its jobs were stopped).

Billing: a node is billed from its request (or from t=0) until it is released (plus the
group's ``decommission`` tail when scaled in) or reclaimed; a node of a reserved group is
billed for the whole run whether used or not. The raw bill is in :meth:`Nodes.report`;
:mod:`simulator.metrics.cost` prices it.

Must not import: numba.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from ..scenario.spec import ClusterSpec

if TYPE_CHECKING:
    from .parts import Engine

OFFLINE, PROVISIONING, ONLINE, DOWN, SPARE = 0, 1, 2, 3, 4


def ranks(keys: list) -> list[int]:
    """Each entry's rank among the entries with the same key, in order."""
    seen: dict = {}
    out = []
    for k in keys:
        out.append(seen.get(k, 0))
        seen[k] = out[-1] + 1
    return out


class Nodes:
    """Status, version and billed time of every node."""

    def __init__(self, spec: ClusterSpec | None = None):
        groups = [] if spec is None else spec.node_groups
        self.scaling = {i: g.elastic for i, g in enumerate(groups) if g.elastic is not None}
        self.names = [g.name for g in groups]
        self.group_price = [
            np.nan if g.price_per_hour is None else g.price_per_hour for g in groups
        ]
        self.group_pricing = [g.pricing for g in groups]

    def attach(self, engine: Engine) -> None:
        """Take every elastic group down to its initial size (at t=0, before any job)."""
        self.engine = engine
        topo = engine.cluster.topology
        self.group, self.gpus = topo.node_group, topo.node_gpus
        # each node's rank in its group: random streams are keyed by group name and rank,
        # never by global id, so adding a group never changes another group's draws
        self.rank = ranks(self.group.tolist())
        n = len(self.group)
        self.status = np.full(n, ONLINE, dtype=np.int8)
        self.billed_from = np.zeros(n)  # NaN: not billed now
        self.billed_s = np.zeros(n)
        self.version = np.zeros(n, dtype=np.int64)  # bumped on every change: voids timers
        self.provisioning = 0
        self.failures = np.zeros(n, dtype=np.int64)  # health: failures so far, the last one's time
        self.failed_at = np.full(n, np.nan)
        for gi, e in self.scaling.items():
            initial = e.min if e.initial is None else e.initial
            for node in np.flatnonzero(self.group == gi)[initial:].tolist():
                engine.state.set_online(node, False)
                self.status[node] = OFFLINE
                self.billed_from[node] = np.nan
        self.online_gpus = int(self.gpus[self.status == ONLINE].sum())  # kept up to date

    # ------------------------------------------------------------------ transitions

    def _set(self, node: int, new: int) -> None:
        old = int(self.status[node])
        self.status[node] = new
        self.version[node] += 1
        self.provisioning += (new == PROVISIONING) - (old == PROVISIONING)
        if (old == ONLINE) != (new == ONLINE):
            self.engine.state.set_online(node, new == ONLINE)
            self.online_gpus += int(self.gpus[node]) * (1 if new == ONLINE else -1)
        self.engine.node_status(node, old, new)

    def _unbill(self, node: int, until: float) -> None:
        self.billed_s[node] += until - self.billed_from[node]
        self.billed_from[node] = np.nan

    def request(self, node: int, delay: float) -> None:
        """An offline node is requested now: billed from now, online ``delay`` s later."""
        now = self.engine.now
        self.billed_from[node] = now
        self._set(node, PROVISIONING)
        if delay <= 0:
            self._set(node, ONLINE)
        else:
            ready = partial(self._on_ready, node, int(self.version[node]))
            self.engine.call_at(now + delay, ready, completion=True)

    def _on_ready(self, node: int, version: int, _event) -> None:
        if version == self.version[node]:  # not cancelled (or re-requested) meanwhile
            self._set(node, ONLINE)
            self.engine.request_pass()

    def release(self, node: int, tail: float = 0.0) -> None:
        """A provisioning node, or an online node with nothing on it, leaves the cluster,
        billed ``tail`` seconds more."""
        if self.status[node] == ONLINE:
            self.engine.node_down(node, "released", keep_progress=True)
        self._set(node, OFFLINE)
        self._unbill(node, self.engine.now + tail)

    def take_down(self, node: int, reason: str, *, keep_progress: bool, billed: bool) -> None:
        """An online node stops being usable now: its jobs are stopped and queued again
        (keeping their current run's work only with ``keep_progress``), every part is told.
        A ``failure`` is counted in the node's health (``failures``, ``failed_at``).
        ``billed``: it stays in the cluster and billed (down) rather than leaving it
        (offline, as a spot reclaim)."""
        if reason == "failure":
            self.failures[node] += 1
            self.failed_at[node] = self.engine.now
        self.engine.node_down(node, reason, keep_progress)
        self._set(node, DOWN if billed else OFFLINE)
        if not billed:
            self._unbill(node, self.engine.now)
        self.engine.request_pass()

    def bring_up(self, node: int) -> None:
        """A down node or a spare is usable from now."""
        self._set(node, ONLINE)
        self.engine.request_pass()

    def hold_spare(self, node: int) -> None:
        """An idle online node, or a down one, becomes a spare (billed, not usable)."""
        if self.status[node] == ONLINE:
            self.engine.node_down(node, "spare", keep_progress=True)
        self._set(node, SPARE)

    # ------------------------------------------------------------------ results

    def finish(self, end_time: float) -> None:
        """Close the bill at the end of the run (reserved groups: the whole run)."""
        billed = ~np.isnan(self.billed_from)
        self.billed_s[billed] += end_time - self.billed_from[billed]
        self.billed_from[billed] = np.nan
        for gi, pricing in enumerate(self.group_pricing):
            if pricing == "reserved":
                self.billed_s[self.group == gi] = end_time

    def report(self) -> dict:
        """The raw bill: billed seconds and devices per node, each node's hourly price (NaN:
        none) and pricing class."""
        price = np.asarray(self.group_price, dtype=float)
        pricing = np.asarray(self.group_pricing, dtype=object)
        return {
            "billed_s": self.billed_s,
            "gpus": self.gpus,
            "price_per_hour": price[self.group] if len(price) else np.full(len(self.gpus), np.nan),
            "pricing": pricing[self.group] if len(pricing) else np.full(len(self.gpus), None),
        }
