"""run(scenario) -> Results: the one-way data flow of a simulation.

scenario -> cluster (networkx -> arrays) + whole JobTable up front (common random numbers) ->
policies from the registry -> engine -> tables + summary -> :class:`Results`.

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import hashlib
import logging
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import __version__, kernels
from .build import build, resolve
from .engine.parts import Part
from .metrics import jobs_table, series_table, summarize
from .metrics.services import requests_table, service_series
from .results import Results
from .scenario import Scenario, dump_scenario

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, int], None]


def run(
    scenario: str | Path | Scenario | Mapping[str, Any],
    seed: int | None = None,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    record_events: bool = False,
    progress: ProgressFn | None = None,
    parts: Iterable[Part] = (),
) -> Results:
    """Simulate a scenario.

    Args:
        scenario: a scenario file path, a parsed mapping, or a :class:`Scenario`.
        seed: replaces the scenario's seed.
        overrides: dotted ``"key=value"`` strings or a mapping, as ``clustersim run --set``.
        record_events: keep the full event log (``Results.events``); for small runs and tests.
        progress: called as ``progress(sim_time_s, jobs_finished)`` during the run.
        parts: engine parts of your own (:class:`simulator.engine.parts.Part`; fresh objects:
            a part keeps the state of one run), run after the built-in ones.

    Returns:
        The run's :class:`Results`.

    Raises:
        ScenarioError: the scenario is invalid (every problem listed).
    """
    scenario = resolve(scenario, seed, overrides)
    compile_s = kernels.warmup()
    t0 = time.perf_counter()
    world = build(scenario, record_events=record_events, parts=parts)
    setup_s = time.perf_counter() - t0
    sim, jobs, cluster, models = world.sim, world.jobs, world.cluster, world.models
    t1 = time.perf_counter()
    out = sim.run(progress)
    wall_s = time.perf_counter() - t1
    summary = summarize(jobs, out, installed_gpus=cluster.total_gpus, wall_s=wall_s)
    services = out.reports.get("services") or []
    log.info("%s: %d jobs, %d events in %.2f s", scenario.name, len(jobs), out.events, wall_s)
    events = None
    if out.event_log is not None:
        t, kind, job, detail = zip(*out.event_log, strict=True) if out.event_log else ([],) * 4
        events = pa.table(
            {
                "t_s": pa.array(t, pa.float64()),
                "event": pa.array(kind, pa.string()),
                "job_id": pa.array(job, pa.int64()),
                "detail": pa.array(detail, pa.string()),
            }
        )
    manifest = _manifest(
        scenario, wall_s=wall_s, compile_s=compile_s, setup_s=setup_s, events=out.events
    )
    return Results(
        summary,
        jobs_table(
            jobs,
            out.start_s,
            out.end_s,
            out.state,
            models,
            {
                "preemptions": out.preemptions,
                "restarts": out.restarts,
                "migrations": out.migrations,
                "resizes": out.resizes,
                "lost_work_s": out.lost_s,
                "interruptions": out.interruptions,
                "checkpoint_s": out.checkpoint_s,
                "failure_reason": out.failure_reason,
                "gpu_service_s": out.gpu_service_s,
            },
        ),
        pa.concat_tables(
            [
                series_table(out.series_t, out.series),
                *(series_table(*service_series(svc), entity=svc.spec.name) for svc in services),
            ]
        )
        .unify_dictionaries()
        .combine_chunks(),
        scenario,
        manifest,
        events,
        requests_table(services, out.end_time_s) if services else None,
    )


def _manifest(scenario: Scenario, **timings: float) -> dict:
    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    return {
        "clustersim": __version__,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "scenario_sha256": hashlib.sha256(dump_scenario(scenario).encode()).hexdigest(),
        "git_sha": _git_sha(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {
            p: version(p)
            for p in ("simpy", "numpy", "numba", "networkx", "pydantic", "pyarrow", "pandas")
        },
        **timings,
    }


def _git_sha() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None
