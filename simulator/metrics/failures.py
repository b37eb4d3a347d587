"""The ``failures`` summary block, from the failures part's raw report and the jobs' books.

Held device time splits into useful progress, redone work (progress lost to interruptions),
restores (the rest of ``lost_work_s``) and checkpoint writing; ETTR = useful / held (Meta's
effective training time ratio, HPCA 2025), for the cluster and per job.

Must not import: simpy, numba, anything from ``engine`` at import time.
"""

from __future__ import annotations

import numpy as np

GPU_H = 3600.0


def failures_summary(report: dict | None, out, amount: np.ndarray) -> dict | None:
    """The ``failures`` block (see :data:`~simulator.metrics.schema.FAILURE_KEYS`) from the
    part's report and the outcome's per-job books; None without a ``failures`` scenario
    block. ``amount``: devices each job holds (a share counts as its fraction)."""
    if report is None:
        return None
    held = out.gpu_service_s  # GPU-seconds held
    redo, restore = out.redo_s * amount, (out.lost_s - out.redo_s) * amount
    ckpt = out.checkpoint_s * amount
    useful = held - redo - restore - ckpt
    had = held > 0
    ettr = useful[had] / held[had]
    recoveries = report["recovery_s"]
    gpus = report["gpus"].astype(float)
    span = out.end_time_s
    availability = {}
    for d, name in enumerate(report["datacenters"]):
        on = report["node_dc"] == d
        installed = float(gpus[on].sum()) * span
        down = float((report["down_s"][on] * gpus[on]).sum())
        availability[name] = 1.0 - down / installed if installed > 0 else None
    return {
        "component_failures": dict(report["failures"]),
        "job_interruptions": int(out.interruptions.sum()),
        "jobs_failed": len(out.failure_reason),
        "spare_swaps": report["spare_swaps"],
        "redone_gpu_h": float(redo.sum()) / GPU_H,
        "checkpoint_gpu_h": float(ckpt.sum()) / GPU_H,
        "restore_gpu_h": float(restore.sum()) / GPU_H,
        "mttr_s": float(recoveries.mean()) if len(recoveries) else None,
        "availability": availability,
        "ettr": float(useful.sum() / held.sum()) if held.sum() > 0 else None,
        "p50_job_ettr": float(np.percentile(ettr, 50)) if len(ettr) else None,
        "p10_job_ettr": float(np.percentile(ettr, 10)) if len(ettr) else None,
    }
