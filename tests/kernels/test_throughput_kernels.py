"""Throughput kernels against independently written naive references."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import kernels


def naive_step(compute, grad, n, bw, lat, overlap):
    if n <= 1 or grad <= 0:
        comm = 0.0
    else:
        steps_ring = 2 * (n - 1)
        ring = steps_ring * lat + grad * steps_ring / n / bw
        depth = 0
        while 2**depth < n:
            depth += 1
        tree = 2 * depth * lat + 2 * grad / bw
        comm = ring if ring < tree else tree
    hidden = overlap * (comm if comm < compute else compute)
    return compute + comm - hidden


pos = st.floats(1e-6, 1e3, allow_nan=False)


@given(
    st.lists(
        st.tuples(
            pos,
            st.floats(0, 1e10),
            st.integers(1, 4096),
            st.floats(1e6, 1e12),
            st.floats(0, 1e-3),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_step_times_match_reference(rows):
    cols = [np.array(c) for c in zip(*rows, strict=True)]
    out = np.empty(len(rows))
    kernels.step_times(cols[0], cols[1], cols[2].astype(np.int64), cols[3], cols[4], cols[5], out)
    ref = [naive_step(*r) for r in rows]
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert np.all(np.isfinite(out)) and np.all(out >= cols[0] * (1 - 1e-12))


def naive_maxmin(capacity, flows, caps):
    """Reference: repeatedly fix the most constrained resource (a link's equal share among its
    unfixed flows, or a flow's own cap) — the textbook bottleneck algorithm."""
    rate = [None] * len(flows)
    cap_left = list(capacity)
    while any(r is None for r in rate):
        best, fixed = math.inf, []
        for link, c in enumerate(cap_left):
            users = [f for f, ls in enumerate(flows) if rate[f] is None and link in ls]
            if users and c / len(users) < best:
                best, fixed = c / len(users), users
        for f in range(len(flows)):
            if rate[f] is None and caps[f] < best:
                best, fixed = caps[f], [f]
        for f in fixed:
            rate[f] = best
            for link in flows[f]:
                cap_left[link] -= best
    return rate


def padded(flows: list[list[int]]) -> np.ndarray:
    width = max([len(f) for f in flows] + [1])
    return np.array([f + [-1] * (width - len(f)) for f in flows], dtype=np.int64)


@given(st.data())
def test_maxmin_matches_reference_and_respects_capacities(data):
    n_links = data.draw(st.integers(1, 6))
    link = st.one_of(st.floats(1, 100), st.sampled_from([2.0, 10.0]))
    capacity = data.draw(st.lists(link, min_size=n_links, max_size=n_links))
    flows = data.draw(
        st.lists(
            st.sets(st.integers(0, n_links - 1), min_size=0, max_size=3).map(sorted),
            min_size=1,
            max_size=12,
        )
    )
    cap = st.one_of(st.floats(0.5, 200), st.sampled_from([1.0, 2.0, 5.0]))  # ties included
    caps = data.draw(st.lists(cap, min_size=len(flows), max_size=len(flows)))
    out, load = np.empty(len(flows)), np.empty(n_links)
    kernels.maxmin_share(np.array(capacity), padded(flows), np.array(caps), out, load)
    np.testing.assert_allclose(out, naive_maxmin(capacity, flows, caps), rtol=1e-12)
    assert np.all(out <= np.array(caps) * (1 + 1e-12)) and np.all(out >= 0)
    for link in range(n_links):
        expected = sum(out[f] for f, ls in enumerate(flows) if link in ls)
        assert load[link] == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert expected <= capacity[link] * (1 + 1e-9)


def test_maxmin_hand_example():
    # flow 0 on link 0; flow 1 on links 0 and 1; flow 2 on link 1, capped at 1
    out, load = np.empty(3), np.empty(2)
    links = padded([[0], [0, 1], [1]])
    kernels.maxmin_share(np.array([10.0, 4.0]), links, np.array([100.0, 100.0, 1.0]), out, load)
    assert out.tolist() == pytest.approx([7.0, 3.0, 1.0])
    assert load.tolist() == pytest.approx([10.0, 4.0])
