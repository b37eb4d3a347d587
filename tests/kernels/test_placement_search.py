"""Ranked and topology-aware placement kernels against naive references and brute force."""

import math
from itertools import combinations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulator import kernels


def naive_ranked(free, need, whole, spill):
    """Reference: best (rank, id) node holding everything, else greedy in (rank, id) order."""
    fits = [(whole[i], i) for i, f in enumerate(free) if f >= need and whole[i] != math.inf]
    if fits:
        return [(min(fits)[1], need)]
    usable = sorted((spill[i], i) for i, f in enumerate(free) if f > 0 and spill[i] != math.inf)
    if sum(free[i] for _, i in usable) < need:
        return []
    out, left = [], need
    for _, i in usable:
        if left:
            out.append((i, min(free[i], left)))
            left -= min(free[i], left)
    return out


def run(kernel, free, *args):
    arr = np.array(free, dtype=np.int64)
    nodes = np.full(len(free), -1, dtype=np.int64)
    counts = np.full(len(free), -1, dtype=np.int64)
    k = kernel(arr, *args, nodes, counts)
    assert arr.tolist() == list(free)  # never mutates its input
    return list(zip(nodes[:k].tolist(), counts[:k].tolist(), strict=True))


rank = st.one_of(st.sampled_from([0.0, 1.0, math.inf]), st.floats(-5, 5))


@given(st.data())
def test_ranked_fit_matches_reference(data):
    free = data.draw(st.lists(st.integers(0, 8), min_size=1, max_size=40))
    need = data.draw(st.integers(1, 60))
    whole = data.draw(st.lists(rank, min_size=len(free), max_size=len(free)))
    spill = data.draw(st.lists(rank, min_size=len(free), max_size=len(free)))
    got = run(kernels.ranked_fit, free, need, np.array(whole), np.array(spill))
    assert got == naive_ranked(free, need, whole, spill)
    if got:
        assert sum(c for _, c in got) == need and all(c <= free[n] for n, c in got)


def naive_consolidated(free, rack, pod, need):
    """Reference, rule by rule: best-fit node; else k = fewest nodes overall; the rack, then
    the pod, that reaches ``need`` on k nodes taken largest-first (least left over, lowest id);
    else anywhere; nodes largest-first (ties: lower id)."""
    fits = [(f, i) for i, f in enumerate(free) if f >= need]
    if fits:
        return [(min(fits)[1], need)]

    def largest_first(ids):
        out, left, total = [], need, 0
        for i in sorted(ids, key=lambda i: (-free[i], i)):
            if free[i] and left:
                out.append((i, min(free[i], left)))
                left -= min(free[i], left)
                total += free[i]
        return (out, total) if left == 0 else (None, None)

    everything, _ = largest_first(range(len(free)))
    if everything is None:
        return []
    k = len(everything)
    for domain in (rack, pod):
        options = []
        for d in sorted(set(domain)):
            out, total = largest_first([i for i in range(len(free)) if domain[i] == d])
            if out is not None and len(out) == k:
                options.append((total, d, out))
        if options:
            return min(options)[2]
    return everything


@st.composite
def topologies(draw):
    n = draw(st.integers(1, 12))
    per_rack = draw(st.integers(1, 4))
    racks_per_pod = draw(st.integers(1, 3))
    rack = [i // per_rack for i in range(n)]
    pod = [r // racks_per_pod for r in rack]
    free = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    return free, rack, pod


@given(topologies(), st.integers(1, 70))
def test_consolidated_matches_reference_and_uses_fewest_nodes(topo, need):
    free, rack, pod = topo
    got = run(kernels.consolidated, free, np.array(rack), np.array(pod), need)
    assert got == naive_consolidated(free, rack, pod, need)
    if not got:
        assert sum(free) < need
        return
    assert sum(c for _, c in got) == need
    # brute force: no placement uses fewer nodes
    usable = [i for i, f in enumerate(free) if f]
    fewest = next(
        k
        for k in range(1, len(usable) + 1)
        if any(sum(free[i] for i in c) >= need for c in combinations(usable, k))
    )
    assert len(got) == fewest
    # and if some rack can host it on that many nodes, it stays in one rack
    one_rack = any(
        len({rack[i] for i in c}) == 1 and sum(free[i] for i in c) >= need
        for c in combinations(usable, fewest)
    )
    if one_rack:
        assert len({rack[n] for n, _ in got}) == 1


@given(
    st.lists(st.tuples(st.integers(0, 8), st.integers(1, 8)), min_size=1, max_size=30),
    st.integers(1, 40),
)
def test_fragmented_matches_reference(nodes, need):
    free = [min(f, size) for f, size in nodes]
    size = [s for _, s in nodes]
    expected = sum(f for f, s in zip(free, size, strict=True) if f and f < min(need, s))
    free, size = np.array(free), np.array(size)
    tally = np.bincount(free[(free > 0) & (free < size)], minlength=int(size.max()) + 1)
    assert kernels.fragmented(tally, need) == expected


@given(st.lists(st.integers(1, 16), max_size=40), st.integers(0, 100))
def test_greedy_fit_matches_reference(need, capacity):
    take = np.empty(len(need), dtype=bool)
    left = kernels.greedy_fit(np.array(need, dtype=np.int64), capacity, take)
    expected, room = [], capacity
    for g in need:
        expected.append(g <= room)
        room -= g if g <= room else 0
    assert take.tolist() == expected and left == room
