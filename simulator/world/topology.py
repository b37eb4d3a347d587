"""Cluster topology: a networkx graph of data centres -> pods -> racks -> nodes -> devices,
exported once to flat numpy arrays for the engine and kernels.

Graph vertices are tuples ``(kind, id)`` with ``kind`` in ``dc, pod, rack, node, device``; every
edge carries ``bandwidth_bytes_per_s`` (per direction) and ``latency_s``. The tree is

    device --chip link-- node --NIC-- rack (ToR) --ToR uplink-- pod --pod uplink-- dc (spine)

and every pair of data centres is joined by one WAN link. In a two-tier leaf-spine data centre
(``racks_per_pod`` unset) the single pod *is* the spine: its uplink has infinite bandwidth and
zero latency.

:class:`TopologyArrays` keeps, per node, its rack/pod/dc index and NIC bandwidth, and per rack
and pod the uplink bandwidth, so the bottleneck between any two nodes is computed from their
indices in O(1) (:func:`path_bottleneck`) and never from an n x n matrix.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .. import kernels
from ..scenario import catalog
from ..scenario.spec import ClusterSpec

INF = float("inf")


@dataclass(frozen=True)
class TopologyArrays:
    """Flat, read-only view of the topology (SI units, per-direction bandwidths)."""

    node_gpus: np.ndarray  # int64 [n_nodes] devices per node
    node_chip: np.ndarray  # int64 [n_nodes] index into ``chips``
    node_group: np.ndarray  # int64 [n_nodes] index into ``group_names``
    node_rack: np.ndarray  # int64 [n_nodes]
    node_pod: np.ndarray  # int64 [n_nodes]
    node_dc: np.ndarray  # int64 [n_nodes]
    node_nic_bw: np.ndarray  # float64 [n_nodes] node <-> ToR (all NICs together)
    node_nics: np.ndarray  # int64 [n_nodes] NICs sharing node_nic_bw
    node_intra_bw: np.ndarray  # float64 [n_nodes] device <-> node (chip interconnect)
    node_intra_latency: np.ndarray  # float64 [n_nodes]
    rack_uplink_bw: np.ndarray  # float64 [n_racks] ToR <-> pod
    pod_uplink_bw: np.ndarray  # float64 [n_pods] pod <-> spine
    dc_hop_latency: np.ndarray  # float64 [n_dcs] per switch hop inside the DC
    pod_is_spine: np.ndarray  # bool [n_dcs] two-tier fabric (no pod hop)
    wan_bw: float
    wan_latency: float
    chips: tuple[str, ...]
    group_names: tuple[str, ...]  # "dc/group"
    dc_names: tuple[str, ...]

    @property
    def n_nodes(self) -> int:
        return len(self.node_gpus)

    @property
    def total_gpus(self) -> int:
        return int(self.node_gpus.sum())


def build_graph(spec: ClusterSpec) -> nx.Graph:
    """Build the topology graph of a cluster spec (ids are contiguous, in spec order)."""
    g = nx.Graph()
    node_id = rack_id = pod_id = device_id = 0
    dc_vertices = []
    for dc_index, dc in enumerate(spec.datacenters):
        net = dc.network
        dc_v = ("dc", dc_index)
        g.add_node(
            dc_v,
            kind="dc",
            name=dc.name,
            hop_latency_s=net.hop_latency,
            pod_is_spine=net.racks_per_pod is None,
        )
        dc_vertices.append(dc_v)
        racks: list[tuple[tuple, float]] = []  # (rack vertex, sum of NICs)
        for group in dc.node_groups:
            template = group.resolved_node()
            chip = catalog.chip(template.chip)
            link = catalog.LINKS.get(chip.interconnect)
            intra_latency = link.latency_s if link else 0.0
            for k in range(group.count):
                if k % group.nodes_per_rack == 0:
                    rack_v = ("rack", rack_id)
                    g.add_node(rack_v, kind="rack", dc=dc_index)
                    racks.append((rack_v, 0.0))
                    rack_id += 1
                node_v = ("node", node_id)
                g.add_node(
                    node_v,
                    kind="node",
                    name=f"{dc.name}/{group.name}-{k}",
                    group=f"{dc.name}/{group.name}",
                    chip=template.chip,
                    gpus=template.gpus,
                    nics=template.nics,
                    dc=dc_index,
                )
                g.add_edge(
                    node_v,
                    racks[-1][0],
                    bandwidth_bytes_per_s=template.nic_bytes_per_s,
                    latency_s=net.hop_latency,
                )
                racks[-1] = (racks[-1][0], racks[-1][1] + template.nic_bytes_per_s)
                for _ in range(template.gpus):
                    dev_v = ("device", device_id)
                    g.add_node(dev_v, kind="device", node=node_id)
                    g.add_edge(
                        dev_v,
                        node_v,
                        bandwidth_bytes_per_s=chip.interconnect_bytes_per_s,
                        latency_s=intra_latency,
                    )
                    device_id += 1
                node_id += 1
        per_pod = net.racks_per_pod or len(racks)
        for start in range(0, len(racks), per_pod):
            pod_v = ("pod", pod_id)
            g.add_node(pod_v, kind="pod", dc=dc_index)
            pod_bw = 0.0
            for rack_v, nic_sum in racks[start : start + per_pod]:
                uplink = nic_sum / net.tor_oversubscription
                g.add_edge(rack_v, pod_v, bandwidth_bytes_per_s=uplink, latency_s=net.hop_latency)
                pod_bw += uplink
            if net.racks_per_pod is None:
                g.add_edge(pod_v, dc_v, bandwidth_bytes_per_s=INF, latency_s=0.0)
            else:
                g.add_edge(
                    pod_v,
                    dc_v,
                    bandwidth_bytes_per_s=pod_bw / net.pod_oversubscription,
                    latency_s=net.hop_latency,
                )
            pod_id += 1
    for i, a in enumerate(dc_vertices):
        for b in dc_vertices[i + 1 :]:
            g.add_edge(a, b, bandwidth_bytes_per_s=spec.wan.bandwidth, latency_s=spec.wan.latency)
    g.graph["wan_bw"] = spec.wan.bandwidth
    g.graph["wan_latency"] = spec.wan.latency
    return g


def export_arrays(g: nx.Graph) -> TopologyArrays:
    """Read the graph once into flat arrays (the only form the engine and kernels see)."""
    by_kind: dict[str, list] = {k: [] for k in ("dc", "pod", "rack", "node")}
    for v, data in g.nodes(data=True):
        if data["kind"] in by_kind:
            by_kind[data["kind"]].append(v)
    for vs in by_kind.values():
        vs.sort(key=lambda v: v[1])
    dcs, pods, racks, nodes = (by_kind[k] for k in ("dc", "pod", "rack", "node"))

    def parent(v, kind):
        return next(u for u in g.neighbors(v) if u[0] == kind)

    rack_pod = np.array([parent(r, "pod")[1] for r in racks], dtype=np.int64)
    pod_dc = np.array([parent(p, "dc")[1] for p in pods], dtype=np.int64)
    node_rack = np.array([parent(n, "rack")[1] for n in nodes], dtype=np.int64)
    chips = tuple(dict.fromkeys(g.nodes[n]["chip"] for n in nodes))
    groups = tuple(dict.fromkeys(g.nodes[n]["group"] for n in nodes))
    first_device = [next(u for u in g.neighbors(n) if u[0] == "device") for n in nodes]
    return TopologyArrays(
        node_gpus=np.array([g.nodes[n]["gpus"] for n in nodes], dtype=np.int64),
        node_chip=np.array([chips.index(g.nodes[n]["chip"]) for n in nodes], dtype=np.int64),
        node_group=np.array([groups.index(g.nodes[n]["group"]) for n in nodes], dtype=np.int64),
        node_rack=node_rack,
        node_pod=rack_pod[node_rack],
        node_dc=pod_dc[rack_pod[node_rack]],
        node_nic_bw=np.array(
            [
                g.edges[n, ("rack", r)]["bandwidth_bytes_per_s"]
                for n, r in zip(nodes, node_rack, strict=True)
            ]
        ),
        node_nics=np.array([g.nodes[n]["nics"] for n in nodes], dtype=np.int64),
        node_intra_bw=np.array(
            [
                g.edges[d, n]["bandwidth_bytes_per_s"]
                for d, n in zip(first_device, nodes, strict=True)
            ]
        ),
        node_intra_latency=np.array(
            [g.edges[d, n]["latency_s"] for d, n in zip(first_device, nodes, strict=True)]
        ),
        rack_uplink_bw=np.array(
            [
                g.edges[r, ("pod", p)]["bandwidth_bytes_per_s"]
                for r, p in zip(racks, rack_pod, strict=True)
            ]
        ),
        pod_uplink_bw=np.array(
            [
                g.edges[p, ("dc", d)]["bandwidth_bytes_per_s"]
                for p, d in zip(pods, pod_dc, strict=True)
            ]
        ),
        dc_hop_latency=np.array([g.nodes[d]["hop_latency_s"] for d in dcs]),
        pod_is_spine=np.array([g.nodes[d]["pod_is_spine"] for d in dcs], dtype=bool),
        wan_bw=float(g.graph["wan_bw"]),
        wan_latency=float(g.graph["wan_latency"]),
        chips=chips,
        group_names=groups,
        dc_names=tuple(g.nodes[d]["name"] for d in dcs),
    )


def uplink_bottleneck(t: TopologyArrays, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Slowest link *above* the NICs on the path between nodes ``a`` and ``b``: ToR uplinks
    when the racks differ, pod uplinks when the pods differ, the WAN when the data centres
    differ (inf for nodes under the same ToR)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    rack_bw = np.minimum(t.rack_uplink_bw[t.node_rack[a]], t.rack_uplink_bw[t.node_rack[b]])
    pod_bw = np.minimum(t.pod_uplink_bw[t.node_pod[a]], t.pod_uplink_bw[t.node_pod[b]])
    bw = np.where(t.node_rack[a] == t.node_rack[b], np.inf, rack_bw)
    bw = np.where(t.node_pod[a] == t.node_pod[b], bw, np.minimum(bw, pod_bw))
    return np.where(t.node_dc[a] == t.node_dc[b], bw, np.minimum(bw, t.wan_bw))


def path_bottleneck(t: TopologyArrays, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Bottleneck bandwidth and latency of the path between nodes ``a`` and ``b`` (arrays of
    node ids, broadcast together), from indices only.

    Two devices on the same node talk over the chip interconnect (device -> node -> device);
    otherwise the path climbs from each node to the lowest common switch.

    Returns:
        ``(bandwidth_bytes_per_s, latency_s)`` arrays.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    same_node = a == b
    same_rack = t.node_rack[a] == t.node_rack[b]
    same_pod = t.node_pod[a] == t.node_pod[b]
    same_dc = t.node_dc[a] == t.node_dc[b]
    bw = np.minimum(np.minimum(t.node_nic_bw[a], t.node_nic_bw[b]), uplink_bottleneck(t, a, b))
    bw = np.where(same_node, np.minimum(t.node_intra_bw[a], t.node_intra_bw[b]), bw)

    hop_a, hop_b = t.dc_hop_latency[t.node_dc[a]], t.dc_hop_latency[t.node_dc[b]]
    pod_hop_a = np.where(t.pod_is_spine[t.node_dc[a]], 0.0, hop_a)
    pod_hop_b = np.where(t.pod_is_spine[t.node_dc[b]], 0.0, hop_b)
    lat = hop_a + hop_b  # node -> ToR on both sides
    lat = lat + np.where(same_rack, 0.0, hop_a + hop_b)  # ToR -> pod
    lat = lat + np.where(same_pod, 0.0, pod_hop_a + pod_hop_b)  # pod -> spine
    lat = lat + np.where(same_dc, 0.0, t.wan_latency)
    lat = np.where(same_node, t.node_intra_latency[a] + t.node_intra_latency[b], lat)
    return bw, lat


def ring_hops(t: TopologyArrays, nodes: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The ring over ``nodes`` (distinct node ids, in ring order), hop by hop above the NICs.

    Returns:
        ``(links, uplink_bw, latency)``: ids of the shared links the ring crosses (ToR
        uplinks ``rack``, pod uplinks ``n_racks + pod``, WAN ``n_racks + n_pods + lo x n_dcs
        + hi``), the slowest of them (inf if none) and the longest hop's switch latency.
    """
    nodes = np.ascontiguousarray(nodes, dtype=np.int64)
    out = np.empty(5 * len(nodes), dtype=np.int64)
    n, bw, latency = kernels.ring_hops(
        nodes,
        t.node_rack,
        t.node_pod,
        t.node_dc,
        t.rack_uplink_bw,
        t.pod_uplink_bw,
        t.pod_is_spine,
        t.dc_hop_latency,
        float(t.wan_bw),
        float(t.wan_latency),
        out,
    )
    return out[:n], float(bw), float(latency)
