"""What a trace holds, before any simulation: ``clustersim trace stats``.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Trace
from .requests import Requests

PERCENTILES = (50, 90, 99)


def _percentiles(x: np.ndarray, unit: str) -> dict[str, float]:
    if len(x) == 0:
        return {}
    out = {f"p{q}_{unit}": float(np.percentile(x, q)) for q in PERCENTILES}
    out[f"mean_{unit}"] = float(x.mean())
    out[f"max_{unit}"] = float(x.max())
    return out


def _per_hour(t: np.ndarray) -> np.ndarray:
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    hours = ((t - t.min()) // 3600).astype(np.int64)
    return np.bincount(hours)


def stats(trace: Trace | Requests) -> dict:
    """Counts, time span, size histogram, duration (or token) percentiles, arrivals per hour."""
    if isinstance(trace, Requests):
        hourly = _per_hour(trace.arrival_s)
        return {
            "requests": len(trace),
            "skipped_rows": trace.skipped,
            "span_s": float(np.ptp(trace.arrival_s)) if len(trace) else 0.0,
            "arrivals_per_hour_mean": float(hourly.mean()) if len(hourly) else 0.0,
            "arrivals_per_hour_peak": int(hourly.max()) if len(hourly) else 0,
            **_percentiles(trace.prompt_tokens.astype(float), "prompt_tokens"),
            **_percentiles(trace.output_tokens.astype(float), "output_tokens"),
        }
    hourly = _per_hour(trace.submit_s)
    sizes, counts = np.unique(trace.gpus, return_counts=True)
    fractional = trace.gpu_milli is not None and bool((trace.gpu_milli < 1000).any())
    return {
        "jobs": len(trace),
        "skipped_rows": trace.skipped,
        **{f"ignored_{k.replace(' ', '_')}": v for k, v in sorted(trace.ignored.items())},
        "span_s": float(np.ptp(trace.submit_s)) if len(trace) else 0.0,
        "virtual_clusters": 0 if trace.vc is None else len(set(trace.vc.tolist())),
        "gpu_hours": float((trace.duration_s * trace.gpus).sum() / 3600),
        "fractional_gpu_jobs": int((trace.gpu_milli < 1000).sum()) if fractional else 0,
        "arrivals_per_hour_mean": float(hourly.mean()) if len(hourly) else 0.0,
        "arrivals_per_hour_peak": int(hourly.max()) if len(hourly) else 0,
        **_percentiles(trace.duration_s, "duration_s"),
        "gpus_histogram": {int(s): int(c) for s, c in zip(sizes, counts, strict=True)},
    }


def plot_stats(trace: Trace | Requests, out: str | Path, title: str) -> list[Path]:
    """Figures of :func:`stats`: arrivals per hour, and the size histogram and duration CDF
    (job traces) or the token CDFs (request traces). Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        fig.suptitle(title)
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    requests = isinstance(trace, Requests)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(_per_hour(trace.arrival_s if requests else trace.submit_s), drawstyle="steps-mid")
    ax.set(xlabel="hour since the first arrival", ylabel="arrivals per hour")
    save(fig, "arrivals_per_hour.png")
    if requests:
        series = {"prompt tokens": trace.prompt_tokens, "output tokens": trace.output_tokens}
    else:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        sizes, counts = np.unique(trace.gpus, return_counts=True)
        ax.bar([str(s) for s in sizes], counts)
        ax.set(xlabel="GPUs per job", ylabel="jobs", yscale="log")
        save(fig, "gpus_histogram.png")
        series = {"run time (s)": trace.duration_s}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for label, values in series.items():
        x = np.sort(np.asarray(values, dtype=float))
        ax.plot(x, np.arange(1, len(x) + 1) / max(len(x), 1), label=label)
    ax.set(xscale="log", ylabel="fraction <= x", xlabel=", ".join(series))
    ax.legend()
    save(fig, "tokens_cdf.png" if requests else "duration_cdf.png")
    return written
