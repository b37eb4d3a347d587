"""Spot nodes: the provider takes them back (an engine part).

A node of a group with ``spot_reclaim_rate`` is reclaimed after an exponential lifetime from
each time it comes online (its own random stream per node, keyed by its group's name and its
rank in the group); a group's ``spot_reclaim_times``
reclaim its most recently added online node at those times. A reclaimed node leaves the
cluster (offline, billed until then); its jobs are stopped and queued again, keeping their
progress if the group's notice leaves time to write a checkpoint (``notice >= save``),
otherwise losing the work of their current run; services re-place their replicas.

Must not import: numba.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from ..scenario.spec import ClusterSpec
from .nodes import ONLINE
from .parts import Engine, Part


class Spot(Part):
    """Reclaim timers of spot nodes."""

    name = "spot"

    def __init__(
        self,
        spec: ClusterSpec,
        rng_for: Callable[[str, str], np.random.Generator],
        checkpoint_save_s: float = 0.0,
    ):
        groups = spec.node_groups
        self.rate = {i: g.spot_reclaim_rate for i, g in enumerate(groups) if g.spot_reclaim_rate}
        self.times = {i: g.spot_reclaim_times for i, g in enumerate(groups) if g.spot_reclaim_times}
        self.saved = [g.spot_notice >= checkpoint_save_s for g in groups]
        self.names = [g.name for g in groups]
        self.rng_for = rng_for
        self._rngs: dict[int, np.random.Generator] = {}

    @staticmethod
    def wanted(spec: ClusterSpec) -> bool:
        return any(g.spot_reclaim_rate or g.spot_reclaim_times for g in spec.node_groups)

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self.nodes = engine.nodes  # a node's stream: its group's name and ``nodes.rank``
        for node in np.flatnonzero(self.nodes.status == ONLINE).tolist():
            self._arm(node)
        for gi, times in self.times.items():
            for t in times:
                engine.call_at(t, partial(self._on_trace_reclaim, gi))

    def on_node_status(self, node: int, old: int, new: int) -> None:
        if new == ONLINE:
            self._arm(node)

    def _arm(self, node: int) -> None:
        """A spot node online from now is reclaimed after an exponential lifetime."""
        rate = self.rate.get(int(self.nodes.group[node]))
        if rate:
            if node not in self._rngs:
                name = self.names[int(self.nodes.group[node])]
                self._rngs[node] = self.rng_for(name, str(self.nodes.rank[node]))
            rng = self._rngs[node]
            at = self.engine.now + rng.exponential(1.0 / rate)
            self.engine.call_at(at, partial(self._on_reclaim, node, int(self.nodes.version[node])))

    def _on_trace_reclaim(self, gi: int, _event) -> None:
        """The group's most recently added online node goes."""
        nodes = self.nodes
        online = np.flatnonzero((nodes.group == gi) & (nodes.status == ONLINE))
        if len(online):
            self._on_reclaim(int(online[-1]), int(nodes.version[online[-1]]), None)

    def _on_reclaim(self, node: int, version: int, _event) -> None:
        nodes = self.nodes
        if version != nodes.version[node] or nodes.status[node] != ONLINE:
            return  # released, re-provisioned or down since
        group = int(nodes.group[node])
        nodes.take_down(node, "spot_reclaim", keep_progress=self.saved[group], billed=False)
        self.engine.log("spot_reclaim", self.names[group])
