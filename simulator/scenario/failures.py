"""The ``failures:`` block: which components fail, how often, how long repairs take, and how
training jobs checkpoint against it.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from . import catalog
from .base import Duration, PositiveDuration, Spec
from .workload import DurationSpec

CLASSES = ("gpu", "node", "nic", "rack", "power")  # component classes, in this order
DEVICES = CLASSES[:3]  # the classes of a node's devices (the others take several nodes down)


def catalog_mtbf_h(name: str, node: catalog.NodeTemplate) -> float | None:
    """The catalog's cited mean hours between failures of class ``name`` on a node (None:
    no cited figure)."""
    if name == "gpu":
        return catalog.chip(node.chip).mtbf_h
    return node.host_mtbf_h if name == "node" else None


class ComponentFailures(Spec):
    """Failures of one component class. Every device of the class has its own lifetime,
    counted in time its node is online: exponential with mean ``mtbf``, or Weibull with shape
    ``weibull_shape`` and the same mean (shape < 1: failures come early in a device's life,
    > 1: wear-out). ``mtbf: catalog`` takes each node group's cited figure
    (:data:`simulator.scenario.catalog.MTBF_H`: H100 GPUs and DGX H100 hosts from the Llama 3
    run, DGX A100 hosts from Meta's RSC-1 cluster). A failure takes the device's node down for
    a ``repair`` time; the device comes back as new, the node's other devices keep their age."""

    mtbf: Literal["catalog"] | PositiveDuration = Field(
        description="mean time between failures of one device; catalog: the cited figure of "
        "each node group's chip (gpu) or node template (node)"
    )
    weibull_shape: float | None = Field(
        default=None, gt=0, le=20, description="Weibull lifetimes of this shape (none: exponential)"
    )
    repair: DurationSpec = Field(description="time to repair, e.g. '4h' or {exponential: ...}")


class PowerFailures(ComponentFailures):
    """Failures of power domains: every ``racks`` consecutive racks of a data centre share a
    feed (PDU, UPS), whose failure takes all their nodes down (``mtbf`` per domain, counted
    in wall-clock time)."""

    mtbf: PositiveDuration = Field(description="mean time between failures of one domain")
    racks: int = Field(ge=1, description="racks per power domain")


class CheckpointSpec(Spec):
    """Periodic checkpoints of training jobs: after every ``interval`` of progress a job
    pauses ``cost`` seconds to write one (a failure sends it back to its last complete one).
    ``young_daly``: the interval ``sqrt(2 x cost x M)`` of Young (1974) / Daly (2006), ``M``
    the job's mean time between failures from its devices' rates."""

    interval: PositiveDuration | Literal["young_daly"] | None = Field(
        default=None, description="progress between checkpoints (none: no periodic checkpoints)"
    )
    cost: Duration = Field(default=0.0, description="time to write one checkpoint")

    @model_validator(mode="after")
    def _young_daly_needs_a_cost(self) -> CheckpointSpec:
        if self.interval == "young_daly" and self.cost <= 0:
            raise ValueError("interval young_daly needs a checkpoint cost > 0")
        return self


class LemonSpec(Spec):
    """Nodes that fail far more often than the rest (Meta's RSC study found a few "lemon"
    nodes behind a large share of job failures): each node is one with probability
    ``fraction`` (its own draw), and its GPUs' and host's lifetimes are ``factor`` times
    shorter."""

    fraction: float = Field(ge=0, le=1, description="probability that a node is a lemon")
    factor: float = Field(gt=0, le=1e6, description="failure rate multiplier of a lemon")


class FailuresSpec(Spec):
    """Component failures and checkpoints (see :mod:`simulator.engine.failures`)."""

    gpu: ComponentFailures | None = Field(
        default=None, description="failures of single GPUs (each takes its node down)"
    )
    node: ComponentFailures | None = Field(
        default=None, description="failures of a node's host (CPU, memory, NIC, software)"
    )
    nic: ComponentFailures | None = Field(
        default=None,
        description="failures of each of a node's network cards (the node's template gives "
        "how many; a failed NIC takes its node off the network, so down)",
    )
    rack: ComponentFailures | None = Field(
        default=None,
        description="failures of a rack's ToR switch or power (every node in it goes down; "
        "mtbf per rack, counted in wall-clock time)",
    )
    power: PowerFailures | None = Field(
        default=None, description="failures of power domains of several racks"
    )
    lemons: LemonSpec | None = Field(default=None, description="nodes with a multiplied rate")
    repair_crews: int | None = Field(
        default=None, ge=1, description="repairs under way at once (none: no limit)"
    )
    hot_spares: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="nodes per node group held back as hot spares: one replaces a failed "
        "node in a running job's placement at once (the job restarts from its checkpoint "
        "without queueing); a repaired node refills the spares",
    )
    retries: int | None = Field(
        default=None,
        ge=0,
        description="restarts a job gets after interruptions; one more and it ends failed "
        "(none: no limit)",
    )
    trace: str | None = Field(
        default=None,
        description="CSV of failures to replay (columns time, component, duration; see "
        "simulator.engine.failures), beside any drawn ones",
    )
    on_failure: Literal["requeue", "shrink"] = Field(
        default="requeue",
        description="what a failure does to a job no hot spare saves: requeue (it queues "
        "again), or shrink (an elastic job carries on at once on its surviving devices, at "
        "the largest size its bounds allow; below its minimum it is requeued)",
    )
    detect: Duration = Field(
        default=0.0,
        description="time from a failure to its detection (a hung collective's timeout): an "
        "interrupted job's restart holds its devices this much longer, booked as restart time",
    )
    checkpoint: CheckpointSpec = CheckpointSpec()

    @model_validator(mode="after")
    def _young_daly_needs_rates(self) -> FailuresSpec:
        rates = [getattr(self, c) for c in CLASSES]
        if self.checkpoint.interval == "young_daly" and all(r is None for r in rates):
            raise ValueError(
                "checkpoint interval young_daly needs a gpu, node, nic, rack or power failure rate"
            )
        return self
