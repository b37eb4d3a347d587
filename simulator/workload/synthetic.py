"""Synthetic training jobs, generated up front from per-stream random streams, and trace jobs.

Role: turn the ``workload.training`` streams of a scenario, and its ``workload.trace`` (one
stream per virtual cluster, after the synthetic ones), into a :class:`JobTable`. Each stream
draws arrivals, GPU counts and durations from three *separate* generators, so changing one
distribution (or the policy) never changes the other draws: common random numbers.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scenario.spec import ArrivalSpec, DurationSpec, GpuChoice, TrainingStream, WorkloadSpec
from ..world.jobs import JobKind, JobTable
from . import traces

RngFactory = Callable[..., np.random.Generator]


def arrival_times(
    spec: ArrivalSpec, count: int | None, horizon: float | None, rng: np.random.Generator
) -> np.ndarray:
    """Absolute arrival times: the first ``count`` of the process, cut at ``horizon``.

    Poisson: the first arrival comes one exponential gap after ``start``. Interval: arrivals at
    ``start + k * interval`` (k = 0, 1, ...). Times: the listed times plus ``start``.
    """
    limit = np.inf if horizon is None else horizon
    most = np.inf if count is None else count  # the horizon may cut a huge count short
    if spec.times is not None:
        times = spec.start + np.asarray(spec.times, dtype=np.float64)[:count]
    elif spec.interval is not None:
        fit = np.floor((limit - spec.start) / spec.interval) + 1  # inf without a horizon
        n = int(max(min(most, fit), 0))
        times = spec.start + np.arange(n, dtype=np.float64) * spec.interval
    else:  # draw in chunks until past the horizon or count: never more than either needs
        scale = 1.0 / spec.poisson.rate
        chunks, t, drawn = [], spec.start, 0
        expected = (limit - spec.start) / scale  # arrivals before the horizon (inf: none)
        chunk = most if expected == np.inf else min(most, max(16, int(1.2 * expected) + 16))
        while t <= limit and drawn < most:
            size = int(min(chunk, most - drawn))
            gaps = t + np.cumsum(rng.exponential(scale, size))
            chunks.append(gaps)
            t, drawn = gaps[-1], drawn + size
        times = np.concatenate(chunks) if chunks else np.empty(0)
    return times[times <= limit]


def sample_gpus(spec: int | GpuChoice, n: int, rng: np.random.Generator) -> np.ndarray:
    """GPU counts: a constant or a weighted choice."""
    if isinstance(spec, int):
        return np.full(n, spec, dtype=np.int64)
    return rng.choice(
        np.asarray(spec.choice, dtype=np.int64), size=n, p=_probs(spec.weights, len(spec.choice))
    )


def sample_durations(spec: DurationSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Durations in seconds: constant, exponential(mean), lognormal(median, sigma) or choice."""
    if spec.constant is not None:
        return np.full(n, spec.constant)
    if spec.exponential is not None:
        return rng.exponential(spec.exponential.mean, n)
    if spec.lognormal is not None:
        return rng.lognormal(np.log(spec.lognormal.median), spec.lognormal.sigma, n)
    return rng.choice(
        np.asarray(spec.choice, dtype=np.float64), size=n, p=_probs(spec.weights, len(spec.choice))
    )


def _probs(weights: list[float] | None, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def stream_jobs(
    stream: TrainingStream, index: int, horizon: float | None, rng_for: RngFactory
) -> dict[str, np.ndarray]:
    """Columns of one stream's jobs; ``rng_for("stream", name, part)`` gives its generators."""
    times = arrival_times(
        stream.arrival, stream.count, horizon, rng_for("stream", stream.name, "arrivals")
    )
    n = len(times)
    return {
        "submit_s": times,
        "gpus": sample_gpus(stream.gpus, n, rng_for("stream", stream.name, "gpus")),
        "duration_s": (
            np.full(n, np.nan)
            if stream.duration is None
            else sample_durations(stream.duration, n, rng_for("stream", stream.name, "durations"))
        ),
        "kind": np.full(n, JobKind.TRAINING, dtype=np.int8),
        "stream": np.full(n, index, dtype=np.int64),
        "seq": np.arange(n, dtype=np.int64),
        "gpu_milli": np.full(n, stream.gpu_milli, dtype=np.int64),
    }


def build_jobs(spec: WorkloadSpec, horizon: float | None, rng_for: RngFactory) -> JobTable:
    """All jobs of a workload, sorted by submit time.

    Args:
        spec: the scenario's workload block.
        horizon: jobs arriving after it are not generated.
        rng_for: ``rng_for("stream", name, part)`` returns the generator for one stream's
            ``arrivals``, ``gpus`` or ``durations``; ``rng_for("trace", "sampling")`` the
            trace's sampling (keyed by name: a stream's draws never depend on the others).
    """
    parts = [stream_jobs(s, i, horizon, rng_for) for i, s in enumerate(spec.training)]
    names = [s.name for s in spec.training]
    tenants = [s.tenant or s.name for s in spec.training]
    skipped = 0
    if spec.trace is not None:
        sampling = rng_for("trace", "sampling")
        trace = traces.select(traces.read(spec.trace), spec.trace, sampling)
        skipped = trace.skipped
        if horizon is not None:
            trace = trace.take(trace.submit_s <= horizon)
        groups = trace.vc if trace.vc is not None else np.full(len(trace), spec.trace.format)
        for group in sorted(set(groups.tolist())):
            mine = np.flatnonzero(groups == group)
            n = len(mine)
            parts.append(
                {
                    "submit_s": trace.submit_s[mine],
                    "gpus": trace.gpus[mine],
                    "duration_s": trace.duration_s[mine],
                    "kind": np.full(n, JobKind.TRAINING, dtype=np.int8),
                    "stream": np.full(n, len(names), dtype=np.int64),
                    "seq": np.arange(n, dtype=np.int64),
                    "gpu_milli": (
                        np.full(n, 1000, dtype=np.int64)
                        if trace.gpu_milli is None
                        else np.where(trace.gpus[mine] == 1, trace.gpu_milli[mine], 1000)
                    ),
                    "chips": (
                        np.full(n, "", dtype=object)
                        if trace.gpu_type is None
                        else trace.gpu_type[mine]
                    ),
                    "trace_wait_s": (
                        np.full(n, np.nan)
                        if trace.start_s is None
                        else trace.start_s[mine] - trace.submit_s[mine]
                    ),
                }
            )
            names.append(str(group))
            tenants.append(str(group))
    return JobTable.concat(parts, tuple(names), tuple(tenants), skipped)
