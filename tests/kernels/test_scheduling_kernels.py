"""Scheduling kernels against plain-Python references."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import kernels


def assign_reference(pairs, need, left):
    out = [-1] * len(need)
    for job, k in pairs:
        if out[job] < 0 and left[k] >= need[job]:
            out[job], left[k] = k, left[k] - need[job]
    return out, left


@settings(max_examples=200, deadline=None)
@given(
    need=st.lists(st.integers(1, 8), min_size=1, max_size=12),
    left=st.lists(st.integers(0, 16), min_size=1, max_size=4),
    data=st.data(),
)
def test_assign_types_matches_the_reference(need, left, data):
    n, m = len(need), len(left)
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, m - 1)), unique=True)
    )
    expected, expected_left = assign_reference(pairs, need, list(left))
    out = np.empty(n, dtype=np.int64)
    free = np.array(left, dtype=np.int64)
    p = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    granted = kernels.assign_types(p[:, 0], p[:, 1], np.array(need, dtype=np.int64), free, out)
    assert out.tolist() == expected and free.tolist() == expected_left
    assert granted == sum(k >= 0 for k in expected)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=3, max_size=3),
            st.integers(1, 8),
        ),
        min_size=1,
        max_size=10,
    ),
    left=st.lists(st.integers(0, 16), min_size=3, max_size=3),
)
def test_fastest_fit_matches_the_reference(rows, left):
    speed = np.array([r[0] for r in rows])
    need = np.array([r[1] for r in rows], dtype=np.float64)
    free = np.array(left, dtype=np.float64)
    expected = []
    for j in range(len(rows)):  # fastest type with room, first on ties; -1 if none
        fits = [k for k in range(3) if speed[j, k] > 0 and free[k] >= need[j]]
        k = max(fits, key=lambda k: (speed[j, k], -k)) if fits else -1
        if k >= 0:
            free[k] -= need[j]
        expected.append(k)
    out = np.empty(len(rows), dtype=np.int64)
    got_free = np.array(left, dtype=np.float64)
    kernels.fastest_fit(speed, need, got_free, out)
    assert out.tolist() == expected and got_free.tolist() == free.tolist()


NAN = float("nan")
key = st.sampled_from([0.0, 1.0, 2.0, -0.0, 2.5, math.inf, NAN])


NO_START = (np.empty(0, np.int64), np.empty((2, 0)), np.full(1000, -1, dtype=np.int32))


def greedy_walk(ranking, sizes, room):
    """Walk ``ranking`` keeping each job whose size still fits in ``room``: (kept per job,
    room left)."""
    keep, left = [False] * len(sizes), room
    for i in ranking:
        if sizes[i] <= left:
            keep[i], left = True, left - sizes[i]
    return keep, left


def quantum_end(since, t, q):
    """The first end after ``t`` of a ``q``-long slice counted from ``since``."""
    return since + q * (math.floor((t - since + 1e-9 * max(1.0, q)) / q) + 1)


def kernel_outputs(n, n_running):
    """A ranking kernel's outputs for ``n`` candidates (ids, keys, kept mask, queued rows)
    and an empty starting order."""
    out = (np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n, bool))
    return (*out, np.empty(n - n_running, dtype=np.int64), *NO_START)


@given(
    st.lists(st.tuples(key, key, st.integers(1, 8)), max_size=40),
    st.integers(0, 40),
    st.integers(0, 12),
    st.randoms(use_true_random=False),
    st.lists(st.tuples(st.integers(-2, 1001), key, key), max_size=40),
    st.integers(0, 40),
)
def test_rank_fit_matches_a_full_sort_and_a_greedy_walk(rows, n_running, extra, rnd, junk, mix):
    # the reference: sort every job by (first, then, id) as Python does with NaN last and
    # -0.0 == 0.0, then walk the ranking keeping each job that still fits; whatever order the
    # kernel starts from (ids not queued, stale keys, out of order) must not matter
    n_running = min(n_running, len(rows))
    ids = rnd.sample(range(1000), len(rows))
    room = sum(g for _, _, g in rows[:n_running]) + extra  # the running jobs fit together

    def sort_key(i):
        p, s, _ = rows[i]
        return (
            math.isnan(p),
            0.0 if math.isnan(p) else p,
            math.isnan(s),
            0.0 if math.isnan(s) else s,
            ids[i],
        )

    ranking = sorted(range(len(rows)), key=sort_key)
    expected_keep, left = greedy_walk(ranking, [r[2] for r in rows], room)
    p = np.array([r[0] for r in rows], dtype=float)
    s = np.array([r[1] for r in rows], dtype=float)
    need = np.array([r[2] for r in rows], dtype=np.int64)
    ranked_queued = [i for i in ranking if i >= n_running]
    # a starting order: the true one with some keys changed, ids dropped and junk mixed in
    true = [(ids[i], p[i], s[i]) for i in ranked_queued]
    start = true[: len(true) - mix // 4] + junk[:mix]
    start = sorted(start, key=lambda e: rnd.random()) if mix % 3 == 0 else start
    pos = np.full(1002, -1, dtype=np.int32)
    for last in ([], start):
        last_ids = np.array([e[0] for e in last], dtype=np.int64)
        last_keys = np.array([[e[1] for e in last], [e[2] for e in last]]).reshape(2, -1)
        keep = np.empty(len(rows), dtype=bool)
        queued = np.empty(len(rows) - n_running, dtype=np.int64)
        got_left = kernels.rank_fit(
            p, s, np.array(ids, dtype=np.int64), need, n_running, room, keep, queued,
            last_ids, last_keys, pos,
        )  # fmt: skip
        assert keep.tolist() == expected_keep and got_left == left
        assert queued.tolist() == ranked_queued
        assert (pos == -1).all()  # the scratch is left as found


def las_reference(jobs, n_running, now, q, room):
    """LAS's contended pass in plain Python: ``jobs`` are (id, gpus, attained in stopped runs,
    devices held, held since, last started), running ones first."""
    eps = 1e-9 * max(1.0, q)
    rows = []
    for i, (job, gpus, attained, held, since, started) in enumerate(jobs):
        running = i < n_running
        p = 0.0 if running and now - started < q - eps else 1.0
        rows.append((p, attained + held * (now - since) if running else attained, job, gpus))
    ranking = sorted(range(len(rows)), key=lambda i: rows[i][:3])
    keep, _ = greedy_walk(ranking, [r[3] for r in rows], room)
    running = jobs[:n_running]
    kept = [j for j, k in zip(running, keep[:n_running], strict=True) if k]
    stay = min((quantum_end(j[5], now, q) for j in kept), default=math.inf)
    keys = sorted(r[1] for r in rows[n_running:])
    first = math.inf
    for job, (p, s, _, _) in zip(running, rows[:n_running], strict=True):
        attained, held, since, started = job[2:]
        if p == 0.0:
            first = min(first, started + q - eps)
        elif above := [k for k in keys if k >= s]:
            first = min(first, since + (above[0] - attained) / held)
    if math.isinf(first):
        return keep, stay, math.inf, math.inf
    quiet = first - 1e-6 * max(1.0, abs(first))
    return keep, stay, quiet, min(quantum_end(j[5], quiet, q) for j in running)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 8),  # gpus
            st.integers(0, 40).map(float),  # attained in stopped runs
            st.sampled_from([1.0, 2.0, 0.5, 8.0]),  # devices held
            st.integers(0, 30).map(float),  # held since
            st.integers(0, 30).map(float),  # last started
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 30),
    st.sampled_from([1.0, 5.0, 10.0, 7.5]),
    st.integers(0, 20),
)
def test_las_rank_matches_a_plain_python_pass(books, n_running, q, extra):
    n_running, now = min(n_running, len(books)), 30.0
    jobs = [(i, *b) for i, b in enumerate(books)]
    room = sum(b[0] for b in books[:n_running]) + extra
    keep_ref, *times_ref = las_reference(jobs, n_running, now, q, room)
    cols = [np.array(c) for c in zip(*books, strict=True)]
    ids = np.arange(len(books), dtype=np.int64)
    out = kernel_outputs(len(books), n_running)
    times = kernels.las_rank(
        ids[:n_running], ids[n_running:], cols[0].astype(np.int64), *cols[1:], now, q, room,
        *out,
    )  # fmt: skip
    assert out[3].tolist() == keep_ref and list(times) == times_ref


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 8), st.integers(0, 30).map(float)),  # gpus, started/waited
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 30),
    st.sampled_from([1.0, 5.0, 10.0, 7.5]),
    st.integers(0, 20),
)
def test_gandiva_rank_matches_a_plain_python_pass(jobs, n_running, q, extra):
    # running jobs mid-quantum first, then queued ones by how long they waited, then running
    # ones at a quantum boundary; the kept running jobs' next quantum end
    n_running, now, eps = min(n_running, len(jobs)), 30.0, 1e-9 * max(1.0, q)
    keys = []
    for i, (_, t) in enumerate(jobs):
        k = (now - t) / q
        if i >= n_running:
            keys.append((t, 1.0, i))
        elif round(k) >= 1 and abs(k - round(k)) * q <= eps:
            keys.append((now, 2.0, i))
        else:
            keys.append((-math.inf, 0.0, i))
    room = sum(g for g, _ in jobs[:n_running]) + extra
    ranking = sorted(range(len(jobs)), key=lambda i: keys[i])
    keep_ref, _ = greedy_walk(ranking, [g for g, _ in jobs], room)
    ends = [
        quantum_end(t, now, q)
        for (_, t), k in zip(jobs[:n_running], keep_ref[:n_running], strict=True)
        if k
    ]
    gpus = np.array([g for g, _ in jobs], dtype=np.int64)
    times = np.array([t for _, t in jobs])
    ids, out = np.arange(len(jobs), dtype=np.int64), kernel_outputs(len(jobs), n_running)
    stay = kernels.gandiva_rank(
        ids[:n_running], ids[n_running:], times[n_running:], gpus, times, now, q, room, *out
    )
    assert out[3].tolist() == keep_ref and stay == min(ends, default=math.inf)
