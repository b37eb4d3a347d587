"""The preemptive policies' incremental passes against their direct implementations.

``simulator.policies.preemptive`` ranks only the queued jobs when everything fits, and keeps
Tiresias's threshold crossings and Themis's leases in heaps; ``tests/reference_policies.py``
ranks every running and queued job at every pass. Both must give the same run: the same event
log (times, jobs, placements) and the same per-job results, with and without contention,
restarts, fractional GPUs, rounds and promotions.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.policies.base import Params
from simulator.policies.registry import register
from simulator.policies.scheduling import Fifo

from . import reference_policies  # noqa: F401  (registers direct_<policy>)
from .conftest import tiny

PARAMS = {
    "las": {"quantum": 7.0},
    "gandiva": {"quantum": 5.0},
    "themis": {"lease": 9.0},
    "tiresias": {"thresholds": [20.0, 90.0], "starve_factor": 1.5},
    "srtf": {},
}


def _run(spec: dict, policy: str, params: dict, restore: float, rounds: float | None):
    spec = dict(spec)
    spec["scheduler"] = {
        "policy": {"name": policy, "params": params},
        "restart": {"restore": restore},
        "round": rounds,
    }
    return simulator.run(spec, record_events=True)


def assert_same_run(spec: dict, policy: str, params: dict, restore=0.0, rounds=None) -> None:
    fast = _run(spec, policy, params, restore, rounds)
    direct = _run(spec, f"direct_{policy}", params, restore, rounds)
    pd.testing.assert_frame_equal(fast.events, direct.events)
    pd.testing.assert_frame_equal(fast.jobs, direct.jobs)
    pd.testing.assert_frame_equal(fast.series, direct.series)
    if policy not in ("las", "tiresias"):  # they skip passes that change nothing (below)
        assert fast.summary["events"] == direct.summary["events"]


jobs_strategy = st.lists(
    st.tuples(st.integers(0, 60), st.sampled_from([1, 1, 2, 3, 4, 8]), st.integers(1, 80)),
    min_size=1,
    max_size=24,
)


@pytest.mark.parametrize("policy", sorted(PARAMS))
@settings(max_examples=40, deadline=None)
@given(
    jobs=jobs_strategy,
    nodes=st.sampled_from([2, 4]),
    restore=st.sampled_from([0.0, 1.5]),
    rounds=st.sampled_from([None, None, 6.0]),
)
def test_incremental_pass_equals_the_direct_one(policy, jobs, nodes, restore, rounds):
    if rounds and policy in ("las", "gandiva"):
        rounds = None  # their quantum clock runs from a job's start, not the round boundary
    spec = tiny(sorted((float(t), g, float(d)) for t, g, d in jobs), gpus_per_node=4, nodes=nodes)
    assert_same_run(spec, policy, PARAMS[policy], restore, rounds)


def test_las_skips_the_quantum_ends_that_cannot_change_anything():
    # eight 1-GPU jobs and one 8-GPU job on 8 GPUs: the big job runs a quantum (7 s) and gains
    # 56 GPU-s; the small ones then need 7 quanta of their own to pass it, and the passes at
    # the quantum ends in between change nothing, so LAS does not run them
    spec = tiny([(0.0, 1, 400.0)] * 8 + [(0.0, 8, 300.0)], gpus_per_node=8)
    fast = _run(spec, "las", PARAMS["las"], 0.0, None)
    direct = _run(spec, "direct_las", PARAMS["las"], 0.0, None)
    pd.testing.assert_frame_equal(fast.events, direct.events)
    pd.testing.assert_frame_equal(fast.series, direct.series)
    assert fast.summary == direct.summary | {
        "events": fast.summary["events"],
        "wall_s": fast.summary["wall_s"],
    }
    assert fast.summary["events"] < 0.8 * direct.summary["events"]
    # a part that acts at every pass (here one that only counts them) may depend on every
    # pass, so then none is skipped
    from simulator.engine.parts import Part

    class CountPasses(Part):
        name = "count_passes"

        def __init__(self):
            self.passes = 0

        def after_pass(self):
            self.passes += 1

    counter = CountPasses()
    spec["scheduler"] = {"policy": {"name": "las", "params": PARAMS["las"]}}
    watched = simulator.run(spec, record_events=True, parts=[counter])
    pd.testing.assert_frame_equal(watched.events, direct.events)
    assert watched.summary["events"] == direct.summary["events"]


def test_tiresias_skips_threshold_crossings_while_everything_fits():
    # four 1-GPU jobs on 8 GPUs cross both thresholds (20 and 90 GPU-s): the direct policy
    # asks for a pass at every crossing, but while every job fits nothing can be preempted
    # and the queued order does not depend on the running jobs' queues
    spec = tiny([(0.0, 1, 200.0), (5.0, 1, 150.0), (9.0, 2, 100.0), (30.0, 1, 80.0)])
    fast = _run(spec, "tiresias", PARAMS["tiresias"], 0.0, None)
    direct = _run(spec, "direct_tiresias", PARAMS["tiresias"], 0.0, None)
    pd.testing.assert_frame_equal(fast.events, direct.events)
    pd.testing.assert_frame_equal(fast.series, direct.series)
    # the direct policy also passes at the crossings (19, 20, 25, 50, 54, 90 and 95 s, and
    # 120 s, job 3's second one, which it never reaches); here only the 4 arrivals and the
    # 4 finishes happen, each with a pass at its own instant
    assert fast.summary["events"] == 4 + 4 + 8 < direct.summary["events"]
    assert fast.summary == direct.summary | {
        "events": fast.summary["events"],
        "wall_s": fast.summary["wall_s"],
    }


@pytest.mark.parametrize("policy", sorted(PARAMS))
@settings(max_examples=15, deadline=None)
@given(jobs=jobs_strategy, milli=st.sampled_from([250, 500]))
def test_incremental_pass_equals_the_direct_one_with_gpu_shares(policy, jobs, milli):
    """Jobs asking for a share of one device: their service grows at the share's rate."""
    spec = tiny(sorted((float(t), min(g, 2), float(d)) for t, g, d in jobs), gpus_per_node=2)
    for stream in spec["workload"]["training"][::2]:
        if stream["gpus"] == 1:
            stream["gpu_milli"] = milli
    assert_same_run(spec, policy, PARAMS[policy])


@pytest.mark.parametrize("policy", sorted(PARAMS))
@pytest.mark.parametrize("load", [0.6, 1.3])
def test_incremental_pass_equals_the_direct_one_on_a_poisson_workload(policy, load):
    """A few hundred jobs on 64 GPUs: long stretches where everything fits (the fast path)
    and stretches of contention (the full ranking), switching often."""
    rate = load * 64 / (2.6 * 600.0)
    spec = {
        "name": "poisson",
        "seed": 3,
        "check_invariants": True,
        "cluster": tiny(gpus_per_node=8, nodes=8)["cluster"],
        "workload": {
            "training": [
                {
                    "name": "w",
                    "count": 400,
                    "arrival": {"poisson": {"rate": rate}},
                    "gpus": {"choice": [1, 2, 4, 8], "weights": [0.4, 0.3, 0.2, 0.1]},
                    "duration": {"lognormal": {"median": "5min", "sigma": 1.5}},
                }
            ]
        },
    }
    params = {
        "las": {"quantum": 120.0},
        "gandiva": {"quantum": 60.0},
        "themis": {"lease": 300.0},
        "tiresias": {"thresholds": [600.0, 6000.0], "starve_factor": 2.0},
        "srtf": {},
    }[policy]
    assert_same_run(spec, policy, params, restore=5.0)
    fast = _run(spec, policy, params, 5.0, None)
    busy = fast.series.query("metric == 'queue_length'")["value"].to_numpy()
    assert (busy == 0).any() and (busy > 0).any()  # both paths were taken
    assert np.isfinite(fast.jobs["end_s"]).any()


def test_one_job_readings_equal_the_array_readings(monkeypatch):
    """``view.attained_gpu_s(job)`` and ``view.reaches_gpu_s(job, targets)`` (plain floats,
    the incremental passes' short path) give exactly the numbers of the array forms, for
    running, restoring, preempted and queued jobs, whole devices and shares."""
    from simulator.policies.preemptive import Tiresias

    checked = []
    schedule = Tiresias.schedule

    def checking(self, view):
        jobs = np.array([*view.running, *view.queue], dtype=np.int64)
        targets = [10.0, 55.5, 300.0]
        for job in jobs.tolist():
            assert view.attained_gpu_s(job) == view.attained_gpu_s(np.array([job]))[0]
            vector = view.reaches_gpu_s(np.array([[job]]), np.array([targets]))[0]
            assert view.reaches_gpu_s(job, targets) == vector.tolist()
        checked.append(len(jobs))
        return schedule(self, view)

    monkeypatch.setattr(Tiresias, "schedule", checking)
    jobs = [(float(i % 7) * 3, [1, 2, 4, 8][i % 4], 10.0 + 7 * i) for i in range(30)]
    spec = tiny(jobs, nodes=2)
    spec["workload"]["training"][4]["gpu_milli"] = 500  # a 1-GPU job on half a device
    _run(spec, "tiresias", PARAMS["tiresias"], 1.5, None)
    assert sum(checked) > 100


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 200)), max_size=400))
def test_id_set_holds_exactly_the_ids_added_and_not_removed(steps):
    # the ledger's queued/running id arrays: swap-remove and doubling must lose nothing
    from simulator.engine.ledger import IdSet

    ids, expected = IdSet(), set()
    for add, job in steps:
        if add and job not in expected:
            ids.add(job)
            expected.add(job)
        elif not add and job in expected:
            ids.remove(job)
            expected.discard(job)
        assert len(ids) == len(expected)
    assert sorted(ids.array().tolist()) == sorted(expected)
    assert not ids.array().flags.writeable


@register("scheduling", "test_late_ids")
class _LateIds(Fifo):
    """FIFO that first asks for the id arrays at its ``params.after``-th pass, then at every
    pass checks them against the queue and the running jobs."""

    class Params(Params):
        after: int = 0

    passes = 0

    def schedule(self, view):
        self.passes += 1
        if self.passes > self.params.after:
            assert sorted(view.queued_ids().tolist()) == sorted(view.queue)
            assert sorted(view.running_ids().tolist()) == sorted(view.running)
        return super().schedule(view)


@pytest.mark.parametrize("after", [0, 1, 3, 10])
@settings(max_examples=15, deadline=None)
@given(jobs=jobs_strategy)
def test_id_arrays_built_late_in_a_run_hold_the_queued_and_running_jobs(after, jobs):
    # the ledger builds them on the first ask (FIFO never asks) and keeps them from then on;
    # tiny() checks the engine invariants, the ids against the job states among them, each pass
    spec = tiny(sorted((float(t), g, float(d)) for t, g, d in jobs), gpus_per_node=4, nodes=2)
    spec["scheduler"] = {"policy": {"name": "test_late_ids", "params": {"after": after}}}
    simulator.run(spec)


def test_tiresias_promotes_no_job_without_counted_service():
    # found by Hypothesis: job 5 starts and is preempted in one instant (23.92 s), which leaves
    # it 1e-14 GPU-s of service from rounding; it was then "starving" 1.5 x 3.5e-15 s after
    # each promotion and promoted again, every ~1e-14 s, forever (both implementations)
    jobs = [(1, 3, 16), (1, 8, 6), (13, 8, 3), (14, 2, 5), (13, 4, 5), (20, 3, 8), (29, 8, 3)]
    jobs += [(45, 4, 3), (47, 1, 4), (50, 2, 1)]
    spec = tiny(sorted((float(t), g, float(d)) for t, g, d in jobs), gpus_per_node=4, nodes=2)
    assert_same_run(spec, "tiresias", PARAMS["tiresias"], restore=1.5)
    assert (_run(spec, "tiresias", PARAMS["tiresias"], 1.5, None).jobs["state"] == "finished").all()
