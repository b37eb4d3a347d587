"""Collective communication: alpha-beta all-reduce over the bottleneck of a placement.

Model (per direction bandwidths, Patarasuk & Yuan 2009; NCCL's ring and tree):

    ring:  T = 2 (n - 1) alpha + 2 (n - 1) / n * S / B
    tree:  T = 2 ceil(log2 n) alpha + 2 S / B
    auto:  the faster of the two (NCCL picks per size)

``n`` ranks, ``S`` bytes, ``B`` the effective bandwidth of the slowest hop of the ring and
``alpha`` the per-step latency. For a placement (nodes, devices per node):

- one node: ``B = intra_bw x intra_efficiency``, ``alpha = intra_latency + 2 x chip-link latency``;
- several nodes: the ring visits the nodes in id order (rack order) and its slowest hop is the
  minimum of the intra-node links (when a node holds more than one rank), the NICs the job
  drives on each node, ``nic_bw x min(ranks_on_node, nics) / nics`` (NCCL runs one channel per
  NIC near its GPUs), and the uplinks (ToR, pod, WAN) between consecutive nodes, all times
  ``inter_efficiency``;
  ``alpha = inter_latency + the longest hop's path latency``.

Efficiencies and latencies come from :data:`simulator.scenario.catalog.NCCL_A100` (fitted on
measured NCCL all-reduce) unless given.

Must not import: simpy, numba (batch versions live in ``simulator.kernels``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..scenario.catalog import NCCL_A100, CollectiveCalibration
from ..world.topology import TopologyArrays, ring_hops

ALGORITHMS = ("ring", "tree", "auto")


@dataclass(frozen=True)
class CommPath:
    """What a collective over one placement sees: ranks, effective bottleneck bandwidth
    (bytes/s, per direction, efficiency applied), per-step latency (s), and whether it leaves
    the node."""

    ranks: int
    bandwidth: float
    latency: float
    inter_node: bool
    uplink_bandwidth: float = math.inf  # the shared-fabric part of the bottleneck (ToR and up)
    local_bandwidth: float = math.inf  # the job's own part: in-node links and its NIC share


def ring_allreduce_s(size: float, n: int, bandwidth: float, latency: float) -> float:
    """Ring all-reduce time (0 for a single rank)."""
    if n <= 1 or size <= 0:
        return 0.0
    return 2 * (n - 1) * latency + 2 * (n - 1) / n * size / bandwidth


def tree_allreduce_s(size: float, n: int, bandwidth: float, latency: float) -> float:
    """Double-binary-tree all-reduce time (0 for a single rank)."""
    if n <= 1 or size <= 0:
        return 0.0
    return 2 * math.ceil(math.log2(n)) * latency + 2 * size / bandwidth


def allreduce_s(size: float, path: CommPath, algorithm: str = "auto") -> float:
    """All-reduce time of ``size`` bytes over ``path`` with ``ring``, ``tree`` or ``auto``."""
    ring = ring_allreduce_s(size, path.ranks, path.bandwidth, path.latency)
    if algorithm == "ring":
        return ring
    tree = tree_allreduce_s(size, path.ranks, path.bandwidth, path.latency)
    if algorithm == "tree":
        return tree
    if algorithm != "auto":
        raise ValueError(f"unknown algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}")
    return min(ring, tree)


def comm_path(
    topo: TopologyArrays,
    nodes: np.ndarray,
    counts: np.ndarray,
    calibration: CollectiveCalibration = NCCL_A100,
) -> CommPath:
    """The ring of a placement: ``counts[k]`` ranks on node ``nodes[k]``."""
    nodes = np.asarray(nodes, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    order = np.argsort(nodes, kind="stable")
    nodes, counts = nodes[order], counts[order]
    ranks = int(counts.sum())
    intra = topo.node_intra_bw[nodes]
    if len(nodes) == 1:
        latency = calibration.intra_latency_s + 2 * float(topo.node_intra_latency[nodes[0]])
        bw = float(intra[0]) * calibration.intra_efficiency
        return CommPath(ranks, bw, latency, False, math.inf, bw)
    bw = math.inf
    if np.any(counts > 1):
        bw = float(intra[counts > 1].min()) * calibration.intra_efficiency
    nics = topo.node_nics[nodes]
    nic = topo.node_nic_bw[nodes] * np.minimum(counts, nics) / nics
    bw = min(bw, float(nic.min()) * calibration.inter_efficiency)
    _, uplink, hop_latency = ring_hops(topo, nodes)
    uplink *= calibration.inter_efficiency
    latency = calibration.inter_latency_s + hop_latency
    return CommPath(ranks, min(bw, uplink), latency, True, uplink, bw)
