"""What policies see and what they return.

Role: the read-only :class:`ClusterView` protocol the engine implements, the decision types
policies return (:class:`ScheduleDecision`, :class:`Placement`), and the base classes of the two
policy kinds. Policies never mutate state and never import simpy; the engine validates and
applies every decision.

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..world.jobs import JobTable
from ..world.topology import TopologyArrays


class ClusterView(Protocol):
    """Read-only state at the time of a scheduling pass (arrays are not writeable)."""

    @property
    def now(self) -> float: ...
    @property
    def free_gpus(self) -> np.ndarray: ...  # int64 [n_nodes]
    @property
    def free_total(self) -> int: ...
    @property
    def queue(self) -> Mapping[int, None]: ...  # queued job ids in arrival order
    @property
    def running(self) -> Mapping[int, Placement]: ...
    @property
    def jobs(self) -> JobTable: ...  # the immutable table: ``jobs.gpus`` is the size asked for
    @property
    def gpus(self) -> np.ndarray: ...  # int64 [jobs]: each job's current size (elastic jobs)
    @property
    def topology(self) -> TopologyArrays: ...
    @property
    def pending_service_gpus(self) -> int: ...  # wanted by replicas waiting for devices
    @property
    def demand_gpus(self) -> int: ...  # devices asked for by running and queued jobs
    @property
    def changed(self) -> list[int]: ...  # jobs started, stopped, finished, submitted or
    # resized since the previous pass (in order, possibly repeated)
    @property
    def passes_skippable(self) -> bool: ...  # no engine part acts at every pass
    def queued_ids(self) -> np.ndarray: ...  # the ``queue``'s ids as an array, unordered
    def running_ids(self) -> np.ndarray: ...  # the ``running`` ids as an array, unordered
    def started_at(self, jobs: np.ndarray) -> np.ndarray: ...  # last start, per job
    def queued_since(self, jobs: np.ndarray) -> np.ndarray: ...  # last (re)queued, per job
    def attained_gpu_s(self, jobs: np.ndarray | None = None) -> np.ndarray: ...  # GPU-s so far
    def reaches_gpu_s(self, jobs: np.ndarray, target: np.ndarray) -> np.ndarray: ...  # when
    def service_terms(self) -> tuple[np.ndarray, ...]: ...  # every job's (attained in
    # stopped runs, devices held, held since, last started), for kernels
    def remaining_s(self, job: int) -> float: ...  # oracle seconds left
    def remaining_s_many(self, jobs: np.ndarray) -> np.ndarray: ...  # the same, vectorised
    def work_left(self, jobs: np.ndarray) -> np.ndarray: ...  # work units left, per job
    def rates_by_chip(self, jobs: np.ndarray) -> np.ndarray: ...  # [jobs, chip types] speeds
    def node_health(self) -> tuple[np.ndarray, ...]: ...  # per node: status, failures, last


@dataclass(frozen=True, slots=True)
class Placement:
    """Devices granted to one job: ``counts[k]`` devices on node ``nodes[k]`` (int64 arrays)."""

    nodes: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True, slots=True)
class ScheduleDecision:
    """Jobs to try, in order (ids: a list, the queue itself, or an int array, which saves
    converting a long order of which the pass reads only the start). With ``blocking`` the
    pass stops at the first job that cannot be placed (strict order, no overtaking); without
    it, later jobs may still start.

    ``preempt`` lists running jobs to stop first (their progress is kept; they are queued
    again and may be in ``order``). ``wake_at`` asks for another pass at that time even if
    nothing else happens (time slices, priority thresholds); a later request replaces it.
    ``chip_type`` pins jobs to a chip type (index into ``topology.chips``): the placement
    policy then only sees the free devices of nodes of that type."""

    order: Iterable[int]
    blocking: bool = True
    preempt: Iterable[int] = ()
    wake_at: float | None = None
    chip_type: Mapping[int, int] | None = None


class Params(BaseModel):
    """Base of every policy's nested ``Params``: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Policy:
    """Common constructor: validated params and an injected, policy-private RNG."""

    kind: ClassVar[str]
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params

    def __init__(self, params: Params | None = None, rng: np.random.Generator | None = None):
        self.params = params if params is not None else self.Params()
        self.rng = rng if rng is not None else np.random.default_rng(0)


class SchedulingPolicy(Policy):
    """Decides which queued jobs to try, and in what order."""

    kind = "scheduling"

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        raise NotImplementedError


class PlacementPolicy(Policy):
    """Decides where one job's devices go (or ``None``: it does not fit now)."""

    kind = "placement"

    def place(self, view: ClusterView, job: int) -> Placement | None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Pool:
    """One elastic node group as an autoscaler sees it."""

    index: int  # into topology.group_names
    name: str
    gpus_per_node: int
    min: int
    max: int
    online: int  # usable nodes
    provisioning: int  # requested, not usable yet
    idle: int  # online nodes with every device free


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """Target node count per pool (online + provisioning; pools left out keep theirs) and,
    optionally, when to be asked again even if nothing else happens."""

    targets: Mapping[int, int]
    wake_at: float | None = None


class AutoscalingPolicy(Policy):
    """Resizes elastic node groups after each scheduling pass."""

    kind = "autoscaling"

    def scale(self, view: ClusterView, pools: list[Pool]) -> ScaleDecision:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """One inference service as a replica autoscaler sees it at a decision tick."""

    now: float
    replicas: int  # wanted replicas alive: waiting for devices, loading or serving
    ready: int  # serving replicas
    queue: int  # requests waiting for a batch slot
    in_flight: int  # requests in a replica's batch (prefill or decode)
    max_batch: int
    arrival_rate: float  # requests per second over the last window
    recent_ttft_s: np.ndarray  # TTFTs of the requests whose first token came in the window
    slo_ttft_s: float | None  # the service's TTFT objective


class ReplicaPolicy(Policy):
    """Decides how many replicas an inference service should have, at every tick."""

    kind = "replicas"

    def replicas(self, stats: ServiceStats) -> int:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ElasticJobs:
    """The running elastic training jobs as an elastic policy sees them (arrays per job).

    ``rate(i, n)`` is job ``jobs[i]``'s speed at ``n`` GPUs (work units per second, from the
    throughput model or Amdahl's law); ``free`` is what the policy may hand out on top of the
    jobs' own devices, after the GPUs queued jobs wait for are set aside."""

    jobs: np.ndarray  # job ids
    gpus: np.ndarray  # current size
    min_gpus: np.ndarray
    max_gpus: np.ndarray
    step: np.ndarray  # sizes are multiples of this (tp x pp for model jobs, else 1)
    work_left: np.ndarray  # work units left
    resize_s: np.ndarray  # what one resize costs (devices held, no progress)
    free: int
    rate: Callable[[int, int], float]


class ElasticPolicy(Policy):
    """Picks the size of every running elastic training job after each scheduling pass."""

    kind = "elastic"

    def sizes(self, view: ClusterView, jobs: ElasticJobs) -> np.ndarray:
        """Target sizes, one per job of ``jobs`` (the engine resizes those that differ)."""
        raise NotImplementedError
