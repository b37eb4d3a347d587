"""The run's bill, from the node lifecycle's raw report (billed seconds per node).

Must not import: simpy, numba, anything from ``engine`` at import time.
"""

from __future__ import annotations

import numpy as np

PRICING = ("on_demand", "reserved", "spot")


def cost_summary(report: dict) -> dict[str, float | None] | None:
    """Price per node-hour x billed hours per pricing class (None: no node of that class has
    a price); None if no node has a price."""
    price, pricing = report["price_per_hour"], report["pricing"]
    if np.isnan(price).all():
        return None
    out = {}
    for cls in PRICING:
        mine = (pricing == cls) & ~np.isnan(price)
        bill = (price * report["billed_s"])[mine].sum() / 3600.0
        out[cls] = float(bill) if mine.any() else None
    return out


def billed_gpu_s(report: dict) -> float:
    """Device-seconds billed (every node's devices x its billed seconds)."""
    return float((report["gpus"] * report["billed_s"]).sum())
