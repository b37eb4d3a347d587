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
def _heap_push(key, item, size, k, it):
    """Push ``(k, it)`` on the binary min-heap held in ``key/item[:size]``; new size."""
    i = size
    key[i], item[i] = k, it
    while i > 0:
        parent = (i - 1) >> 1
        if key[parent] <= key[i]:
            break
        key[i], key[parent] = key[parent], key[i]
        item[i], item[parent] = item[parent], item[i]
        i = parent
    return size + 1


@kernel
def _heap_pop(key, item, size):
    """Remove the top of the heap; new size."""
    size -= 1
    key[0], item[0] = key[size], item[size]
    i = 0
    while True:
        small, left, right = i, 2 * i + 1, 2 * i + 2
        if left < size and key[left] < key[small]:
            small = left
        if right < size and key[right] < key[small]:
            small = right
        if small == i:
            return size
        key[i], key[small] = key[small], key[i]
        item[i], item[small] = item[small], item[i]
        i = small


@kernel
def maxmin_share(link_bandwidth, flow_links, flow_cap, out_rate, out_load):
    """Max-min fair rates of flows over shared links, each flow also capped by its own limit.

    Row ``f`` of ``flow_links`` lists the links flow ``f`` crosses, then -1 padding. Water-filling:
    every unfrozen flow runs at a common level that rises until a flow reaches its cap (freeze it
    at its cap) or a link saturates (freeze its unfrozen flows at the level). A link saturates at
    level ``(bandwidth left) / (unfrozen flows)``, which only grows as flows freeze, so a heap of
    possibly outdated levels (lower bounds) is refreshed lazily when an entry reaches the top:
    O(E log L) for E flow-link pairs over L links. Writes ``out_rate`` and ``out_load`` (the sum
    of rates on each link); rates never exceed caps and loads never exceed capacities.
    """
    n_flows, width = flow_links.shape
    n_links = link_bandwidth.shape[0]
    # link -> flows adjacency (CSR)
    link_ptr = np.zeros(n_links + 1, dtype=np.int64)
    for f in range(n_flows):
        for k in range(width):
            if flow_links[f, k] < 0:
                break
            link_ptr[flow_links[f, k] + 1] += 1
    for link in range(n_links):
        link_ptr[link + 1] += link_ptr[link]
    cursor = link_ptr[:-1].copy()
    link_flows = np.empty(link_ptr[n_links], dtype=np.int64)
    for f in range(n_flows):
        for k in range(width):
            link = flow_links[f, k]
            if link < 0:
                break
            link_flows[cursor[link]] = f
            cursor[link] += 1
    active = np.empty(n_links, dtype=np.int64)
    left = np.empty(n_links)
    hkey = np.empty(n_links)
    hlink = np.empty(n_links, dtype=np.int64)
    size = 0
    for link in range(n_links):
        active[link] = link_ptr[link + 1] - link_ptr[link]
        left[link] = link_bandwidth[link]
        if active[link] > 0:
            size = _heap_push(hkey, hlink, size, left[link] / active[link], link)
    frozen = np.zeros(n_flows, dtype=np.bool_)
    order = np.argsort(flow_cap, kind="mergesort")
    p = 0
    remaining = n_flows
    while remaining > 0:
        while frozen[order[p]]:
            p += 1
        while size > 0:  # bring the top entry up to date (each link is in the heap once)
            link = hlink[0]
            if active[link] == 0:
                size = _heap_pop(hkey, hlink, size)
                continue
            level = max(left[link], 0.0) / active[link]
            if level <= hkey[0]:
                hkey[0] = level  # equal but for rounding; still the smallest key
                break
            size = _heap_pop(hkey, hlink, size)
            size = _heap_push(hkey, hlink, size, level, link)
        f_next = order[p]
        if size == 0 or flow_cap[f_next] <= hkey[0]:
            first, last, level, by_link = f_next, f_next + 1, flow_cap[f_next], False
        else:
            link = hlink[0]
            level = max(hkey[0], 0.0)
            size = _heap_pop(hkey, hlink, size)
            first, last, by_link = link_ptr[link], link_ptr[link + 1], True
        for t in range(first, last):
            f = link_flows[t] if by_link else t
            if frozen[f]:
                continue
            frozen[f] = True
            remaining -= 1
            out_rate[f] = level
            for k in range(width):
                link = flow_links[f, k]
                if link < 0:
                    break
                left[link] -= level
                active[link] -= 1
    for link in range(n_links):
        out_load[link] = link_bandwidth[link] - left[link]
