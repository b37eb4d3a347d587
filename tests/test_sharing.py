"""The shared-link pool: incremental shares equal a from-scratch max-min, progress is exact."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine.sharing import SharedLinks

from .kernels.test_throughput_kernels import naive_maxmin, naive_step

CAPACITY = [10.0, 4.0, 6.0, 25.0]


def flow(data, job):
    links = data.draw(st.sets(st.integers(0, len(CAPACITY) - 1), min_size=1, max_size=3))
    return {
        "job": job,
        "links": sorted(links),
        # caps often equal to a link's capacity or a fair share of it: ties and exact fits
        "cap": data.draw(st.one_of(st.sampled_from([1.0, 2.0, 4.0, 5.0]), st.floats(0.5, 30))),
        "compute": data.draw(st.floats(0.01, 1.0)),
        "grad": data.draw(st.floats(1.0, 50.0)),
        "ranks": data.draw(st.integers(2, 64)),
        "latency": data.draw(st.floats(0.0, 1e-3)),
        "overlap": data.draw(st.floats(0.0, 1.0)),
        "work": data.draw(st.floats(1.0, 1000.0)),
    }


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_pool_matches_a_from_scratch_fluid_reference(data):
    """Random starts and finishes at increasing times; after every settle the shares equal the
    textbook max-min of the flows present (whatever the fast path skipped), and the work left
    equals the reference's integral of speed over time."""
    pool = SharedLinks(np.array(CAPACITY))
    live: dict[int, dict] = {}
    left: dict[int, float] = {}
    speed: dict[int, float] = {}
    now, next_job = 0.0, 0
    for _ in range(data.draw(st.integers(1, 25))):
        dt = data.draw(st.sampled_from([0.0, 0.5, 3.0]))
        for j in live:  # reference bookkeeping with the speeds of the last settle
            left[j] -= speed[j] * dt
        now += dt
        if live and data.draw(st.booleans()):
            j = data.draw(st.sampled_from(sorted(live)))
            pool.remove(j)
            del live[j], left[j], speed[j]
        else:
            f = flow(data, next_job)
            live[next_job], left[next_job], speed[next_job] = f, f["work"], 0.0
            pool.add(
                next_job,
                np.array(f["links"]),
                f["cap"],
                f["compute"],
                f["grad"],
                f["ranks"],
                f["latency"],
                f["overlap"],
                f["work"],
            )
            next_job += 1
        nxt = pool.settle(now)
        jobs = sorted(live)
        share = naive_maxmin(
            CAPACITY, [live[j]["links"] for j in jobs], [live[j]["cap"] for j in jobs]
        )
        for j, s in zip(jobs, share, strict=True):
            f = live[j]
            speed[j] = 1 / naive_step(
                f["compute"], f["grad"], f["ranks"], s, f["latency"], f["overlap"]
            )
            assert pool.speed_of(j) == pytest.approx(speed[j], rel=1e-9)
        assert pool.violations() == []
        if not jobs:
            assert nxt == math.inf
            continue
        ends = {j: now + left[j] / speed[j] for j in jobs}
        assert nxt == pytest.approx(min(ends.values()), rel=1e-9)
        first = min(ends, key=ends.get)
        assert first in pool.due(nxt)


def test_fast_path_skips_the_recompute_only_when_no_link_is_saturated():
    pool = SharedLinks(np.array([10.0]))
    args = (1.0, 1.0, 8, 0.0, 0.0, 100.0)
    pool.add(0, np.array([0]), 4.0, *args)
    pool.add(1, np.array([0]), 4.0, *args)
    pool.settle(0.0)
    assert pool.recomputes == 0 and pool.used[0] == 8.0
    pool.add(2, np.array([0]), 4.0, *args)  # 12 > 10: the link saturates, everyone changes
    pool.settle(1.0)
    assert pool.recomputes == 1
    assert [pool.share[pool._row[j]] for j in range(3)] == pytest.approx([10 / 3] * 3)
    pool.remove(1)  # the link was saturated: the two left get 4 each again
    pool.settle(2.0)
    assert pool.recomputes == 2
    assert [pool.share[pool._row[j]] for j in (0, 2)] == pytest.approx([4.0, 4.0])
    pool.remove(0)  # 8 of 10 used: nobody was waiting for it
    pool.settle(3.0)
    assert pool.recomputes == 2 and pool.used[0] == pytest.approx(4.0)
