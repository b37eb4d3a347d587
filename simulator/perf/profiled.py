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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GavelTable:
    """Steps per second alone, by (chip, consolidated?, job type, GPUs)."""

    rates: dict[tuple[str, bool, str, int], float]

    @classmethod
    def read(cls, path: str | Path) -> GavelTable:
        data = json.loads(Path(path).read_text())
        rates = {}
        for table, jobs in data.items():
            chip, _, variant = table.partition("_")
            for key, entry in jobs.items():
                job_type, scale = ast.literal_eval(key)
                rates[(chip, variant != "unconsolidated", job_type, int(scale))] = float(
                    entry["null"]
                )
        return cls(rates)

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
        d = pd.read_csv(path, dtype={"placement": str})
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
