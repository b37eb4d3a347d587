"""Inference requests of the services, generated up front (common random numbers).

Each service draws its arrival times and its prompt and output token counts from separate
generators, so changing the replicas, the batching or the autoscaler never changes the
requests a run sees.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scenario.services import RequestArrivals, ServiceSpec, TokenSpec
from .synthetic import _probs
from .traces.requests import Requests, azure_llm

RngFactory = Callable[..., np.random.Generator]


def _poisson(rate: float, start: float, end: float, rng: np.random.Generator) -> np.ndarray:
    """Homogeneous Poisson arrival times in ``(start, end]``."""
    n = rng.poisson(rate * (end - start))
    return np.sort(rng.uniform(start, end, n)) if n else np.empty(0)


def _diurnal(spec, start: float, end: float, rng: np.random.Generator) -> np.ndarray:
    """Thinning (Lewis and Shedler): candidates at the peak rate, each kept with probability
    rate(t) / peak rate."""
    top = spec.mean * (1 + spec.amplitude)
    t = _poisson(top, start, end, rng)
    rate = spec.mean * (1 + spec.amplitude * np.cos(2 * np.pi * (t - spec.peak) / spec.period))
    return t[rng.uniform(0, top, len(t)) < rate]


def _bursty(spec, start: float, end: float, rng: np.random.Generator) -> np.ndarray:
    """Alternating calm and burst spells (exponential lengths), Poisson within each; the run
    starts calm."""
    parts, t, burst = [], start, False
    while t < end:
        spell = rng.exponential(spec.burst if burst else spec.calm)
        stop = min(t + spell, end)
        parts.append(_poisson(spec.burst_rate if burst else spec.rate, t, stop, rng))
        t, burst = stop, not burst
    return np.concatenate(parts) if parts else np.empty(0)


def _end(spec: RequestArrivals, horizon: float | None) -> float:
    """The last time a request may arrive: ``until``, the horizon, whichever is first."""
    return min(x for x in (spec.until, horizon, np.inf) if x is not None)


def arrival_times(
    spec: RequestArrivals, horizon: float | None, rng: np.random.Generator
) -> np.ndarray:
    """Arrival times of one service's requests, sorted, in ``[start, until or horizon]``."""
    end = _end(spec, horizon)
    if spec.times is not None:
        t = spec.start + np.sort(np.asarray(spec.times, dtype=np.float64))
    elif spec.interval is not None:
        t = spec.start + np.arange(int((end - spec.start) // spec.interval) + 1) * spec.interval
    elif spec.poisson is not None:
        t = _poisson(spec.poisson.rate, spec.start, end, rng)
    elif spec.diurnal is not None:
        t = _diurnal(spec.diurnal, spec.start, end, rng)
    else:
        t = _bursty(spec.bursty, spec.start, end, rng)
    return t[t <= end]


def tokens(spec: TokenSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` token counts drawn from ``spec`` (integers in [1, max])."""
    if spec.constant is not None:
        x = np.full(n, spec.constant)
    elif spec.choice is not None:
        x = rng.choice(np.asarray(spec.choice), size=n, p=_probs(spec.weights, len(spec.choice)))
    else:
        x = np.rint(rng.lognormal(np.log(spec.lognormal.median), spec.lognormal.sigma, n))
    return np.clip(x, 1, spec.max).astype(np.int64)


def build_requests(service: ServiceSpec, horizon: float | None, rng_for: RngFactory) -> Requests:
    """Every request of ``service``: arrival (s), prompt and output tokens."""
    arrivals = service.arrivals
    if arrivals.trace is not None:
        tr = arrivals.trace
        req = azure_llm(tr.path)
        keep = slice(None, tr.limit)
        t = arrivals.start + req.arrival_s[keep] * tr.time_scale
        inside = t <= _end(arrivals, horizon)
        return Requests(
            t[inside],
            np.maximum(req.prompt_tokens[keep][inside], 1),
            np.maximum(req.output_tokens[keep][inside], 1),
        )
    t = arrival_times(arrivals, horizon, rng_for("arrivals"))
    return Requests(
        t,
        tokens(service.prompt, len(t), rng_for("prompt")),
        tokens(service.output, len(t), rng_for("output")),
    )
