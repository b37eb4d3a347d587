"""The scenario schema: validated, immutable description of WHAT to simulate.

Role: pydantic v2 models (frozen, ``extra="forbid"``) for a scenario file. Values with units are
read through :mod:`simulator.spec.units` and stored as SI floats, so a dumped scenario is plain
data that validates again unchanged.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from . import catalog
from .units import EXAMPLES, parse_quantity


def _quantity(dimension: str, *, positive: bool = False) -> Any:
    def parse(value: object) -> float:
        result = parse_quantity(value, dimension)
        if positive and result <= 0:
            raise ValueError(f"must be > 0, got {value!r}")
        if result < 0:
            raise ValueError(f"must be >= 0, got {value!r}")
        return result

    schema = {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
        "description": f"a {dimension}: a plain SI number or a string like {EXAMPLES[dimension]}",
    }
    return Annotated[float, BeforeValidator(parse), WithJsonSchema(schema)]


Duration = _quantity("duration")
PositiveDuration = _quantity("duration", positive=True)
Rate = _quantity("rate", positive=True)
Bandwidth = _quantity("bandwidth", positive=True)


def _either(scalar: Any, mapping: Any) -> Any:
    """A value given either as a scalar or as a mapping; errors come from the branch whose
    shape the input has, so users see one message instead of one per union member. Tags start
    with '~' so error paths can drop them."""
    return Annotated[
        Annotated[scalar, Tag("~scalar")] | Annotated[mapping, Tag("~mapping")],
        Discriminator(lambda v: "~mapping" if isinstance(v, dict | BaseModel) else "~scalar"),
    ]


class Spec(BaseModel):
    """Base of every scenario model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ShorthandSpec(Spec):
    """A model that also accepts a bare scalar shorthand (see its ``_shorthand`` validator);
    the JSON Schema says so, so editors accept both forms."""

    SHORTHAND: ClassVar[dict] = {"type": "string"}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict:
        return {"anyOf": [cls.SHORTHAND, handler(core_schema)]}


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
        try:
            catalog.chip(name)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        return name


class NodeGroupSpec(Spec):
    """``count`` identical nodes, ``nodes_per_rack`` of them under each top-of-rack switch."""

    name: str
    node: _either(str, InlineNode) = Field(description="node template name or inline node")
    count: int = Field(ge=1)
    nodes_per_rack: int = Field(default=8, ge=1)

    @field_validator("node")
    @classmethod
    def _known_template(cls, node: str | InlineNode) -> str | InlineNode:
        if isinstance(node, str):
            try:
                catalog.node_template(node)
            except KeyError as e:
                raise ValueError(e.args[0]) from None
        return node

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
    tor_oversubscription: float = Field(default=1.0, ge=1.0)
    pod_oversubscription: float = Field(default=1.0, ge=1.0)
    hop_latency: Duration = Field(default=1e-6, description="per switch hop")


class DataCenterSpec(Spec):
    name: str
    node_groups: list[NodeGroupSpec] = Field(min_length=1)
    network: NetworkSpec = NetworkSpec()


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
    def total_gpus(self) -> int:
        return sum(
            g.count * g.resolved_node().gpus for dc in self.datacenters for g in dc.node_groups
        )


# --------------------------------------------------------------------------- workload


class PoissonArrival(Spec):
    rate: Rate


class ArrivalSpec(Spec):
    """Exactly one of: ``poisson: {rate}``, ``interval`` (fixed gap), ``times`` (explicit)."""

    poisson: PoissonArrival | None = None
    interval: PositiveDuration | None = None
    times: list[Duration] | None = None
    start: Duration = Field(default=0.0, description="offset added to every arrival time")

    @model_validator(mode="after")
    def _exactly_one(self) -> ArrivalSpec:
        _exactly_one_of(self, ("poisson", "interval", "times"))
        return self


class GpuChoice(Spec):
    choice: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> GpuChoice:
        _check_weights(self.choice, self.weights)
        return self


class Exponential(Spec):
    mean: PositiveDuration


class LogNormal(Spec):
    median: PositiveDuration
    sigma: float = Field(ge=0)


class DurationSpec(ShorthandSpec):
    """Exactly one of ``constant``, ``exponential: {mean}``, ``lognormal: {median, sigma}``,
    ``choice: [...]`` (+ ``weights``). A bare value (``1h``) means ``constant``."""

    SHORTHAND: ClassVar[dict] = {
        "anyOf": [{"type": "number"}, {"type": "string"}],
        "description": "a constant duration, e.g. '1h'",
    }

    constant: PositiveDuration | None = None
    exponential: Exponential | None = None
    lognormal: LogNormal | None = None
    choice: list[PositiveDuration] | None = None
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"constant": data}

    @model_validator(mode="after")
    def _exactly_one(self) -> DurationSpec:
        _exactly_one_of(self, ("constant", "exponential", "lognormal", "choice"))
        if self.weights is not None and self.choice is None:
            raise ValueError("weights only go with choice")
        if self.choice is not None:
            _check_weights(self.choice, self.weights)
        return self


class TrainingStream(Spec):
    """A stream of synthetic training jobs, generated up front from its own RNG streams.

    ``duration`` is the run time with the requested GPUs on the reference chip. The stream is
    bounded by ``count`` and/or the scenario horizon (at least one must be given).
    """

    name: str
    count: int | None = Field(default=None, ge=0)
    arrival: ArrivalSpec
    gpus: _either(Annotated[int, Field(ge=1)], GpuChoice) = 1
    duration: DurationSpec

    @property
    def gpu_values(self) -> list[int]:
        return [self.gpus] if isinstance(self.gpus, int) else list(self.gpus.choice)


class WorkloadSpec(Spec):
    training: list[TrainingStream] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> WorkloadSpec:
        names = [s.name for s in self.training]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate stream name(s) {dup}: stream names must be unique")
        return self


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


class SchedulerSpec(Spec):
    policy: PolicyRef = PolicyRef(name="fifo")
    placement: PolicyRef = PolicyRef(name="first_fit")


# --------------------------------------------------------------------------- scenario


class Scenario(Spec):
    """A complete, validated scenario. Build it with :func:`simulator.load_scenario`."""

    name: str
    description: str = ""
    seed: int = Field(default=0, ge=0)
    horizon: PositiveDuration | None = Field(
        default=None, description="simulated time at which the run stops; none = until done"
    )
    check_invariants: bool = Field(
        default=False, description="check capacity and time invariants after every pass"
    )
    cluster: ClusterSpec
    scheduler: SchedulerSpec = SchedulerSpec()
    workload: WorkloadSpec


# --------------------------------------------------------------------------- helpers


def _exactly_one_of(model: BaseModel, keys: tuple[str, ...]) -> None:
    given = [k for k in keys if getattr(model, k) is not None]
    if len(given) != 1:
        got = f"got {', '.join(given)}" if given else "got none"
        raise ValueError(f"give exactly one of {', '.join(keys)} ({got})")


def _check_weights(choice: list, weights: list[float] | None) -> None:
    if weights is None:
        return
    if len(weights) != len(choice):
        raise ValueError(f"weights has {len(weights)} entries but choice has {len(choice)}")
    if sum(weights) <= 0:
        raise ValueError("weights must not all be zero")
