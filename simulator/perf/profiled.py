"""Profiled throughputs: measured speeds where the user has them, analytic model elsewhere.

Two formats are read:

- **Gavel** ``simulation_throughputs.json``: ``{chip: {"('<job type>', scale_factor)":
  {"null": iterations/s alone, ...}}}`` for chips ``k80, p100, v100`` and their
  ``*_unconsolidated`` variants (the job's GPUs spread over several servers). A job of type T
  on ``g`` GPUs of chip C runs at ``table[C][(T, g)]["null"]`` steps/s, using the
  unconsolidated table when its placement spans several nodes.
- **AdaptDL/Pollux** ``placements.csv``: ``placement, local_bsz, step_time, sync_time`` where
  placement "22" means 2 nodes x 2 GPUs. A job with per-node GPU counts P (sorted ascending)
  and local batch b runs at ``1 / step_time(P, b)``, linearly interpolated in b between the
  measured batch sizes of that placement (the median over repeated measurements).

A lookup that has no measured point (another chip, placement, batch size outside the measured
range) returns ``None`` and the caller falls back to the analytic model.

Must not import: simpy, numba.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..scenario.limits import read_text, regular_file
from ..scenario.problems import Problem, ScenarioError

MAX_PROFILE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class GavelTable:
    """Steps per second alone, by (chip, consolidated?, job type, GPUs); ``tables`` keeps
    the file's own layout (table name such as ``v100_unconsolidated`` -> (type, GPUs) ->
    steps/s)."""

    rates: dict[tuple[str, bool, str, int], float]
    tables: dict[str, dict[tuple[str, int], float]]

    @classmethod
    def read(cls, path: str | Path) -> GavelTable:
        """Read and check a ``simulation_throughputs.json`` against the shape above: every
        key ``('<job type>', <GPUs>)``, every entry with ``"null"`` >= 0 (0, a configuration that
        does not run, is left out as unmeasured). Raises
        :class:`ScenarioError` listing the problems."""
        label = str(path)
        text = read_text(Path(path), label, limit=MAX_PROFILE_BYTES)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ScenarioError([Problem(label, "", f"invalid JSON: {e.msg}", e.lineno)]) from None
        except (RecursionError, ValueError) as e:
            raise ScenarioError([Problem(label, "", f"unreadable JSON: {e}")]) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ScenarioError(
                [Problem(label, "", 'expected {chip: {"(job type, GPUs)": {"null": steps/s}}}')]
            )
        tables, problems = {}, []
        for table, jobs in data.items():
            tables[table] = {}
            for key, entry in jobs.items():
                where = f"{table}.{key}"
                try:
                    job_type, scale = ast.literal_eval(key)
                    if not isinstance(job_type, str) or not isinstance(scale, int) or scale < 1:
                        raise ValueError
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    problems.append(Problem(label, where, "key is not ('<job type>', <GPUs>)"))
                    continue
                speed = entry.get("null") if isinstance(entry, dict) else None
                if isinstance(speed, bool) or not isinstance(speed, int | float):
                    problems.append(Problem(label, where, 'needs "null": steps/s alone'))
                elif not math.isfinite(speed) or speed < 0:
                    problems.append(Problem(label, f"{where}.null", f"must be >= 0, got {speed}"))
                elif speed > 0:  # 0: the configuration does not run (e.g. out of memory)
                    tables[table][(job_type, scale)] = float(speed)
        if problems:
            raise ScenarioError(problems[:20])
        rates = {}
        for table, jobs in tables.items():
            chip, _, variant = table.partition("_")
            for (job_type, scale), speed in jobs.items():
                rates[(chip, variant != "unconsolidated", job_type, scale)] = speed
        return cls(rates, tables)

    @property
    def job_types(self) -> set[str]:
        return {k[2] for k in self.rates}

    def steps_per_s(self, job_type: str, chip: str, gpus: int, nodes: int) -> float | None:
        return self.rates.get((chip, nodes == 1, job_type, gpus))


@dataclass(frozen=True)
class PlacementTable:
    """Step time by (per-node GPU counts, local batch), interpolated in the batch."""

    points: dict[str, tuple[np.ndarray, np.ndarray]]  # placement -> (local_bsz, step_time)
    chip: str

    @classmethod
    def read(cls, path: str | Path, chip: str = "t4") -> PlacementTable:
        """Read ``placements.csv``; a missing column, a placement that is not digits or a
        step time that is not a positive number is a :class:`ScenarioError`."""
        label = str(path)
        regular_file(path, label, limit=MAX_PROFILE_BYTES)
        try:
            d = pd.read_csv(path, dtype={"placement": str}, encoding_errors="replace")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
            message = f"not a readable table: {str(e).splitlines()[0] if str(e) else e}"
            raise ScenarioError([Problem(label, "", message)]) from None
        missing = [c for c in ("placement", "local_bsz", "step_time") if c not in d.columns]
        if missing:
            raise ScenarioError([Problem(label, "header", f"missing column(s) {missing}", 1)])
        bsz = pd.to_numeric(d["local_bsz"], errors="coerce")
        step = pd.to_numeric(d["step_time"], errors="coerce")
        bad = ~(np.isfinite(bsz) & (bsz > 0) & np.isfinite(step) & (step > 0))
        bad |= ~d["placement"].fillna("").str.fullmatch(r"[1-9]+")
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:20]
            raise ScenarioError(
                [
                    Problem(
                        label,
                        "row",
                        "needs digits placement, local_bsz > 0, step_time > 0",
                        int(r) + 2,
                    )
                    for r in rows
                ]
            )
        d = d.assign(local_bsz=bsz, step_time=step)
        med = d.groupby(["placement", "local_bsz"])["step_time"].median().reset_index()
        points = {
            p: (g["local_bsz"].to_numpy(float), g["step_time"].to_numpy(float))
            for p, g in med.groupby("placement")
        }
        return cls(points, chip)

    def steps_per_s(self, counts: np.ndarray, local_batch: float, chip: str) -> float | None:
        if chip != self.chip:
            return None
        key = "".join(str(c) for c in sorted(int(c) for c in counts))
        if key not in self.points:
            return None
        bsz, step = self.points[key]
        if not bsz[0] <= local_batch <= bsz[-1]:
            return None
        return 1.0 / float(np.interp(local_batch, bsz, step))
