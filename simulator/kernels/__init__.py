"""numba kernels: THE ONLY package that imports numba.

Arrays in, arrays out; no randomness, no I/O, no Python objects. Every kernel is compiled with
the one project-wide decorator :data:`kernel` and has a thin public wrapper outside this package
that coerces dtypes, checks shapes and handles empty input. :func:`warmup` compiles every kernel
on tiny inputs so that compile time can be reported apart from run time.
"""

from __future__ import annotations

import time

import numpy as np

from ._jit import kernel
from .placement import (
    allocate,
    consolidated,
    first_fit,
    fragmented,
    greedy_fit,
    ranked_fit,
    release,
)
from .scheduling import assign_types, fastest_fit, gandiva_rank, las_rank, rank_fit
from .throughput import maxmin_share, step_times
from .topology import ring_hops

__all__ = [
    "allocate",
    "assign_types",
    "consolidated",
    "fastest_fit",
    "first_fit",
    "fragmented",
    "gandiva_rank",
    "greedy_fit",
    "kernel",
    "las_rank",
    "maxmin_share",
    "rank_fit",
    "ranked_fit",
    "release",
    "ring_hops",
    "step_times",
    "warmup",
]


def warmup() -> float:
    """Compile (or load from cache) every kernel for the dtypes the engine uses.

    Returns:
        Seconds spent, i.e. the compile / cache-load time to report apart from run time.
    """
    t0 = time.perf_counter()
    free = np.array([2, 1], dtype=np.int64)
    usable = np.array([2, 2], dtype=np.int64)
    usable.setflags(write=False)  # the state's usable array is read-only
    nodes = np.zeros(2, dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    readonly = free.copy()
    readonly.setflags(write=False)
    for arr in (free, readonly):
        first_fit(arr, 1, nodes, counts)
    k = first_fit(free, 1, nodes, counts)
    size, tally = usable.copy(), np.zeros(3, dtype=np.int64)
    size.setflags(write=False)  # the topology's node sizes are read-only
    allocate(free, nodes[:k], counts[:k], 1, size, tally)
    release(free, usable, nodes[:k], counts[:k], size, tally)
    one = np.ones(2)
    step_times(one, one, np.array([2, 1], dtype=np.int64), one, one, one, np.empty(2))
    maxmin_share(one, np.zeros((2, 1), dtype=np.int64), one, np.empty(2), np.empty(2))
    ints, floats, spine = np.zeros(2, dtype=np.int64), np.ones(2), np.zeros(2, dtype=bool)
    for arr in (ints, floats, spine):
        arr.setflags(write=False)  # topology arrays are read-only
    ranked_fit(readonly, 1, one, one, nodes, counts)  # ranks are fresh arrays
    consolidated(readonly, ints, ints, 1, nodes, counts)
    fragmented(tally, 1)
    greedy_fit(free, 1, np.empty(2, dtype=bool))
    pairs = np.zeros(2, dtype=np.int64)
    assign_types(pairs, pairs, pairs, free.copy(), np.empty(2, dtype=np.int64))
    fastest_fit(np.ones((2, 2)), one, one.copy(), np.empty(2, dtype=np.int64))
    fresh = np.zeros(2, dtype=np.int64)  # the candidates and their sizes are fresh arrays
    last = (fresh[:1], np.ones((2, 1)), np.full(2, -1, dtype=np.int32))  # a pass's kept order
    for start in (last, (fresh[:0], np.ones((2, 0)), last[2])):
        rank_fit(one, one, fresh, fresh, 1, 1, np.empty(2, dtype=bool), fresh[:1], *start)
    books = np.ones(2)
    books.setflags(write=False)  # ids, sizes and the ledger's books are read-only views
    ids = np.array([0, 1], dtype=np.int64)
    ids.setflags(write=False)
    outs = (np.empty(2, np.int64), np.empty(2), np.empty(2), np.empty(2, bool))
    outs = (*outs, fresh[:1], *last)
    las_rank(ids[:1], ids[1:], ids, books, books, books, books, 1.0, 1.0, 1, *outs)
    gandiva_rank(ids[:1], ids[1:], one[:1], ids, books, 1.0, 1.0, 1, *outs)
    ring = np.array([0, 1], dtype=np.int64)
    out = np.empty(10, dtype=np.int64)
    ring_hops(ring, ints, ints, ints, floats, floats, spine, floats, 1.0, 1.0, out)
    return time.perf_counter() - t0
