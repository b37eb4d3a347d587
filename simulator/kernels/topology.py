"""Topology kernel: walk a ring of nodes and collect what its hops cross above the NICs."""

import math

import numpy as np

from ._jit import kernel


@kernel
def ring_hops(
    nodes,
    node_rack,
    node_pod,
    node_dc,
    rack_uplink_bw,
    pod_uplink_bw,
    pod_is_spine,
    dc_hop_latency,
    wan_bw,
    wan_latency,
    out_links,
):
    """Hops of the ring ``nodes[0] -> nodes[1] -> ... -> nodes[0]`` (distinct node ids).

    Writes the shared links the hops cross into ``out_links`` (needs ``5 len(nodes)`` slots),
    sorted and unique, numbered ``rack``, ``n_racks + pod`` and
    ``n_racks + n_pods + lo x n_dcs + hi`` for the WAN between data centres ``lo < hi``; a pod
    uplink counts only in a three-tier data centre. Returns ``(n_links, uplink_bw, latency)``:
    the slowest uplink crossed (inf if none) and the longest hop's switch latency.
    """
    n_racks = rack_uplink_bw.shape[0]
    n_pods = pod_uplink_bw.shape[0]
    n_dcs = dc_hop_latency.shape[0]
    m = nodes.shape[0]
    k = 0
    bw = math.inf
    latency = 0.0
    for i in range(m):
        x, y = nodes[i], nodes[(i + 1) % m]
        rx, ry, px, py, dx, dy = (
            node_rack[x],
            node_rack[y],
            node_pod[x],
            node_pod[y],
            node_dc[x],
            node_dc[y],
        )
        hx, hy = dc_hop_latency[dx], dc_hop_latency[dy]
        hop = hx + hy  # node -> ToR on both sides
        if rx != ry:
            bw = min(bw, rack_uplink_bw[rx], rack_uplink_bw[ry])
            hop += hx + hy
            out_links[k] = rx
            out_links[k + 1] = ry
            k += 2
        if px != py:
            bw = min(bw, pod_uplink_bw[px], pod_uplink_bw[py])
            if not pod_is_spine[dx]:
                hop += hx
                out_links[k] = n_racks + px
                k += 1
            if not pod_is_spine[dy]:
                hop += hy
                out_links[k] = n_racks + py
                k += 1
        if dx != dy:
            bw = min(bw, wan_bw)
            hop += wan_latency
            out_links[k] = n_racks + n_pods + min(dx, dy) * n_dcs + max(dx, dy)
            k += 1
        latency = max(latency, hop)
    ids = np.sort(out_links[:k])
    n = 0
    for i in range(k):
        if i == 0 or ids[i] != ids[i - 1]:
            out_links[n] = ids[i]
            n += 1
    return n, bw, latency
