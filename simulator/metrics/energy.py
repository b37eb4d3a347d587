"""The ``energy`` summary block, from the energy part's raw report.

Must not import: simpy, numba, anything from ``engine`` at import time.
"""

from __future__ import annotations

import numpy as np

J_PER_KWH = 3.6e6


def energy_summary(report: dict | None, used_gpu_s: float) -> dict | None:
    """The ``energy`` block (see :data:`~simulator.metrics.schema.ENERGY_KEYS`); None without
    a power model."""
    if report is None:
        return None
    it_j, pue, known = report["it_j"], report["pue"], report["carbon_known"]
    it_kwh = float(it_j.sum()) / J_PER_KWH
    facility_kwh = it_j * pue / J_PER_KWH
    gco2_dc = report["co2"] / J_PER_KWH  # 0 where the intensity is unknown
    facility = float(facility_kwh.sum())
    span = report["span_s"]
    return {
        "it_kwh": it_kwh,
        "facility_kwh": facility,
        "mean_it_power_kw": it_kwh * 3600 / span if span > 0 else None,
        "peak_it_power_kw": report["peak_it_w"] / 1e3,
        "kwh_per_used_gpu_hour": facility / (used_gpu_s / 3600) if used_gpu_s > 0 else None,
        "gco2": float(gco2_dc[np.asarray(known)].sum()) if any(known) else None,
        "by_datacenter": {
            name: {
                "facility_kwh": float(facility_kwh[d]),
                "gco2": float(gco2_dc[d]) if known[d] else None,
            }
            for d, name in enumerate(report["datacenters"])
        },
    }
