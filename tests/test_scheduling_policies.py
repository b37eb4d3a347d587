"""Scheduling policies against hand-computed schedules and scheduling-theory oracles."""

from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.policies import register
from simulator.policies.preemptive import ShortestRemainingTimeFirst
from simulator.policies.scheduling import EasyBackfill

from .conftest import ROOT, tiny
from .test_throughput_engine import model_job


def run(jobs, policy, **cluster):
    spec = tiny(jobs, **cluster)
    spec["scheduler"] = {"policy": policy}
    return simulator.run(spec, record_events=True)


def log(r):
    return [(t, e, j) for t, e, j in r.events[["t_s", "event", "job_id"]].itertuples(index=False)]


@pytest.mark.parametrize("policy", ["sjf", "srtf"])
def test_batch_on_one_gpu_runs_in_shortest_processing_time_order(policy):
    sizes = [3.0, 1.0, 2.0, 5.0]
    r = run([(0, 1, d) for d in sizes], policy, gpus_per_node=1)
    ends = r.jobs.set_index("job_id")["end_s"].to_dict()
    assert ends == {1: 1.0, 2: 3.0, 0: 6.0, 3: 11.0}
    # SPT minimises mean completion time: no order does better (Smith 1956)
    best = min(sum(sum(p[: i + 1]) for i in range(len(p))) / len(p) for p in permutations(sizes))
    assert r.summary["mean_jct_s"] == pytest.approx(best)


def test_srtf_preempts_a_longer_job_for_a_shorter_arrival():
    r = run([(0, 1, 10.0), (1, 1, 2.0)], "srtf", gpus_per_node=1)
    assert log(r) == [
        (0.0, "submit", 0),
        (0.0, "start", 0),
        (1.0, "submit", 1),
        (1.0, "preempt", 0),
        (1.0, "start", 1),
        (3.0, "finish", 1),
        (3.0, "start", 0),
        (12.0, "finish", 0),  # 1 s done before, 9 s after: its progress was kept
    ]
    assert r.jobs["start_s"].tolist() == [0.0, 1.0]  # first start, for the wait
    assert r.jobs["preemptions"].tolist() == [1, 0]
    assert r.jobs["migrations"].tolist() == [0, 0]  # back on the same GPU
    assert r.jobs["gpu_service_s"].tolist() == [10.0, 2.0]  # work conserved across the stop


def test_sjf_never_preempts():
    r = run([(0, 1, 10.0), (1, 1, 2.0)], "sjf", gpus_per_node=1)
    assert r.jobs.set_index("job_id")["end_s"].to_dict() == {0: 10.0, 1: 12.0}
    assert "preempt" not in set(r.events["event"])


def test_las_time_slices_like_processor_sharing_until_the_short_job_ends():
    # a = 2 s and b = 5 s on one GPU, quantum q: they alternate every q, so the short job ends
    # at 2a - q (processor sharing: 2a) and the long one at a + b, as under processor sharing
    q = 0.5
    spec = tiny([(0, 1, 2.0), (0, 1, 5.0)], gpus_per_node=1)
    spec["scheduler"] = {"policy": {"name": "las", "params": {"quantum": q}}}
    r = simulator.run(spec, record_events=True)
    ends = r.jobs.set_index("job_id")["end_s"].to_dict()
    assert ends[0] == pytest.approx(2 * 2.0 - q) and ends[1] == pytest.approx(2.0 + 5.0)
    preempts = r.events[r.events["event"] == "preempt"]["t_s"].tolist()
    assert preempts == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])


def test_preempted_model_job_keeps_its_progress():
    spec = tiny(gpus_per_node=8)
    spec["workload"]["training"] = [
        model_job("resnet50", 8, 256, 10000),
        {"name": "short", "arrival": {"times": [5.0]}, "gpus": 8, "duration": 7.0},
    ]
    spec["scheduler"] = {"policy": "srtf"}
    r = simulator.run(spec)
    alone = simulator.run(
        tiny(gpus_per_node=8) | {"workload": {"training": spec["workload"]["training"][:1]}}
    )
    solo = alone.jobs["jct_s"][0]
    assert solo > 12.0  # long enough to be preempted by the 7 s job at t=5
    ends = r.jobs.set_index("job_id")["end_s"]
    assert ends[1] == 12.0 and ends[0] == pytest.approx(solo + 7.0, rel=1e-12)


def test_preempted_job_on_shared_links_keeps_its_progress():
    # a 16-GPU BERT-large ring over two racks (a shared-link job), preempted at t=5 by a
    # 7 s job that needs half the cluster: alone on its links both times, it ends 7 s later
    def spec(streams):
        s = tiny(gpus_per_node=8, nodes=2, nodes_per_rack=1)
        s["workload"]["training"] = streams
        s["scheduler"] = {"policy": "srtf"}
        return s

    long = model_job("bert-large", 16, 256, 2000)
    solo = simulator.run(spec([long])).jobs["jct_s"][0]
    short = {"name": "short", "arrival": {"times": [5.0]}, "gpus": 8, "duration": 7.0}
    r = simulator.run(spec([long, short]), record_events=True)
    assert solo > 12.0 and "preempt" in set(r.events["event"])
    assert r.jobs.set_index("job_id")["end_s"][0] == pytest.approx(solo + 7.0, rel=1e-12)


def test_tiresias_demotes_at_thresholds_and_serves_fcfs_within_a_queue():
    # 1 GPU, one threshold at 2 GPU-s. A (5 s) at t=0, B (3 s) at t=1. Both start in queue 0,
    # where A is older; at t=2 A crosses into queue 1 and B takes over; at t=4 B crosses too,
    # and within queue 1 the older A goes first again
    spec = tiny([(0, 1, 5.0), (1, 1, 3.0)], gpus_per_node=1)
    spec["scheduler"] = {
        "policy": {"name": "tiresias", "params": {"thresholds": [2.0], "starve_factor": None}}
    }
    assert log(simulator.run(spec, record_events=True)) == [
        (0.0, "submit", 0),
        (0.0, "start", 0),
        (1.0, "submit", 1),
        (2.0, "preempt", 0),
        (2.0, "start", 1),
        (4.0, "preempt", 1),
        (4.0, "start", 0),
        (7.0, "finish", 0),
        (7.0, "start", 1),
        (8.0, "finish", 1),
    ]


@pytest.mark.parametrize(
    ("starve_factor", "a_back_at"),
    [
        # threshold 10 GPU-s. A (20 s) crosses it at t=10; B (30 s) arrives at t=11 in queue 0
        # and preempts A, which has run 11 s. With factor 0.5 A starves after 5.5 s of waiting,
        # returns to queue 0 and, being older, preempts B at 16.5; without promotion it waits
        # until B crosses the threshold at t=21 and wins on age in queue 1
        (0.5, 16.5),
        (None, 21.0),
    ],
)
def test_tiresias_promotes_a_starving_job(starve_factor, a_back_at):
    spec = tiny([(0, 1, 20.0), (11, 1, 30.0)], gpus_per_node=1)
    params = {"thresholds": [10.0], "starve_factor": starve_factor}
    spec["scheduler"] = {"policy": {"name": "tiresias", "params": params}}
    events = log(simulator.run(spec, record_events=True))
    a_end = a_back_at + 9.0
    assert events[3:] == [
        (11.0, "preempt", 0),
        (11.0, "start", 1),
        (a_back_at, "preempt", 1),
        (a_back_at, "start", 0),
        (a_end, "finish", 0),
        (a_end, "start", 1),
        (50.0, "finish", 1),
    ]


@pytest.mark.parametrize("policy", ["sjf", "srtf", "las", "tiresias", "themis"])
def test_size_aware_and_attained_service_policies_beat_fifo_on_a_heavy_tail(policy):
    path = ROOT / "scenarios" / "heavy_tail.yaml"
    fifo = simulator.run(path).summary
    other = simulator.run(path, overrides={"scheduler.policy": policy}).summary
    assert other["mean_jct_s"] < fifo["mean_jct_s"] / 5
    assert other["jobs_finished"] > fifo["jobs_finished"]


def test_restart_costs_hold_devices_without_progress():
    # as in the SRTF example, with save 1 s + restore 2 s charged when A restarts at t=3:
    # A holds the GPU from 3, progresses from 6, and needs 9 s more
    spec = tiny([(0, 1, 10.0), (1, 1, 2.0)], gpus_per_node=1)
    spec["scheduler"] = {"policy": "srtf", "restart": {"save": "1s", "restore": "2s"}}
    jobs = simulator.run(spec).jobs.set_index("job_id")
    assert jobs["end_s"].tolist() == [15.0, 3.0]
    assert jobs["preemptions"].tolist() == [1, 0] and jobs["restarts"].tolist() == [1, 0]
    assert jobs["lost_work_s"].tolist() == [3.0, 0.0]
    assert jobs["gpu_service_s"].tolist() == [1.0 + 12.0, 2.0]


def test_model_checkpoint_size_sets_the_restart_cost():
    from simulator.scenario import zoo

    spec = tiny(gpus_per_node=8)
    spec["workload"]["training"] = [
        model_job("resnet50", 8, 256, 10000),
        {"name": "short", "arrival": {"times": [5.0]}, "gpus": 8, "duration": 7.0},
    ]
    spec["scheduler"] = {"policy": "srtf", "restart": {"storage_bandwidth": "1GB/s"}}
    r = simulator.run(spec).jobs.set_index("job_id")
    solo = simulator.run(spec | {"workload": {"training": spec["workload"]["training"][:1]}})
    cost = 2 * zoo.model("resnet50").params * 14 / 1e9  # save + restore of weights + Adam state
    assert r["lost_work_s"][0] == pytest.approx(cost)
    assert r["end_s"][0] == pytest.approx(solo.jobs["jct_s"][0] + 7.0 + cost, rel=1e-12)


def test_easy_backfills_only_what_does_not_delay_the_reserved_head():
    # 4 GPUs. A (3 GPUs, 10 s) runs; B (4 GPUs) waits at the head with a reservation at t=10
    # and nothing to spare then. C (1 GPU, 5 s) ends before t=10: backfilled at once.
    # D (1 GPU, 20 s) would end after t=10 and use a GPU B needs: it waits until B is done.
    jobs = [(0, 3, 10.0), (1, 4, 5.0), (2, 1, 5.0), (3, 1, 20.0)]
    easy = run(jobs, "easy_backfill", gpus_per_node=4).jobs.set_index("job_id")["start_s"]
    fifo = run(jobs, "fifo", gpus_per_node=4).jobs.set_index("job_id")["start_s"]
    assert easy.tolist() == [0.0, 10.0, 2.0, 15.0]
    assert fifo.tolist() == [0.0, 10.0, 15.0, 15.0]


class _Recording(EasyBackfill):
    """EASY that remembers the first reservation each job gets."""

    reserved: dict[int, float] = {}

    def reservation(self, view, head, free, starting):
        shadow, extra = super().reservation(view, head, free, starting)
        type(self).reserved.setdefault(head, shadow)
        return shadow, extra


register("scheduling", "test_easy_recording")(_Recording)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 8), st.integers(1, 30)),
        min_size=1,
        max_size=25,
    )
)
def test_easy_never_starts_a_reserved_job_after_its_reservation(raw):
    # one node of 8 GPUs, so every job that fits by count can be placed
    _Recording.reserved = {}
    jobs = sorted((float(t), g, float(d)) for t, g, d in raw)
    r = run(jobs, "test_easy_recording", gpus_per_node=8)
    start = r.jobs.set_index("job_id")["start_s"]
    for job, shadow in _Recording.reserved.items():
        assert start[job] <= shadow + 1e-9


def tenants(jobs, params):
    """One 8-GPU node; ``jobs`` are (submit, gpus, duration, tenant)."""
    spec = tiny([(t, g, d) for t, g, d, _ in jobs], gpus_per_node=8)
    for stream, (*_, tenant) in zip(spec["workload"]["training"], jobs, strict=True):
        stream["tenant"] = tenant
    spec["scheduler"] = {"policy": {"name": "capacity", "params": params}}
    return simulator.run(spec, record_events=True)


def test_capacity_reclaims_a_guarantee_by_preempting_the_newest_job_over_quota():
    # a is guaranteed 6 GPUs and uses all 8; b (guaranteed 2) submits a 2-GPU job at t=1:
    # a's newest job is preempted, b starts at once, a2 resumes when b1 is done (1 s + 9 s)
    jobs = [(0, 4, 10.0, "a"), (0, 4, 10.0, "a"), (1, 2, 5.0, "b")]
    quotas = {"a": {"share": 0.75}, "b": {"share": 0.25}}
    r = tenants(jobs, {"tenants": quotas, "preempt": True})
    assert log(r)[-6:] == [
        (1.0, "preempt", 1),
        (1.0, "start", 2),
        (6.0, "finish", 2),
        (6.0, "start", 1),
        (10.0, "finish", 0),
        (15.0, "finish", 1),
    ]
    r = tenants(jobs, {"tenants": quotas})  # without preemption b waits for a's jobs
    assert r.jobs.set_index("job_id")["start_s"][2] == 10.0


def test_capacity_max_share_caps_a_tenant_even_on_an_idle_cluster():
    jobs = [(0, 4, 10.0, "a"), (0, 4, 10.0, "a")]
    r = tenants(jobs, {"tenants": {"a": {"share": 0.5, "max_share": 0.5}}})
    assert r.jobs.set_index("job_id")["start_s"].tolist() == [0.0, 10.0]


def test_capacity_serves_the_most_under_served_tenant_first():
    # both guaranteed half; a already runs 4 GPUs when a 4-GPU job of each tenant waits:
    # b is further below its guarantee, so b's job goes first although a's is older
    jobs = [(0, 4, 10.0, "a"), (1, 4, 10.0, "a"), (1, 4, 10.0, "b"), (2, 4, 1.0, "a")]
    quotas = {"a": {"share": 0.5}, "b": {"share": 0.5}}
    r = tenants(jobs, {"tenants": quotas})
    assert r.jobs.set_index("job_id")["start_s"].tolist() == [0.0, 10.0, 1.0, 11.0]


def test_capacity_rejects_oversubscribed_guarantees():
    spec = tiny()
    quotas = {"a": {"share": 0.7}, "b": {"share": 0.5}}
    spec["scheduler"] = {"policy": {"name": "capacity", "params": {"tenants": quotas}}}
    with pytest.raises(simulator.ScenarioError, match="add up to 1.2"):
        simulator.run(spec)


@register("scheduling", "test_oracle_probe")
class _OracleProbe(ShortestRemainingTimeFirst):
    """SRTF that checks, at every pass, the vectorised oracle against the per-job one."""

    def schedule(self, view):
        jobs = np.array([*view.running, *view.queue], dtype=np.int64)
        many = view.remaining_s_many(jobs)
        one = [view.remaining_s(int(j)) for j in jobs]
        np.testing.assert_allclose(many, one, rtol=1e-12)
        return super().schedule(view)


def test_vectorised_oracle_equals_the_per_job_one():
    # duration and model jobs, shared-link jobs and restores, under preemptions
    spec = tiny(gpus_per_node=8, nodes=2, nodes_per_rack=1)
    spec["workload"]["training"] = [
        model_job("bert-large", 16, 256, 2000),
        model_job("resnet50", 8, 256, 3000, t=2.0),
        {"name": "short", "arrival": {"times": [5.0, 9.0]}, "gpus": 8, "duration": 7.0},
    ]
    spec["scheduler"] = {"policy": "test_oracle_probe", "restart": {"restore": "3s"}}
    r = simulator.run(spec)
    assert r.jobs["preemptions"].sum() > 0 and r.jobs["state"].eq("finished").all()


def test_gandiva_round_robin_switches_only_at_quantum_ends():
    # 1 GPU, quantum 2. A (10 s) alone from t=0 runs quantum after quantum; B (10 s) arrives at
    # t=5, mid-quantum, and waits for the boundary at t=6. Then they alternate every 2 s: A has
    # 4 s left (8-10, 12-14); B runs 6-8 and 10-12, then alone 14-20
    spec = tiny([(0, 1, 10.0), (5, 1, 10.0)], gpus_per_node=1)
    spec["scheduler"] = {"policy": {"name": "gandiva", "params": {"quantum": 2.0}}}
    r = simulator.run(spec, record_events=True)
    assert r.jobs.set_index("job_id")["end_s"].tolist() == [14.0, 20.0]
    switches = [(t, e, j) for t, e, j in log(r) if e in ("start", "preempt")]
    assert switches == [
        (0.0, "start", 0),
        (6.0, "preempt", 0),
        (6.0, "start", 1),
        (8.0, "preempt", 1),
        (8.0, "start", 0),
        (10.0, "preempt", 0),
        (10.0, "start", 1),
        (12.0, "preempt", 1),
        (12.0, "start", 0),
        (14.0, "start", 1),
    ]


def test_themis_gives_leases_to_the_worst_finish_time_fairness():
    # 1 GPU, 1 s leases. A (4 s) at t=0, B (2 s) at t=1. At t=1 both have rho = 1/2 (nobody
    # has waited; T_ideal = 2 D with two jobs on one GPU): A keeps it (lower id). At t=2 B has
    # waited 1 s: rho_B = (1 + 2) / 4 = 0.75 > rho_A = (2 + 2) / 8 = 0.5, so B takes the GPU;
    # at t=3 rho_B = (2 + 1) / 4 = 0.75 > rho_A = (3 + 2) / 8 = 0.625: B keeps it and ends at 4
    spec = tiny([(0, 1, 4.0), (1, 1, 2.0)], gpus_per_node=1)
    spec["scheduler"] = {"policy": {"name": "themis", "params": {"lease": 1.0}}}
    r = simulator.run(spec, record_events=True)
    assert log(r) == [
        (0.0, "submit", 0),
        (0.0, "start", 0),
        (1.0, "submit", 1),
        (2.0, "preempt", 0),
        (2.0, "start", 1),
        (4.0, "finish", 1),
        (4.0, "start", 0),
        (6.0, "finish", 0),
    ]


POLICIES = ["fifo", "sjf", "srtf", "las", "tiresias", "gandiva", "themis", "easy_backfill", "gavel"]


@pytest.mark.parametrize("policy", POLICIES)
@settings(max_examples=15, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from([1, 2, 4, 8]), st.integers(1, 40)),
        min_size=1,
        max_size=15,
    ),
    restore=st.sampled_from([0.0, 2.0]),
    rounds=st.sampled_from([None, 6.0]),
)
def test_every_policy_finishes_every_job_and_conserves_work(policy, jobs, restore, rounds):
    """Whole-run properties with the engine's invariant checks after every pass: every job
    finishes, the devices it held pay exactly for its work plus its restarts, and with
    round-based leases no job is preempted before its lease ends."""
    spec = tiny(sorted((float(t), g, float(d)) for t, g, d in jobs), gpus_per_node=4, nodes=2)
    params = {"quantum": 5.0} if policy in ("las", "gandiva") else {}
    params |= {"lease": 5.0} if policy == "themis" else {}
    params |= {"round": 5.0} if policy == "gavel" else {}
    spec["scheduler"] = {
        "policy": {"name": policy, "params": params},
        "restart": {"restore": restore},
        "round": rounds,
    }
    result = simulator.run(spec, record_events=True)
    r = result.jobs
    assert (r["state"] == "finished").all()
    if rounds:
        preempts = result.events.loc[result.events["event"] == "preempt", "t_s"] / rounds
        np.testing.assert_allclose(preempts, np.round(preempts), atol=1e-9)
    expected = r["gpus"] * (r["duration_s"] + r["lost_work_s"])
    np.testing.assert_allclose(r["gpu_service_s"], expected, rtol=1e-9)
    assert (r["lost_work_s"] <= restore * r["restarts"] + 1e-9).all()


# ---------------------------------------------------------------- round-based leases


def test_rounds_delay_preemption_to_the_round_boundary():
    spec = tiny([(0, 1, 10.0), (1, 1, 2.0)], gpus_per_node=1)
    spec["scheduler"] = {"policy": "srtf", "round": 4.0}
    r = simulator.run(spec, record_events=True)
    assert log(r) == [
        (0.0, "submit", 0),
        (0.0, "start", 0),
        (1.0, "submit", 1),  # shorter, but job 0 holds a lease until t = 4
        (4.0, "preempt", 0),
        (4.0, "start", 1),
        (6.0, "finish", 1),
        (6.0, "start", 0),  # mid-round: free devices may still be given out
        (12.0, "finish", 0),
    ]


def test_rounds_make_sjf_preemptive_at_boundaries():
    spec = tiny([(0, 1, 10.0), (1, 1, 2.0), (2, 1, 1.0)], gpus_per_node=1)
    spec["scheduler"] = {"policy": "sjf", "round": 4.0}
    r = simulator.run(spec, record_events=True)
    assert [e for e in log(r) if e[1] != "submit"] == [
        (0.0, "start", 0),
        (4.0, "preempt", 0),  # at the boundary SJF ranks every active job: 2 (1 s) first
        (4.0, "start", 2),
        (5.0, "finish", 2),
        (5.0, "start", 1),
        (7.0, "finish", 1),
        (7.0, "start", 0),
        (13.0, "finish", 0),
    ]


@settings(max_examples=25, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from([1, 2, 4, 8]), st.integers(1, 40)),
        min_size=1,
        max_size=15,
    ),
    round_s=st.sampled_from([1.0, 5.0, 60.0]),
)
def test_rounds_never_change_fifo(jobs, round_s):
    # under FIFO the running jobs are always the oldest ones, so a round boundary re-picks
    # exactly them: leases change nothing
    spec = tiny(sorted((float(t), g, float(d)) for t, g, d in jobs), gpus_per_node=4, nodes=2)
    plain = simulator.run(spec).jobs
    spec["scheduler"] = {"round": round_s}
    pd.testing.assert_frame_equal(simulator.run(spec).jobs, plain)
