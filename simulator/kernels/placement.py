"""Placement search and device bookkeeping kernels.

``free`` is the per-node count of free devices (int64). A placement is two parallel int64
arrays: node ids and device counts per node.
"""

import math

import numpy as np

from ._jit import kernel

# Status codes returned by allocate / release (0 = success).
OK = 0
BAD_NODE = 1
BAD_COUNT = 2
OVER_FREE = 3
OVER_USABLE = 4
WRONG_TOTAL = 5


@kernel
def first_fit(free, need, out_nodes, out_counts):
    """First-fit gang placement of ``need`` devices.

    1. The lowest-id node with at least ``need`` free devices takes the whole job.
    2. Otherwise, if the cluster has ``need`` free devices in total, take them greedily from
       nodes in id order (``min(free, remaining)`` from each).

    Writes the placement into ``out_nodes``/``out_counts`` and returns the number of nodes
    used; 0 when the job does not fit (nothing is written then).
    """
    n = free.shape[0]
    for i in range(n):
        if free[i] >= need:
            out_nodes[0] = i
            out_counts[0] = need
            return 1
    total = 0
    for i in range(n):
        total += free[i]
    if total < need:
        return 0
    return _spill(free, np.arange(n), free > 0, need, out_nodes, out_counts)


@kernel
def _spill(free, order, usable, need, out_nodes, out_counts):
    """Take ``need`` devices greedily from the usable nodes in ``order``; nodes used."""
    remaining = need
    k = 0
    for i in order:
        if usable[i] and free[i] > 0:
            take = min(free[i], remaining)
            out_nodes[k] = i
            out_counts[k] = take
            k += 1
            remaining -= take
            if remaining == 0:
                break
    return k


@kernel
def _retally(free, size, tally, nodes, sign):
    """Take out of (``sign`` -1) or put into (+1) ``tally`` the placement's nodes (each
    once) as they stand in ``free``: ``tally[f]`` counts the nodes with ``f`` free devices,
    ``0 < f < size`` (partly busy)."""
    for k in range(nodes.shape[0]):
        node, seen = nodes[k], False
        for m in range(k):
            seen = seen or nodes[m] == node
        if not seen and 0 < free[node] < size[node]:
            tally[free[node]] += sign


@kernel
def allocate(free, nodes, counts, expected_total, size, tally):
    """Validate a placement and subtract it from ``free``; all-or-nothing. ``tally`` (the
    partly busy nodes per free count, :func:`_retally`; ``size`` the nodes' devices) is kept.

    Returns OK, or BAD_NODE / BAD_COUNT / OVER_FREE / WRONG_TOTAL (``free`` then unchanged).
    """
    n = free.shape[0]
    total = 0
    for k in range(nodes.shape[0]):
        if nodes[k] < 0 or nodes[k] >= n:
            return BAD_NODE
        if counts[k] <= 0:
            return BAD_COUNT
        total += counts[k]
    if total != expected_total:
        return WRONG_TOTAL
    _retally(free, size, tally, nodes, -1)
    for k in range(nodes.shape[0]):
        free[nodes[k]] -= counts[k]
    for k in range(nodes.shape[0]):
        if free[nodes[k]] < 0:
            for m in range(nodes.shape[0]):
                free[nodes[m]] += counts[m]
            _retally(free, size, tally, nodes, 1)
            return OVER_FREE
    _retally(free, size, tally, nodes, 1)
    return OK


@kernel
def release(free, usable, nodes, counts, size, tally):
    """Give a placement's devices back; OVER_USABLE (and no change) if that would exceed
    a node's usable devices. ``tally`` is kept as in :func:`allocate`."""
    _retally(free, size, tally, nodes, -1)
    for k in range(nodes.shape[0]):
        free[nodes[k]] += counts[k]
    for k in range(nodes.shape[0]):
        if free[nodes[k]] > usable[nodes[k]]:
            for m in range(nodes.shape[0]):
                free[nodes[m]] -= counts[m]
            _retally(free, size, tally, nodes, 1)
            return OVER_USABLE
    _retally(free, size, tally, nodes, 1)
    return OK


@kernel
def ranked_fit(free, need, rank_whole, rank_spill, out_nodes, out_counts):
    """Gang placement of ``need`` devices guided by per-node ranks (lower is better; ties go
    to the lower node id; a node ranked ``inf`` is never used).

    1. Among nodes that can hold the whole job, the one with the lowest ``rank_whole``.
    2. Otherwise, if the usable nodes have ``need`` free devices in total, take them greedily
       in ascending ``rank_spill``.

    Writes the placement into ``out_nodes``/``out_counts`` and returns the number of nodes used;
    0 when the job does not fit (nothing is written then).
    """
    n = free.shape[0]
    best = -1
    for i in range(n):
        usable = free[i] >= need and rank_whole[i] < math.inf
        if usable and (best < 0 or rank_whole[i] < rank_whole[best]):
            best = i
    if best >= 0:
        out_nodes[0] = best
        out_counts[0] = need
        return 1
    total = 0
    for i in range(n):
        if free[i] > 0 and rank_spill[i] < math.inf:
            total += free[i]
    if total < need:
        return 0
    order = np.argsort(rank_spill, kind="mergesort")
    return _spill(free, order, rank_spill < math.inf, need, out_nodes, out_counts)


@kernel
def _fill_domains(free, order, domain, n_domains, need):
    """Nodes each domain needs to hold ``need`` devices when filled largest-first (0: cannot),
    and the free devices of those nodes."""
    total = np.zeros(n_domains, dtype=np.int64)
    used = np.zeros(n_domains, dtype=np.int64)
    needed = np.zeros(n_domains, dtype=np.int64)
    for i in order:
        d = domain[i]
        if free[i] > 0 and needed[d] == 0:
            total[d] += free[i]
            used[d] += 1
            if total[d] >= need:
                needed[d] = used[d]
    return needed, total


@kernel
def _domain_on(free, order, domain, need, k):
    """The domain (rack or pod) that holds ``need`` devices on ``k`` nodes, with the fewest
    devices left over (then the lowest id); -1 if none does."""
    n_domains = 0
    for i in range(free.shape[0]):
        n_domains = max(n_domains, domain[i] + 1)
    needed, total = _fill_domains(free, order, domain, n_domains, need)
    pick = -1
    for d in range(n_domains):
        if needed[d] == k and (pick < 0 or total[d] < total[pick]):
            pick = d
    return pick


@kernel
def consolidated(free, node_rack, node_pod, need, out_nodes, out_counts):
    """Topology-aware gang placement: fewest nodes, then fewest racks (then pods).

    A node that holds the whole job: the one with the least free devices left (best fit).
    Otherwise the fewest nodes any placement needs is ``k``, reached by taking nodes
    largest-first; the job goes to the rack that holds it on ``k`` nodes, else the pod, else
    the whole cluster (ties: fewer devices left over in the nodes used, then lower id), its
    nodes taken largest-first. Returns the number of nodes used (0: does not fit).
    """
    n = free.shape[0]
    best = -1
    for i in range(n):
        if free[i] >= need and (best < 0 or free[i] < free[best]):
            best = i
    if best >= 0:
        out_nodes[0] = best
        out_counts[0] = need
        return 1
    neg = np.empty(n, dtype=np.int64)
    for i in range(n):
        neg[i] = -free[i]
    order = np.argsort(neg, kind="mergesort")
    k_min, _ = _fill_domains(free, order, np.zeros(n, dtype=np.int64), 1, need)
    if k_min[0] == 0:
        return 0
    rack = _domain_on(free, order, node_rack, need, k_min[0])
    pod = -1 if rack >= 0 else _domain_on(free, order, node_pod, need, k_min[0])
    usable = np.ones(n, dtype=np.bool_)
    for i in range(n):
        usable[i] = (rack < 0 or node_rack[i] == rack) and (pod < 0 or node_pod[i] == pod)
    return _spill(free, order, usable, need, out_nodes, out_counts)


@kernel
def fragmented(tally, need):
    """Free devices a job of ``need`` devices cannot use without splitting over partly busy
    nodes: those on nodes with free devices but fewer than ``min(need, node size)``, from
    the nodes counted per free count (``tally``, :func:`allocate`)."""
    total = 0
    for f in range(1, min(need, tally.shape[0])):
        total += f * tally[f]
    return total


@kernel
def greedy_fit(need, room, out_take):
    """Walk jobs in rank order and take each that still fits in ``room`` devices
    (counting devices only); writes ``out_take`` and returns the devices left."""
    left = room
    for i in range(need.shape[0]):
        if need[i] <= left:
            out_take[i] = True
            left -= need[i]
        else:
            out_take[i] = False
    return left
