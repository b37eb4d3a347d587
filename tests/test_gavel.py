"""Gavel: its allocation LPs against hand-solved optima and scheduling theory, and its round
mechanism against hand-computed schedules on measured K80/V100 throughputs."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.policies import allocation

from .conftest import ROOT, SHARED, tiny

GAVEL = str(SHARED / "data/profiles/gavel_throughputs/simulation_throughputs.json")
MEASURED = json.loads(Path(GAVEL).read_text())


def measured(job_type: str, chip: str) -> float:
    return MEASURED[chip][f"('{job_type}', 1)"]["null"]


def feasible(X, scale, W, tol=1e-7):  # HiGHS's default feasibility tolerance
    return (
        (-tol <= X).all()
        and (1 + tol >= X).all()
        and (X.sum(axis=1) <= 1 + tol).all()
        and (scale @ X <= W + tol).all()
    )


# ---------------------------------------------------------------- the allocation problems


def test_max_min_gives_each_job_its_best_type_when_that_beats_the_equal_split():
    # A is 4x faster on type 0, B as fast on both: the optimum 1.0 (the equal split) is also
    # reached with A alone on type 0, which the tie-break (most total throughput) picks
    T, W = np.array([[4.0, 1.0], [1.0, 1.0]]), np.ones(2)
    X = allocation.max_min_fairness(T, np.ones(2), W)
    np.testing.assert_allclose(X, [[1, 0], [0, 1]], atol=1e-9)


def test_max_min_equalises_gpu_time_across_job_sizes():
    # one type of 4 GPUs, a 1-GPU and a 4-GPU job: equal GPU-time caps the small job at all
    # of its time (1 GPU) and leaves 3 GPUs, i.e. 3/4 of the time, to the big one
    X = allocation.max_min_fairness(np.ones((2, 1)), np.array([1.0, 4.0]), np.array([4.0]))
    np.testing.assert_allclose(X[:, 0], [1.0, 0.75], atol=1e-9)


def test_allocations_leave_out_a_job_no_type_can_host():
    T = np.array([[1.0, 0.0], [0.0, 0.0]])
    X = allocation.max_min_fairness(T, np.array([1.0, 16.0]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(X, [[1, 0], [0, 0]])
    work = np.array([10.0, 10.0])
    X = allocation.min_makespan(T, np.array([1.0, 16.0]), np.array([1.0, 1.0]), work)
    np.testing.assert_allclose(X[1], [0, 0])  # and the other job still gets its type
    assert X[0, 0] == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(
    T=st.lists(st.lists(st.floats(0.1, 10), min_size=3, max_size=3), min_size=1, max_size=5),
    W=st.lists(st.integers(1, 4), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_min_is_feasible_and_beats_random_feasible_allocations(T, W, seed):
    T, W = np.array(T), np.array(W, dtype=float)
    scale = np.ones(len(T))
    X = allocation.max_min_fairness(T, scale, W)
    assert feasible(X, scale, W)
    prop = allocation.proportional_throughput(T, W)
    best = ((T * X).sum(1) / prop).min()
    rng = np.random.default_rng(seed)
    for _ in range(50):  # random points scaled into the feasible set
        Y = rng.random(T.shape)
        Y /= max(1.0, Y.sum(1).max())
        Y /= max(1.0, (scale @ Y / W).max())
        assert ((T * Y).sum(1) / prop).min() <= best + 1e-7


@settings(max_examples=30, deadline=None)
@given(
    kinds=st.lists(
        st.tuples(st.floats(0.1, 10), st.floats(0.1, 10), st.sampled_from([1.0, 2.0, 4.0])),
        min_size=1,
        max_size=3,
    ),
    data=st.data(),
)
def test_max_min_per_job_class_equals_the_per_job_lp(kinds, data):
    # the LP is solved once per class of identical jobs; solving it per job gives the same
    # optimum and the same total normalised throughput
    picks = data.draw(st.lists(st.integers(0, len(kinds) - 1), min_size=1, max_size=10))
    rows = np.array([kinds[i] for i in picks])
    T, scale, W = rows[:, :2], rows[:, 2], np.array([4.0, 6.0])
    X = allocation.max_min_fairness(T, scale, W)
    Y = allocation._max_min(T, scale, W, np.ones(len(T)), np.ones(len(T)))
    assert feasible(X, scale, W)
    norm = T * scale[:, None] / allocation.proportional_throughput(T, W)[:, None]
    assert (norm * X).sum(1).min() == pytest.approx((norm * Y).sum(1).min(), rel=1e-6)
    assert (norm * X).sum() == pytest.approx((norm * Y).sum(), rel=1e-6)
    same = np.array(picks)[:, None] == np.array(picks)[None, :]
    for i, j in zip(*np.nonzero(same), strict=True):
        np.testing.assert_allclose(X[i], X[j])  # identical jobs, identical allocations


@settings(max_examples=40, deadline=None)
@given(work=st.lists(st.floats(1, 100), min_size=1, max_size=8), W=st.integers(1, 4))
def test_min_makespan_matches_mcnaughton(work, W):
    # n single-GPU jobs on W identical GPUs, preemptive: the optimal makespan is
    # max(longest job, total / W) (McNaughton 1959)
    work = np.array(work)
    X = allocation.min_makespan(np.ones((len(work), 1)), np.ones(len(work)), np.array([W]), work)
    makespan = (work / X[:, 0]).max()
    assert makespan == pytest.approx(max(work.max(), work.sum() / W), rel=1e-6)


def test_fifo_takes_the_fastest_type_with_room_in_arrival_order():
    T = np.array([[1.0, 5.0], [2.0, 3.0], [1.0, 1.0]])
    X = allocation.fifo(T, np.ones(3), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(X, [[0, 1], [1, 0], [0, 0]])


# ---------------------------------------------------------------- the round mechanism


def run(jobs, params, **cluster):
    spec = tiny(jobs, **cluster)
    spec["scheduler"] = {"policy": {"name": "gavel", "params": params}}
    return simulator.run(spec, record_events=True)


def log(r):
    cols = ["t_s", "event", "job_id"]
    return [(t, e, j) for t, e, j in r.events[cols].itertuples(index=False) if e != "submit"]


def test_two_jobs_on_one_gpu_alternate_by_round():
    # X = 1/2 each; priority X / (share of time received) sends the job behind back in
    r = run([(0, 1, 20.0), (0, 1, 20.0)], {"round": 10.0}, gpus_per_node=1)
    assert log(r) == [
        (0.0, "start", 0),
        (10.0, "preempt", 0),
        (10.0, "start", 1),
        (20.0, "preempt", 1),
        (20.0, "start", 0),  # 10 s each, a tie: the lower id
        (30.0, "finish", 0),
        (30.0, "start", 1),  # alone now: a new allocation, X = 1
        (40.0, "finish", 1),
    ]


def test_makespan_objective_reaches_the_optimum_in_rounds():
    # 3 jobs of 20 s on 2 GPUs: X = 2/3 each; the optimum 30 s (60 GPU-s on 2 GPUs) is met
    r = run([(0, 1, 20.0)] * 3, {"round": 10.0, "objective": "makespan"}, gpus_per_node=2)
    assert log(r) == [
        (0.0, "start", 0),
        (0.0, "start", 1),
        (10.0, "preempt", 1),  # job 2 has had nothing: it goes first, then 0 (tie with 1)
        (10.0, "start", 2),
        (20.0, "finish", 0),
        (20.0, "start", 1),  # {1, 2} with 10 s left each: X = 1 each
        (30.0, "finish", 2),  # same time: in the order the completions were booked
        (30.0, "finish", 1),
    ]


def hetero(jobs, params):
    spec = tiny()
    spec["cluster"]["datacenters"][0]["node_groups"] = [
        {"name": "k80", "node": {"chip": "k80", "gpus": 1}, "count": 1},
        {"name": "v100", "node": {"chip": "v100", "gpus": 1}, "count": 1},
    ]
    spec["workload"]["training"] = [
        {
            "name": f"j{i}",
            "arrival": {"times": [0.0]},
            "gpus": 1,
            "model": {
                "name": "resnet50",
                "global_batch": 64,
                "iterations": steps,
                "profile": {"format": "gavel", "path": GAVEL, "job_type": job_type},
            },
        }
        for i, (job_type, steps) in enumerate(jobs)
    ]
    spec["scheduler"] = {"policy": {"name": "gavel", "params": params}}
    return simulator.run(spec, record_events=True)


def test_heterogeneity_aware_max_min_puts_each_job_on_the_type_it_runs_best_on():
    # Recommendation runs faster on the K80 than on the V100 and ResNet-50 7x faster on the
    # V100: each gets the type it prefers and keeps it (normalised throughputs 1.75 and 1.17)
    jobs = [("ResNet-50 (batch size 64)", 2000), ("Recommendation (batch size 512)", 20000)]
    r = hetero(jobs, {"round": 60.0})
    starts = r.events[r.events["event"] == "start"].set_index("job_id")["detail"].to_dict()
    assert starts == {0: "1:1", 1: "0:1"}  # node 0 is the K80, node 1 the V100
    assert r.jobs["preemptions"].tolist() == [0, 0]
    ends = r.jobs.set_index("job_id")["end_s"]
    assert ends[0] == pytest.approx(2000 / measured("ResNet-50 (batch size 64)", "v100"))
    assert ends[1] == pytest.approx(20000 / measured("Recommendation (batch size 512)", "k80"))


def alternating(steps, rates, first, round_s, until=math.inf):
    """Progress of a job that swaps between two types every round, starting on ``first``:
    its end time, or the steps done by ``until``."""
    t, done, k = 0.0, 0.0, first
    while True:
        step = min(round_s, until - t)
        if done + rates[k] * step >= steps:
            return t + (steps - done) / rates[k]
        if step < round_s:
            return done + rates[k] * step
        done, t, k = done + rates[k] * round_s, t + round_s, 1 - k


def test_time_shares_realised_by_rounds_match_the_allocation():
    # ResNet-50 and A3C on one K80 and one V100: the allocation splits both types 1/2-1/2,
    # and the rounds swap the jobs every round (A3C starts on the K80)
    jobs = [("ResNet-50 (batch size 64)", 4000), ("A3C", 8000)]
    T = np.array([[measured(t, c) for c in ("k80", "v100")] for t, _ in jobs])
    X = allocation.max_min_fairness(T, np.ones(2), np.ones(2))
    np.testing.assert_allclose(X, 0.5, atol=1e-9)
    r = hetero(jobs, {"round": 60.0})
    ends = r.jobs.set_index("job_id")["end_s"]
    a3c_end = alternating(8000, T[1], 0, 60.0)
    assert ends[1] == pytest.approx(a3c_end)
    # ResNet-50 alone from the next round on: X = 1 on the V100, where it moves
    move = math.ceil(a3c_end / 60.0) * 60.0
    left = 4000 - alternating(4000, T[0], 1, 60.0, until=move)
    assert ends[0] == pytest.approx(move + left / T[0, 1])
    starts = r.events[r.events["event"] == "start"]
    assert len(starts) == 2 * move / 60.0 + 1  # both start every round, then the move
    # every restart was on the other node: each preemption was a migration
    assert r.jobs["migrations"].tolist() == r.jobs["preemptions"].tolist()
    assert r.jobs["preemptions"].tolist() == [move / 60.0, move / 60.0 - 1]


def test_fifo_perf_migrates_a_job_to_the_faster_type_at_the_next_round():
    # both prefer the V100; ResNet-50 arrived first and takes it, A3C starts on the K80 and
    # moves to the V100 at the first round after ResNet-50 ends
    jobs = [("ResNet-50 (batch size 64)", 2000), ("A3C", 20000)]
    r = hetero(jobs, {"round": 100.0, "objective": "fifo"})
    resnet_end = 2000 / measured("ResNet-50 (batch size 64)", "v100")
    move = math.ceil(resnet_end / 100.0) * 100.0
    k80, v100 = measured("A3C", "k80"), measured("A3C", "v100")
    ends = r.jobs.set_index("job_id")["end_s"]
    assert ends[0] == pytest.approx(resnet_end)
    assert ends[1] == pytest.approx(move + (20000 - k80 * move) / v100)
    assert log(r)[-3:] == [(move, "preempt", 1), (move, "start", 1), (ends[1], "finish", 1)]


def test_agnostic_fifo_and_aware_fifo_differ_only_in_the_choice_of_type():
    jobs = [("ResNet-50 (batch size 64)", 500)]
    aware = hetero(jobs, {"objective": "fifo"}).jobs["end_s"][0]
    assert aware == pytest.approx(500 / measured("ResNet-50 (batch size 64)", "v100"))
    agnostic = hetero(jobs, {"objective": "fifo", "heterogeneity_aware": False}).jobs["end_s"][0]
    assert agnostic in (
        pytest.approx(aware),
        pytest.approx(500 / measured("ResNet-50 (batch size 64)", "k80")),
    )


@pytest.mark.slow
def test_heterogeneity_awareness_pays_on_the_bundled_scenario():
    # Gavel's headline (OSDI'20 section 7): on K80/P100/V100 with measured speeds, the aware
    # max-min policy cuts mean JCT well below its agnostic version, and the aware makespan
    # policy finishes the workload sooner than the agnostic max-min one
    path = ROOT / "scenarios" / "gavel_heterogeneous.yaml"
    policy = "scheduler.policy"
    agnostic = {policy: {"name": "gavel", "params": {"heterogeneity_aware": False}}}
    makespan = {policy: {"name": "gavel", "params": {"objective": "makespan"}}}
    r = simulator.bench(
        path, axes={policy: ["gavel", agnostic[policy], makespan[policy]]}, seeds=2, workers=1
    ).runs.set_index(["variant", "seed"])
    for seed in (11, 12):
        aware_jct = r.loc[("gavel", seed), "mean_jct_s"]
        agnostic_run = r.loc[("gavel(heterogeneity_aware=False)", seed)]
        assert aware_jct < 0.75 * agnostic_run["mean_jct_s"]
        assert r.loc[("gavel(objective=makespan)", seed), "makespan_s"] < agnostic_run["makespan_s"]


def test_profile_paths_are_relative_to_the_scenario_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    scenario = simulator.load_scenario(ROOT / "scenarios" / "gavel_heterogeneous.yaml")
    found = Path(scenario.workload.training[0].model.profile.path)
    assert found.resolve() == Path(GAVEL).resolve()


@given(st.lists(st.integers(0, 3000), max_size=300), st.sampled_from([1, 7, 3000]))
def test_job_classes_by_table_match_numpy_unique(keys, modulo):
    # rates_by_chip groups jobs by (stream, size) with a table over the key range when that
    # range is small, instead of np.unique's sort; both must give the same classes
    from simulator.engine.oracle import _classes

    k = np.array(keys, dtype=np.int64) % modulo
    first, inverse = _classes(k)
    want_first, want_inverse = np.unique(k, return_index=True, return_inverse=True)[1:]
    assert first.tolist() == want_first.tolist() and inverse.tolist() == want_inverse.tolist()
