"""The workload part of the scenario schema: synthetic training-job streams.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from . import zoo
from .base import (
    Duration,
    PositiveDuration,
    Rate,
    ShorthandSpec,
    Spec,
    check_weights,
    either,
    exactly_one_of,
    known,
)
from .services import ServiceSpec


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
        exactly_one_of(self, ("poisson", "interval", "times"))
        return self


class GpuChoice(Spec):
    choice: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> GpuChoice:
        check_weights(self.choice, self.weights)
        return self


class Exponential(Spec):
    mean: PositiveDuration


class LogNormal(Spec):
    median: PositiveDuration
    sigma: float = Field(ge=0, le=5, description="above 5, p99 is 10^5 x the median")


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
        exactly_one_of(self, ("constant", "exponential", "lognormal", "choice"))
        if self.weights is not None and self.choice is None:
            raise ValueError("weights only go with choice")
        if self.choice is not None:
            check_weights(self.choice, self.weights)
        return self

    def mean(self) -> float:
        """The mean of the distribution, in seconds."""
        if self.constant is not None:
            return self.constant
        if self.exponential is not None:
            return self.exponential.mean
        if self.lognormal is not None:
            return self.lognormal.median * math.exp(self.lognormal.sigma**2 / 2)
        weights = self.weights or [1.0] * len(self.choice)
        return sum(c * w for c, w in zip(self.choice, weights, strict=True)) / sum(weights)


class ProfileSpec(Spec):
    """Measured throughputs to use instead of the analytic model where they cover the job.

    ``gavel``: a Gavel ``simulation_throughputs.json`` and the ``job_type`` key in it (e.g.
    ``"ResNet-50 (batch size 64)"``). ``pollux``: an AdaptDL ``placements.csv`` measured on
    ``chip``. A relative path is relative to the scenario file that gives it (to the working
    directory for a scenario given as a mapping). Where the table has no point for the
    job's chip, GPU count, placement or batch size, the analytic model is used.
    """

    format: Literal["gavel", "pollux"]
    path: str
    job_type: str | None = None
    chip: str = "t4"

    @model_validator(mode="after")
    def _job_type_for_gavel(self) -> ProfileSpec:
        if self.format == "gavel" and not self.job_type:
            raise ValueError("a gavel profile needs job_type, e.g. 'ResNet-50 (batch size 64)'")
        return self


class ModelJob(Spec):
    """A training job described by its model instead of a duration: it runs ``iterations``
    steps (or enough steps for ``samples``/``tokens``) at the speed the throughput model gives
    for the GPUs and placement it gets. Data-parallel degree = GPUs / (tp x pp)."""

    name: str = Field(description="zoo model, e.g. gpt-7b, resnet50, bert-large")
    global_batch: float = Field(gt=0, description="samples (sequences, images) per step")
    iterations: float | None = Field(default=None, gt=0)
    samples: float | None = Field(default=None, gt=0)
    tokens: float | None = Field(default=None, gt=0)
    tp: int = Field(default=1, ge=1, description="tensor-parallel degree (inside a node)")
    pp: int = Field(default=1, ge=1, description="pipeline-parallel degree")
    precision: Literal["mixed", "fp32"] = "mixed"
    overlap: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction of the all-reduce hidden behind backward"
    )
    profile: ProfileSpec | None = None

    @field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        return known(zoo.model, name)

    @model_validator(mode="after")
    def _one_amount(self) -> ModelJob:
        exactly_one_of(self, ("iterations", "samples", "tokens"))
        if self.tokens is not None and zoo.model(self.name).seq_len is None:
            raise ValueError(f"{self.name} has no sequence length; give iterations or samples")
        return self

    @property
    def steps(self) -> float:
        """Training steps this job runs."""
        if self.iterations is not None:
            return self.iterations
        samples = self.samples
        if samples is None:
            samples = self.tokens / zoo.model(self.name).seq_len
        return samples / self.global_batch


class ElasticJobSpec(Spec):
    """A job an ``elastic`` policy may resize while it runs, between ``min_gpus`` and
    ``max_gpus``. Each resize stops it for ``resize`` seconds (checkpoint and restore, or a
    communicator rebuild; default: the scheduler's restart cost). A duration job's speed at n
    GPUs follows Amdahl's law with ``serial_fraction`` relative to its requested size; a
    model job's comes from the throughput model."""

    min_gpus: int = Field(ge=1)
    max_gpus: int = Field(ge=1)
    resize: Duration | None = None
    serial_fraction: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _bounds(self) -> ElasticJobSpec:
        if self.min_gpus > self.max_gpus:
            raise ValueError(f"min_gpus ({self.min_gpus}) exceeds max_gpus ({self.max_gpus})")
        return self


class TrainingStream(Spec):
    """A stream of synthetic training jobs, generated up front from its own RNG streams.

    Give exactly one of ``duration`` (the run time with the requested GPUs on the reference
    chip, consolidated; it does not depend on placement) or ``model`` (the run time comes from
    the throughput model for the chips and placement the job gets). The stream is bounded by
    ``count`` and/or the scenario horizon (at least one must be given).
    """

    name: str
    tenant: str | None = Field(default=None, description="owner for quotas (default: name)")
    count: int | None = Field(default=None, ge=0)
    arrival: ArrivalSpec
    gpus: either(Annotated[int, Field(ge=1)], GpuChoice) = 1
    gpu_milli: int = Field(
        default=1000, ge=1, le=1000, description="thousandths of one device (1-GPU jobs)"
    )
    duration: DurationSpec | None = None
    model: ModelJob | None = None
    elastic: ElasticJobSpec | None = None

    @model_validator(mode="after")
    def _duration_or_model(self) -> TrainingStream:
        exactly_one_of(self, ("duration", "model"))
        if self.gpu_milli < 1000 and (self.gpus != 1 or self.model is not None):
            raise ValueError("a share of a device (gpu_milli < 1000) is for 1-GPU duration jobs")
        e = self.elastic
        if e is not None:
            if self.gpu_milli < 1000:
                raise ValueError("elastic jobs hold whole devices (gpu_milli 1000)")
            outside = [g for g in self.gpu_values if not e.min_gpus <= g <= e.max_gpus]
            if outside:
                raise ValueError(f"GPU counts {outside} are outside elastic min_gpus..max_gpus")
            if self.model is not None and e.serial_fraction:
                raise ValueError("serial_fraction is for duration jobs (model jobs: perf model)")
        if self.model is not None:
            shards = self.model.tp * self.model.pp
            bounds = [] if e is None else [e.min_gpus, e.max_gpus]
            bad = [g for g in [*self.gpu_values, *bounds] if g % shards]
            if bad:
                raise ValueError(f"GPU counts {bad} are not multiples of tp x pp = {shards}")
        return self

    @property
    def gpu_values(self) -> list[int]:
        return [self.gpus] if isinstance(self.gpus, int) else list(self.gpus.choice)


TRACE_FORMATS = (
    "philly",
    "philly_json",
    "helios",
    "pai",
    "openb",
    "gavel",
    "tiresias",
    "pollux",
)


class TimeWindow(Spec):
    start: Duration = Field(default=0.0, description="keep jobs submitted at or after this")
    end: Duration | None = Field(default=None, description="... and before this")


class TraceSpec(Spec):
    """Jobs replayed from a production trace (see :mod:`simulator.workload.traces`).

    Times are shifted so the first kept job arrives at 0, after filtering and before
    ``time_scale``. Each virtual cluster (VC) of the trace becomes its own stream, named and
    owned (``tenant``) by the VC; traces without VCs give one stream named after the format.
    A relative ``path`` is relative to the scenario file that gives it.
    """

    format: Literal[TRACE_FORMATS]  # type: ignore[valid-type]
    path: str
    tasks: str | None = Field(default=None, description="pai: the pai_task_table file")
    throughputs: str | None = Field(
        default=None, description="gavel: simulation_throughputs.json to turn steps into time"
    )
    reference_chip: str = Field(default="v100", description="gavel: chip whose speed sets the time")
    durations: dict[str, Duration] = Field(
        default_factory=dict, description="pollux: run time per application (the file has none)"
    )
    window: TimeWindow = TimeWindow()
    vcs: list[str] | None = Field(default=None, description="keep only these virtual clusters")
    states: list[str] | None = Field(
        default=None, description="keep only jobs whose recorded final state is one of these"
    )
    max_gpus: int | None = Field(default=None, ge=1, description="drop jobs asking for more")
    time_scale: float = Field(
        default=1.0, gt=0, le=1e6, description="multiply inter-arrival times (0.5: twice the load)"
    )
    sample: float | None = Field(
        default=None, gt=0, le=1, description="keep this fraction of jobs (seeded)"
    )
    limit: int | None = Field(default=None, ge=0, description="keep the first N jobs")
    on_error: Literal["raise", "skip"] = Field(
        default="raise", description="malformed rows: report them all and stop, or skip them"
    )


class WorkloadSpec(Spec):
    training: list[TrainingStream] = Field(default_factory=list)
    trace: TraceSpec | None = None
    services: list[ServiceSpec] = Field(
        default_factory=list, description="LLM inference services (need a scenario horizon)"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> WorkloadSpec:
        services = [s.name for s in self.services]
        dup = sorted({n for n in services if services.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate service name(s) {dup}: service names must be unique")
        names = [s.name for s in self.training]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate stream name(s) {dup}: stream names must be unique")
        return self
