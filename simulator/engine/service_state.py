"""Per-service serving state: its requests, their records and its replicas.

See :mod:`simulator.engine.services` for the serving model that drives it.

Must not import: numba.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..perf.inference import LatencyModel
from ..policies.base import ReplicaPolicy
from ..scenario.services import ServiceSpec
from ..workload.traces.requests import Requests

PENDING, LOADING, READY, DRAINING = range(4)


@dataclass(eq=False)
class Replica:
    status: int = PENDING
    node: int = -1
    version: int = 0  # voids its pending event when bumped
    held_since: float = 0.0
    since: float = 0.0  # decode progress booked up to here
    active: list[int] = field(default_factory=list)  # requests decoding
    left: list[float] = field(default_factory=list)  # their output tokens still to come
    prefilling: list[int] = field(default_factory=list)


class Service:
    """One service's requests, replicas and records."""

    def __init__(
        self,
        spec: ServiceSpec,
        requests: Requests,
        latency: LatencyModel,
        nodes: np.ndarray,
        policy: ReplicaPolicy | None,
    ):
        self.spec, self.latency, self.nodes, self.policy = spec, latency, nodes, policy
        self.arrival = requests.arrival_s
        self.prompt, self.output = requests.prompt_tokens, requests.output_tokens
        n = len(self.arrival)
        self.admit_s, self.first_s, self.end_s = (np.full(n, np.nan) for _ in range(3))
        self.dropped = np.zeros(n, dtype=bool)
        self.next = 0  # first request not absorbed yet
        self.queue: deque[int] = deque()
        self.replicas: list[Replica] = [Replica() for _ in range(spec.replicas)]
        mean_p = float(self.prompt.mean()) if n else 512.0
        mean_o = float(self.output.mean()) if n else 128.0
        context = mean_p + mean_o / 2
        room = latency.memory_bytes - latency.weight_bytes
        fits = int(room // latency.kv_bytes(mean_p + mean_o)) if room > 0 else 0
        if fits < 1:
            raise ValueError(
                f"{spec.model} does not fit on {spec.tp} devices of {spec.node} "
                "(weights plus one request's KV cache)"
            )
        self.max_batch = min(spec.max_batch, fits)
        self.step_s = [0.0] + [
            latency.decode_token_s(b, context)[0] for b in range(1, self.max_batch + 1)
        ]
        self.interval = spec.autoscaler.interval if spec.autoscaler else 60.0
        self.armed = False  # an arrival event is pending
        self.recent: list[float] = []  # TTFTs since the last tick
        self.gpu_s = 0.0  # device-seconds held by replicas
        self.t: list[float] = []
        self.levels: list[tuple[int, int, int, int]] = []

    @property
    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.status != DRAINING]

    def in_flight(self) -> int:
        return sum(len(r.active) + len(r.prefilling) for r in self.replicas)

    def done(self) -> bool:
        return self.next == len(self.arrival) and not self.queue and not self.in_flight()

    def can_admit(self, r: Replica) -> bool:
        if r.status != READY or r.prefilling:
            return False
        if self.spec.batching == "static":
            return not r.active
        return len(r.active) < self.max_batch
