"""Mutable cluster state owned by the engine (the read-only view policies receive is in
:mod:`.view`).

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..kernels.placement import BAD_COUNT, BAD_NODE, OVER_FREE, OVER_USABLE, WRONG_TOTAL
from ..policies.base import Placement
from ..world.cluster import Cluster
from ..world.jobs import JobTable
from .nodes import ONLINE

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
        # partly busy nodes per free count (0 < free < installed), kept with every change of
        # ``free`` so that the fragmentation reading is O(node size), not O(nodes)
        self._size = cluster.topology.node_gpus
        self.tally = self._count_partly_busy()

    def _count_partly_busy(self) -> np.ndarray:
        """``tally`` counted afresh from ``free``."""
        partial = self.free[(self.free > 0) & (self.free < self._size)]
        return np.bincount(partial, minlength=int(self._size.max(initial=0)) + 1)

    def _set_free(self, node: int, value: int) -> None:
        """``free[node] = value`` for the single-node paths, keeping ``tally``."""
        size, old = int(self._size[node]), int(self.free[node])
        if 0 < old < size:
            self.tally[old] -= 1
        if 0 < value < size:
            self.tally[value] += 1
        self.free[node] = value

    def fragmented(self, need: int) -> int:
        """Free devices a job of ``need`` devices cannot use without splitting over partly
        busy nodes (:func:`~simulator.kernels.fragmented`)."""
        return kernels.fragmented(self.tally, need)

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
            self._usable[node] = devices
            self._set_free(node, devices)
            self.free_total += devices
        else:
            if self.free[node] != self._usable[node]:
                raise EngineError(f"node {node} still runs jobs: it cannot be taken offline")
            self.free_total -= int(self.free[node])
            self._usable[node] = 0
            self._set_free(node, 0)

    def reserve(self, node: int, devices: int) -> None:
        """Hold ``devices`` whole devices of ``node`` outside any job (a service replica)."""
        if not 0 < devices <= self.free[node]:
            raise EngineError(f"cannot hold {devices} devices on node {node}: too few free")
        self._set_free(node, int(self.free[node]) - devices)
        self.free_total -= devices
        self.group_busy[self._group[node]] += devices
        self.reserved[node] += devices

    def unreserve(self, node: int, devices: int) -> None:
        """Give back devices held by :meth:`reserve`."""
        if not 0 < devices <= self.reserved[node]:
            raise EngineError(f"node {node} does not hold {devices} devices for replicas")
        self._set_free(node, int(self.free[node]) + devices)
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
            self._set_free(node, int(self.free[node]) - 1)
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
        status = kernels.allocate(
            self.free, placement.nodes, placement.counts, gpus, self._size, self.tally
        )
        if status:
            raise EngineError(
                f"invalid placement for job {job}: {_REASONS[status]} "
                f"(nodes={placement.nodes.tolist()}, "
                f"counts={placement.counts.tolist()})"
            )
        self.free_total -= gpus
        self._use(placement.nodes, placement.counts, 1, gpus)
        self.running[job] = placement

    def jobs_on(self, node: int) -> list[int]:
        """The running jobs holding devices of ``node``, in start order."""
        return [job for job, p in self.running.items() if node in p.nodes]

    def release(self, job: int, gpus: int) -> Placement:
        """Return a running job's devices and forget its placement."""
        placement = self.running.pop(job)
        if job in self.shared:
            node, slot = self.shared.pop(job)
            self.slots[node, slot] += self.milli[job]
            if self.slots[node, slot] == 1000:  # its last share left: a whole device again
                self.slots[node, slot] = -1
                self._set_free(node, int(self.free[node]) + 1)
                self.free_total += 1
                self.group_busy[self._group[node]] -= 1
            return placement
        status = kernels.release(
            self.free, self.usable, placement.nodes, placement.counts, self._size, self.tally
        )
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
        if not np.array_equal(self._count_partly_busy(), self.tally):
            out.append("the partly busy nodes per free count differ from the free devices")
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
    if sim.nodes.online_gpus != int(sim.state.usable.sum()):  # so busy_gpus = sum(group_busy)
        problems.append(f"{sim.nodes.online_gpus} GPUs online, {sim.state.usable.sum()} usable")
    for job, placement in sim.state.running.items():
        if (sim.nodes.status[placement.nodes] != ONLINE).any():
            problems.append(f"job {job} runs on a node that is not online")
    started = ~np.isnan(ledger.start_s)
    if np.any(ledger.start_s[started] < sim.jobs.submit_s[started]):
        problems.append("a job started before it was submitted")
    done = ~np.isnan(ledger.end_s)
    if np.any(ledger.end_s[done] < ledger.start_s[done]):
        problems.append("a job ended before it started")
    if problems:
        raise InvariantError(f"t={sim.env.now}: " + "; ".join(problems))
