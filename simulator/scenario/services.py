"""The inference-service part of the scenario schema: ``workload.services``.

A service is a language model served by replicas. Each replica holds ``tp`` devices of one
node for as long as it lives; requests arrive at the service, wait in its queue and are
batched inside the replicas. See :mod:`simulator.engine.services` for the serving model.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from . import catalog, zoo
from .base import (
    Duration,
    PositiveDuration,
    Rate,
    ShorthandSpec,
    Spec,
    check_weights,
    exactly_one_of,
    known,
)


class PoissonRequests(Spec):
    rate: Rate


class DiurnalRequests(Spec):
    """A Poisson process whose rate follows the day:
    ``rate(t) = mean x (1 + amplitude x cos(2 pi (t - peak) / period))``."""

    mean: Rate
    amplitude: float = Field(default=0.5, ge=0, le=1)
    period: PositiveDuration = 86400.0
    peak: Duration = Field(default=50400.0, description="time of the highest rate (14:00)")


class BurstyRequests(Spec):
    """A two-state Markov-modulated Poisson process: ``rate`` normally, ``burst_rate`` during
    bursts; calm and burst spells last exponential times of mean ``calm`` and ``burst``."""

    rate: Rate
    burst_rate: Rate
    calm: PositiveDuration = 600.0
    burst: PositiveDuration = 60.0


class RequestTrace(Spec):
    """Requests replayed from a trace (arrival, prompt and output tokens). A relative
    ``path`` is relative to the scenario file that gives it."""

    format: Literal["azure_llm"] = "azure_llm"
    path: str
    time_scale: float = Field(default=1.0, gt=0, le=1e6, description="multiply inter-arrival times")
    limit: int | None = Field(default=None, ge=0, description="keep the first N requests")


class RequestArrivals(Spec):
    """Exactly one of ``poisson: {rate}``, ``diurnal``, ``bursty``, ``interval`` (fixed gap),
    ``times`` or ``trace``. Arrivals stop at ``until`` (default: the scenario horizon)."""

    poisson: PoissonRequests | None = None
    diurnal: DiurnalRequests | None = None
    bursty: BurstyRequests | None = None
    interval: PositiveDuration | None = None
    times: list[Duration] | None = None
    trace: RequestTrace | None = None
    start: Duration = Field(default=0.0, description="offset added to every arrival time")
    until: PositiveDuration | None = Field(default=None, description="no arrival after this")

    @model_validator(mode="after")
    def _exactly_one(self) -> RequestArrivals:
        exactly_one_of(self, ("poisson", "diurnal", "bursty", "interval", "times", "trace"))
        return self


class LogNormalTokens(Spec):
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)


class TokenSpec(ShorthandSpec):
    """Token counts per request: exactly one of ``constant``, ``choice`` (+ ``weights``) or
    ``lognormal: {median, sigma}`` (rounded, at least 1, at most ``max``). A bare number means
    ``constant``. Ignored with a trace, which gives both counts."""

    SHORTHAND: ClassVar[dict] = {"type": "integer", "minimum": 1, "description": "constant"}

    constant: int | None = Field(default=None, ge=1)
    choice: list[Annotated[int, Field(ge=1)]] | None = None
    weights: list[Annotated[float, Field(ge=0)]] | None = None
    lognormal: LogNormalTokens | None = None
    max: int = Field(default=32768, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"constant": data}

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenSpec:
        exactly_one_of(self, ("constant", "choice", "lognormal"))
        if self.weights is not None and self.choice is None:
            raise ValueError("weights only go with choice")
        if self.choice is not None:
            check_weights(self.choice, self.weights)
        return self


class SloSpec(Spec):
    """Latency objectives of one request; a request meets the SLO when it is served and meets
    every objective given."""

    ttft: PositiveDuration | None = Field(default=None, description="time to first token")
    tpot: PositiveDuration | None = Field(default=None, description="time per output token")
    e2e: PositiveDuration | None = Field(default=None, description="arrival to last token")


class ReplicaAutoscaler(Spec):
    """A replica autoscaling policy (registry kind ``replicas``) and its parameters, ticked
    every ``interval`` seconds."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    interval: PositiveDuration = Field(default=15.0, description="seconds between decisions")


class ServiceSpec(Spec):
    """An LLM inference service.

    Replicas: ``replicas`` at t=0 (placed before any job, serving at once), kept between
    ``min_replicas`` and ``max_replicas`` by the ``autoscaler`` (fixed without one). A replica
    takes ``tp`` devices of one node of the ``node`` template when placed and serves requests
    ``startup`` seconds later (container start and weight load). ``priority: above_training``
    places replicas before the training scheduler's pass and preempts training jobs when no
    node has room; ``below_training`` places them only on devices the training pass left free.
    """

    name: str
    model: str = Field(description="zoo language model, e.g. llama2-70b")
    node: str = Field(
        default="dgx-a100", description="catalog node template replicas run on (latency model)"
    )
    tp: int = Field(default=8, ge=1, description="tensor-parallel devices per replica")
    replicas: int = Field(default=1, ge=0, description="replicas at t=0")
    min_replicas: int = Field(default=0, ge=0)
    max_replicas: int | None = Field(default=None, ge=1, description="default: replicas")
    startup: Duration = Field(default=0.0, description="placement -> serving")
    batching: Literal["continuous", "static"] = Field(
        default="continuous",
        description="continuous: requests join a running batch after their prefill; static: "
        "a batch starts only when the previous one has fully finished",
    )
    max_batch: int = Field(default=16, ge=1, description="requests decoded together at most")
    queue_limit: int | None = Field(
        default=None, ge=0, description="requests waiting beyond this are dropped on arrival"
    )
    arrivals: RequestArrivals
    prompt: TokenSpec = TokenSpec(constant=512)
    output: TokenSpec = TokenSpec(constant=128)
    slo: SloSpec = SloSpec()
    autoscaler: ReplicaAutoscaler | None = None
    priority: Literal["above_training", "below_training"] = "above_training"

    @model_validator(mode="after")
    def _check(self) -> ServiceSpec:
        known(zoo.model, self.model)
        known(catalog.node_template, self.node)
        spec = zoo.model(self.model)
        if spec.layers is None or spec.hidden is None:
            raise ValueError(f"{self.model} is not a transformer language model")
        top = self.max_replicas if self.max_replicas is not None else self.replicas
        if not self.min_replicas <= self.replicas <= top:
            raise ValueError(
                f"need min_replicas <= replicas <= max_replicas, got "
                f"{self.min_replicas}, {self.replicas}, {top}"
            )
        return self

    @property
    def most_replicas(self) -> int:
        return self.max_replicas if self.max_replicas is not None else self.replicas
