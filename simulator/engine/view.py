"""The read-only view of the engine's state that policies receive (:class:`View`).

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from . import oracle
from .ledger import QUEUED, RUNNING

if TYPE_CHECKING:
    from ..policies.base import Placement
    from ..world.cluster import Cluster
    from ..world.jobs import JobTable
    from .state import ClusterState


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
        return self._sim.ledger.ids(QUEUED)

    def running_ids(self) -> np.ndarray:
        """The running jobs' ids in no particular order (read-only; valid during this pass)."""
        return self._sim.ledger.ids(RUNNING)

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

    def node_health(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per node (read-only): its status (:mod:`.nodes`: 0 offline, 1 provisioning,
        2 online, 3 down, 4 spare), its failures so far and the time of its last one (NaN:
        none)."""
        nodes = self._sim.nodes
        out = (nodes.status.view(), nodes.failures.view(), nodes.failed_at.view())
        for a in out:
            a.flags.writeable = False
        return out

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
