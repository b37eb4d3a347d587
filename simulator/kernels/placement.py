"""Placement search and capacity bookkeeping kernels.

``free`` is the per-node count of free devices (int64). A placement is two parallel int64
arrays: node ids and device counts per node.
"""

from ._jit import kernel

# Status codes returned by allocate / release (0 = success).
OK = 0
BAD_NODE = 1
BAD_COUNT = 2
OVER_FREE = 3
OVER_CAPACITY = 4
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
    remaining = need
    k = 0
    for i in range(n):
        if free[i] > 0:
            take = min(free[i], remaining)
            out_nodes[k] = i
            out_counts[k] = take
            k += 1
            remaining -= take
            if remaining == 0:
                break
    return k


@kernel
def allocate(free, nodes, counts, expected_total):
    """Validate a placement and subtract it from ``free``; all-or-nothing.

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
    for k in range(nodes.shape[0]):
        free[nodes[k]] -= counts[k]
    for k in range(nodes.shape[0]):
        if free[nodes[k]] < 0:
            for m in range(nodes.shape[0]):
                free[nodes[m]] += counts[m]
            return OVER_FREE
    return OK


@kernel
def release(free, capacity, nodes, counts):
    """Give a placement's devices back; OVER_CAPACITY (and no change) if that would exceed
    a node's capacity."""
    for k in range(nodes.shape[0]):
        free[nodes[k]] += counts[k]
    for k in range(nodes.shape[0]):
        if free[nodes[k]] > capacity[nodes[k]]:
            for m in range(nodes.shape[0]):
                free[nodes[m]] -= counts[m]
            return OVER_CAPACITY
    return OK
