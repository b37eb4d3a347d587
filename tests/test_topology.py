"""Topology graph and its array export; bottlenecks from indices vs paths in the graph."""

import math
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.scenario import load_scenario
from simulator.world.cluster import build_cluster
from simulator.world.topology import path_bottleneck, ring_hops

from .conftest import ROOT


def cluster_spec(groups_per_dc, racks_per_pod=None, tor_over=1.0, pod_over=1.0):
    dcs = []
    for d, groups in enumerate(groups_per_dc):
        dcs.append(
            {
                "name": f"dc{d}",
                "network": {
                    "racks_per_pod": racks_per_pod[d]
                    if isinstance(racks_per_pod, list)
                    else racks_per_pod,
                    "tor_oversubscription": tor_over,
                    "pod_oversubscription": pod_over,
                    "hop_latency": "2us",
                },
                "node_groups": [
                    {"name": f"g{i}", "node": node, "count": count, "nodes_per_rack": per_rack}
                    for i, (node, count, per_rack) in enumerate(groups)
                ],
            }
        )
    data = {
        "name": "topo",
        "cluster": {"datacenters": dcs, "wan": {"bandwidth": "100Gbps", "latency": "20ms"}},
        "workload": {"training": []},
    }
    return load_scenario(data).cluster


def test_quickstart_structure():
    c = build_cluster(load_scenario(ROOT / "scenarios" / "quickstart.yaml").cluster)
    t = c.topology
    assert t.total_gpus == 32 and t.n_nodes == 4
    assert t.node_rack.tolist() == [0, 0, 1, 1]
    assert t.node_nic_bw.tolist() == [400e9] * 4  # 8 x 400 Gb/s ConnectX-7
    assert t.rack_uplink_bw.tolist() == [800e9, 800e9]
    kinds = nx.get_node_attributes(c.graph, "kind")
    assert sum(k == "device" for k in kinds.values()) == 32
    assert c.node_names[3] == "dc1/h100-3" and c.node_id["dc1/h100-3"] == 3
    assert not t.node_gpus.flags.writeable


def test_fat_tree_uplinks_follow_oversubscription():
    spec = cluster_spec([[("dgx-a100", 16, 4)]], racks_per_pod=2, tor_over=2.0, pod_over=4.0)
    t = build_cluster(spec).topology
    nic = 8 * 200e9 / 8
    assert t.rack_uplink_bw.tolist() == [4 * nic / 2] * 4
    assert t.pod_uplink_bw.tolist() == [2 * (4 * nic / 2) / 4] * 2
    assert t.node_pod.tolist() == [0] * 8 + [1] * 8


def test_racks_never_mix_groups_and_ids_are_contiguous():
    spec = cluster_spec([[("dgx-h100", 3, 2), ({"chip": "t4", "gpus": 1}, 5, 4)]])
    t = build_cluster(spec).topology
    assert t.node_rack.tolist() == [0, 0, 1, 2, 2, 2, 2, 3]
    assert t.node_gpus.tolist() == [8, 8, 8, 1, 1, 1, 1, 1]
    assert t.group_names == ("dc0/g0", "dc0/g1")
    assert t.chips == ("h100-sxm", "t4")


def _graph_bottleneck(g, a, b):
    """Reference: walk the unique tree path in the networkx graph between two nodes' devices."""
    if a == b:
        devs = [u for u in g.neighbors(("node", a)) if u[0] == "device"]
        path = [devs[0], ("node", a), devs[-1]] if len(devs) > 1 else None
        if path is None:
            d = devs[0]
            e = g.edges[d, ("node", a)]
            return e["bandwidth_bytes_per_s"], 2 * e["latency_s"]
    else:
        path = nx.shortest_path(g, ("node", a), ("node", b))
    edges = [g.edges[u, v] for u, v in zip(path, path[1:], strict=False)]
    return (min(e["bandwidth_bytes_per_s"] for e in edges), sum(e["latency_s"] for e in edges))


shapes = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["dgx-h100", "dgx-a100", "g4dn.12xlarge"]),
            st.integers(1, 6),
            st.integers(1, 3),
        ),
        min_size=1,
        max_size=2,
    ),
    min_size=1,
    max_size=3,
)


@given(shapes, st.sampled_from([None, 1, 2]), st.floats(1, 4), st.floats(1, 4), st.data())
def test_index_bottleneck_matches_graph_paths(groups, per_pod, tor, pod, data):
    c = build_cluster(cluster_spec(groups, per_pod, tor, pod))
    n = c.n_nodes
    a = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=20))
    b = data.draw(st.lists(st.integers(0, n - 1), min_size=len(a), max_size=len(a)))
    bw, lat = path_bottleneck(c.topology, np.array(a), np.array(b))
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        ref_bw, ref_lat = _graph_bottleneck(c.graph, x, y)
        assert bw[i] == pytest.approx(ref_bw, rel=1e-12)
        assert lat[i] == pytest.approx(ref_lat, rel=1e-12)


def _graph_ring(g, t, nodes):
    """Reference: the shared links, slowest uplink and longest latency of the ring's hops, from
    the tree paths in the networkx graph (NIC edges excluded, infinite spine edges too)."""
    n_racks, n_pods, n_dcs = len(t.rack_uplink_bw), len(t.pod_uplink_bw), len(t.dc_names)
    links, bw, latency = set(), math.inf, 0.0
    for x, y in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        path = nx.shortest_path(g, ("node", x), ("node", y))
        latency = max(latency, sum(g.edges[u, v]["latency_s"] for u, v in pairwise(path)))
        for u, v in pairwise(path):
            edge, ends = g.edges[u, v], {u[0]: u[1], v[0]: v[1]}
            if set(ends) == {"rack", "pod"}:
                links.add(ends["rack"])
            elif set(ends) == {"pod", "dc"} and math.isfinite(edge["bandwidth_bytes_per_s"]):
                links.add(n_racks + ends["pod"])
            elif u[0] == v[0] == "dc":
                lo, hi = sorted((u[1], v[1]))
                links.add(n_racks + n_pods + lo * n_dcs + hi)
            else:
                continue
            bw = min(bw, edge["bandwidth_bytes_per_s"])
    return sorted(links), bw, latency


@given(shapes, st.data())
def test_ring_hops_kernel_matches_graph_paths(groups, data):
    per_pod = [data.draw(st.sampled_from([None, 1, 2])) for _ in groups]  # mixed fabrics
    tor, pod = data.draw(st.floats(1, 4)), data.draw(st.floats(1, 4))
    c = build_cluster(cluster_spec(groups, per_pod, tor, pod))
    nodes = data.draw(st.lists(st.integers(0, c.n_nodes - 1), min_size=1, max_size=12, unique=True))
    links, bw, latency = ring_hops(c.topology, np.array(nodes))
    ref_links, ref_bw, ref_latency = _graph_ring(c.graph, c.topology, nodes)
    assert links.tolist() == ref_links
    assert bw == pytest.approx(ref_bw, rel=1e-12)
    if len(nodes) > 1:
        assert latency == pytest.approx(ref_latency, rel=1e-12)


def test_arrays_are_linear_in_cluster_size():
    spec = cluster_spec([[("dgx-h100", 1250, 8)]], racks_per_pod=8)  # 10,000 devices
    t = build_cluster(spec).topology
    sizes = [v.size for v in vars(t).values() if isinstance(v, np.ndarray)]
    assert t.total_gpus == 10_000 and max(sizes) == t.n_nodes
