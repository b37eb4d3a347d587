"""Throughput kernels: batch step times of running jobs and max-min fair link sharing."""

import math

import numpy as np

from ._jit import kernel


@kernel
def step_times(compute_s, grad_bytes, ranks, bandwidth, latency, overlap, out):
    """Seconds per step of every job: compute plus the exposed part of its gradient
    all-reduce, the faster of ring and tree (see :mod:`simulator.perf.collectives`).

    ``out[i] = compute_s[i] + comm - overlap[i] * min(comm, compute_s[i])`` with
    ``comm = min(2(n-1)a + 2(n-1)/n S/B, 2 ceil(log2 n) a + 2 S/B)`` (0 for one rank).
    """
    for i in range(compute_s.shape[0]):
        n = ranks[i]
        comm = 0.0
        if n > 1 and grad_bytes[i] > 0.0:
            ring = 2.0 * (n - 1) * latency[i] + 2.0 * (n - 1) / n * grad_bytes[i] / bandwidth[i]
            tree = 2.0 * math.ceil(math.log2(n)) * latency[i] + 2.0 * grad_bytes[i] / bandwidth[i]
            comm = min(ring, tree)
        out[i] = compute_s[i] + comm - overlap[i] * min(comm, compute_s[i])


@kernel
def maxmin_share(link_capacity, flow_ptr, flow_links, flow_cap, out_rate):
    """Max-min fair rates of flows over shared links, each flow also capped by its own limit.

    Flow ``f`` crosses links ``flow_links[flow_ptr[f]:flow_ptr[f + 1]]``. Progressive filling:
    raise every unfrozen flow's rate equally until a link saturates or a flow reaches its cap;
    freeze those flows; repeat. Writes ``out_rate``; rates never exceed caps and the flows on a
    link never exceed its capacity.
    """
    n_flows = flow_cap.shape[0]
    n_links = link_capacity.shape[0]
    used = np.zeros(n_links)
    frozen = np.zeros(n_flows, dtype=np.bool_)
    for f in range(n_flows):
        out_rate[f] = 0.0
    remaining = n_flows
    while remaining > 0:
        active = np.zeros(n_links, dtype=np.int64)
        for f in range(n_flows):
            if not frozen[f]:
                for k in range(flow_ptr[f], flow_ptr[f + 1]):
                    active[flow_links[k]] += 1
        inc = math.inf
        for link in range(n_links):
            if active[link] > 0:
                inc = min(inc, (link_capacity[link] - used[link]) / active[link])
        for f in range(n_flows):
            if not frozen[f]:
                inc = min(inc, flow_cap[f] - out_rate[f])
        inc = max(inc, 0.0)
        for f in range(n_flows):
            if not frozen[f]:
                out_rate[f] += inc
                for k in range(flow_ptr[f], flow_ptr[f + 1]):
                    used[flow_links[k]] += inc
        saturated = np.zeros(n_links, dtype=np.bool_)
        for link in range(n_links):
            if active[link] > 0 and used[link] >= link_capacity[link] * (1.0 - 1e-12):
                saturated[link] = True
        for f in range(n_flows):
            if not frozen[f]:
                for k in range(flow_ptr[f], flow_ptr[f + 1]):
                    if saturated[flow_links[k]]:
                        frozen[f] = True
                        remaining -= 1
                        break
        for f in range(n_flows):
            if not frozen[f] and out_rate[f] >= flow_cap[f] * (1.0 - 1e-12):
                frozen[f] = True
                remaining -= 1
