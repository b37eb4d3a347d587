"""Elastic node groups under the queue autoscaler, and the bill: hand-computed schedules and
costs, and whole-run properties (devices never over-committed while nodes leave)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.scenario import ScenarioError

from .conftest import ROOT, tiny


def cluster(count=4, elastic=None, price=10.0, gpus=8):
    spec = tiny()
    group = {
        "name": "g",
        "node": {"chip": "h100-sxm", "gpus": gpus},
        "count": count,
        "price_per_hour": price,
    }
    if elastic is not None:
        group["elastic"] = elastic
    spec["cluster"]["datacenters"][0]["node_groups"] = [group]
    return spec


def jobs(spec, rows):
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [t]}, "gpus": g, "duration": d}
        for i, (t, g, d) in enumerate(rows)
    ]
    return spec


def test_a_fixed_cluster_costs_nodes_times_hours_times_price():
    r = simulator.run(jobs(cluster(count=2), [(0, 8, 3 * 3600.0)]))
    s = r.summary
    assert s["cost"]["total"] == pytest.approx(2 * 3 * 10.0)  # 2 nodes, 3 h, 10 per node-hour
    assert s["cost"]["per_used_gpu_hour"] == pytest.approx(60 / (8 * 3))
    assert s["cost"]["idle"] == pytest.approx(30.0)  # half the billed GPU-hours were unused


def test_queue_autoscaler_scales_out_after_delay_plus_provisioning_and_back_in():
    # a 16-GPU job on an empty elastic pool: the shortfall waits `delay` (60 s), 2 nodes are
    # requested and usable 300 s later; after the job, 600 s idle, they are released
    spec = jobs(cluster(elastic={"min": 0, "provision": "5m"}), [(0, 16, 3600.0)])
    spec["scheduler"] = {
        "autoscaler": {"name": "queue", "params": {"delay": 60, "cooldown": 600, "idle": 600}}
    }
    r = simulator.run(spec, record_events=True)
    log = [(t, e, d) for t, e, _, d in r.events.itertuples(index=False) if e != "submit"]
    assert log == [
        (60.0, "scale_out", "g+2"),
        (360.0, "start", "0:8,1:8"),
        (3960.0, "finish", ""),
        (4560.0, "scale_in", "g-2"),
    ]
    assert r.summary["cost"]["total"] == pytest.approx(2 * (4560 - 60) / 3600 * 10.0)
    online = r.series[r.series["metric"] == "online_gpus"].set_index("t_s")["value"]
    assert online.asof(359.0) == 0 and online.asof(360.0) == 16 and online.asof(4560.0) == 0


def test_decommission_is_billed_and_min_is_kept():
    spec = jobs(cluster(elastic={"min": 1, "initial": 2, "decommission": "1h"}), [(0, 8, 60.0)])
    spec["scheduler"] = {"autoscaler": {"name": "queue", "params": {"idle": 100}}}
    r = simulator.run(spec, record_events=True)
    scale = r.events[r.events["event"].str.startswith("scale")]
    assert scale[["t_s", "detail"]].values.tolist() == [[100.0, "g-1"]]  # down to min 1
    # node 1 billed 0 -> 100 s + 1 h; node 0 (kept) until the run ends at 100 s
    assert r.summary["cost"]["total"] == pytest.approx((100 + 3600 + 100) / 3600 * 10.0)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3000), st.sampled_from([1, 4, 8, 16]), st.integers(10, 2000)),
        min_size=1,
        max_size=15,
    ),
    provision=st.sampled_from([0, 120]),
    policy=st.sampled_from(["fifo", "srtf", "las"]),
    scaler=st.sampled_from(["queue", "utilization", "predictive"]),
)
def test_scaling_never_overcommits_and_every_job_finishes(rows, provision, policy, scaler):
    spec = jobs(
        cluster(count=3, elastic={"min": 0, "provision": provision}),
        sorted((float(t), g, float(d)) for t, g, d in rows),
    )
    spec["scheduler"] = {
        "policy": {"name": policy, "params": {"quantum": 300.0} if policy == "las" else {}},
        "autoscaler": {"name": scaler, "params": {"idle": 200} if scaler == "queue" else {}},
    }
    r = simulator.run(spec)  # check_invariants: devices and shares re-counted every pass
    assert (r.jobs["state"] == "finished").all()
    wide = r.series.pivot_table(index="t_s", columns="metric", values="value").ffill()
    assert (wide["busy_gpus"] <= wide["online_gpus"]).all()
    assert wide["online_gpus"].iloc[-1] == 0  # everything released at the end


def test_elastic_pool_costs_less_than_the_same_pool_fixed(tmp_path):
    # the bundled scenario: the autoscaled pool bills only the node-hours it holds, at the
    # price of some extra waiting (nodes take the provisioning delay to arrive)
    path = ROOT / "scenarios" / "elastic_provisioning.yaml"
    elastic = simulator.run(path).summary
    fixed = simulator.run(
        path, overrides={"cluster.datacenters.0.node_groups.0.elastic": None}
    ).summary
    assert elastic["cost"]["total"] < 0.8 * fixed["cost"]["total"]
    assert elastic["mean_wait_s"] > fixed["mean_wait_s"]
    assert fixed["cost"]["idle"] > elastic["cost"]["idle"]


def test_an_elastic_group_without_an_autoscaler_is_refused():
    spec = jobs(cluster(elastic={"min": 0}), [(0, 8, 60.0)])
    with pytest.raises(ScenarioError, match=r"node_groups\.0\.elastic: an elastic node group"):
        simulator.run(spec)


def spot_run(rate="0.5/h", seed=0, restore=0.0):
    spec = jobs(
        cluster(count=6, elastic={"min": 0, "initial": 4, "provision": "2m"}),
        [(0.0, 8, 20 * 3600.0) for _ in range(4)] + [(60.0, 8, 3600.0) for _ in range(6)],
    )
    group = spec["cluster"]["datacenters"][0]["node_groups"][0]
    group |= {"pricing": "spot", "spot_reclaim_rate": rate}
    spec["scheduler"] = {
        "autoscaler": {"name": "queue", "params": {"delay": 0, "cooldown": 0}},
        "restart": {"restore": restore},
    }
    spec["seed"] = seed
    return simulator.run(spec, record_events=True)


def test_spot_reclaims_are_a_poisson_process_over_online_node_hours():
    # reclaims per run ~ Poisson(rate x online node-hours); summed over seeds, within 4 sigma
    reclaims = node_hours = 0.0
    for seed in range(5):
        r = spot_run(seed=seed)
        reclaims += (r.events["event"] == "spot_reclaim").sum()
        online = r.series[r.series["metric"] == "online_gpus"]
        t, v = online["t_s"].to_numpy(), online["value"].to_numpy()
        node_hours += float(np.sum(np.diff(t) * v[:-1])) / 8 / 3600
        assert (r.jobs["state"] == "finished").all()  # the autoscaler replaces lost nodes
    expected = 0.5 * node_hours
    assert abs(reclaims - expected) < 4 * np.sqrt(expected)
    assert reclaims > 20


def test_a_reclaimed_job_keeps_its_progress_and_pays_its_restart():
    r = spot_run(restore=30.0)
    j = r.jobs
    assert j["preemptions"].sum() > 0
    np.testing.assert_allclose(j["gpu_service_s"], j["gpus"] * (j["duration_s"] + j["lost_work_s"]))
    assert (j["lost_work_s"] == 30.0 * j["restarts"]).all()
    same = spot_run(restore=30.0)
    assert same.jobs.equals(j)  # reclaim times come from the seeded "spot" streams


@pytest.mark.parametrize("notice, lost", [("2m", 0.0), ("30s", 1000.0)])
def test_reclaims_from_a_trace_keep_progress_only_if_the_notice_covers_a_checkpoint(notice, lost):
    # one spot node, reclaimed at 1000 s; the job (3000 s) restarts on the replacement,
    # usable 100 s later. A 60 s checkpoint fits in a 2 min notice (2000 s left), not in 30 s
    # (the 1000 s run is done again)
    spec = jobs(cluster(count=2, elastic={"min": 1, "initial": 1, "provision": 100}), [])
    spec = jobs(spec, [(0, 8, 3000.0)])
    group = spec["cluster"]["datacenters"][0]["node_groups"][0]
    group |= {"pricing": "spot", "spot_reclaim_times": [1000], "spot_notice": notice}
    spec["scheduler"] = {
        "autoscaler": {"name": "queue", "params": {"delay": 0, "cooldown": 0}},
        "restart": {"save": "1m"},
    }
    r = simulator.run(spec, record_events=True)
    log = [(t, e) for t, e, _, _ in r.events.itertuples(index=False) if e != "submit"]
    assert log[:4] == [
        (0.0, "start"),
        (1000.0, "preempt" if lost == 0 else "job_interrupted"),  # its jobs go, then the node
        (1000.0, "spot_reclaim"),
        (1000.0, "scale_out"),
    ]
    assert log[4] == (1100.0, "start")
    assert r.jobs["end_s"][0] == pytest.approx(1100 + 60 + 2000 + lost)  # pays save + restore 0
    assert r.jobs["lost_work_s"][0] == pytest.approx(60 + lost)


def test_utilization_target_sizes_the_pool_to_demand_over_target():
    # 3 jobs of 8 GPUs at t=0 on 8-GPU nodes, target 0.75: ceil(24 / 0.75) = 32 GPUs,
    # 4 nodes at once; when two jobs end at 100 s the need is ceil(8 / 0.75) = 11 GPUs, 2
    # nodes, applied after the 50 s cooldown (150 s); at 300 s the last job ends: 0 nodes
    spec = jobs(cluster(count=6, elastic={"min": 0}), [(0, 8, 100.0), (0, 8, 100.0), (0, 8, 300.0)])
    spec["scheduler"] = {
        "autoscaler": {"name": "utilization", "params": {"target": 0.75, "cooldown": 50}}
    }
    r = simulator.run(spec, record_events=True)
    scale = r.events[r.events["event"].str.startswith("scale")][["t_s", "detail"]]
    assert scale.values.tolist() == [[0.0, "g+4"], [150.0, "g-2"], [350.0, "g-2"]]


def test_scheduled_sizes_follow_the_clock():
    spec = jobs(cluster(count=4, elastic={"min": 0, "initial": 1}), [(0, 8, 10.0)])
    spec["scheduler"] = {
        "autoscaler": {
            "name": "schedule",
            "params": {"sizes": {"g": [[0, 1], ["1h", 3]]}, "period": "2h"},
        }
    }
    spec["horizon"] = "5h"
    r = simulator.run(spec, record_events=True)
    scale = r.events[r.events["event"].str.startswith("scale")][["t_s", "detail"]]
    assert scale.values.tolist() == [
        [3600.0, "g+2"],
        [7200.0, "g-2"],
        [10800.0, "g+2"],
        [14400.0, "g-2"],
        [18000.0, "g+2"],  # the horizon: events at it still happen
    ]


def test_predictive_sizes_for_the_recent_arrival_rate():
    # an 8-GPU, 1 h job every 10 min: the estimate over a 1 h window grows by 8 GPU-h/h per
    # arrival until six are in it (48 GPUs busy on average, Little's law); at target 0.8
    # the pool grows to ceil(8k / 0.8 / 8) nodes: 2, 3, 4, 5, 7, 8 at t = 0, 600, ..., 3000
    rows = [(600.0 * k, 8, 3600.0) for k in range(10)]
    spec = jobs(cluster(count=12, elastic={"min": 0}), rows)
    spec["scheduler"] = {
        "autoscaler": {
            "name": "predictive",
            "params": {"target": 0.8, "window": "1h", "cooldown": "10m"},
        }
    }
    r = simulator.run(spec, record_events=True)
    scale = r.events[r.events["event"].str.startswith("scale")][["t_s", "detail"]]
    out = scale[scale["t_s"] <= 3000].values.tolist()
    assert out == [
        [0.0, "g+2"],
        [600.0, "g+1"],
        [1200.0, "g+1"],
        [1800.0, "g+1"],
        [2400.0, "g+2"],
        [3000.0, "g+1"],
    ]
    assert scale["detail"].str.startswith("g+").sum() == 6  # steady at 8 while arrivals last
    assert (r.jobs["wait_s"] == 0).all()  # sized ahead of the load, nobody waits
    assert r.series[r.series["metric"] == "online_gpus"]["value"].iloc[-1] == 0
