"""Ask the model directly: one all-reduce or one training step on some hardware.

These build a small cluster (``nodes`` nodes of a template, or inline nodes of a ``chip``) and
spread ``gpus`` evenly over it: what ``clustersim perf`` prints. No scenario needed.

Must not import: simpy, numba.
"""

from __future__ import annotations

import math

import numpy as np

from ..scenario import catalog, zoo
from ..scenario.spec import ClusterSpec
from ..world.cluster import Cluster, build_cluster
from .collectives import CommPath, allreduce_s, comm_path
from .step import Parallelism, StepBreakdown, step_time


def hardware(
    node: str | None,
    gpus: int,
    nodes: int | None = None,
    chip: str | None = None,
    nic: float | None = None,
) -> tuple[Cluster, np.ndarray, np.ndarray]:
    """A one-rack cluster holding ``gpus`` GPUs spread evenly over ``nodes`` nodes.

    ``node`` names a template; ``chip`` (with optional ``nic`` bytes/s) describes inline nodes
    of ``gpus / nodes`` devices instead. ``nodes`` defaults to as few as hold the GPUs.
    Returns the cluster and the placement (node ids, devices per node).
    """
    if gpus < 1:
        raise ValueError("gpus must be >= 1")
    if chip is not None:
        n = nodes or 1
        per_node = math.ceil(gpus / n)
        spec_node: object = {"chip": chip, "gpus": per_node, "nic": nic or 100e9 / 8}
    else:
        template = catalog.node_template(node or "dgx-h100")
        n = nodes or math.ceil(gpus / template.gpus)
        per_node = math.ceil(gpus / n)
        if per_node > template.gpus:
            raise ValueError(
                f"{gpus} GPUs over {n} {template.name} nodes is {per_node} per "
                f"node, but a node has {template.gpus}"
            )
        spec_node = template.name
    if per_node * n != gpus:
        raise ValueError(f"{gpus} GPUs do not spread evenly over {n} nodes")
    cluster = build_cluster(
        ClusterSpec.model_validate(
            {
                "datacenters": [
                    {
                        "name": "dc",
                        "node_groups": [
                            {"name": "n", "node": spec_node, "count": n, "nodes_per_rack": n}
                        ],
                    }
                ]
            }
        )
    )
    return cluster, np.arange(n), np.full(n, per_node)


def allreduce(
    size: float,
    *,
    node: str | None = "dgx-h100",
    gpus: int = 8,
    nodes: int | None = None,
    chip: str | None = None,
    algorithm: str = "auto",
) -> dict[str, float]:
    """Modelled all-reduce of ``size`` bytes: ``time_s`` and the path it used."""
    cluster, ids, counts = hardware(node, gpus, nodes, chip)
    path = comm_path(cluster.topology, ids, counts)
    t = allreduce_s(size, path, algorithm)
    return {
        "time_s": t,
        "compute_s": 0.0,
        "comm_s": t,
        "exposed_comm_s": t,
        "bandwidth_bytes_per_s": path.bandwidth,
        "latency_s": path.latency,
        "algbw_bytes_per_s": size / t if t else math.inf,
        "busbw_bytes_per_s": 2 * (gpus - 1) / gpus * size / t if t else math.inf,
    }


def step(
    model: str,
    *,
    batch: float,
    node: str | None = "dgx-h100",
    gpus: int = 8,
    nodes: int | None = None,
    chip: str | None = None,
    tp: int = 1,
    pp: int = 1,
    precision: str = "mixed",
    overlap: float = 0.0,
    algorithm: str = "auto",
) -> StepBreakdown:
    """Modelled training step of zoo ``model`` with global batch ``batch``."""
    if gpus % (tp * pp):
        raise ValueError(f"gpus ({gpus}) must be a multiple of tp x pp ({tp * pp})")
    cluster, ids, counts = hardware(node, gpus, nodes, chip)
    topo = cluster.topology
    chips = [catalog.chip(topo.chips[i]) for i in np.unique(topo.node_chip[ids])]
    par = Parallelism(dp=gpus // (tp * pp), tp=tp, pp=pp)
    full = comm_path(topo, ids, counts)
    dp_path = CommPath(par.dp, full.bandwidth, full.latency, full.inter_node, full.uplink_bandwidth)
    tp_path = comm_path(topo, ids[:1], np.array([tp])) if tp > 1 else None
    return step_time(
        zoo.model(model),
        batch,
        chips,
        par,
        dp_path,
        tp_path,
        precision=precision,
        overlap=overlap,
        algorithm=algorithm,
    )
