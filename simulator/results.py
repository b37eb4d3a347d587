"""Results of one run: immutable tables + summary + scenario + manifest; save and load.

A run directory holds ``summary.json``, ``jobs.parquet``, ``series.parquet``,
``config.resolved.yaml`` (re-runnable on its own), ``manifest.json``, ``plots/*.png``; when
events were recorded, ``events.parquet``; with inference services, ``requests.parquet``.
Saving goes through :func:`simulator.outdir.staged`: it replaces only a run directory, writes
into a temporary sibling and swaps it in at the end, so a failure never leaves a half-written
run directory and never touches files clustersim did not write.

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .metrics.schema import SERIES_METRICS
from .outdir import staged
from .scenario import Scenario, dump_scenario, load_scenario

FILES = ("summary.json", "jobs.parquet", "series.parquet", "config.resolved.yaml", "manifest.json")


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinite floats (nested too) as None: JSON has neither."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Results:
    """What a run produced. ``jobs`` and ``series`` are pandas views of the Arrow tables."""

    summary: dict
    jobs_table: pa.Table
    series_table: pa.Table
    scenario: Scenario
    manifest: dict = field(default_factory=dict)
    events_table: pa.Table | None = None
    requests_table: pa.Table | None = None  # runs with inference services

    @cached_property
    def jobs(self) -> pd.DataFrame:
        """One row per job (see the metrics glossary for the columns)."""
        return self.jobs_table.to_pandas()

    @cached_property
    def series(self) -> pd.DataFrame:
        """Long-format level series: ``t_s, entity, metric, value``."""
        return self.series_table.to_pandas()

    @cached_property
    def requests(self) -> pd.DataFrame | None:
        """One row per inference request (see the glossary), if the run had services."""
        return None if self.requests_table is None else self.requests_table.to_pandas()

    @cached_property
    def events(self) -> pd.DataFrame | None:
        """The event log (``t_s, event, job_id, detail``) if the run recorded it."""
        return None if self.events_table is None else self.events_table.to_pandas()

    def level(self, metric: str, entity: str = "cluster") -> tuple[np.ndarray, np.ndarray]:
        """Step series of one metric: value ``v[i]`` holds from ``t[i]`` until ``t[i+1]``
        (empty arrays if the run never recorded it, e.g. a run without jobs)."""
        table = self.series_table
        if metric not in SERIES_METRICS:
            raise KeyError(f"no series metric {metric!r}; known: {', '.join(SERIES_METRICS)}")
        mask = pc.and_(
            pc.equal(table.column("metric"), metric), pc.equal(table.column("entity"), entity)
        )
        rows = table.filter(mask)
        return rows.column("t_s").to_numpy(), rows.column("value").to_numpy()

    def column(self, name: str) -> np.ndarray:
        """One column of the jobs table as a numpy array (nulls become NaN), without building
        the whole DataFrame; cheap on million-job runs."""
        return self.jobs_table.column(name).to_numpy()

    def save(self, out_dir: str | Path, *, plots: bool = True) -> Path:
        """Write the run directory atomically. An existing ``out_dir`` is replaced only if it
        is a run directory itself (see :mod:`simulator.outdir`); the output is written beside
        it and swapped in at the end, so a failure or an interrupt never leaves a half-written
        run directory or a temporary behind.

        Raises:
            OutputError: ``out_dir`` exists and is not a run directory, or is not writable.
        """
        with staged(out_dir, "run") as tmp:
            manifest = {**self.manifest, "kind": "run"}
            for name, data in (("summary", self.summary), ("manifest", manifest)):
                text = json.dumps(strict_json(data), indent=2, allow_nan=False)
                (tmp / f"{name}.json").write_text(text + "\n")
            (tmp / "config.resolved.yaml").write_text(dump_scenario(self.scenario))
            pq.write_table(self.jobs_table, tmp / "jobs.parquet")
            pq.write_table(self.series_table, tmp / "series.parquet")
            for name in ("events", "requests"):
                table = getattr(self, f"{name}_table")
                if table is not None:
                    pq.write_table(table, tmp / f"{name}.parquet")
            if plots:
                from .plotting import save_plots

                save_plots(self, tmp / "plots")
        return Path(out_dir)

    @classmethod
    def load(cls, run_dir: str | Path) -> Results:
        """Read a run directory written by :meth:`save` (or ``clustersim run --out``)."""
        d = Path(run_dir)
        missing = [f for f in FILES if not (d / f).exists()]
        if missing:
            raise FileNotFoundError(f"{d} is not a run directory: missing {', '.join(missing)}")
        events, requests = d / "events.parquet", d / "requests.parquet"
        return cls(
            summary=json.loads((d / "summary.json").read_text()),
            jobs_table=pq.read_table(d / "jobs.parquet"),
            series_table=pq.read_table(d / "series.parquet"),
            scenario=load_scenario(d / "config.resolved.yaml"),
            manifest=json.loads((d / "manifest.json").read_text()),
            events_table=pq.read_table(events) if events.exists() else None,
            requests_table=pq.read_table(requests) if requests.exists() else None,
        )
