"""Failures and checkpoints: closed forms of reliability theory, Poisson counts, exact books.

Oracles: the expected held time of a checkpointed job under Poisson failures (Daly 2006,
derived in :mod:`simulator.reliability`), the Poisson interval of failure counts, Young/Daly's
interval as the optimum of a sweep, and the identity held = useful + redone + restore +
checkpoint time for every job."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import simulator
from simulator import reliability
from simulator.cli import main
from simulator.scenario import catalog

from .conftest import tiny

H = 3600.0


def cluster(nodes=4, **failures):
    spec = tiny(nodes=nodes, gpus_per_node=8)
    spec["check_invariants"] = True
    spec["failures"] = failures
    return spec


def one_job(spec, hours, gpus=8):
    spec["workload"]["training"] = [
        {"name": "j", "arrival": {"times": [0.0]}, "gpus": gpus, "duration": hours * H}
    ]
    return spec


def books(r):
    """Per job: held, useful, redone, restore and checkpoint seconds (per device)."""
    j = r.jobs
    held = j["gpu_service_s"] / j["gpus"]
    redone_plus_restore, ckpt = j["lost_work_s"], j["checkpoint_s"]
    return held, held - redone_plus_restore - ckpt, ckpt


# ---------------------------------------------------------------- the closed forms


def test_young_daly_minimises_the_expected_held_time():
    cost, mtbf, work = 300.0, 20 * H, 500 * H
    best = reliability.young_daly(cost, mtbf)
    assert best == pytest.approx(math.sqrt(2 * 300 * 20 * H))
    held = [
        reliability.expected_held_s(work, t, cost, 0.0, mtbf) for t in (best / 2, best, 2 * best)
    ]
    assert held[1] < held[0] and held[1] < held[2]


def test_expected_held_time_without_failures_is_work_plus_checkpoints():
    # 10 h in 3 h intervals: checkpoints after 3, 6 and 9 h, none at the end
    assert reliability.expected_held_s(10 * H, 3 * H, 60.0, 30.0, math.inf) == 10 * H + 3 * 60
    assert reliability.job_mtbf_s(16, 8, 100 * H, 50 * H) == pytest.approx(
        1 / (16 / 100 + 2 / 50) * H
    )


# ---------------------------------------------------------------- the engine against them


def ettr_run(seed, interval, cost=360.0, restore=720.0, node_mtbf=10 * H, hours=100.0):
    spec = one_job(
        cluster(
            node={"mtbf": node_mtbf, "repair": "1h"},
            checkpoint={"interval": interval, "cost": cost},
        ),
        hours,
    )
    spec["scheduler"] = {"restart": {"restore": restore}}
    spec["seed"] = seed
    return simulator.run(spec)


def test_single_job_ettr_matches_the_closed_form_for_exponential_failures():
    # one 8-GPU job (one node: MTBF 10 h) of 100 h, checkpoint every 2 h for 6 min, restore
    # 12 min after each failure; spare nodes, so it restarts at once. Held time per run is
    # sum_segments M e^(R/M) (e^(x/M) - 1); pooled over seeds, useful / held against
    # work / E[held] (the ratio of the expectations)
    held = useful = 0.0
    for seed in range(40):
        r = ettr_run(seed, 2 * H)
        h, u, _ = books(r)
        assert r.jobs["state"][0] == "finished"
        assert u[0] == pytest.approx(100 * H)  # exactly the job's work, whatever failed
        held, useful = held + h[0], useful + u[0]
    expected = reliability.expected_ettr(100 * H, 2 * H, 360.0, 720.0, 10 * H)
    assert 0.7 < expected < 0.9  # failures matter here
    assert useful / held == pytest.approx(expected, rel=0.02)


@pytest.mark.slow
def test_a_checkpoint_interval_sweep_finds_young_daly():
    # held time against the interval, each averaged over seeds: the simulated optimum lies
    # within 15% of sqrt(2 C M) = sqrt(2 x 0.1 h x 10 h) = 1.41 h
    cost, mtbf = 360.0, 10 * H
    grid = reliability.young_daly(cost, mtbf) * np.array([0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0])
    mean_held = []
    for interval in grid:
        runs = [ettr_run(seed, float(interval), cost, 0.0, mtbf, 60.0) for seed in range(40)]
        mean_held.append(np.mean([books(r)[0][0] for r in runs]))
    # the optimum of a parabola through the three best points of the sweep
    i = int(np.clip(np.argmin(mean_held), 1, len(grid) - 2))
    a, b, _ = np.polyfit(grid[i - 1 : i + 2], mean_held[i - 1 : i + 2], 2)
    assert -b / (2 * a) == pytest.approx(reliability.young_daly(cost, mtbf), rel=0.15)


def llama3_run(seed):
    # Llama 3 405B: 419 unexpected interruptions in 54 days on 16,384 H100 (Dubey et al.
    # 2024, table 5): a per-GPU MTBF of 16,384 x 54 d / 419. Repairs take a minute, so the
    # devices are online (ageing) almost all the time
    spec = tiny(nodes=2048, gpus_per_node=8, nodes_per_rack=16)
    spec["failures"] = {"gpu": {"mtbf": 16384 * 54 * 24 * H / 419, "repair": "1m"}}
    spec["horizon"] = 54 * 24 * H
    spec["seed"] = seed
    return one_job(spec, 60 * 24, gpus=16384)


def test_failures_of_a_16k_gpu_job_over_54_days_are_poisson_at_the_llama3_rate():
    counts = []
    for seed in range(4):
        r = simulator.run(llama3_run(seed))
        f = r.summary["failures"]
        counts.append(f["component_failures"]["gpu"])
        # every failure stops the one job, but those while it waits a minute for a repair
        waiting = counts[-1] * (counts[-1] * 60 / (54 * 24 * H))  # expected such failures
        assert 0 <= counts[-1] - f["job_interruptions"] <= stats.poisson.ppf(0.9995, waiting)
        # one node of 2,048 down a minute per failure
        down = counts[-1] * 60 * 8 / (16384 * 54 * 24 * H)
        assert f["availability"]["dc"] == pytest.approx(1 - down)
    mean = 419 * (1 - np.mean(counts) * 60 / (54 * 24 * H))  # ageing paused while down
    low, high = stats.poisson.ppf([0.025, 0.975], 4 * mean)
    assert low <= sum(counts) <= high, counts
    for c in counts:
        assert stats.poisson.ppf(0.0005, mean) <= c <= stats.poisson.ppf(0.9995, mean), counts


# ---------------------------------------------------------------- books and streams


@settings(max_examples=30, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([1, 2, 4, 8, 16, 24]), st.integers(1, 40)),
        min_size=1,
        max_size=12,
    ),
    interval=st.sampled_from([None, 2.0, 5.0]),
    restore=st.sampled_from([0.0, 1.0]),
    policy=st.sampled_from(["fifo", "las", "srtf"]),
    retries=st.sampled_from([None, 0, 2]),
    spares=st.sampled_from([0, 1]),
)
def test_held_time_is_useful_plus_redone_plus_restore_plus_checkpoints(
    jobs, interval, restore, policy, retries, spares
):
    # many failures (node MTBF 30 s) on 4 nodes (one a hot spare or not): finished jobs did
    # exactly their work, the engine's invariants hold after every pass (no job on a node
    # that is not online, capacity kept)
    spec = cluster(
        node={"mtbf": 30.0, "repair": {"exponential": {"mean": 10.0}}},
        checkpoint={"interval": interval, "cost": 0.5},
        retries=retries,
        hot_spares={"g": spares},
    )
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [float(t)]}, "gpus": g, "duration": float(d)}
        for i, (t, g, d) in enumerate(jobs)
    ]
    spec["scheduler"] = {"policy": policy, "restart": {"restore": restore}}
    spec["horizon"] = 2000.0
    r = simulator.run(spec)
    held, useful, ckpt = books(r)
    j = r.jobs
    done = j["state"] == "finished"
    np.testing.assert_allclose(useful[done], j["duration_s"][done], rtol=1e-9, atol=1e-6)
    assert (useful[~done] <= j["duration_s"][~done] + 1e-6).all()
    assert (ckpt >= 0).all() and (j["lost_work_s"] >= -1e-9).all()
    if interval is None:
        assert (ckpt == 0).all()
    # every job finished, failed with a reason after its retries, or is queued or running
    failed = j["state"] == "failed"
    assert set(j["state"]) <= {"finished", "failed", "running", "queued"}
    assert j["failure_reason"][failed].notna().all() and j["failure_reason"][~failed].isna().all()
    if retries is None:
        assert not failed.any()
    else:
        assert (j["interruptions"][failed] == retries + 1).all()
        assert (j["interruptions"][~failed] <= retries).all()
    assert r.summary["failures"]["jobs_failed"] == failed.sum()


def test_failure_times_do_not_depend_on_the_workload_or_the_policy():
    # devices age in online time and nothing but failures takes these nodes down, so the
    # failures stream gives the same node downs under any jobs and policy; and failures
    # never change the workload's draws (common random numbers)
    base = simulator.run("scenarios/quickstart.yaml")
    failing = ["failures.node.mtbf=100h", "failures.node.repair=3h", "check_invariants=true"]
    runs = [
        simulator.run("scenarios/quickstart.yaml", overrides=failing + extra, record_events=True)
        for extra in (
            [],
            ["scheduler.policy=sjf", "failures.checkpoint.interval=30m"],
            ["workload.training.0.count=100", "workload.training.0.arrival.poisson.rate=1/h"],
        )
    ]
    end = min(r.summary["window_end_s"] for r in runs)  # a run ends when its jobs are done
    downs = [r.events[r.events.event == "node_down"][["t_s", "detail"]] for r in runs]
    downs = [d[d.t_s <= end].values.tolist() for d in downs]
    assert len(downs[0]) > 3 and downs[0] == downs[1] == downs[2]
    for r in runs[:2]:
        for column in ("submit_s", "gpus", "duration_s"):
            assert r.jobs[column].equals(base.jobs[column])
    assert runs[0].summary["failures"]["job_interruptions"] > 0
    assert base.summary["failures"] is None


def test_down_gpus_series_follows_failures_and_repairs():
    spec = one_job(cluster(nodes=2, node={"mtbf": 5 * H, "repair": "30m"}), 20.0)
    r = simulator.run(spec, record_events=True)
    log = r.events
    downs = log[log.event == "node_down"].t_s.tolist()
    ups = log[log.event == "node_up"].t_s.tolist()
    assert len(downs) >= 2 and ups == pytest.approx([t + 1800 for t in downs[: len(ups)]])
    s = r.series[r.series.metric == "down_gpus"]
    level = lambda t: s.value[s.t_s <= t].iloc[-1]  # noqa: E731
    for t in downs:
        assert level(t) >= 8
    assert r.summary["failures"]["mttr_s"] == pytest.approx(1800)


@pytest.mark.parametrize(
    "failures, path, needle",
    [
        ({"gpu": {"mtbf": 0, "repair": "1h"}}, "failures.gpu.mtbf", "must be > 0"),
        (
            {"node": {"mtbf": "1h", "repair": "1h", "weibull_shape": 0}},
            "failures.node.weibull_shape",
            "greater than 0",
        ),
        (
            {"checkpoint": {"interval": "young_daly", "cost": "1m"}},
            "failures",
            "needs a gpu, node, nic, rack or power failure rate",
        ),
        ({"node": {"mtbf": "1h"}}, "failures.node.repair", "required key is missing"),
        (
            {"nic": {"mtbf": "1h", "repair": {"exponential": {"mean": "400d"}}}},
            "failures.nic.repair",
            "longer than the horizon",
        ),
        ({"nic": {"mtbf": "catalog", "repair": "1h"}}, "failures.nic.mtbf", "no failure rate"),
    ],
)
def test_bad_failure_settings_exit_2_with_their_path(tmp_path, capsys, failures, path, needle):
    import yaml

    f = tmp_path / "bad.yaml"
    spec = tiny(horizon="30d")
    spec["failures"] = failures
    f.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: " in err[0] and needle in err[0], err


# ---------------------------------------------------------------- correlated, crews, lemons


def running_at(log, t):
    """Replay the event log: the nodes of each job running just before ``t``."""
    nodes = {}
    for when, event, job, detail in log.itertuples(index=False):
        if when >= t:
            break
        if event == "start":
            nodes[job] = {int(part.split(":")[0]) for part in detail.split(",")}
        elif event in ("finish", "preempt", "job_interrupted"):
            nodes.pop(job, None)
    return nodes


def test_a_rack_failure_interrupts_exactly_the_jobs_on_its_nodes():
    # 2 racks of 2 nodes, one 8-GPU job per node and two 4-GPU jobs sharing node 3; the
    # first rack failure stops the jobs on that rack's nodes and no other, and its nodes
    # come back together after the 3 h repair
    spec = cluster(rack={"mtbf": 50 * H, "repair": "3h"})
    spec["cluster"]["datacenters"][0]["node_groups"][0]["nodes_per_rack"] = 2
    sizes = [8, 8, 8, 4, 4]
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [0.0]}, "gpus": g, "duration": 5000 * H}
        for i, g in enumerate(sizes)
    ]
    spec["horizon"] = 400 * H
    log = simulator.run(spec, record_events=True).events
    downs = log[(log.event == "node_down") & log.detail.str.endswith(":rack")]
    assert len(downs) >= 2
    t = downs.t_s.iloc[0]
    down = {int(d.split(":")[0]) for d in downs[downs.t_s == t].detail}
    assert down in ({0, 1}, {2, 3})
    expected = {job for job, on in running_at(log, t).items() if on & down}
    interrupted = set(log[(log.event == "job_interrupted") & (log.t_s == t)].job_id)
    assert interrupted == expected and len(expected) == (2 if down == {0, 1} else 3)
    ups = log[(log.event == "node_up") & (log.t_s > t)]
    assert {int(n) for n in ups[ups.t_s == ups.t_s.iloc[0]].detail} == down
    assert ups.t_s.iloc[0] == pytest.approx(t + 3 * H)


def test_one_repair_crew_repairs_one_incident_at_a_time():
    spec = one_job(cluster(nodes=8, node={"mtbf": 4 * H, "repair": "2h"}, repair_crews=1), 5000)
    spec["horizon"] = 300 * H
    r = simulator.run(spec, record_events=True)
    ups = r.events[r.events.event == "node_up"].t_s.to_numpy()
    assert len(ups) > 20 and (np.diff(ups) >= 2 * H - 1e-6).all()  # one 2 h repair after another
    unlimited = simulator.run({**spec, "failures": {"node": spec["failures"]["node"]}})
    assert unlimited.summary["failures"]["mttr_s"] == pytest.approx(2 * H)
    assert r.summary["failures"]["mttr_s"] > 2 * H  # waits for the crew count


def test_lemon_nodes_fail_factor_times_as_often():
    # 400 nodes, a tenth of them lemons failing 10x as often; repairs of a minute
    spec = cluster(
        nodes=400,
        node={"mtbf": 500 * H, "repair": "1m"},
        lemons={"fraction": 0.1, "factor": 10},
    )
    spec["check_invariants"] = False
    spec = one_job(spec, 10_000)
    spec["horizon"] = 2000 * H
    r = simulator.run(spec, record_events=True)
    log = r.events
    per_node = np.bincount(
        [int(d.split(":")[0]) for d in log[log.event == "node_down"].detail], minlength=400
    )
    from simulator.build import build, resolve

    world = build(resolve(spec))
    world.sim.run()
    lemon = world.sim.parts[0].report()["lemon"]
    assert stats.binom.ppf(0.0005, 400, 0.1) <= lemon.sum() <= stats.binom.ppf(0.9995, 400, 0.1)
    # expected failures: 4 per normal node, 40 per lemon over 2000 h
    assert per_node[~lemon].mean() == pytest.approx(4, rel=0.15)
    assert per_node[lemon].mean() == pytest.approx(40, rel=0.15)


# ---------------------------------------------------------------- failure traces


def test_a_failure_trace_is_replayed_exactly(tmp_path):
    # node 1 fails at 1 h for 2 h, rack 1 (nodes 2 and 3) at 4 h for 30 min: the downs, the
    # ups and the jobs interrupted are exactly those (nothing else fails)
    trace = tmp_path / "failures.csv"
    trace.write_text("time,component,duration\n3600,node:g:1,7200\n14400,rack:g:1,1800\n")
    spec = cluster(trace=str(trace))
    spec["cluster"]["datacenters"][0]["node_groups"][0]["nodes_per_rack"] = 2
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [0.0]}, "gpus": 8, "duration": 10 * H}
        for i in range(4)
    ]
    r = simulator.run(spec, record_events=True)
    log = r.events
    rows = log[log.event.isin(["node_down", "node_up", "job_interrupted"])]
    assert rows[["t_s", "event", "job_id", "detail"]].values.tolist() == [
        [3600.0, "job_interrupted", 1, ""],
        [3600.0, "node_down", -1, "1:node"],
        [10800.0, "node_up", -1, "1"],
        [14400.0, "job_interrupted", 2, ""],
        [14400.0, "node_down", -1, "2:rack"],
        [14400.0, "job_interrupted", 3, ""],
        [14400.0, "node_down", -1, "3:rack"],
        [16200.0, "node_up", -1, "2"],
        [16200.0, "node_up", -1, "3"],
    ]
    starts = log[log.event == "start"][["t_s", "job_id", "detail"]].values.tolist()
    assert starts[4:] == [[10800.0, 1, "1:8"], [16200.0, 2, "2:8"], [16200.0, 3, "3:8"]]
    assert r.summary["failures"]["component_failures"] == {"node": 1, "rack": 1}
    assert r.summary["failures"]["mttr_s"] == pytest.approx((7200 + 1800) / 2)


def test_detection_time_is_held_with_the_restart(tmp_path):
    # node 0 fails at 1 h: the 2 h job (no checkpoints) loses its hour, restarts at once on
    # node 1 and holds it 5 min (detection) + 10 min (restore) before it progresses again
    trace = tmp_path / "failures.csv"
    trace.write_text("time,component,duration\n3600,nic:g:0,7200\n")
    spec = one_job(cluster(nodes=2, trace=str(trace), detect="5m"), 2.0)
    spec["scheduler"] = {"restart": {"restore": "10m"}}
    r = simulator.run(spec, record_events=True)
    j = r.jobs
    assert j["end_s"][0] == pytest.approx(H + 900 + 2 * H)
    assert j["lost_work_s"][0] == pytest.approx(H + 900)
    starts = r.events[r.events.event == "start"][["t_s", "detail"]].values.tolist()
    assert starts == [[0.0, "0:8"], [H, "1:8"]]
    assert r.summary["failures"]["component_failures"] == {"nic": 1}


def test_nic_failures_take_nodes_down_at_nics_times_the_rate():
    # 4 nodes of 8 NICs, each NIC's MTBF 400 h, repairs of a second: 4 x 8 / 400 failures an
    # hour, so over 2,000 h the count is Poisson of mean 160 (95% interval, pooled over seeds;
    # a job that outlasts the horizon keeps the run going)
    counts = []
    for seed in range(5):
        spec = one_job(cluster(nic={"mtbf": 400 * H, "repair": 1.0}), 10_000)
        spec["cluster"]["datacenters"][0]["node_groups"][0]["node"]["nics"] = 8
        spec["horizon"], spec["seed"] = 2000 * H, seed
        counts.append(simulator.run(spec).summary["failures"]["component_failures"]["nic"])
    lo, hi = stats.poisson.interval(0.95, 5 * 160)
    assert lo <= sum(counts) <= hi


def test_bad_failure_trace_rows_are_reported_with_their_line(tmp_path, capsys):
    import yaml

    trace = tmp_path / "failures.csv"
    trace.write_text(
        "time,component,duration\n"
        "10,node:g:0,60\n"
        "5,node:g:1,60\n"  # line 3: before line 2's time
        "20,node:g:9,60\n"  # line 4: the group has 2 nodes
        "30,switch:g:0,60\n"  # line 5: no such class
        "40,node:g:0,-1\n"  # line 6: negative repair
    )
    f = tmp_path / "bad.yaml"
    spec = tiny(nodes=2)
    spec["failures"] = {"trace": "failures.csv"}  # relative to the scenario file
    f.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ")[1].rsplit(":", 1)[1] for line in err] == ["3", "4", "5", "6"], err
    assert all(str(trace) in line for line in err)
    assert "time order" in err[0] and "names no component" in err[1] and "names no" in err[2]
    assert "duration" in err[3]


# ---------------------------------------------------------------- hot spares


def test_a_hot_spare_replaces_the_failed_node_and_the_job_goes_on_at_once(tmp_path):
    # 3 nodes, the last a hot spare; job A (16 GPUs, 5 h, checkpoints every hour) on nodes 0
    # and 1, job B (8 GPUs) waiting: the spare is not scheduled. Node 0 fails at 1.5 h for
    # 10 h: A goes back to its 1 h checkpoint and goes on on nodes 2 and 1 after a 5-minute
    # restore, without queueing; the repaired node 0 becomes the spare
    trace = tmp_path / "failures.csv"
    trace.write_text("time,component,duration\n5400,node:g:0,36000\n")
    spec = cluster(nodes=3, trace=str(trace), hot_spares={"g": 1}, checkpoint={"interval": "1h"})
    spec["workload"]["training"] = [
        {"name": "a", "arrival": {"times": [0.0]}, "gpus": 16, "duration": 5 * H},
        {"name": "b", "arrival": {"times": [0.0]}, "gpus": 8, "duration": 12 * H},
    ]
    spec["scheduler"] = {"restart": {"restore": 300}}
    r = simulator.run(spec, record_events=True)
    log = r.events[r.events.event != "submit"]
    assert log[["t_s", "event", "job_id", "detail"]].values.tolist() == [
        [0.0, "start", 0, "0:8,1:8"],
        [5400.0, "job_interrupted", 0, "spare 0->2"],
        [5400.0, "node_down", -1, "0:node"],
        [5400.0 + 300 + 4 * H, "finish", 0, ""],
        [5400.0 + 300 + 4 * H, "start", 1, "1:8"],
        [5400.0 + 10 * H, "node_up", -1, "0:spare"],
        [5400.0 + 300 + 16 * H, "finish", 1, ""],
    ]
    a = r.jobs.iloc[0]
    assert a.interruptions == 1 and a.restarts == 1 and a.preemptions == 0
    assert a.lost_work_s == pytest.approx(1800 + 300)  # half an hour redone, the restore
    assert r.summary["failures"]["spare_swaps"] == 1


def test_spare_groups_must_exist_and_have_the_nodes(tmp_path, capsys):
    import yaml

    f = tmp_path / "bad.yaml"
    spec = tiny(nodes=2)
    spec["failures"] = {"hot_spares": {"g": 3, "h": 1}}
    f.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert "failures.hot_spares.g: 3 spares, but the group has 2 nodes" in err[0]
    assert "failures.hot_spares.h: no node group 'h'" in err[1]


def test_catalog_failure_rates_are_the_cited_figures():
    # Llama 3 (table 5): 246 GPU faults and 173 other interruptions in 54 days on 2,048 DGX
    # H100; RSC-1: 6.50 failures per 1,000 node-days
    assert catalog.chip("h100-sxm").mtbf_h == pytest.approx(86_316, rel=1e-4)
    assert catalog.node_template("dgx-h100").host_mtbf_h == pytest.approx(15_342, rel=1e-4)
    assert catalog.node_template("dgx-a100").host_mtbf_h == pytest.approx(3_692, rel=1e-3)
    # a 16,384-GPU job at the catalog's H100 rates sees 419 interruptions per 54 days
    mtbf = reliability.job_mtbf_s(16384, 8, 86_316 * H, 15_342 * H)
    assert 54 * 24 * H / mtbf == pytest.approx(419, rel=1e-3)
    spec, by_hand = llama3_run(0), llama3_run(0)
    spec["failures"] = {"gpu": {"mtbf": "catalog", "repair": "1m"}}
    by_hand["failures"] = {"gpu": {"mtbf": 16384 * 54 * 24 * H / 246, "repair": "1m"}}
    got, want = (simulator.run(s).summary["failures"] for s in (spec, by_hand))
    assert got["component_failures"] == want["component_failures"]  # the same draws
    assert got["job_interruptions"] == want["job_interruptions"]
    assert got["redone_gpu_h"] == pytest.approx(want["redone_gpu_h"], rel=1e-12)


def test_catalog_rates_must_exist_for_every_node_group(tmp_path, capsys):
    import yaml

    f = tmp_path / "bad.yaml"
    spec = tiny()  # an inline h100-sxm node: a GPU rate, no host rate
    spec["failures"] = {
        "gpu": {"mtbf": "catalog", "repair": "1h"},
        "node": {"mtbf": "catalog", "repair": "1h"},
    }
    f.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "failures.node.mtbf: the catalog has no failure rate" in err[0], err


@pytest.mark.parametrize("within, b_starts", [(None, H + 120), ("1h", 2.5 * H)])
def test_placement_can_keep_jobs_off_recently_failed_nodes(tmp_path, within, b_starts):
    # node 0 fails at 1 h and is back a minute later; job a moves to node 1. Job b (8 GPUs,
    # at 1 h 2 min) takes node 0 at once, unless the placement skips nodes that failed in
    # the last hour: then it waits for the pass at 2 h 30 min (job c's arrival)
    trace = tmp_path / "failures.csv"
    trace.write_text("time,component,duration\n3600,node:g:0,60\n")
    spec = cluster(nodes=2, trace=str(trace))
    spec["workload"]["training"] = [
        {"name": n, "arrival": {"times": [t]}, "gpus": g, "duration": 10 * H}
        for n, t, g in (("a", 0.0, 8), ("b", H + 120, 8), ("c", 2.5 * H, 1))
    ]
    filters = {} if within is None else {"failed_within": within}
    spec["scheduler"] = {"placement": {"name": "filter_weigh", "params": {"filters": filters}}}
    r = simulator.run(spec, record_events=True)
    starts = r.events[r.events.event == "start"][["t_s", "job_id", "detail"]].values.tolist()
    assert starts[:3] == [[0.0, 0, "0:8"], [H, 0, "1:8"], [b_starts, 1, "0:8"]]


def test_a_power_domain_failure_takes_down_exactly_its_racks():
    # 4 racks of one node, power domains of 2 racks: every power failure takes down nodes
    # {0, 1} or {2, 3} at one instant, and the count is Poisson (2 domains x 200 h / 20 h)
    spec = cluster(power={"mtbf": 20 * H, "repair": "1h", "racks": 2})
    spec["cluster"]["datacenters"][0]["node_groups"][0]["nodes_per_rack"] = 1
    spec["horizon"] = 200 * H
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [0.0]}, "gpus": 8, "duration": 1000 * H}
        for i in range(4)
    ]
    r = simulator.run(spec, record_events=True)
    downs = r.events[r.events.event == "node_down"]
    assert set(downs.detail.str.split(":").str[1]) == {"power"}
    by_time = downs.groupby("t_s").detail.apply(lambda d: {int(x.split(":")[0]) for x in d})
    assert all(nodes in ({0, 1}, {2, 3}) for nodes in by_time)
    count = r.summary["failures"]["component_failures"]["power"]
    assert count == len(by_time)
    # (down time is short against the lifetimes: about 2 x 200 / 21 failures)
    lo, hi = stats.poisson.interval(0.999, 2 * 200 / 21)
    assert lo <= count <= hi


def test_shrink_keeps_an_elastic_job_on_its_surviving_nodes(tmp_path):
    # a 16-GPU elastic job (8..16, linear scaling) of 4 h on 2 nodes; node 1 fails at 1 h
    # for 1 h. It shrinks to node 0 at once (no checkpoint: its first hour is lost), restores
    # 10 min, does 50 min at half speed (25 min of work), grows back when node 1 is up at
    # 2 h, pays 10 min more and does the other 3 h 35 min at full speed: done at 5 h 45 min
    trace = tmp_path / "failures.csv"
    trace.write_text("time,component,duration\n3600,node:g:1,3600\n")
    spec = cluster(nodes=2, trace=str(trace), on_failure="shrink")
    spec["workload"]["training"] = [
        {
            "name": "e",
            "arrival": {"times": [0.0]},
            "gpus": 16,
            "duration": 4 * H,
            "elastic": {"min_gpus": 8, "max_gpus": 16},
        }
    ]
    spec["scheduler"] = {"restart": {"restore": "10m"}}
    r = simulator.run(spec, record_events=True)
    log = [(t, e, d) for t, e, _, d in r.events.itertuples(index=False) if e != "submit"]
    assert (H, "job_interrupted", "16->8") in log
    assert not any(e in ("preempt", "start") and t == H for t, e, _ in log)
    assert (2 * H, "resize", "8->16") in log
    assert r.jobs["end_s"][0] == pytest.approx(5.75 * H)
    assert r.jobs["interruptions"][0] == 1
    # held GPU-time: 1 h x 16 + 1 h x 8 + 3 h 45 min x 16
    assert r.jobs["gpu_service_s"][0] == pytest.approx((16 + 8 + 3.75 * 16) * H)
