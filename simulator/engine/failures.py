"""Component failures and repairs (an engine part).

Every device of a failing class (``failures.gpu``: each GPU; ``failures.node``: each node's
host; ``failures.nic``: each of its network cards, as many as its template's ``nics``) has a
lifetime drawn from its own random stream (component ``failures``, keyed by its
node group's name, the node's rank in the group and ``life``), counted only while its node is
online; lemon nodes (``failures.lemons``, a draw of the node's ``lemon`` stream) have their
lifetimes ``factor`` times shorter. The first device to reach its lifetime takes the node
down; a rack failure (``failures.rack``: each rack's lifetime in wall-clock time, stream
``rack`` keyed by its first node's group and the rack's rank among that group's racks) takes
every node of the rack down, a power domain's (``failures.power``: ``racks`` consecutive racks
of a data centre; stream ``power`` keyed by the data centre and the domain's rank) every node
of its racks. Down nodes (``node_down`` in the event log, with the node and the class) stay
billed and draw idle power; the jobs on them are interrupted and go back to their last
complete checkpoint (:mod:`.ledger`; they queue again and restart elsewhere, paying the
restart cost), service replicas are placed again.

Each failure is an *incident* repaired in a time drawn from its node's (or rack's)
``repair`` stream, by one of ``repair_crews`` crews (incidents wait for a free crew in the
order they happened). A node is up again (``node_up``) once no incident covers it: its failed
device as new, the others as old as they were. The time from an incident to its repair is
its recovery time.

A failure trace (``failures.trace``: a CSV with columns ``time`` (seconds, or a date),
``component`` (``gpu:<group>:<rank>``, ``node:<group>:<rank>`` or ``nic:<group>:<rank>`` -
the node's rank in its group - or ``rack:<group>:<rank>`` - the rack's among the group's
racks) and ``duration`` (the repair time, seconds), in time order) adds those failures,
through the same crews.

``failures.detect``: a failure is noticed that long after it happens; each job it interrupts
holds its devices that much longer when it restarts (booked as restart time).

Hot spares (``hot_spares``: per node group, its last nodes) are billed and powered but held
back from scheduling; when a node running a job fails, a spare of its group takes its place
in the job's placement at once (the job goes back to its checkpoint and pays its restart
cost, without queueing; ``job_interrupted`` with ``spare <old>-><new>``). A repaired node
refills the spares of its group (``node_up`` with ``<node>:spare``) before it serves again.

With ``retries``, a job interrupted once more than that gives up: it ends ``failed`` with
the reason in the jobs table (``job_failed`` in the event log).

The raw report (failures per class, recovery times, down time per node, the ``down_gpus``
level) is turned into the summary's ``failures`` block by :mod:`simulator.metrics.failures`.

Must not import: numba.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from functools import partial

import numpy as np

from ..policies.base import Placement
from ..scenario.failures import CLASSES, DEVICES, ComponentFailures, FailuresSpec, catalog_mtbf_h
from ..scenario.spec import ClusterSpec, NodeGroupSpec
from ..workload.synthetic import sample_durations
from .elastic import shrunk
from .failure_trace import read_trace
from .ledger import QUEUED
from .nodes import DOWN, ONLINE, SPARE, ranks
from .parts import Engine, Part

IN_SERVICE = (ONLINE, DOWN, SPARE)  # nodes a failure can hit (not offline or booting)


def lifetimes(spec: ComponentFailures, n: int, rng: np.random.Generator, mtbf: float):
    """``n`` device lifetimes of mean ``mtbf``: exponential, or Weibull of that mean."""
    if spec.weibull_shape is None:
        return rng.exponential(mtbf, n)
    scale = mtbf / math.gamma(1 + 1 / spec.weibull_shape)
    return scale * rng.weibull(spec.weibull_shape, n)


def mtbf_s(name: str, spec: ComponentFailures, group: NodeGroupSpec) -> float:
    """A class's mean time between failures on a node group: given, or the catalog's."""
    if spec.mtbf != "catalog":
        return spec.mtbf
    return catalog_mtbf_h(name, group.resolved_node()) * 3600.0


def grouped(keys: np.ndarray) -> tuple[list[int], list[np.ndarray]]:
    """The distinct ``keys`` in order, and the positions of each (ascending)."""
    order = np.argsort(keys, kind="stable")
    ids, starts = np.unique(keys[order], return_index=True)
    return ids.tolist(), np.split(order, starts[1:]) if len(order) else []


class Failures(Part):
    """Lifetimes of every device of the failing classes, incidents, crews and repairs."""

    name = "failures"
    pass_driven = False

    def __init__(
        self,
        spec: FailuresSpec,
        cluster: ClusterSpec,
        rng_for: Callable[..., np.random.Generator],
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.spec = spec
        self._bounds = bounds if spec.on_failure == "shrink" else None  # elastic min, step
        self.devices = [(c, getattr(spec, c)) for c in DEVICES if getattr(spec, c)]
        self._nics = [g.resolved_node().nics for g in cluster.node_groups]
        self.group_names = [g.name for g in cluster.node_groups]
        self._mtbf = [  # per device class, per node group
            [mtbf_s(c, d, g) for g in cluster.node_groups] for c, d in self.devices
        ]
        self.dc_names = [dc.name for dc in cluster.datacenters]
        self.rng_for = rng_for
        self.count = dict.fromkeys(CLASSES, 0)
        self.recoveries: list[float] = []  # incident to repair, per repaired incident
        self._waiting: deque = deque()  # incidents waiting for a crew
        self._crews = spec.repair_crews or math.inf
        self.trace = read_trace(spec.trace, cluster) if spec.trace else []

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self.nodes = nodes = engine.nodes
        n = len(nodes.group)
        groups = [self.group_names[g] for g in nodes.group.tolist()]
        self._node_of = {key: node for node, key in enumerate(zip(groups, nodes.rank, strict=True))}
        keys = list(zip(groups, map(str, nodes.rank), strict=True))
        self._life = [self.rng_for(*k, "life") for k in keys]
        self._repair = [self.rng_for(*k, "repair") for k in keys]
        lemon = self.spec.lemons
        self.lemon = np.array(
            [
                lemon is not None and self.rng_for(*k, "lemon").random() < lemon.fraction
                for k in keys
            ]
        )
        self._speed = np.where(self.lemon, lemon.factor if lemon else 1.0, 1.0)  # ageing rate
        self._left, self._kind = [], []
        for node in range(n):
            g = int(nodes.group[node])
            per = {"gpu": int(nodes.gpus[node]), "node": 1, "nic": self._nics[g]}
            counts = [per[c] for c, _ in self.devices]
            self._kind.append(np.repeat(np.arange(len(self.devices)), counts))
            draws = [
                lifetimes(s, k, self._life[node], self._mtbf[d][g])
                for d, ((_, s), k) in enumerate(zip(self.devices, counts, strict=True))
            ]
            self._left.append(np.concatenate([np.empty(0), *draws]) / self._speed[node])
        self._since = np.full(n, np.nan)  # online since (NaN: not online)
        self._holds = np.zeros(n, dtype=np.int64)  # unrepaired incidents covering the node
        self.down_s = np.zeros(n)  # time down after failures
        self._down_at = np.full(n, np.nan)
        self.down_gpus, self._levels = 0, [(0, 0)]  # (first pass row, down GPUs) per change
        self._spares: dict[int, list[int]] = {}  # per node group, its spares now
        self._spare_target: dict[int, int] = {}
        for g, name in enumerate(self.group_names):
            count = self.spec.hot_spares.get(name, 0)
            members = np.flatnonzero(nodes.group == g).tolist()
            self._spare_target[g], self._spares[g] = count, members[len(members) - count :]
            for node in self._spares[g]:
                nodes.hold_spare(node)
        self.swaps = 0
        for node in np.flatnonzero(nodes.status == ONLINE).tolist():
            self._arm(node)
        node_rack = engine.cluster.topology.node_rack
        if self.spec.rack is not None or self.trace:
            self._group_racks(node_rack, groups)
        for key, members in self._areas(node_rack).items():
            life, repair = (self.rng_for(*key, part) for part in ("life", "repair"))
            self._next_area(key[1], members, life, repair)
        for row in self.trace:
            engine.call_at(row[0], partial(self._on_trace, *row), completion=True)

    # ------------------------------------------------------------------ lifetimes

    def _arm(self, node: int) -> None:
        """The node is online from now: its next failure is its first device to go."""
        now = self.engine.now
        self._since[node] = now
        at = now + float(self._left[node].min(initial=math.inf))
        if at < math.inf:
            version = int(self.nodes.version[node])
            self.engine.call_at(at, partial(self._on_device, node, version), completion=True)

    def on_node_status(self, node: int, old: int, new: int) -> None:
        if old == ONLINE:  # devices age only while online
            self._left[node] -= self.engine.now - self._since[node]
            self._since[node] = np.nan
        if new == ONLINE:
            self._arm(node)

    def _on_device(self, node: int, version: int, _event) -> None:
        if version != self.nodes.version[node] or self.nodes.status[node] != ONLINE:
            return  # the node changed status since: a newer timer stands for it
        device = int(np.argmin(self._left[node]))
        kind = self._kind[node][device]
        name, spec = self.devices[kind]
        self._incident(name, [node], self._repair[node], spec)
        mtbf = self._mtbf[kind][int(self.nodes.group[node])]
        new = lifetimes(spec, 1, self._life[node], mtbf)[0] / self._speed[node]
        self._left[node][device] = new  # replaced: as new

    def _group_racks(self, node_rack: np.ndarray, groups: list[str]) -> None:
        """Each rack's nodes, and each rack by its key: its first node's group and its rank
        among that group's racks."""
        racks, members = grouped(node_rack)
        first = [groups[int(m[0])] for m in members]
        self._rack_nodes = {r: m.tolist() for r, m in zip(racks, members, strict=True)}
        self._rack_of = dict(zip(zip(first, ranks(first), strict=True), racks, strict=True))

    def _areas(self, node_rack: np.ndarray) -> dict[tuple[str, str, str], list[int]]:
        """The racks and power domains that fail, by stream key: their nodes."""
        out = {}
        if self.spec.rack is not None:
            for (g, rank), r in self._rack_of.items():
                out[(g, "rack", str(rank))] = self._rack_nodes[r]
        if self.spec.power is not None:  # a node's domain: its rack's rank in its DC // k
            node_dc, k = self.engine.cluster.topology.node_dc, self.spec.power.racks
            for d, dc in enumerate(self.dc_names):
                mine = np.flatnonzero(node_dc == d)
                rack_rank = np.unique(node_rack[mine], return_inverse=True)[1]
                for rank, members in zip(*grouped(rack_rank // k), strict=True):
                    out[(dc, "power", str(rank))] = mine[members].tolist()
        return out

    def _on_trace(self, _t: float, name: str, group: str, rank: int, repair: float, _e) -> None:
        """A failure of the trace: its node, or every node of its rack."""
        if name == "rack":
            nodes = self._rack_nodes[self._rack_of[(group, rank)]]
        else:
            nodes = [self._node_of[(group, rank)]]
        self._incident(name, self._in_service(nodes), None, None, repair=repair)

    def _next_area(self, name: str, nodes: list[int], life, repair) -> None:
        """The next failure of a rack or power domain (``name``) of ``nodes``."""
        spec = getattr(self.spec, name)
        at = self.engine.now + float(lifetimes(spec, 1, life, spec.mtbf)[0])
        on = partial(self._on_area, name, nodes, life, repair)
        self.engine.call_at(at, on, completion=True)

    def _on_area(self, name: str, nodes: list[int], life, repair, _event) -> None:
        then = (name, nodes, life, repair)
        self._incident(name, self._in_service(nodes), repair, getattr(self.spec, name), then=then)

    def _in_service(self, nodes: list[int]) -> list[int]:
        """The nodes a failure can hit now (not offline or booting)."""
        return [n for n in nodes if self.nodes.status[n] in IN_SERVICE]

    # ------------------------------------------------------------------ incidents

    def _incident(self, name, nodes, repair_rng, spec, then=None, repair=None) -> None:
        """A failure of class ``name`` takes ``nodes`` down until it is repaired (in
        ``repair`` seconds, or a draw of ``spec.repair``; ``then``: a rack or domain, whose next
        lifetime starts at the repair)."""
        engine, status = self.engine, self.nodes.status
        self.count[name] += 1
        for node in nodes:  # spares in the failure are no spares until repaired
            pool = self._spares[int(self.nodes.group[node])]
            if node in pool:
                pool.remove(node)
        for node in nodes:
            self._holds[node] += 1
            if status[node] in (ONLINE, SPARE):
                hit = engine.state.jobs_on(node)
                for job in hit if self.spec.detect > 0 else ():
                    engine.delay_restart(job, self.spec.detect)
                hit = [
                    j
                    for j in hit
                    if self._last_try(j) or not (self._swap(j, node) or self._shrink(j, nodes))
                ]
                self.nodes.take_down(node, "failure", keep_progress=False, billed=True)
                self._give_up(hit)
                self._down_at[node] = engine.now
                self._add_down(int(self.nodes.gpus[node]))
                engine.log("node_down", f"{node}:{name}")
        if repair is None:
            repair = float(sample_durations(spec.repair, 1, repair_rng)[0])
        self._waiting.append((engine.now, nodes, repair, then))
        self._dispatch()

    def _swap(self, job: int, node: int) -> bool:
        """A hot spare of the node's group takes its place in the job, if one is left."""
        pool = self._spares[int(self.nodes.group[node])]
        if not pool:
            return False
        spare = pool.pop(0)
        self.nodes.bring_up(spare)
        self.engine.replace_node(job, node, spare)
        self.swaps += 1
        return True

    def _shrink(self, job: int, failed: list[int]) -> bool:
        """An elastic job goes on at once on its devices off the ``failed`` nodes, at the
        largest size its bounds allow (``on_failure: shrink``), if that is at least its
        minimum."""
        if self._bounds is None:
            return False
        low, step = (int(b[job]) for b in self._bounds)
        placement = self.engine.state.running[job]
        keep = ~np.isin(placement.nodes, failed)
        left = Placement(placement.nodes[keep], placement.counts[keep])
        size = int(left.counts.sum()) // step * step
        if size < max(low, 1):
            return False
        left = shrunk(left, int(left.counts.sum()) - size)
        return self.engine.resize(job, size, left, 0.0, interrupted=True)

    def _last_try(self, job: int) -> bool:
        """This interruption is past the job's retry budget (it fails rather than swap)."""
        budget = self.spec.retries
        return budget is not None and self.engine.ledger.interruptions.get(job, 0) >= budget

    def _give_up(self, jobs: list[int]) -> None:
        """Interrupted jobs past their retry budget fail."""
        budget, ledger = self.spec.retries, self.engine.ledger
        for job in jobs if budget is not None else ():
            if ledger.interruptions.get(job, 0) > budget and ledger.state[job] == QUEUED:
                reason = f"interrupted {budget + 1} times (failures.retries: {budget})"
                self.engine.fail(job, reason)

    def _dispatch(self) -> None:
        """Free crews take the incidents waiting longest."""
        while self._waiting and self._crews > 0:
            self._crews -= 1
            since, nodes, repair, then = self._waiting.popleft()
            done = partial(self._on_repaired, since, nodes, then)
            self.engine.call_at(self.engine.now + repair, done, completion=True)

    def _on_repaired(self, since: float, nodes: list[int], then, _event) -> None:
        engine = self.engine
        self._crews += 1
        self.recoveries.append(engine.now - since)
        for node in nodes:
            self._holds[node] -= 1
            if self._holds[node] == 0 and self.nodes.status[node] == DOWN:
                self.down_s[node] += engine.now - self._down_at[node]
                self._down_at[node] = np.nan
                self._add_down(-int(self.nodes.gpus[node]))
                group = int(self.nodes.group[node])
                if len(self._spares[group]) < self._spare_target[group]:
                    self._spares[group].append(node)  # it refills the spares
                    self.nodes.hold_spare(node)
                    engine.log("node_up", f"{node}:spare")
                else:
                    self.nodes.bring_up(node)
                    engine.log("node_up", str(node))
        if then is not None:
            self._next_area(*then)
        self._dispatch()

    def _add_down(self, delta: int) -> None:
        self.down_gpus += delta
        self._levels.append((self.engine.passes, self.down_gpus))

    # ------------------------------------------------------------------ results

    def finish(self, end_time: float) -> None:
        down = ~np.isnan(self._down_at)  # still in repair
        self.down_s[down] += end_time - self._down_at[down]
        self._rows = self.engine.passes

    def series(self) -> dict[str, np.ndarray]:
        rows, value = zip(*self._levels, strict=True)
        counts = np.diff([*rows, self._rows])
        return {"down_gpus": np.repeat(np.asarray(value, dtype=float), counts)}

    def report(self) -> dict:
        """Failures per class, recovery times of repaired incidents, and per node its time
        down, GPUs, data centre (an index into ``datacenters``) and whether it is a lemon."""
        return {
            "failures": {
                c: self.count[c]
                for c in CLASSES
                if getattr(self.spec, c) or any(row[1] == c for row in self.trace)
            },
            "recovery_s": np.asarray(self.recoveries),
            "down_s": self.down_s,
            "gpus": self.nodes.gpus,
            "node_dc": self.engine.cluster.topology.node_dc,
            "spare_swaps": self.swaps,
            "datacenters": self.dc_names,
            "lemon": self.lemon,
        }
