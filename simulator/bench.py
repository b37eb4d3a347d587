"""Policy benchmarks: a scenario under every (scheduling, placement) variant and several seeds.

Each cell of the variant x seed matrix is an independent run of the same scenario with its
scheduler replaced and its seed set to ``scenario seed + k``; the workload of seed ``k`` is the
same for every variant (common random numbers), so differences between variants are the
policies'. Runs go to a local process pool, serially, or to a Dask distributed cluster; results
do not depend on where they ran. Per variant, every metric is reported as its mean over seeds
with a 95% Student-t confidence interval.

Must not import: numba (runs go through :func:`simulator.run`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .outdir import staged
from .scenario import Problem, Scenario, ScenarioError

METRICS = (
    "mean_jct_s",
    "p99_jct_s",
    "mean_wait_s",
    "makespan_s",
    "gpu_utilization",
    "fairness",
    "cost_total",
    "energy_facility_kwh",
    "energy_gco2",
)
# per inference service, as columns "<service>:<key>"
SERVICE_METRICS = ("p99_ttft_s", "p99_tpot_s", "slo_attainment", "goodput_rps", "mean_replicas")


def jain_fairness(x: np.ndarray) -> float:
    """Jain's index ``(sum x)^2 / (n sum x^2)``: 1 when all equal, 1/n when one gets all."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or not np.any(x):
        return math.nan
    return float(x.sum() ** 2 / (len(x) * np.square(x).sum()))


def confidence_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval (NaN half-width below 2
    values; NaN values are ignored)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) < 2:
        return float(x[0]), math.nan
    from scipy import stats  # only needed here; keeps `import simulator` light

    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half)


def run_cell(spec: dict, overrides: dict[str, Any], seed: int) -> dict:
    """One run of the matrix (a top-level function, so process pools and Dask can ship it)."""
    from .runner import run

    r = run(spec, seed=seed, overrides=overrides)
    done = r.jobs.dropna(subset=["end_s"])
    held_s = (done["gpu_service_s"] / done["gpus"]).to_numpy()
    jct = done["jct_s"].to_numpy()
    # Jain's index of the fraction of its JCT each job held devices (1: nobody waited or
    # was preempted, or everybody equally)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(jct > 0, held_s / jct, 1.0)
    flat = dict(r.summary)  # the cost and energy blocks as cost_<key>, energy_<key>
    for block in ("cost", "energy"):
        flat |= {f"{block}_{k}": v for k, v in (r.summary[block] or {}).items()}
    row = {k: flat.get(k) for k in METRICS}
    row["fairness"] = jain_fairness(share)
    for name, block in r.summary["services"].items():
        row |= {f"{name}:{k}": block[k] for k in SERVICE_METRICS}
    row = {k: np.nan if v is None else v for k, v in row.items()}
    return {**overrides, "seed": seed, **row, "jct": jct}


@dataclass(frozen=True)
class BenchResult:
    """Outcome of :func:`bench`.

    Attributes:
        runs: one row per (variant, seed): its label, axis values, :data:`METRICS` and
            per service :data:`SERVICE_METRICS` (columns "<service>:<metric>").
        table: one row per variant: ``<metric>`` (mean over seeds) and ``<metric>_ci95``.
        jct: per variant label, the JCTs of all finished jobs of all seeds (for CDFs).
    """

    runs: pd.DataFrame
    table: pd.DataFrame
    jct: dict[str, np.ndarray]

    def save(self, out: str | Path, plots: bool = True) -> Path:
        """Write ``table.csv``, ``runs.csv``, ``manifest.json`` and (with ``plots``)
        ``jct_cdf.png`` and ``metrics.png`` into ``out``, atomically; an existing ``out`` is
        replaced only if it is a bench directory itself (see :mod:`simulator.outdir`)."""
        from . import __version__

        with staged(out, "bench") as tmp:
            self.table.to_csv(tmp / "table.csv")
            self.runs.to_csv(tmp / "runs.csv", index=False)
            manifest = {"clustersim": __version__, "kind": "bench", "runs": len(self.runs)}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            if plots:
                from .plotting import save_bench_plots

                save_bench_plots(self, tmp)
        return Path(out)


def bench(
    scenario: str | Path | Scenario | Mapping[str, Any],
    policies: Iterable[str] | None = None,
    placements: Iterable[str] | None = None,
    seeds: int | None = None,
    *,
    axes: Mapping[str, Iterable[Any]] | None = None,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    workers: int | None = None,
    dask: str | Any | None = None,
) -> BenchResult:
    """Run ``scenario`` under every combination of the variant axes, ``seeds`` times each.

    The axes are the scenario's ``sweep.axes``, then ``axes`` (dotted paths as in
    ``clustersim run --set`` -> values), then ``policies`` and ``placements`` (shorthands for
    the ``scheduler.policy`` and ``scheduler.placement`` axes).

    Args:
        seeds: seeds per variant, ``scenario seed + 0 .. seeds - 1`` (default: the sweep's,
            else 5).
        overrides: dotted overrides applied to the scenario first.
        workers: local worker processes (default: one per core; 1 runs serially in-process).
        dask: a Dask distributed scheduler address (``"tcp://host:8786"``) or ``Client``.

    Raises:
        ScenarioError: invalid scenario, axis path or value (every problem listed).
    """
    from .build import build, resolve

    base = resolve(scenario, overrides=overrides)
    build(base)  # trace contents, fits, services: refused here, not in a worker
    sweep = base.sweep
    grid = {k: list(v) for k, v in (sweep.axes if sweep else {}).items()}
    grid.update({k: list(v) for k, v in (axes or {}).items()})
    if policies is not None:
        grid["scheduler.policy"] = list(policies)
    if placements is not None:
        grid["scheduler.placement"] = list(placements)
    seeds = seeds if seeds is not None else (sweep.seeds if sweep else 5)
    variants = [dict(zip(grid, values, strict=True)) for values in product(*grid.values())]
    problems = [Problem("bench", "seeds", "must be at least 1")] if seeds < 1 else []
    if workers is not None and workers < 1:
        problems.append(Problem("bench", "workers", f"must be at least 1, got {workers}"))
    for path, values in grid.items():
        if not values:
            problems.append(Problem("bench", path, "no values given for this axis"))
    for variant in variants:  # every variant must be a valid scenario before anything runs
        try:
            resolve(base, overrides=variant)
        except ScenarioError as e:  # the variant's values come from the bench, not the file
            found = [Problem("bench variant", p.path, p.message) for p in e.problems]
            problems += [p for p in found if p not in problems]
    if problems:
        raise ScenarioError(problems)
    spec = base.model_dump(mode="json")
    cells = [(spec, v, base.seed + k) for v in variants for k in range(seeds)]
    rows = _execute(cells, workers, dask)
    varying = [k for k, v in grid.items() if len(v) > 1] or list(grid)
    jct: dict[str, list[np.ndarray]] = {}
    labels = []
    for row in rows:
        label = "+".join(_part(k, row[k]) for k in varying) or base.name
        labels.append(label)
        jct.setdefault(label, []).append(row.pop("jct"))
    runs = pd.DataFrame(rows)
    runs.insert(0, "variant", labels)
    # metrics no run defines (no prices, no jobs, no services) get no column
    metrics = [m for m in runs.columns if m in METRICS or ":" in m]
    empty = [m for m in metrics if runs[m].isna().all()]
    runs = runs.drop(columns=empty)
    table = {}
    for label, group in runs.groupby("variant", sort=False):
        cols = {}
        for metric in (m for m in metrics if m not in empty):
            cols[metric], cols[f"{metric}_ci95"] = confidence_interval(group[metric])
        table[label] = cols
    return BenchResult(
        runs,
        pd.DataFrame.from_dict(table, orient="index").rename_axis("variant"),
        {k: np.concatenate(v) for k, v in jct.items()},
    )


def _connect(address: str):
    """A Dask client of ``address``; an unusable address is bad input (one line, exit 2)."""
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, ValueError, TypeError, TimeoutError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ScenarioError(
            [Problem("--dask", address, f"cannot reach a Dask scheduler there: {reason}")]
        ) from None


def _part(path: str, value: Any) -> str:
    """Label of one axis value: policy names alone, other axes as ``name=value``."""
    if path in ("scheduler.policy", "scheduler.placement"):
        if isinstance(value, dict):  # {name, params}: gavel(objective=fifo)
            params = ",".join(f"{k}={v}" for k, v in value.get("params", {}).items())
            return f"{value.get('name')}({params})" if params else str(value.get("name"))
        return str(value)
    return f"{path.rsplit('.', 1)[-1]}={value}"


def _execute(cells: list[tuple], workers: int | None, dask: str | Any | None) -> list[dict]:
    """Run every cell; results in cell order whatever ran them."""
    if dask is not None:
        from distributed import Client

        client = dask if isinstance(dask, Client) else _connect(dask)
        try:
            futures = client.map(run_cell, *zip(*cells, strict=True), pure=False)
            return client.gather(futures)
        finally:
            if client is not dask:
                client.close()
    workers = workers or min(len(cells), os.cpu_count() or 1)
    if workers <= 1:
        return [run_cell(*c) for c in cells]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_cell, *zip(*cells, strict=True)))
