"""Fit the few constants a user could measure, from the measurements in ``shared/data``.

- :func:`fit_collectives`: link efficiency and per-step latency, inside and between nodes,
  from measured NCCL all-reduce times (weighted least squares on relative error of the ring
  model, messages >= 64 KiB);
- :func:`fit_compute_fraction`: achievable fraction of peak FLOP/s, from compute-bound
  (prefill) step times.

The results are pasted into :mod:`simulator.scenario.catalog` with their source; the validation
tests re-fit and compare. ``clustersim perf calibrate --data DIR`` prints them for a data
folder laid out like ``shared/data``.

Must not import: simpy, numba.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..scenario import zoo
from ..scenario.catalog import CollectiveCalibration, chip, node_template
from .collectives import allreduce_s, comm_path
from .query import hardware, step
from .step import Parallelism, step_time

RAW = CollectiveCalibration(1.0, 0.0, 1.0, 0.0, "raw datasheet figures")
FIT_MIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class NcclRow:
    ranks: int
    per_node: int
    size: float
    measured_s: float


def read_nccl(path: str | Path) -> list[NcclRow]:
    """Median time over ranks of every (workers, devices per node, size) in a Vidur CSV."""
    d = pd.read_csv(path)
    g = d.groupby(["num_workers", "devices_per_node", "size"])["time_stats.all_reduce.median"]
    return [
        NcclRow(int(n), int(dpn), float(s), float(t) / 1e3) for (n, dpn, s), t in g.median().items()
    ]


def dgx_path(node: str, ranks: int, per_node: int, calibration: CollectiveCalibration):
    """The comm path of ``ranks`` GPUs, ``per_node`` on each of ``ranks/per_node`` nodes of
    template ``node`` under one ToR."""
    cluster, ids, counts = hardware(node, ranks, nodes=ranks // per_node)
    return comm_path(cluster.topology, ids, counts, calibration)


def fit_collectives(path: str | Path, node: str = "dgx-a100") -> CollectiveCalibration:
    """Efficiency and latency of intra- and inter-node links from measured all-reduce."""
    rows = [r for r in read_nccl(path) if r.size >= FIT_MIN_BYTES]
    fitted = {}
    for inter in (False, True):
        design, target = [], []
        for r in rows:
            if (r.ranks > r.per_node) != inter:
                continue
            raw = dgx_path(node, r.ranks, r.per_node, RAW)
            steps = 2 * (r.ranks - 1)
            volume = 2 * (r.ranks - 1) / r.ranks * r.size / raw.bandwidth
            # T - steps * hop_latency = alpha * steps + (1 / efficiency) * volume
            design.append([steps / r.measured_s, volume / r.measured_s])
            target.append((r.measured_s - steps * raw.latency) / r.measured_s)
        (alpha, inv_eff), *_ = np.linalg.lstsq(np.array(design), np.array(target), rcond=None)
        fitted[inter] = (1.0 / inv_eff, max(alpha, 0.0))
    return CollectiveCalibration(
        intra_efficiency=round(float(fitted[False][0]), 4),
        intra_latency_s=round(float(fitted[False][1]), 8),
        inter_efficiency=round(float(fitted[True][0]), 4),
        inter_latency_s=round(float(fitted[True][1]), 8),
        source=f"fit to {Path(path).name} (ring model, messages >= 64 KiB)",
    )


def collective_errors(
    path: str | Path,
    calibration: CollectiveCalibration,
    node: str = "dgx-a100",
    min_bytes: float = 2**20,
) -> pd.DataFrame:
    """Model vs measurement per row (messages >= ``min_bytes``): relative error of ``auto``."""
    out = []
    for r in read_nccl(path):
        if r.size < min_bytes:
            continue
        predicted = allreduce_s(r.size, dgx_path(node, r.ranks, r.per_node, calibration))
        out.append(
            {
                "ranks": r.ranks,
                "per_node": r.per_node,
                "size": r.size,
                "measured_s": r.measured_s,
                "model_s": predicted,
                "rel_error": predicted / r.measured_s - 1.0,
                "inter_node": r.ranks > r.per_node,
            }
        )
    return pd.DataFrame(out)


def fit_compute_fraction(
    path: str | Path, model_params: float = 69e9, chip_name: str = "a100-80gb"
) -> float:
    """Achievable FLOP fraction from prefill times: 2 N tokens FLOPs over tp chips' peak.

    Uses the llama2-70b rows; the median over prompt and batch sizes of
    ``(2 N prompt batch / (tp peak)) / prefill_time`` for prompts of >= 1024 tokens (compute
    bound; shorter prompts are dominated by weight reads and communication)."""
    d = pd.read_csv(path)
    d = d[(d["model"] == "llama2-70b") & (d["prompt_size"] * d["batch_size"] >= 1024)]
    peak = chip(chip_name).peak_fp16_flops
    ideal = 2 * model_params * d["prompt_size"] * d["batch_size"] / (d["tensor_parallel"] * peak)
    return round(float(np.median(ideal / (d["prompt_time"] / 1e3))), 4)


def pollux_errors(
    path: str | Path, model_name: str, node: str = "g4dn.12xlarge", precision: str = "fp32"
) -> pd.DataFrame:
    """Model vs measured step and sync time per (placement, local batch) of an AdaptDL
    ``placements.csv`` (placement "22" = 2 nodes x 2 GPUs), medians over repetitions."""
    d = pd.read_csv(path, dtype={"placement": str})
    g = d.groupby(["placement", "local_bsz"])[["step_time", "sync_time"]].median().reset_index()
    cluster, _, _ = hardware(node, node_template(node).gpus * 4, nodes=4)
    topo = cluster.topology
    chips = [chip(topo.chips[0])]
    model = zoo.model(model_name)
    out = []
    for placement, local_bsz, step_measured, sync_measured in g.itertuples(index=False):
        counts = np.array([int(c) for c in placement])
        ranks = int(counts.sum())
        path_ = comm_path(topo, np.arange(len(counts)), counts)
        st = step_time(
            model, local_bsz * ranks, chips, Parallelism(dp=ranks), path_, precision=precision
        )
        out.append(
            {
                "placement": placement,
                "local_bsz": local_bsz,
                "gpus": ranks,
                "nodes": len(counts),
                "step_measured_s": step_measured,
                "step_model_s": st.time_s,
                "sync_measured_s": sync_measured,
                "sync_model_s": st.comm_s,
                "step_rel_error": st.time_s / step_measured - 1,
            }
        )
    return pd.DataFrame(out)


GAVEL_MODELS = {"ResNet-50": "resnet50", "ResNet-18": "resnet18-cifar10"}


def gavel_ratios(path: str | Path, precision: str = "fp32") -> pd.DataFrame:
    """Measured vs modelled single-GPU throughput ratios V100/K80 and P100/K80 for the Gavel
    job types the zoo knows (ResNet-50 on ImageNet, ResNet-18 on CIFAR-10)."""
    data = json.loads(Path(path).read_text())
    out = []
    for key in data["v100"]:
        name, scale = ast.literal_eval(key)
        family = name.split(" (")[0]
        if scale != 1 or family not in GAVEL_MODELS or "batch size" not in name:
            continue
        batch = int(name.split("batch size ")[1].rstrip(")"))
        measured = {c: data[c][key]["null"] for c in ("k80", "p100", "v100")}
        model = {
            c: 1.0
            / step(GAVEL_MODELS[family], batch=batch, chip=c, gpus=1, precision=precision).time_s
            for c in measured
        }
        for fast in ("p100", "v100"):
            m, p = measured[fast] / measured["k80"], model[fast] / model["k80"]
            out.append(
                {
                    "job": name,
                    "ratio": f"{fast}/k80",
                    "measured": m,
                    "model": p,
                    "rel_error": p / m - 1,
                }
            )
    return pd.DataFrame(out)
