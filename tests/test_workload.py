"""Synthetic workload generation: bounds, distributions, common random numbers."""

import numpy as np
import pytest

from simulator.engine import RngStreams
from simulator.scenario import load_scenario
from simulator.workload import build_jobs

from .conftest import tiny


def jobs_of(streams, horizon=None, seed=0):
    data = tiny()
    data["workload"]["training"] = streams
    if horizon is not None:
        data["horizon"] = horizon
    s = load_scenario(data)
    r = RngStreams(seed)
    return build_jobs(s.workload, s.horizon, lambda *key: r.generator("workload", *key))


def stream(**kw):
    return {"name": kw.pop("name", "s"), "duration": kw.pop("duration", "1h"), **kw}


def test_interval_arrivals_are_exact_multiples():
    j = jobs_of([stream(count=4, arrival={"interval": "10m", "start": "1h"})])
    assert j.submit_s.tolist() == [3600.0, 4200.0, 4800.0, 5400.0]


def test_horizon_bounds_an_uncounted_stream_inclusively():
    j = jobs_of([stream(arrival={"interval": "1h"})], horizon="10h")
    assert len(j) == 11 and j.submit_s[-1] == 36000.0


def test_count_and_horizon_both_bound():
    j = jobs_of([stream(count=100, arrival={"interval": "1h"})], horizon="10h")
    assert len(j) == 11
    j = jobs_of([stream(count=3, arrival={"interval": "1h"})], horizon="10h")
    assert len(j) == 3


def test_explicit_times_sorted_with_ties_in_stream_order():
    j = jobs_of(
        [stream(name="a", arrival={"times": [5, 1]}), stream(name="b", arrival={"times": [1, 0]})]
    )
    assert j.submit_s.tolist() == [0, 1, 1, 5]
    assert [j.stream_names[s] for s in j.stream] == ["b", "a", "b", "a"]
    assert j.seq.tolist() == [1, 1, 0, 0]


def test_poisson_rate_and_exponential_gaps():
    j = jobs_of([stream(arrival={"poisson": {"rate": "10/h"}})], horizon="5000h")
    rate = len(j) / (5000 * 3600)
    assert rate == pytest.approx(10 / 3600, rel=0.03)
    gaps = np.diff(j.submit_s)
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1.0, rel=0.05)  # CV of exponential


def test_distributions():
    n = 40_000
    base = {"count": n, "arrival": {"interval": 1}}
    expo = jobs_of([stream(**base, duration={"exponential": {"mean": "2h"}})]).duration_s
    assert expo.mean() == pytest.approx(7200, rel=0.02)
    logn = jobs_of([stream(**base, duration={"lognormal": {"median": "1h", "sigma": 1.0}})])
    assert np.median(logn.duration_s) == pytest.approx(3600, rel=0.03)
    assert logn.duration_s.mean() == pytest.approx(3600 * np.exp(0.5), rel=0.03)
    choice = jobs_of(
        [
            stream(
                **base,
                gpus={"choice": [1, 8], "weights": [3, 1]},
                duration={"choice": ["1h", "2h"]},
            )
        ]
    )
    assert np.mean(choice.gpus == 8) == pytest.approx(0.25, abs=0.01)
    assert set(np.unique(choice.duration_s)) == {3600.0, 7200.0}


def test_common_random_numbers_across_unrelated_changes():
    a = jobs_of(
        [
            stream(
                count=200,
                arrival={"poisson": {"rate": "4/h"}},
                gpus={"choice": [1, 2, 4]},
                duration={"exponential": {"mean": "1h"}},
            )
        ]
    )
    b = jobs_of(
        [
            stream(
                count=200,
                arrival={"poisson": {"rate": "4/h"}},
                gpus={"choice": [1, 2, 4]},
                duration={"lognormal": {"median": "1h", "sigma": 2}},
            ),
            stream(name="extra", count=50, arrival={"interval": "1h"}),
        ]
    )
    b_main = b.stream == 0
    np.testing.assert_array_equal(a.submit_s, b.submit_s[b_main])  # arrivals unchanged
    np.testing.assert_array_equal(a.gpus, b.gpus[b_main])  # GPU draws unchanged
    assert not np.array_equal(a.duration_s, b.duration_s[b_main])


def test_seed_changes_draws_and_is_reproducible():
    s = [stream(count=50, arrival={"poisson": {"rate": "4/h"}})]
    np.testing.assert_array_equal(jobs_of(s, seed=1).submit_s, jobs_of(s, seed=1).submit_s)
    assert not np.array_equal(jobs_of(s, seed=1).submit_s, jobs_of(s, seed=2).submit_s)
