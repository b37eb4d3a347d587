"""How big a run a scenario asks for, estimated from the spec alone in microseconds.

Role: expected jobs, requests, nodes and simulation events of a validated scenario, checked
against its ``limits`` block so that an accidental 10^8-job or 10^9-node scenario is refused
before anything is generated. Expected counts of random processes (Poisson, diurnal, bursty)
are their means; without a horizon, periodic events (rounds, replica autoscaler ticks, spot
reclaims, a time-slicing policy's quanta) are counted over the span of the arrivals plus the
time the duration jobs' work keeps every GPU busy. Trace jobs are counted when the trace is
read (see :func:`simulator.build.build`).

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .spec import Scenario

EVENTS_PER_JOB = 4  # arrival, start, finish and a pass; preemptions add more
EVENTS_PER_REQUEST = 2  # arrival and the batch step that ends it (batched: usually fewer)


@dataclass(frozen=True)
class Estimate:
    """Expected size of a run; ``jobs_by_stream`` and ``requests_by_service`` in spec order."""

    jobs_by_stream: tuple[float, ...]
    requests_by_service: tuple[float, ...]
    nodes: int
    events: float
    length_s: float  # the horizon, or the arrival span plus the work over the installed GPUs

    @property
    def jobs(self) -> float:
        return sum(self.jobs_by_stream)

    @property
    def requests(self) -> float:
        return sum(self.requests_by_service)


def estimate(scenario: Scenario) -> Estimate:
    """The expected size of the run ``scenario`` describes (see the module docstring)."""
    horizon = scenario.horizon
    jobs, spans = [], [0.0]
    for stream in scenario.workload.training:
        a = stream.arrival
        window = None if horizon is None else max(horizon - a.start, 0.0)
        if a.times is not None:
            n = float(len(a.times))
            spans.append(a.start + max(a.times, default=0.0))
        elif a.poisson is not None:
            n = a.poisson.rate * window if window is not None else float("inf")
        else:
            n = window / a.interval if window is not None else float("inf")
        if stream.count is not None:
            n = min(n, float(stream.count))
        if a.poisson is not None and n < float("inf"):
            spans.append(a.start + n / a.poisson.rate)
        elif a.interval is not None and n < float("inf"):
            spans.append(a.start + n * a.interval)
        jobs.append(n)
    length = horizon if horizon is not None else max(spans) + _work(scenario, jobs)
    requests = [_requests(svc, horizon) for svc in scenario.workload.services]
    groups = scenario.cluster.node_groups
    periodic = 0.0
    if scenario.scheduler.round is not None:
        periodic += length / scenario.scheduler.round
    for svc in scenario.workload.services:
        if svc.autoscaler is not None:
            periodic += length / svc.autoscaler.interval
    for g in groups:
        periodic += (g.spot_reclaim_rate or 0.0) * g.count * length
        periodic += len(g.spot_reclaim_times or ())
    events = EVENTS_PER_JOB * sum(jobs) + EVENTS_PER_REQUEST * sum(requests) + periodic
    return Estimate(tuple(jobs), tuple(requests), sum(g.count for g in groups), events, length)


def _work(scenario: Scenario, jobs: list[float]) -> float:
    """Seconds the duration jobs keep every installed GPU busy (a lower bound on how long
    they take once they have all arrived)."""
    gpu_s = 0.0
    for stream, n in zip(scenario.workload.training, jobs, strict=True):
        d = stream.duration
        if d is None or n == float("inf"):
            continue
        if d.constant is not None:
            mean = d.constant
        elif d.exponential is not None:
            mean = d.exponential.mean
        elif d.lognormal is not None:
            mean = d.lognormal.median * math.exp(d.lognormal.sigma**2 / 2)
        else:
            mean = _weighted_mean(d.choice, d.weights)
        g = stream.gpus
        gpus = g if isinstance(g, int) else _weighted_mean(g.choice, g.weights)
        gpu_s += n * mean * gpus
    return gpu_s / max(scenario.cluster.total_gpus, 1)


def _weighted_mean(values: list[float], weights: list[float] | None) -> float:
    w = weights or [1.0] * len(values)
    return sum(v * x for v, x in zip(values, w, strict=True)) / sum(w)


def _requests(svc, horizon: float | None) -> float:
    a = svc.arrivals
    end = a.until if a.until is not None else horizon
    window = max((end or 0.0) - a.start, 0.0)
    if a.times is not None:
        return float(len(a.times))
    if a.trace is not None:
        return 0.0 if a.trace.limit is None else float(a.trace.limit)  # counted when read
    if a.interval is not None:
        return window / a.interval
    if a.poisson is not None:
        return a.poisson.rate * window
    if a.diurnal is not None:
        return a.diurnal.mean * window
    b = a.bursty
    mean = (b.rate * b.calm + b.burst_rate * b.burst) / (b.calm + b.burst)
    return mean * window
