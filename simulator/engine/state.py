"""Mutable cluster state owned by the engine, and the read-only view policies receive.

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import types
from collections.abc import Mapping

import numpy as np

from .. import kernels
from ..kernels.placement import BAD_COUNT, BAD_NODE, OVER_FREE, OVER_USABLE, WRONG_TOTAL
from ..policies.base import Placement
from ..world.cluster import Cluster
from ..world.jobs import JobTable
from . import oracle
from .ledger import RUNNING

_REASONS = {
    BAD_NODE: "a node id is out of range",
    BAD_COUNT: "a device count is not positive",
    OVER_FREE: "it asks for more devices than a node has free",
    WRONG_TOTAL: "its device counts do not add up to the job's request",
    OVER_USABLE: "releasing it would exceed a node's usable devices",
}


class EngineError(RuntimeError):
    """A policy returned a decision the engine refuses to apply."""


class InvariantError(AssertionError):
    """A state invariant failed (only raised with ``check_invariants`` on)."""


class ClusterState:
    """Free devices per node and the placement of every running job.

    ``free`` counts whole free devices. A job asking for a share of one device (``milli`` <
    1000 thousandths) goes on a *shared* device: ``slots[node, k]`` holds the thousandths
    still free on the node's k-th shared device (-1: no such device). A shared device is
    opened from a whole free one and returns to ``free`` when its last share leaves."""

    def __init__(self, cluster: Cluster, milli: np.ndarray | None = None):
        self._usable = np.array(cluster.devices, dtype=np.int64)  # installed if online, else 0
        self.usable = self._usable.view()
        self.usable.setflags(write=False)
        self.free = np.array(cluster.devices, dtype=np.int64)
        self._installed = cluster.devices
        self.free_total = int(self.free.sum())
        self.running: dict[int, Placement] = {}
        self.milli = milli
        self.slots = np.full((len(self.free), max(int(self.usable.max(initial=0)), 1)), -1)
        self.shared: dict[int, tuple[int, int]] = {}  # job -> (node, slot)
        self.reserved = np.zeros(len(self.free), dtype=np.int64)  # held by service replicas
        # devices in use per node group (jobs, replicas, opened shared devices), kept with
        # every change of ``free`` so that readers (energy) pay O(groups), not O(nodes)
        self._group = cluster.topology.node_group.tolist()
        self.group_busy = [0] * (max(self._group, default=-1) + 1)
        self._one_group = len(self.group_busy) == 1

    def _use(self, nodes: np.ndarray, counts: np.ndarray, sign: int, total: int) -> None:
        """Book ``sign x counts`` devices on ``nodes`` (``total`` of them) in ``group_busy``."""
        if self._one_group:
            self.group_busy[0] += sign * total
            return
        for node, count in zip(nodes.tolist(), counts.tolist(), strict=True):
            self.group_busy[self._group[node]] += sign * count

    def set_online(self, node: int, online: bool) -> None:
        """Bring a node's devices into use, or take an idle node out of it."""
        if online:
            devices = int(self._installed[node])
            self._usable[node] = self.free[node] = devices
            self.free_total += devices
        else:
            if self.free[node] != self._usable[node]:
                raise EngineError(f"node {node} still runs jobs: it cannot be taken offline")
            self.free_total -= int(self.free[node])
            self._usable[node] = self.free[node] = 0

    def reserve(self, node: int, devices: int) -> None:
        """Hold ``devices`` whole devices of ``node`` outside any job (a service replica)."""
        if not 0 < devices <= self.free[node]:
            raise EngineError(f"cannot hold {devices} devices on node {node}: too few free")
        self.free[node] -= devices
        self.free_total -= devices
        self.group_busy[self._group[node]] += devices
        self.reserved[node] += devices

    def unreserve(self, node: int, devices: int) -> None:
        """Give back devices held by :meth:`reserve`."""
        if not 0 < devices <= self.reserved[node]:
            raise EngineError(f"node {node} does not hold {devices} devices for replicas")
        self.free[node] += devices
        self.free_total += devices
        self.group_busy[self._group[node]] -= devices
        self.reserved[node] -= devices

    def is_share(self, job: int) -> bool:
        return self.milli is not None and self.milli[job] < 1000

    def share_placement(self, job: int, nodes: np.ndarray | None = None) -> Placement | None:
        """The node of the open shared device that fits ``job``'s share most tightly (among
        ``nodes``, a node mask, if given)."""
        fits = self.slots >= self.milli[job]
        if nodes is not None:
            fits &= nodes[:, None]
        if not fits.any():
            return None
        node = int(np.argmin(np.where(fits, self.slots, 1001)) // self.slots.shape[1])
        return Placement(np.array([node]), np.array([1]))

    def _allocate_share(self, job: int, placement: Placement) -> None:
        node, need = int(placement.nodes[0]), int(self.milli[job])
        row = self.slots[node]
        fits = row >= need
        if fits.any():  # the tightest open shared device on that node
            slot = int(np.argmin(np.where(fits, row, 1001)))
        elif self.free[node] > 0:  # open a device
            slot = int(np.flatnonzero(row < 0)[0])
            row[slot] = 1000
            self.free[node] -= 1
            self.free_total -= 1
            self.group_busy[self._group[node]] += 1
        else:
            raise EngineError(f"invalid placement for job {job}: no device on node {node} fits")
        row[slot] -= need
        self.shared[job] = (node, slot)
        self.running[job] = placement

    def allocate(self, job: int, placement: Placement, gpus: int) -> None:
        """Validate and apply ``placement`` for ``job`` (all-or-nothing)."""
        if job in self.running:
            raise EngineError(f"job {job} is already running")
        if self.is_share(job):
            return self._allocate_share(job, placement)
        status = kernels.allocate(self.free, placement.nodes, placement.counts, gpus)
        if status:
            raise EngineError(
                f"invalid placement for job {job}: {_REASONS[status]} "
                f"(nodes={placement.nodes.tolist()}, "
                f"counts={placement.counts.tolist()})"
            )
        self.free_total -= gpus
        self._use(placement.nodes, placement.counts, 1, gpus)
        self.running[job] = placement

    def release(self, job: int, gpus: int) -> Placement:
        """Return a running job's devices and forget its placement."""
        placement = self.running.pop(job)
        if job in self.shared:
            node, slot = self.shared.pop(job)
            self.slots[node, slot] += self.milli[job]
            if self.slots[node, slot] == 1000:  # its last share left: a whole device again
                self.slots[node, slot] = -1
                self.free[node] += 1
                self.free_total += 1
                self.group_busy[self._group[node]] -= 1
            return placement
        status = kernels.release(self.free, self.usable, placement.nodes, placement.counts)
        if status:
            raise EngineError(f"cannot release job {job}: {_REASONS[status]}")
        self.free_total += gpus
        self._use(placement.nodes, placement.counts, -1, gpus)
        return placement

    def violations(self, jobs: JobTable, gpus: list[int]) -> list[str]:
        """Device invariants: 0 <= free <= usable, and the books balance (``gpus``: each
        job's current size)."""
        out = []
        if np.any(self.free < 0):
            out.append(f"negative free devices on nodes {np.flatnonzero(self.free < 0).tolist()}")
        if np.any(self.free > self.usable):
            out.append(
                "free devices exceed usable devices on nodes "
                f"{np.flatnonzero(self.free > self.usable).tolist()}"
            )
        if self.free_total != int(self.free.sum()):
            out.append(f"free_total {self.free_total} != sum(free) {int(self.free.sum())}")
        used = np.bincount(
            self._group, weights=self.usable - self.free, minlength=len(self.group_busy)
        )
        if used.tolist() != [float(b) for b in self.group_busy]:
            out.append(f"group_busy {self.group_busy} != devices in use per group {used.tolist()}")
        held = (self.slots >= 0).sum(axis=1) + self.reserved  # shared, replicas', jobs'
        whole = [j for j in self.running if j not in self.shared]
        for job in whole:
            np.add.at(held, self.running[job].nodes, self.running[job].counts)
        if not np.array_equal(held, self.usable - self.free):
            out.append("allocated devices per node differ from the running placements")
        requested = sum(int(gpus[j]) for j in whole)
        if requested != int(held.sum()) - int((self.slots >= 0).sum() + self.reserved.sum()):
            out.append(f"running jobs requested {requested} devices but hold {int(held.sum())}")
        used = 1000 - np.where(self.slots >= 0, self.slots, 1000)
        for job, (node, slot) in self.shared.items():
            used[node, slot] -= int(jobs.gpu_milli[job])
        if np.any(used != 0) or np.any(self.slots > 1000) or np.any(self.slots == 1000):
            out.append("shared devices' free thousandths differ from the shares they hold")
        return out


class View:
    """Read-only :class:`~simulator.policies.base.ClusterView` over live engine state.

    Built once per run: its arrays are non-writeable views of the engine's buffers and its
    mappings are proxies, so they always show current state without copying.
    """

    __slots__ = (
        "_env",
        "_state",
        "_sim",
        "free_gpus",
        "queue",
        "running",
        "jobs",
        "topology",
        "changed",
        "gpus",
        "_terms",
    )

    def __init__(
        self,
        env,
        state: ClusterState,
        queue: Mapping[int, None],
        jobs: JobTable,
        cluster: Cluster,
        sim=None,
    ):
        self._env = env
        self._state = state
        self._sim = sim
        free = state.free.view()
        free.setflags(write=False)
        self.free_gpus = free
        self.queue: Mapping[int, None] = types.MappingProxyType(queue)
        self.running: Mapping[int, Placement] = types.MappingProxyType(state.running)
        self.jobs = jobs
        self.topology = cluster.topology
        self.changed: list[int] = []  # set by the engine before every scheduling pass
        size = jobs.gpus if sim is None else sim.ledger.size
        self.gpus = size.view()  # current sizes (elastic jobs change theirs)
        self.gpus.setflags(write=False)
        self._terms: tuple[np.ndarray, ...] = ()
        if sim is not None:  # the ledger's books, as read-only views built once
            books = (sim.ledger.attained_s, sim.ledger.amount, sim.ledger.held_since)
            self._terms = tuple(a.view() for a in (*books, sim.ledger.started_at))
            for a in self._terms:
                a.flags.writeable = False

    @property
    def now(self) -> float:
        return self._env.now

    @property
    def free_total(self) -> int:
        return self._state.free_total

    @property
    def pending_service_gpus(self) -> int:
        """Devices wanted by inference-service replicas waiting to be placed."""
        return sum(pending() for pending in self._sim._hooks["pending_gpus"])

    @property
    def passes_skippable(self) -> bool:
        """No engine part acts at every pass, so a pass that cannot change the policy's
        decision changes nothing and may be skipped (a later ``wake_at``)."""
        return self._sim.passes_skippable

    @property
    def demand_gpus(self) -> int:
        """Devices asked for by the running and the queued jobs together."""
        ledger = self._sim.ledger
        return ledger.running_gpus + ledger.queued_gpus

    def queued_ids(self) -> np.ndarray:
        """The queued jobs' ids in no particular order (read-only; valid during this pass)."""
        return self._sim.ledger.queued_ids.array()

    def running_ids(self) -> np.ndarray:
        """The running jobs' ids in no particular order (read-only; valid during this pass)."""
        return self._sim.ledger.running_ids.array()

    def started_at(self, jobs: np.ndarray) -> np.ndarray:
        """When each of ``jobs`` last started (got devices from a scheduling pass)."""
        return self._sim.ledger.started_at[jobs]

    def queued_since(self, jobs: np.ndarray) -> np.ndarray:
        """When each of ``jobs`` last entered the queue (submitted, or preempted); now for a
        job that holds devices (as if it queued again this instant)."""
        ledger = self._sim.ledger
        return np.where(ledger.state[jobs] == RUNNING, self.now, ledger.queued_at[jobs])

    def attained_gpu_s(self, jobs: np.ndarray | int | None = None) -> np.ndarray | float:
        """GPU-seconds of service each of ``jobs`` (default: every job) has had so far (a
        fresh array; for one job id, a float)."""
        if isinstance(jobs, int):
            return self._sim.ledger.attained_one(jobs, self._env.now)
        if jobs is None:
            jobs = np.arange(len(self.jobs))
        return self._sim.ledger.attained(np.asarray(jobs, dtype=np.int64), self._env.now)

    def service_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every job's service books (read-only views), for ranking many jobs in one kernel:
        GPU-seconds attained in stopped runs, devices held, since when (a running job's
        service at ``t`` is ``attained + held * (t - since)``) and when it last started."""
        return self._terms

    def reaches_gpu_s(
        self, jobs: np.ndarray | int, target: np.ndarray | list[float]
    ) -> np.ndarray | list[float]:
        """When each of ``jobs`` will have attained ``target`` GPU-seconds of service if it
        holds devices from now on (a queued job as if it started now). For one job id and a
        list of targets, a list of floats (the same numbers, without numpy's per-call cost)."""
        if isinstance(jobs, int):
            return self._sim.ledger.reaches_one(jobs, target, self._env.now)
        jobs = np.asarray(jobs, dtype=np.int64)
        return self._sim.ledger.reaches(jobs, np.asarray(target, dtype=float), self._env.now)

    def remaining_s(self, job: int) -> float:
        """Oracle seconds ``job`` still needs: its work left at its current speed if running,
        else at the speed it would get consolidated on otherwise idle nodes."""
        return oracle.remaining_s(self._sim, job)

    def remaining_s_many(self, jobs: np.ndarray) -> np.ndarray:
        """:meth:`remaining_s` for an array of jobs."""
        return oracle.remaining_s_many(self._sim, jobs)

    def work_left(self, jobs: np.ndarray) -> np.ndarray:
        """Units of work (seconds of duration, or training steps) each job has left."""
        return oracle.work_left(self._sim, jobs)

    def rates_by_chip(self, jobs: np.ndarray) -> np.ndarray:
        """``[len(jobs), len(topology.chips)]``: work units per second each job would get
        consolidated on idle nodes of each chip type; 0 where the type has too few devices."""
        return oracle.rates_by_chip(self._sim, jobs)

    def on_nodes(self, nodes: np.ndarray) -> OnNodes:
        """This view with only the free devices of the nodes in mask ``nodes``."""
        return OnNodes(self, nodes)


class OnNodes:
    """A :class:`View` that shows free devices only on some nodes: what a placement policy
    sees for a job pinned to a chip type by the scheduler or limited to some GPU models."""

    def __init__(self, view: View, nodes: np.ndarray):
        self._view = view
        free = np.where(nodes, view.free_gpus, 0)
        free.setflags(write=False)
        self.free_gpus = free
        self.free_total = int(free.sum())

    def __getattr__(self, name):
        return getattr(self._view, name)


def allowed_nodes(jobs: JobTable, topo) -> dict[int, np.ndarray]:
    """Node masks of the jobs limited to some chips (``JobTable.chips``)."""
    limited = np.flatnonzero(jobs.chips != "")
    masks: dict[str, np.ndarray] = {}
    for spec in set(jobs.chips[limited].tolist()):
        ids = [i for i, c in enumerate(topo.chips) if c in spec.split("|")]
        masks[spec] = np.isin(topo.node_chip, ids)
    return {int(j): masks[jobs.chips[j]] for j in limited}


def check(sim) -> None:
    """Raise :class:`InvariantError` if the state or the job times of ``sim`` are inconsistent."""
    ledger = sim.ledger
    problems = sim.state.violations(sim.jobs, ledger.gpus) + sim.links.violations()
    problems += ledger.violations(sim._next_arrival)
    started = ~np.isnan(ledger.start_s)
    if np.any(ledger.start_s[started] < sim.jobs.submit_s[started]):
        problems.append("a job started before it was submitted")
    done = ~np.isnan(ledger.end_s)
    if np.any(ledger.end_s[done] < ledger.start_s[done]):
        problems.append("a job ended before it started")
    if problems:
        raise InvariantError(f"t={sim.env.now}: " + "; ".join(problems))
