"""Trace readers on small fixtures written here (including malformed ones) and on the shared
production traces (row counts and GPU-second totals equal to the files' own sums)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import simulator
from simulator.cli import main
from simulator.scenario import ScenarioError
from simulator.scenario.workload import TraceSpec
from simulator.workload import traces
from simulator.workload.traces.clusters import openb_node_groups, philly_node_groups

from .conftest import ROOT, SHARED, tiny

TRACES = SHARED / "data" / "traces"


def read(fmt, path, **options):
    return traces.read(TraceSpec(format=fmt, path=str(path), **options))


def replay(trace, **cluster):
    spec = tiny(**cluster)
    spec["workload"] = {"trace": trace}
    return simulator.run(spec)


# ---------------------------------------------------------------- fixtures written here


def test_philly_csv_fixture_and_malformed_rows(tmp_path):
    path = tmp_path / "philly.csv"
    path.write_text(
        "timestamp,duration,num_gpus,gpu_time,cluster\n"
        "2017-10-09 07:00:00,60,1,60,vcA\n"
        "2017-10-09 07:00:30,abc,2,0,vcB\n"  # line 3: bad duration
        "2017-10-09 07:01:00,30,0,0,vcA\n"  # line 4: no GPUs
        "2017-10-09 07:02:00,10,4,40,vcB\n"
    )
    with pytest.raises(ScenarioError) as e:
        read("philly", path)
    lines = str(e.value).splitlines()
    assert lines == [
        f"{path}:3: column duration: 'abc' is not a finite number (0 <= x <= 1e+10)",
        f"{path}:4: column num_gpus: '0' is not an integer (1 <= x <= 1e+06)",
    ]
    t = read("philly", path, on_error="skip")
    assert t.skipped == 2 and t.gpus.tolist() == [1, 4] and t.vc.tolist() == ["vcA", "vcB"]
    assert t.submit_s[1] - t.submit_s[0] == 120.0
    r = replay({"format": "philly", "path": str(path), "on_error": "skip"})
    assert r.summary["trace_rows_skipped"] == 2
    assert r.jobs["stream"].tolist() == ["vcA", "vcB"]  # one stream per VC


def test_missing_column_names_the_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("job_id,num_gpu,submit_time,duration\n0,1,0,5\n")
    t = read("tiresias", path)  # iterations, model_name, interval are not needed
    assert t.duration_s.tolist() == [5.0]
    path.write_text("job_id,gpus,submit_time,duration\n0,1,0,5\n")
    with pytest.raises(ScenarioError, match=r"t.csv:1: header: missing column\(s\) num_gpu"):
        read("tiresias", path)


def test_a_malformed_trace_exits_2_with_one_line_per_problem(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("job_id,num_gpu,submit_time,duration\n0,1,0,5\n1,x,3,5\n2,1,-4,5\n")
    scenario = tmp_path / "s.yaml"
    spec = tiny()
    spec["workload"] = {"trace": {"format": "tiresias", "path": "bad.csv"}}
    scenario.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {bad}:3: column num_gpu: 'x' is not an integer (1 <= x <= 1e+06)",
        f"error: {bad}:4: column submit_time: '-4' is not a finite number (0 <= x <= 1e+10)",
    ]
    assert not out.exists()


def test_helios_drops_cpu_jobs_and_keeps_recorded_waits(tmp_path):
    path = tmp_path / "cluster_log.csv"
    path.write_text(
        "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,"
        "duration,queue\n"
        "a,u1,vc1,8,32,1,COMPLETED,1000,1100,1400,300,100\n"
        "b,u2,vc2,0,4,1,COMPLETED,1010,1010,1020,10,0\n"
        "c,u1,vc1,2,8,1,FAILED,1020,1300,1350,50,280\n"
    )
    t = read("helios", path)
    assert t.ignored == {"cpu-only": 1} and t.gpus.tolist() == [8, 2]
    r = replay({"format": "helios", "path": str(path), "states": ["COMPLETED"]})
    assert len(r.jobs) == 1 and r.jobs["trace_wait_s"][0] == 100.0


def test_pai_sums_task_gpus_and_keeps_fractions(tmp_path):
    jobs, tasks = tmp_path / "pai_job_table.csv", tmp_path / "pai_task_table.csv"
    jobs.write_text(  # released without a header line
        "j1,i1,alice,Terminated,100,400\nj2,i2,bob,Terminated,150,250\nj3,i3,bob,Running,160,\n"
        "j4,i4,carol,Terminated,170,270\n"
    )
    tasks.write_text(
        "j1,worker,2,Terminated,100,400,600,29.0,100,V100\n"
        "j1,ps,1,Terminated,100,400,600,29.0,,\n"
        "j2,worker,1,Terminated,150,250,600,29.0,50,T4\n"
        "j3,worker,1,Running,160,,600,29.0,100,P100\n"
        "j4,worker,1,Terminated,170,270,600,29.0,,\n"
    )
    t = read("pai", jobs, tasks=str(tasks))
    assert t.ignored == {"cpu-only": 1, "no end time": 1}
    assert t.gpus.tolist() == [2, 1] and t.gpu_milli.tolist() == [1000, 500]
    assert t.duration_s.tolist() == [300.0, 100.0] and t.gpu_type.tolist() == ["V100", "T4"]


def test_philly_json_is_streamed_job_by_job(tmp_path, monkeypatch):
    log = [
        {
            "status": "Pass",
            "vc": "vc1",
            "jobid": "a",
            "user": "u",
            "submitted_time": "2017-10-03 00:00:00",
            "attempts": [
                {
                    "start_time": "2017-10-03 00:01:00",
                    "end_time": "2017-10-03 00:02:00",
                    "detail": [{"ip": "m1", "gpus": ["gpu0", "gpu1"]}],
                },
                {
                    "start_time": "2017-10-03 00:05:00",
                    "end_time": "2017-10-03 00:05:30",
                    "detail": [{"ip": "m2", "gpus": ["gpu0", "gpu1"]}],
                },
            ],
        },
        {
            "status": "Killed",
            "vc": "vc2",
            "jobid": "b",
            "submitted_time": "2017-10-03 00:00:10",
            "attempts": [],
        },
        {
            "status": "Pass",
            "vc": "vc2",
            "jobid": "c",
            "submitted_time": "2017-10-03 00:00:20",
            "attempts": [
                {
                    "start_time": "2017-10-03 00:00:30",
                    "end_time": "None",
                    "detail": [{"ip": "m1", "gpus": ["gpu3"]}],
                }
            ],
        },
    ]
    path = tmp_path / "cluster_job_log"
    path.write_text(json.dumps(log, indent=1))
    from simulator.workload.traces import philly_json as readers

    original = readers._json_array  # tiny chunks: elements cut across reads
    monkeypatch.setattr(readers, "_json_array", lambda p: original(p, chunk=64))
    with pytest.raises(ScenarioError, match=r"job c: malformed"):
        read("philly_json", path)
    t = read("philly_json", path, on_error="skip")
    assert t.skipped == 1 and t.ignored == {"never started": 1}
    assert t.gpus.tolist() == [2] and t.duration_s.tolist() == [90.0]  # 60 s + 30 s
    assert t.start_s[0] - t.submit_s[0] == 60.0 and t.state.tolist() == ["Pass"]


def test_gavel_trace_turns_steps_into_time_at_the_reference_speed():
    path = TRACES / "gavel" / "small_test.trace"
    tput = SHARED / "data/profiles/gavel_throughputs/simulation_throughputs.json"
    t = read("gavel", path, throughputs=str(tput))
    rows = pd.read_csv(path, sep="\t", header=None)
    measured = json.loads(tput.read_text())["v100"]
    first = measured[f"('{rows[0][0]}', {rows[6][0]})"]["null"]
    assert len(t) == len(rows) and t.duration_s[0] == pytest.approx(rows[5][0] / first)
    with pytest.raises(ScenarioError, match="gavel needs throughputs"):
        read("gavel", path)


def test_pollux_needs_a_run_time_per_application():
    path = TRACES / "pollux_workloads" / "workload-1.csv"
    with pytest.raises(ScenarioError, match="no run time for application"):
        read("pollux", path)
    apps = set(pd.read_csv(path)["application"])
    t = read("pollux", path, durations={a: 3600 for a in apps})
    assert len(t) == 160 and (t.duration_s == 3600).all()


# ---------------------------------------------------------------- filters


def test_filters_sampling_and_time_compression(tmp_path):
    path = tmp_path / "h.csv"
    rows = [
        "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,"
        "duration,queue"
    ]
    for i in range(10):  # one job every 100 s, waits of 7 s, VCs alternate, GPUs 1..10
        rows.append(
            f"j{i},u,vc{i % 2},{i + 1},1,1,COMPLETED,{1000 + 100 * i},"
            f"{1007 + 100 * i},{1100 + 100 * i},93,7"
        )
    path.write_text("\n".join(rows) + "\n")
    base = {"format": "helios", "path": str(path)}
    rng = np.random.default_rng(0)

    def pick(**options):
        spec = TraceSpec(**base, **options)
        return traces.select(traces.read(spec), spec, rng)

    t = pick(window={"start": 200, "end": 600}, vcs=["vc0"], max_gpus=5)
    assert t.gpus.tolist() == [3, 5] and t.submit_s.tolist() == [0.0, 200.0]
    t = pick(time_scale=0.5, limit=3)
    assert t.submit_s.tolist() == [0.0, 50.0, 100.0]
    assert (t.start_s - t.submit_s).tolist() == [7.0, 7.0, 7.0]  # recorded waits kept
    a, b = (
        traces.select(
            traces.read(TraceSpec(**base, sample=0.5)),
            TraceSpec(**base, sample=0.5),
            np.random.default_rng(s),
        )
        for s in (1, 1)
    )
    assert len(a) == 5 and a.gpus.tolist() == b.gpus.tolist()  # seeded


# ---------------------------------------------------------------- the shared traces


def test_philly_shared_trace_rows_and_gpu_seconds():
    path = TRACES / "philly" / "philly_jobs.csv"
    t = read("philly", path)
    raw = pd.read_csv(path)
    assert len(t) == 82_247 == len(raw) and t.skipped == 0
    assert float((t.duration_s * t.gpus).sum()) == pytest.approx(raw["gpu_time"].sum(), rel=1e-12)
    assert len(set(t.vc)) == 15


def test_openb_shared_pod_lists_add_up():
    for name in ("default", "gpushare100"):
        path = TRACES / "alibaba_openb" / f"openb_pod_list_{name}.csv"
        raw = pd.read_csv(path)
        t = read("openb", path)
        assert len(t) + sum(t.ignored.values()) == len(raw)
        gpu = raw[(raw["num_gpu"] > 0) & raw["scheduled_time"].notna()]
        assert int(t.gpus.sum()) == int(gpu["num_gpu"].sum())
        assert float(t.duration_s.sum()) == pytest.approx(
            (gpu["deletion_time"] - gpu["scheduled_time"]).sum()
        )
        assert int((t.gpu_milli < 1000).sum()) == int((gpu["gpu_milli"] < 1000).sum())


def test_tiresias_replay_under_fifo_is_hand_checkable():
    # the first 5 jobs of 60_job.csv on one 8-GPU node, FIFO (submit, GPUs, duration):
    # 0 (0, 1, 164) runs 0-164; 1 (30, 8, 147) needs the whole node: 164-311;
    # 2 (53, 2, 127), 3 (79, 1, 121), 4 (99, 4, 121) wait behind it (no overtaking) and
    # all start at 311: 2 ends 438, 3 ends 432, 4 ends 432
    path = TRACES / "tiresias" / "60_job.csv"
    r = replay({"format": "tiresias", "path": str(path), "limit": 5}, gpus_per_node=8)
    ends = r.jobs.set_index("job_id")["end_s"].to_dict()
    assert ends == {0: 164.0, 1: 311.0, 2: 438.0, 3: 432.0, 4: 432.0}


def test_philly_cluster_component_matches_the_machine_list():
    groups = philly_node_groups(TRACES / "philly" / "cluster_machine_list.csv")
    component = yaml.safe_load((ROOT / "scenarios/components/philly_cluster.yaml").read_text())
    assert component["cluster"]["datacenters"][0]["node_groups"] == groups
    assert sum(g["count"] for g in groups) == 552
    assert sum(g["count"] * g["node"]["gpus"] for g in groups) == 2490


def test_philly_replay_scenario_runs_every_job():
    r = simulator.run(ROOT / "scenarios" / "philly_replay.yaml")
    assert r.summary["jobs_finished"] == 82_247
    assert r.summary["installed_gpus"] == 2490


# ---------------------------------------------------------------- clustersim trace stats


def test_trace_stats_on_a_hand_made_trace(tmp_path, capsys):
    path = tmp_path / "t.csv"
    rows = ["job_id,num_gpu,submit_time,duration"]
    # 4 jobs in the first hour, 1 in the third; GPUs 1,1,2,8,1; run times 10..50 s
    for i, (t, g) in enumerate([(0, 1), (600, 1), (1200, 2), (3000, 8), (7300, 1)]):
        rows.append(f"{i},{g},{t},{10 * (i + 1)}")
    path.write_text("\n".join(rows) + "\n")
    plots = tmp_path / "plots"
    assert (
        main(["trace", "stats", str(path), "--format", "tiresias", "--json", "--plot", str(plots)])
        == 0
    )
    s = json.loads(capsys.readouterr().out)
    assert s["jobs"] == 5 and s["span_s"] == 7300.0
    assert s["gpus_histogram"] == {"1": 3, "2": 1, "8": 1}
    assert s["arrivals_per_hour_peak"] == 4 and s["arrivals_per_hour_mean"] == 5 / 3
    assert s["p50_duration_s"] == 30.0 and s["max_duration_s"] == 50.0
    assert s["gpu_hours"] == pytest.approx((10 + 20 + 2 * 30 + 8 * 40 + 50) / 3600)
    assert sorted(p.name for p in plots.iterdir()) == [
        "arrivals_per_hour.png",
        "duration_cdf.png",
        "gpus_histogram.png",
    ]


def test_trace_stats_reads_the_azure_request_trace(capsys):
    path = TRACES / "azure_llm" / "AzureLLMInferenceTrace_conv.csv"
    assert main(["trace", "stats", str(path), "--format", "azure_llm", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    raw = pd.read_csv(path)
    assert s["requests"] == len(raw) == 19_366
    assert s["p50_output_tokens"] == float(raw["GeneratedTokens"].median())
    assert s["span_s"] < 3600  # one hour of requests


def test_openb_cluster_component_matches_the_node_list():
    groups, left_out = openb_node_groups(TRACES / "alibaba_openb/openb_node_list_gpu_node.csv")
    component = yaml.safe_load((ROOT / "scenarios/components/openb_cluster.yaml").read_text())
    assert component["cluster"]["datacenters"][0]["node_groups"] == groups
    assert left_out == {"G2": 549, "G3": 39}  # 1,213 machines in the list
    assert sum(g["count"] for g in groups) == 1213 - 549 - 39


def test_openb_fragmentation_scenario_replays_shares():
    r = simulator.run(ROOT / "scenarios" / "openb_fragmentation.yaml")
    jobs = r.jobs
    raw = pd.read_csv(TRACES / "alibaba_openb/openb_pod_list_default.csv")
    kept = raw[(raw["num_gpu"] > 0) & raw["scheduled_time"].notna()]
    kept = kept[kept["creation_time"] >= 10_000_000]  # the scenario's window (first pod at 0)
    assert r.summary["jobs_finished"] == len(jobs) == len(kept) == 6150
    assert (jobs["gpu_milli"] < 1000).sum() == (kept["gpu_milli"] < 1000).sum() == 2555
    assert jobs["trace_wait_s"].notna().all()  # every replayed pod has its recorded wait


# ---------------------------------------------------------------- GPU-model constraints


def test_gpu_model_constraints_limit_placement(tmp_path):
    path = tmp_path / "pods.csv"
    head = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    path.write_text(
        head + "deletion_time,scheduled_time\n"
        "p0,1000,1024,1,300,T4,LS,Running,0,100,0\n"  # a share, on a T4
        "p1,1000,1024,1,300,V100M16|V100M32,LS,Running,1,100,1\n"  # T4 share has room: no
        "p2,1000,1024,1,1000,G2,LS,Running,2,100,2\n"  # anonymised model: not replayed
        "p3,1000,1024,1,1000,,LS,Running,3,100,3\n"  # anywhere: first fit, the T4 node
    )
    spec = tiny()
    spec["cluster"]["datacenters"][0]["node_groups"] = [
        {"name": "t4", "node": {"chip": "t4", "gpus": 2}, "count": 1},
        {"name": "v100", "node": {"chip": "v100", "gpus": 1}, "count": 1},
    ]
    spec["workload"] = {"trace": {"format": "openb", "path": str(path)}}
    r = simulator.run(spec, record_events=True)
    starts = r.events[r.events["event"] == "start"].set_index("job_id")["detail"].to_dict()
    assert starts == {0: "0:1", 1: "1:1", 2: "0:1"}  # node 0: the T4s, node 1: the V100
    assert r.jobs["chips"].tolist() == ["t4", "v100", ""]
    assert len(read("openb", path).gpus) == 4  # the reader keeps it; select drops the G2 pod
    spec["cluster"]["datacenters"][0]["node_groups"].pop()  # no V100 any more
    with pytest.raises(ScenarioError, match="1 trace jobs may only run on v100"):
        simulator.run(spec)
