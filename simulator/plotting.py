"""Plots of results: ``fn(results, ax=None) -> Axes``. Never imports the engine.

With ``ax=None`` a new figure is created through pyplot (for notebooks); :func:`save_plots`
uses bare :class:`matplotlib.figure.Figure` objects (no global pyplot state, no GUI backend).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .results import Results

if TYPE_CHECKING:
    from .bench import BenchResult

MAX_POINTS = 2000


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4))[1]


def _binned(t: np.ndarray, v: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Downsample a step series to at most MAX_POINTS time-weighted bin means."""
    if len(t) <= MAX_POINTS or end <= t[0]:
        return np.append(t, end), np.append(v, v[-1] if len(v) else 0.0)
    edges = np.linspace(t[0], end, MAX_POINTS + 1)
    # integral of the step function at each edge, then differences / width
    knots = np.append(t, end)
    cum = np.concatenate([[0.0], np.cumsum(v * np.diff(knots))])
    idx = np.clip(np.searchsorted(knots, edges, side="right") - 1, 0, len(v) - 1)
    at_edges = cum[idx] + v[idx] * (edges - knots[idx])
    return edges[:-1], np.diff(at_edges) / np.diff(edges)


def _cdf(ax: Axes, seconds: np.ndarray, label: str) -> None:
    """Empirical CDF in hours, drawn at no more than MAX_POINTS evenly spaced ranks."""
    x = np.sort(seconds[~np.isnan(seconds)]) / 3600.0
    if len(x):
        y = np.arange(1, len(x) + 1) / len(x)
        if len(x) > MAX_POINTS:
            keep = np.linspace(0, len(x) - 1, MAX_POINTS).round().astype(int)
            x, y = x[keep], y[keep]
        ax.step(x, y, where="post", label=label)


def _no_jobs(ax: Axes, results: Results) -> bool:
    """Write "no jobs" across an empty run's axes; True if it had none."""
    if results.summary.get("jobs_submitted"):
        return False
    ax.text(0.5, 0.5, "no jobs", transform=ax.transAxes, ha="center", va="center", fontsize=14)
    return True


def plot_jct_cdf(results: Results, ax: Axes | None = None) -> Axes:
    """Empirical CDFs of job completion time and wait (finished / started jobs)."""
    ax = _axes(ax)
    _no_jobs(ax, results)
    for column, label in (("jct_s", "JCT"), ("wait_s", "wait")):
        _cdf(ax, results.column(column), label)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("hours")
    ax.set_ylabel("fraction of jobs")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend()
    ax.set_title(f"{results.scenario.name}: JCT and wait CDF")
    return ax


def plot_utilization(results: Results, ax: Axes | None = None) -> Axes:
    """Allocated-GPU fraction (left axis) and queue length (right axis) over time."""
    ax = _axes(ax)
    _no_jobs(ax, results)
    end = results.summary["window_end_s"]
    installed = results.summary["installed_gpus"]
    t, busy = results.level("busy_gpus")
    if len(t):
        tb, vb = _binned(t, busy / installed, end)
        ax.step(tb / 3600.0, vb, where="post", color="tab:blue", label="GPU utilisation")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("simulated time (hours)")
    ax.set_ylabel("allocated GPUs / installed", color="tab:blue")
    twin = ax.twinx()
    t, q = results.level("queue_length")
    if len(t):
        tq, vq = _binned(t, q, end)
        twin.step(tq / 3600.0, vq, where="post", color="tab:orange", label="queue length")
    twin.set_ylim(bottom=0)
    twin.set_ylabel("queued jobs", color="tab:orange")
    ax.set_title(f"{results.scenario.name}: utilisation and queue")
    ax.grid(alpha=0.3)
    return ax


def plot_service(results: Results, service: str, fig: Figure | None = None) -> Figure:
    """Two panels over time for one inference service: replicas (wanted, serving) with the
    request rate; and TTFT p50 / p99 per time bin with the TTFT objective."""
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(8, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    end = results.summary["window_end_s"]
    for metric, label in (("replicas", "replicas wanted"), ("ready_replicas", "serving")):
        t, v = results.level(metric, service)
        top.step(np.append(t, end) / 3600, np.append(v, v[-1:]), where="post", label=label)
    top.set_ylabel("replicas")
    top.set_ylim(bottom=0)
    req = results.requests
    req = req[req.service == service]
    bins = np.linspace(0, end, 61)
    width = bins[1] - bins[0]
    rate = np.histogram(req.arrival_s, bins)[0] / width
    twin = top.twinx()
    twin.plot((bins[:-1] + width / 2) / 3600, rate, color="tab:gray", alpha=0.6, label="rate")
    twin.set_ylabel("requests / s", color="tab:gray")
    twin.set_ylim(bottom=0)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    served = req[req.state == "served"]
    which = np.digitize(served.first_token_s, bins) - 1
    mid = (bins[:-1] + width / 2) / 3600
    for q, style in ((50, "-"), (99, "--")):
        y = [
            np.percentile(served.ttft_s[which == k], q) if (which == k).any() else np.nan
            for k in range(len(mid))
        ]
        bottom.plot(mid, y, style, color="tab:blue", label=f"TTFT p{q}")
    slo = next(s for s in results.scenario.workload.services if s.name == service).slo.ttft
    if slo is not None:
        bottom.axhline(slo, color="tab:red", lw=1, label="TTFT SLO")
    bottom.set_yscale("log")
    bottom.set(xlabel="simulated time (hours)", ylabel="seconds")
    bottom.legend(loc="upper left")
    bottom.grid(alpha=0.3)
    top.set_title(f"{results.scenario.name}: service {service}")
    return fig


def plot_failures(results: Results, ax: Axes | None = None) -> Axes:
    """GPUs down after failures over time, with the run's ETTR and failure counts."""
    ax = _axes(ax)
    end = results.summary["window_end_s"]
    t, down = results.level("down_gpus")
    if len(t):
        td, vd = _binned(t, down, end)
        ax.step(td / 3600.0, vd, where="post", color="tab:red")
    f = results.summary["failures"]
    counts = ", ".join(f"{k} {v}" for k, v in f["component_failures"].items())
    ettr = "n/a" if f["ettr"] is None else f"{f['ettr']:.3f}"
    ax.set_title(f"{results.scenario.name}: failures ({counts}), ETTR {ettr}")
    ax.set_xlabel("simulated time (hours)")
    ax.set_ylabel("GPUs down")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return ax


def save_plots(results: Results, out_dir: str | Path) -> list[Path]:
    """Write every standard plot as PNG into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    plots = [("jct_wait_cdf", plot_jct_cdf), ("utilization_queue", plot_utilization)]
    if results.summary.get("failures"):
        plots.append(("failures", plot_failures))
    for name, fn in plots:
        fig = Figure(figsize=(7, 4), layout="constrained")
        fn(results, fig.add_subplot())
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
    for service in results.summary.get("services", {}):
        path = out / f"service_{service}.png"
        fig = plot_service(results, service, Figure(figsize=(8, 6), layout="constrained"))
        fig.savefig(path, dpi=100)
        paths.append(path)
    return paths


def plot_bench_jct_cdf(bench: BenchResult, ax: Axes | None = None) -> Axes:
    """JCT CDF of every benchmark variant (all seeds pooled)."""
    ax = _axes(ax)
    for label, jct in bench.jct.items():
        _cdf(ax, jct, label)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set(xlabel="JCT (hours)", ylabel="fraction of jobs", ylim=(0, 1.02), title="JCT CDF")
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend()
    return ax


def plot_bench_metrics(bench: BenchResult, fig: Figure, metrics: tuple[str, ...] = ()) -> Figure:
    """One bar chart per metric: mean over seeds per variant, 95% confidence interval bars."""
    metrics = metrics or tuple(c for c in bench.table if not c.endswith("_ci95"))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    t = bench.table
    x = np.arange(len(t))
    for ax, metric in zip(axes, metrics, strict=True):
        ax.bar(x, t[metric], yerr=t[f"{metric}_ci95"].fillna(0), capsize=3)
        ax.set_xticks(x, t.index, rotation=45, ha="right")
        ax.set_title(metric, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    return fig


def save_bench_plots(bench: BenchResult, out_dir: str | Path) -> list[Path]:
    """Write ``jct_cdf.png`` and ``metrics.png`` for a benchmark into ``out_dir``."""
    out = Path(out_dir)
    fig = Figure(figsize=(7, 4), layout="constrained")
    plot_bench_jct_cdf(bench, fig.add_subplot())
    fig.savefig(out / "jct_cdf.png", dpi=100)
    columns = sum(not c.endswith("_ci95") for c in bench.table)
    fig = Figure(figsize=(2 * max(columns, 4), 3.8), layout="constrained")
    plot_bench_metrics(bench, fig)
    fig.savefig(out / "metrics.png", dpi=100)
    return [out / "jct_cdf.png", out / "metrics.png"]
