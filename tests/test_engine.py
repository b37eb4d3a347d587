"""Engine semantics: exact event logs of tiny runs, same-time ordering, horizon, refusals."""

import numpy as np
import pytest

import simulator
from simulator.engine import EngineError, InvariantError
from simulator.policies import Placement, PlacementPolicy, register

from .conftest import tiny


def log(results):
    return [
        tuple(r)
        for r in results.events[["t_s", "event", "job_id", "detail"]].itertuples(index=False)
    ]


def test_two_full_node_jobs_event_log():
    r = simulator.run(tiny(), record_events=True)
    assert log(r) == [
        (0.0, "submit", 0, ""),
        (0.0, "submit", 1, ""),
        (0.0, "start", 0, "0:8"),
        (100.0, "finish", 0, ""),
        (100.0, "start", 1, "0:8"),
        (200.0, "finish", 1, ""),
    ]
    # events: 1 arrival batch + 2 completions + 3 passes (t=0, t=100, t=200)
    assert r.summary["events"] == 6


def test_same_time_completion_and_arrival_are_both_seen_by_one_pass():
    # job 0 ends at 10 exactly when job 1 (8 GPUs) arrives: completion first, then the
    # arrival, then a single pass that starts job 1 at once.
    r = simulator.run(tiny([(0.0, 8, 10.0), (10.0, 8, 5.0)]), record_events=True)
    assert log(r) == [
        (0.0, "submit", 0, ""),
        (0.0, "start", 0, "0:8"),
        (10.0, "finish", 0, ""),
        (10.0, "submit", 1, ""),
        (10.0, "start", 1, "0:8"),
        (15.0, "finish", 1, ""),
    ]
    assert r.jobs["wait_s"].tolist() == [0.0, 0.0]
    # arrival+pass at 0; completion, arrival and ONE pass at 10; completion+pass at 15
    assert r.summary["events"] == 7


def test_fifo_head_of_line_blocking():
    # A takes 4 of 8 GPUs; B needs 8 and must wait for A; C (1 GPU) may not overtake B.
    r = simulator.run(tiny([(0.0, 4, 100.0), (1.0, 8, 50.0), (2.0, 1, 10.0)]), record_events=True)
    jobs = r.jobs.set_index("job_id")
    assert jobs["start_s"].tolist() == [0.0, 100.0, 150.0]
    assert jobs["end_s"].tolist() == [100.0, 150.0, 160.0]
    assert jobs["jct_s"].tolist() == [100.0, 149.0, 158.0]


def test_gang_spans_nodes_and_first_fit_prefers_one_node():
    # 2 nodes x 8: a 4-GPU job on node 0, then a 12-GPU gang (4 from node 0, 8 from node 1),
    # then a 4-GPU job waits until something frees.
    r = simulator.run(
        tiny([(0, 4, 100.0), (1, 12, 100.0), (2, 4, 10.0)], nodes=2), record_events=True
    )
    starts = [(t, j, d) for t, e, j, d in log(r) if e == "start"]
    assert starts == [(0.0, 0, "0:4"), (1.0, 1, "0:4,1:8"), (100.0, 2, "0:4")]


def test_horizon_reports_states_at_the_horizon():
    r = simulator.run(tiny([(0, 8, 100.0), (0, 8, 100.0), (50, 8, 10.0)], horizon=150))
    assert r.jobs["state"].tolist() == ["finished", "running", "queued"]
    assert r.summary["jobs_finished"] == 1 and r.summary["jobs_running"] == 1
    assert r.summary["makespan_s"] is None
    assert np.isnan(r.jobs["end_s"][1]) and np.isnan(r.jobs["start_s"][2])
    # utilisation over [0, 150]: 8 of 8 GPUs busy all the time
    assert r.summary["gpu_utilization"] == pytest.approx(1.0)
    assert r.summary["window_end_s"] == 150


def test_event_exactly_at_horizon_is_processed():
    r = simulator.run(tiny([(0, 8, 100.0)], horizon=100))
    assert r.jobs["state"].tolist() == ["finished"]


def test_policy_returning_an_invalid_placement_is_refused():
    @register("placement", "test_greedy_liar")
    class Liar(PlacementPolicy):
        def place(self, view, job):
            return Placement(np.array([0]), np.array([view.gpus[job] + 1]))

    spec = tiny([(0, 2, 10.0)])
    spec["scheduler"] = {"placement": "test_greedy_liar"}
    with pytest.raises(EngineError, match="do not add up to the job's request"):
        simulator.run(spec)


def test_policies_see_read_only_state():
    seen = []

    @register("placement", "test_mutator")
    class Mutator(PlacementPolicy):
        def place(self, view, job):
            try:
                view.free_gpus[0] = 0
            except ValueError as e:
                seen.append(str(e))
            with pytest.raises(TypeError):
                view.queue[99] = None
            return None

    spec = tiny([(0, 2, 10.0)], horizon=5)
    spec["scheduler"] = {"placement": "test_mutator"}
    r = simulator.run(spec)
    assert seen and "read-only" in seen[0]
    assert r.jobs["state"].tolist() == ["queued"]


def test_invariant_checker_catches_broken_books(monkeypatch):
    from simulator.engine import state as state_mod

    real = state_mod.ClusterState.release

    def leaky(self, job, gpus):
        p = real(self, job, gpus)
        self.free_total += 1  # books no longer balance
        return p

    monkeypatch.setattr(state_mod.ClusterState, "release", leaky)
    with pytest.raises(InvariantError, match="free_total"):
        simulator.run(tiny())


def test_progress_reports_monotone_simulated_time(monkeypatch):
    from simulator.engine import Simulation

    monkeypatch.setattr(Simulation, "PROGRESS_EVERY", 4)
    calls = []
    spec = tiny([(float(i), 1, 5.0) for i in range(20)])
    simulator.run(spec, progress=lambda now, done: calls.append((now, done)))
    assert len(calls) >= 5
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert calls[-1] == (24.0, 20)


def test_fragmentation_counts_free_devices_the_queue_head_cannot_use():
    # 2 nodes of 4 GPUs: two 3-GPU jobs leave one GPU free on each node; the 4-GPU job that
    # waits behind them cannot use either (2 fragmented GPUs) until both finish at t=100
    r = simulator.run(tiny([(0, 3, 100), (0, 3, 100), (0, 4, 100)], gpus_per_node=4, nodes=2))
    t, frag = r.level("fragmented_gpus")
    assert list(zip(t.tolist(), frag.tolist(), strict=True)) == [(0.0, 2.0), (100.0, 0.0)]
    assert r.summary["mean_fragmented_gpus"] == pytest.approx(2 * 100 / 200)
