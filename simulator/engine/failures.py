"""Component failures and repairs (an engine part).

Every device of a failing class (``failures.gpu``: each GPU; ``failures.node``: each node's
host) has a lifetime drawn from its own random stream (component ``failures``, keyed by its
node group's name, the node's rank in the group and ``life``), counted only while its node is
online. The first device to reach its lifetime takes the node down (``node_down`` in the event
log, status down: billed, drawing idle power): the jobs on it are interrupted and go back to
their last complete checkpoint (:mod:`.ledger`; they queue again and restart elsewhere, paying
the restart cost), service replicas are placed again. After a repair time (stream
``repair``) the node is up again (``node_up``) with the failed device as new and the others as
old as they were.

The raw report (failures per class, repair times, down time per node, the ``down_gpus`` level)
is turned into the summary's ``failures`` block by :mod:`simulator.metrics.failures`.

Must not import: numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from ..scenario.failures import ComponentFailures, FailuresSpec
from ..scenario.spec import ClusterSpec
from ..workload.synthetic import sample_durations
from .nodes import DOWN, ONLINE
from .parts import Engine, Part

CLASSES = ("gpu", "node")


def lifetimes(spec: ComponentFailures, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` device lifetimes: exponential, or Weibull of the same mean."""
    if spec.weibull_shape is None:
        return rng.exponential(spec.mtbf, n)
    scale = spec.mtbf / math.gamma(1 + 1 / spec.weibull_shape)
    return scale * rng.weibull(spec.weibull_shape, n)


class Failures(Part):
    """Lifetimes of every device of the failing classes, node downs and repairs."""

    name = "failures"
    pass_driven = False

    def __init__(
        self,
        spec: FailuresSpec,
        cluster: ClusterSpec,
        rng_for: Callable[..., np.random.Generator],
    ):
        self.classes = [(c, getattr(spec, c)) for c in CLASSES if getattr(spec, c) is not None]
        self.group_names = [g.name for g in cluster.node_groups]
        self.dc_names = [dc.name for dc in cluster.datacenters]
        self.rng_for = rng_for
        self.count = dict.fromkeys(CLASSES, 0)
        self.repairs: list[float] = []  # completed repair times

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self.nodes = nodes = engine.nodes
        rank, seen = [], {}
        for g in nodes.group.tolist():
            rank.append(seen.get(g, 0))
            seen[g] = rank[-1] + 1
        n = len(nodes.group)
        self._life, self._repair, self._left, self._kind = [], [], [], []
        for node in range(n):
            key = (self.group_names[nodes.group[node]], str(rank[node]))
            life, repair = self.rng_for(*key, "life"), self.rng_for(*key, "repair")
            self._life.append(life)
            self._repair.append(repair)
            counts = [int(nodes.gpus[node]) if c == "gpu" else 1 for c, _ in self.classes]
            self._kind.append(np.repeat(np.arange(len(self.classes)), counts))
            self._left.append(
                np.concatenate(
                    [lifetimes(s, k, life) for (_, s), k in zip(self.classes, counts, strict=True)]
                )
            )
        self._since = np.full(n, np.nan)  # online since (NaN: not online)
        self.down_s = np.zeros(n)  # time down after a failure
        self._down_at = np.full(n, np.nan)
        self.down_gpus = 0
        self._levels = [(0, 0)]  # (first pass row, down GPUs) per change
        for node in np.flatnonzero(nodes.status == ONLINE).tolist():
            self._arm(node)

    def _arm(self, node: int) -> None:
        """The node is online from now: its next failure is its first device to go."""
        now = self.engine.now
        self._since[node] = now
        at = now + float(self._left[node].min(initial=math.inf))
        if at < math.inf:
            version = int(self.nodes.version[node])
            self.engine.call_at(at, partial(self._on_failure, node, version), completion=True)

    def on_node_status(self, node: int, old: int, new: int) -> None:
        if old == ONLINE:  # devices age only while online
            self._left[node] -= self.engine.now - self._since[node]
            self._since[node] = np.nan
        if new == ONLINE:
            self._arm(node)

    def _on_failure(self, node: int, version: int, _event) -> None:
        nodes, engine = self.nodes, self.engine
        if version != nodes.version[node] or nodes.status[node] != ONLINE:
            return  # the node changed status since: a newer timer stands for it
        device = int(np.argmin(self._left[node]))
        name, spec = self.classes[self._kind[node][device]]
        self.count[name] += 1
        nodes.take_down(node, "failure", keep_progress=False, billed=True)
        self._left[node][device] = lifetimes(spec, 1, self._life[node])[0]  # replaced
        repair = float(sample_durations(spec.repair, 1, self._repair[node])[0])
        self._down_at[node] = engine.now
        self._set_down(int(nodes.gpus[node]))
        engine.log("node_down", f"{node}:{name}")
        up = partial(self._on_repair, node, int(nodes.version[node]), repair)
        engine.call_at(engine.now + repair, up, completion=True)

    def _on_repair(self, node: int, version: int, repair: float, _event) -> None:
        nodes = self.nodes
        if version != nodes.version[node] or nodes.status[node] != DOWN:
            return
        self.repairs.append(repair)
        self.down_s[node] += self.engine.now - self._down_at[node]
        self._down_at[node] = np.nan
        self._set_down(-int(nodes.gpus[node]))
        nodes.bring_up(node)
        self.engine.log("node_up", str(node))

    def _set_down(self, delta: int) -> None:
        self.down_gpus += delta
        self._levels.append((self.engine.passes, self.down_gpus))

    def finish(self, end_time: float) -> None:
        down = ~np.isnan(self._down_at)  # still in repair
        self.down_s[down] += end_time - self._down_at[down]
        self._rows = self.engine.passes

    def series(self) -> dict[str, np.ndarray]:
        rows, value = zip(*self._levels, strict=True)
        counts = np.diff([*rows, self._rows])
        return {"down_gpus": np.repeat(np.asarray(value, dtype=float), counts)}

    def report(self) -> dict:
        """Failures per class, completed repair times, and per node its time down, GPUs and
        data centre (an index into ``datacenters``)."""
        return {
            "failures": dict(self.count),
            "repair_s": np.asarray(self.repairs),
            "down_s": self.down_s,
            "gpus": self.nodes.gpus,
            "node_dc": self.engine.cluster.topology.node_dc,
            "datacenters": self.dc_names,
        }
