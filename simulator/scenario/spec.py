"""The scenario schema: validated, immutable description of WHAT to simulate.

Role: pydantic v2 models (frozen, ``extra="forbid"``) for a scenario file. Values with units are
read through :mod:`simulator.scenario.units` and stored as SI floats, so a dumped scenario is plain
data that validates again unchanged.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from . import catalog
from .base import (
    Bandwidth,
    Duration,
    PositiveDuration,
    Power,
    Rate,
    ShorthandSpec,
    Spec,
    either,
    exactly_one_of,
    known,
)
from .failures import FailuresSpec
from .workload import (  # noqa: F401  (re-exported: the schema in one namespace)
    ArrivalSpec,
    DurationSpec,
    Exponential,
    GpuChoice,
    LogNormal,
    ModelJob,
    PoissonArrival,
    TrainingStream,
    WorkloadSpec,
)

# --------------------------------------------------------------------------- cluster


class InlineNode(Spec):
    """A node described inline instead of by template name: ``{chip: h100-sxm, gpus: 1}``."""

    chip: str = Field(description="catalog chip name, e.g. h100-sxm")
    gpus: int = Field(ge=1, description="accelerators per node")
    nic: Bandwidth = Field(default=100e9 / 8, description="scale-out NIC bandwidth per node")
    nics: int = Field(default=1, ge=1, description="NICs the bandwidth is split over")

    @field_validator("chip")
    @classmethod
    def _known_chip(cls, name: str) -> str:
        return known(catalog.chip, name)


class ScalingSpec(Spec):
    """A node group's ``elastic`` block, which makes the group a *pool*: the autoscaler
    changes its size between ``min`` and the group's ``count``. A node added is billed from
    the request and usable after ``provision`` (boot, image pull, model and data load); a node
    removed is billed ``decommission`` longer. (Elastic *jobs* are
    :class:`~simulator.scenario.workload.ElasticJobSpec`.)"""

    min: int = Field(default=0, ge=0)
    initial: int | None = Field(default=None, ge=0, description="nodes at t=0 (default min)")
    provision: Duration = Field(default=0.0, description="request -> usable")
    decommission: Duration = Field(default=0.0, description="billed after release")


class PowerSpec(Spec):
    """Power of one chip: ``idle`` at 0 % and ``peak`` at 100 % utilisation (defaults: the
    catalog's cited idle figure and TDP)."""

    idle: Power | None = None
    peak: Power | None = None


class NodeGroupSpec(Spec):
    """``count`` identical nodes, ``nodes_per_rack`` of them under each top-of-rack switch.
    With ``elastic``, ``count`` is the most the group can grow to."""

    name: str
    node: either(str, InlineNode) = Field(description="node template name or inline node")
    count: int = Field(ge=1)
    nodes_per_rack: int = Field(default=8, ge=1)
    elastic: ScalingSpec | None = None
    price_per_hour: float | None = Field(default=None, ge=0, description="per node")
    pricing: Literal["on_demand", "reserved", "spot"] = "on_demand"
    spot_reclaim_rate: Rate | None = Field(
        default=None,
        description="spot nodes: reclaims per node-hour online (Poisson), e.g. 0.05/h",
    )
    spot_reclaim_times: list[Duration] | None = Field(
        default=None, description="spot nodes: times the provider takes one back (a trace)"
    )
    spot_notice: Duration = Field(
        default=120.0, description="warning before a reclaim (AWS gives 2 min)"
    )
    power: PowerSpec = PowerSpec()

    @model_validator(mode="after")
    def _elastic_bounds(self) -> NodeGroupSpec:
        reclaims = self.spot_reclaim_rate is not None or self.spot_reclaim_times is not None
        if reclaims and (self.pricing != "spot" or self.elastic is None):
            raise ValueError("spot reclaims need pricing: spot and an elastic group")
        chip = catalog.chip(self.resolved_node().chip)
        idle = chip.idle_w if self.power.idle is None else self.power.idle
        peak = chip.tdp_w if self.power.peak is None else self.power.peak
        if idle is not None and peak is not None and idle > peak:
            raise ValueError(f"power: idle ({idle:g} W) exceeds peak ({peak:g} W)")
        e = self.elastic
        if e is not None:
            initial = e.min if e.initial is None else e.initial
            if not e.min <= initial <= self.count:
                raise ValueError(f"elastic needs min <= initial <= count ({self.count})")
        return self

    @field_validator("node")
    @classmethod
    def _known_template(cls, node: str | InlineNode) -> str | InlineNode:
        return known(catalog.node_template, node) if isinstance(node, str) else node

    def resolved_node(self) -> catalog.NodeTemplate:
        """The node as a template (inline nodes become an anonymous template)."""
        if isinstance(self.node, str):
            return catalog.node_template(self.node)
        n = self.node
        return catalog.NodeTemplate(f"{n.chip}x{n.gpus}", n.chip, n.gpus, n.nic, "inline", n.nics)


class NetworkSpec(Spec):
    """Data-centre fabric: racks (ToR) -> pods (aggregation) -> spine, with oversubscription.

    ``racks_per_pod`` unset means a two-tier leaf-spine fabric (one pod per data centre); set
    it for a three-tier fat-tree. A ToR's uplink bandwidth is the sum of its nodes' NICs divided
    by ``tor_oversubscription``; a pod's uplink likewise with ``pod_oversubscription``.
    """

    racks_per_pod: int | None = Field(default=None, ge=1)
    tor_oversubscription: float = Field(default=1.0, ge=1.0, le=1000.0)
    pod_oversubscription: float = Field(default=1.0, ge=1.0, le=1000.0)
    hop_latency: Duration = Field(default=1e-6, description="per switch hop")


class CarbonSpec(ShorthandSpec):
    """Grid carbon intensity in gCO2/kWh: a number (constant), or a step series, ``values``
    inline or ``path`` to a CSV with a ``g_per_kwh`` column, each value holding for ``step``
    from t=0 and the series repeating (e.g. 24 hourly values for a daily profile)."""

    SHORTHAND: ClassVar[dict] = {"type": "number", "minimum": 0}
    values: list[float] | None = Field(default=None, min_length=1)
    path: str | None = None
    step: PositiveDuration = 3600.0

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"values": [value]} if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _one_source(self) -> CarbonSpec:
        exactly_one_of(self, ("values", "path"))
        if self.values is not None and min(self.values) < 0:
            raise ValueError("values must be >= 0 gCO2/kWh")
        return self


class DataCenterSpec(Spec):
    """A site: its node groups and fabric, its PUE (facility power / IT power) and the carbon
    intensity of its grid (none: no gCO2 figures)."""

    name: str
    node_groups: list[NodeGroupSpec] = Field(min_length=1)
    network: NetworkSpec = NetworkSpec()
    pue: float = Field(default=1.0, ge=1.0, description="power usage effectiveness")
    carbon_intensity: CarbonSpec | None = None


class WanSpec(Spec):
    """Links between data centres (every pair of DCs is joined by one such link)."""

    bandwidth: Bandwidth = 100e9 / 8
    latency: Duration = 0.010


class ClusterSpec(Spec):
    datacenters: list[DataCenterSpec] = Field(min_length=1)
    wan: WanSpec = WanSpec()

    @model_validator(mode="after")
    def _unique_names(self) -> ClusterSpec:
        seen: set[str] = set()
        for dc in self.datacenters:
            for name in [dc.name] + [f"{dc.name}/{g.name}" for g in dc.node_groups]:
                if name in seen:
                    raise ValueError(
                        f"duplicate name {name!r}: data centre and node-group names must be unique"
                    )
                seen.add(name)
        return self

    @property
    def node_groups(self) -> list[NodeGroupSpec]:
        """Every node group, data centre by data centre: the order of group ids in the
        topology (``node_group``)."""
        return [g for dc in self.datacenters for g in dc.node_groups]

    @property
    def total_gpus(self) -> int:
        return sum(g.count * g.resolved_node().gpus for g in self.node_groups)


# --------------------------------------------------------------------------- policies


class PolicyRef(ShorthandSpec):
    """A registered policy by name, with its parameters (validated by the policy's Params).
    A bare string is the name."""

    SHORTHAND: ClassVar[dict] = {"type": "string", "description": "registered policy name"}

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class RestartSpec(Spec):
    """What restarting a preempted job costs. A job is checkpointed as it is stopped (no
    progress is lost, its devices are freed at once); when it restarts it holds its devices
    for ``save + restore`` seconds, plus ``2 x checkpoint bytes / storage_bandwidth`` for a
    model job when a bandwidth is given, before it makes progress again."""

    save: Duration = Field(default=0.0, ge=0, description="writing the checkpoint")
    restore: Duration = Field(default=0.0, ge=0, description="loading it and resuming")
    storage_bandwidth: Bandwidth | None = Field(
        default=None, description="checkpoint storage bandwidth (model jobs: size-based cost)"
    )


class SchedulerSpec(Spec):
    policy: PolicyRef = PolicyRef(name="fifo")
    placement: PolicyRef = PolicyRef(name="first_fit")
    restart: RestartSpec = RestartSpec()
    autoscaler: PolicyRef | None = Field(
        default=None, description="resizes the elastic node groups (e.g. queue)"
    )
    elastic: PolicyRef = Field(
        default=PolicyRef(name="marginal"),
        description="resizes running elastic training jobs (workload.training.*.elastic)",
    )
    round: PositiveDuration | None = Field(
        default=None,
        description="round-based leases for any policy: at each multiple of this, the policy "
        "re-picks the jobs that hold devices for the next round (running ones it drops are "
        "preempted); in between it may start jobs but not preempt",
    )


class SweepSpec(Spec):
    """Variants for ``clustersim bench``: every combination of the axes' values (dotted paths
    as in ``--set``), each run with ``seeds`` seeds. Plain ``run`` ignores it."""

    seeds: int = Field(default=5, ge=1)
    axes: dict[str, list[Any]] = Field(default_factory=dict)

    @field_validator("axes")
    @classmethod
    def _values(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, v in value.items() if not v]
        if empty:
            raise ValueError(f"axes without values: {', '.join(empty)}")
        return value


# --------------------------------------------------------------------------- scenario


class LimitsSpec(Spec):
    """Refuse scenarios whose estimated size exceeds these, before anything is generated
    (an accidental ``count: 1e9`` or a rate in the wrong unit fails in well under a second
    instead of exhausting memory). Raise one to run a bigger scenario on purpose, e.g.
    ``--set limits.max_jobs=20000000``. Estimates: :mod:`simulator.scenario.estimate`."""

    max_jobs: int = Field(default=5_000_000, ge=0, description="training jobs (synthetic + trace)")
    max_requests: int = Field(default=20_000_000, ge=0, description="inference requests")
    max_nodes: int = Field(default=100_000, ge=0, description="nodes (elastic groups: most)")
    max_gpus: int = Field(default=10_000_000, ge=0, description="devices (elastic groups: most)")
    max_events: int = Field(default=50_000_000, ge=0, description="simulation events")


class Scenario(Spec):
    """A complete, validated scenario. Build it with :func:`simulator.load_scenario`."""

    name: str
    description: str = ""
    seed: int = Field(default=0, ge=0)
    horizon: PositiveDuration | None = Field(
        default=None, description="simulated time at which the run stops; none = until done"
    )
    check_invariants: bool = Field(
        default=False, description="check device, bookkeeping and time invariants after every pass"
    )
    cluster: ClusterSpec
    scheduler: SchedulerSpec = SchedulerSpec()
    workload: WorkloadSpec
    failures: FailuresSpec | None = Field(
        default=None, description="component failures, repairs and checkpoints (none: no failures)"
    )
    sweep: SweepSpec | None = Field(default=None, description="variants for clustersim bench")
    limits: LimitsSpec = Field(default=LimitsSpec(), description="size limits (see LimitsSpec)")
