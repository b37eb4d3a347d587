"""Scheduling kernels: turning a ranking into the set of jobs that run.

Must not import: anything outside numpy and ``._jit``.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def assign_types(pair_job, pair_type, need, left, out_type):
    """Serve (job, chip type) pairs in the given (priority) order: a pair is granted if its job
    has no type yet and its type still has ``need[job]`` devices in ``left`` (counting devices
    only). Writes each job's granted type (-1: none) into ``out_type``, updates ``left`` and
    returns the number of jobs granted."""
    out_type[:] = -1
    granted = 0
    for i in range(pair_job.shape[0]):
        job, k = pair_job[i], pair_type[i]
        if out_type[job] < 0 and left[k] >= need[job]:
            out_type[job] = k
            left[k] -= need[job]
            granted += 1
    return granted


@kernel
def fastest_fit(speed, need, left, out_type):
    """In row order, give each job the type where ``speed`` is highest (first on ties) among
    those with ``need[job]`` devices left and a positive speed; -1 if none. Writes
    ``out_type`` and updates ``left``."""
    for j in range(speed.shape[0]):
        best, best_speed = -1, 0.0
        for k in range(speed.shape[1]):
            if speed[j, k] > best_speed and left[k] >= need[j]:
                best, best_speed = k, speed[j, k]
        out_type[j] = best
        if best >= 0:
            left[best] -= need[j]


@kernel
def _before(p, s, ids, a, b):
    """Whether row ``a`` ranks before row ``b``: by ``p``, then ``s``, then ``ids``, ascending,
    NaN after every number (numpy's sort order)."""
    x, y = p[a], p[b]
    if x != y and (x == x or y == y):  # unequal and not both NaN: y NaN puts x first
        return x < y or y != y
    x, y = s[a], s[b]
    if x != y and (x == x or y == y):
        return x < y or y != y
    return ids[a] < ids[b]


@kernel
def _sort_rows(p, s, ids, rows):
    """Sort ``rows`` (indices into the key arrays) in place by rank: a stable merge sort
    (runs of 16 by insertion, then bottom-up merges)."""
    n = rows.shape[0]
    for lo in range(0, n, 16):
        hi = min(lo + 16, n)
        for i in range(lo + 1, hi):
            x, j = rows[i], i - 1
            while j >= lo and _before(p, s, ids, x, rows[j]):
                rows[j + 1] = rows[j]
                j -= 1
            rows[j + 1] = x
    buf = np.empty(n, dtype=np.int64)
    width = 16
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            if mid >= hi or not _before(p, s, ids, rows[mid], rows[mid - 1]):
                continue  # the two runs are already in order
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _before(p, s, ids, rows[j], rows[i]):
                    buf[k] = rows[j]
                    j += 1
                else:
                    buf[k] = rows[i]
                    i += 1
                k += 1
            buf[k : k + mid - i] = rows[i:mid]
            k += mid - i
            buf[k : k + hi - j] = rows[j:hi]
            rows[lo:hi] = buf[lo:hi]
        width *= 2


@kernel
def _same(a, b):
    """Equal keys (NaN equal to NaN)."""
    return a == b or (a != a and b != b)


@kernel
def _order_queued(p, s, ids, n_running, last_ids, last_keys, pos, out_queued):
    """Write the queued rows (``[n_running, len(ids))``) in rank order into ``out_queued``.

    ``last_ids``: queued jobs in rank order at an earlier pass, ``last_keys`` their ``p`` and
    ``s`` then (rows 0 and 1). A job queued now with the same keys keeps its place among
    those so kept, the others are sorted and merged in: O(n + k log k) for k changed jobs. Any
    ``last_ids`` gives the full sort's order (ids not queued, changed keys or an unsorted
    list only cost time; empty: sort from scratch). ``pos``: per job id, -1 (scratch: the
    entries used are -1 again on return)."""
    n = ids.shape[0]
    nq = n - n_running
    for r in range(n_running, n):
        pos[ids[r]] = r
    kept = np.empty(nq, dtype=np.int64)
    nk = 0
    for i in range(last_ids.shape[0]):
        j = last_ids[i]
        if j < 0 or j >= pos.shape[0]:
            continue
        r = pos[j]
        if (
            r >= 0
            and _same(p[r], last_keys[0, i])
            and _same(s[r], last_keys[1, i])
            and (nk == 0 or _before(p, s, ids, kept[nk - 1], r))
        ):
            kept[nk] = r
            nk += 1
            pos[j] = -2  # kept (an id listed twice is kept once)
    fresh = np.empty(nq - nk, dtype=np.int64)
    nf = 0
    for r in range(n_running, n):
        if pos[ids[r]] != -2:
            fresh[nf] = r
            nf += 1
        pos[ids[r]] = -1
    _sort_rows(p, s, ids, fresh)
    i, j = 0, 0
    for k in range(nq):
        if j == nf or (i < nk and not _before(p, s, ids, fresh[j], kept[i])):
            out_queued[k] = kept[i]
            i += 1
        else:
            out_queued[k] = fresh[j]
            j += 1


@kernel
def rank_fit(p, s, ids, need, n_running, room, out_keep, out_queued, last_ids, last_keys, pos):
    """Rank running and queued jobs together and keep the best that fit in ``room`` devices.

    Rows ``[0, n_running)`` of the key arrays are running jobs, the rest queued ones. Ranking
    is by ``p``, then ``s``, then ``ids`` (ascending); walking the ranking, a job is kept if its
    ``need`` still fits in the room left (counting devices only), exactly as
    :func:`greedy_fit` over a full sort. Only the queued jobs are sorted, starting from an
    earlier pass's order (``last_ids``, ``last_keys``, ``pos``: see :func:`_order_queued`):
    each running job is placed by binary search among them, and a run of running jobs
    between two queued ones is sorted only if it does not fit whole (it always does before
    the first queued job kept). Writes ``out_keep`` (per row) and ``out_queued`` (the queued
    rows in rank order)."""
    n = ids.shape[0]
    nq = n - n_running
    _order_queued(p, s, ids, n_running, last_ids, last_keys, pos, out_queued)
    bucket = np.empty(n_running, dtype=np.int64)  # queued jobs ranked before each running one
    total = np.zeros(nq + 1, dtype=np.int64)  # devices of the running jobs in each bucket
    start = np.zeros(nq + 3, dtype=np.int64)  # the buckets' rows, counting-sorted
    for r in range(n_running):
        lo, hi = 0, nq
        while lo < hi:
            mid = (lo + hi) // 2
            if _before(p, s, ids, out_queued[mid], r):
                lo = mid + 1
            else:
                hi = mid
        bucket[r] = lo
        total[lo] += need[r]
        start[lo + 2] += 1
    for k in range(2, nq + 2):
        start[k] += start[k - 1]
    by_bucket = np.empty(n_running, dtype=np.int64)
    for r in range(n_running):
        by_bucket[start[bucket[r] + 1]] = r
        start[bucket[r] + 1] += 1
    whole = np.zeros(nq + 1, dtype=np.bool_)
    for k in range(nq + 1):
        if total[k] <= room:
            whole[k] = True
            room -= total[k]
        else:  # walk this run of running jobs one by one, in rank order
            rows = by_bucket[start[k] : start[k + 1]].copy()
            _sort_rows(p, s, ids, rows)
            for r in rows:
                out_keep[r] = need[r] <= room
                if out_keep[r]:
                    room -= need[r]
        if k < nq:
            q = out_queued[k]
            out_keep[q] = need[q] <= room
            if out_keep[q]:
                room -= need[q]
    for r in range(n_running):
        if whole[bucket[r]]:
            out_keep[r] = True
    return room


@kernel
def _quantum_end(since, now, q):
    """The first end of a ``q``-long slice counted from ``since`` after ``now``."""
    return since + q * (np.floor((now - since + 1e-9 * max(1.0, q)) / q) + 1)


@kernel
def _candidate_ids(running, queued, gpus, out_ids):
    """Write the candidates' ids (``running`` then ``queued``) and return their sizes."""
    n, m = running.shape[0], queued.shape[0]
    need = np.empty(n + m, dtype=np.int64)
    for r in range(n):
        out_ids[r], need[r] = running[r], gpus[running[r]]
    for i in range(m):
        out_ids[n + i], need[n + i] = queued[i], gpus[queued[i]]
    return need


@kernel
def _kept_quantum_end(running, started, keep, now, q):
    """The first quantum end after ``now`` of a running job kept (inf: none)."""
    stay = np.inf
    for r in range(running.shape[0]):
        if keep[r]:
            stay = min(stay, _quantum_end(started[running[r]], now, q))
    return stay


@kernel
def las_rank(
    running,
    queued,
    gpus,
    attained,
    held,
    since,
    started,
    now,
    q,
    room,
    out_ids,
    out_p,
    out_s,
    out_keep,
    out_q,
    last_ids,
    last_keys,
    pos,
):
    """LAS's contended pass in one walk over the candidates (``running`` then ``queued``).

    Per job id: ``gpus`` its size, ``attained`` its GPU-seconds in stopped runs, ``held`` the
    devices it holds, ``since`` since when, ``started`` its last start. Writes the candidates'
    ids, ``p`` (0 for a running job still within its first quantum, else 1), ``s`` (attained
    service now) and the :func:`rank_fit` outputs (``last_ids``, ``last_keys``, ``pos``: its
    starting order). Returns ``(stay, quiet, quiet_wake)``: the
    first quantum end after ``now`` of a running job kept; for a pass that keeps every running
    job and no queued one, a time before which no later pass can keep a queued job (a
    protection end, or a running job's service reaching the least queued service not below
    its own, less a rounding margin; inf if none can); and the first quantum end after it."""
    n, m = running.shape[0], queued.shape[0]
    eps = 1e-9 * max(1.0, q)
    need = _candidate_ids(running, queued, gpus, out_ids)
    for r in range(n):
        j = running[r]
        out_p[r] = 0.0 if now - started[j] < q - eps else 1.0
        out_s[r] = attained[j] + held[j] * (now - since[j])
    for i in range(m):
        out_p[n + i], out_s[n + i] = 1.0, attained[queued[i]]
    rank_fit(out_p, out_s, out_ids, need, n, room, out_keep, out_q, last_ids, last_keys, pos)
    stay = _kept_quantum_end(running, started, out_keep, now, q)
    first = np.inf
    for r in range(n):
        j = running[r]
        if out_p[r] == 0.0:
            first = min(first, started[j] + q - eps)
            continue
        lo, hi = 0, m  # the least queued service not below this job's (keys sorted in out_q)
        while lo < hi:
            mid = (lo + hi) // 2
            if out_s[out_q[mid]] < out_s[r]:
                lo = mid + 1
            else:
                hi = mid
        if lo < m and out_s[out_q[lo]] < np.inf:
            first = min(first, since[j] + (out_s[out_q[lo]] - attained[j]) / held[j])
    if first == np.inf:
        return stay, np.inf, np.inf
    quiet = first - 1e-6 * max(1.0, abs(first))
    wake = np.inf
    for r in range(n):
        wake = min(wake, _quantum_end(started[running[r]], quiet, q))
    return stay, quiet, wake


@kernel
def gandiva_rank(
    running,
    queued,
    waited,
    gpus,
    started,
    now,
    q,
    room,
    out_ids,
    out_p,
    out_s,
    out_keep,
    out_q,
    last_ids,
    last_keys,
    pos,
):
    """Gandiva's contended pass in one walk over the candidates (``running`` then ``queued``).

    Keys: a running job mid-quantum ``(-inf, 0)``, a queued one ``(waited since, 1)``, a
    running one at a quantum boundary ``(now, 2)``; per job id ``gpus`` its size and
    ``started`` its last start, ``waited`` per queued job. Writes the candidates' ids, keys and
    the :func:`rank_fit` outputs (``last_ids``, ``last_keys``, ``pos``: its starting order);
    returns the first quantum end after ``now`` of a running job
    kept (inf: none)."""
    n, m = running.shape[0], queued.shape[0]
    eps = 1e-9 * max(1.0, q)
    need = _candidate_ids(running, queued, gpus, out_ids)
    for r in range(n):
        k = (now - started[running[r]]) / q  # quanta done in the current run
        whole = np.round(k)
        if whole >= 1 and abs(k - whole) * q <= eps:
            out_p[r], out_s[r] = now, 2.0
        else:
            out_p[r], out_s[r] = -np.inf, 0.0
    for i in range(m):
        out_p[n + i], out_s[n + i] = waited[i], 1.0
    rank_fit(out_p, out_s, out_ids, need, n, room, out_keep, out_q, last_ids, last_keys, pos)
    return _kept_quantum_end(running, started, out_keep, now, q)
