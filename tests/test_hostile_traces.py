"""Hostile traces and throughput tables: bad bytes, blank lines, header-only files, impossible
rows and malformed JSON are reported with the file and the true line (or skipped and counted
with ``on_error: skip``); zero kept jobs is an empty but valid run."""

from __future__ import annotations

import json

import pytest
import yaml

import simulator
from simulator.cli import main
from simulator.scenario import ScenarioError
from simulator.scenario.workload import TraceSpec
from simulator.workload import traces

from .conftest import ROOT, tiny

PHILLY_HEADER = "timestamp,duration,num_gpus,gpu_time,cluster\n"


def problems(fmt, path, **options) -> list[str]:
    with pytest.raises(ScenarioError) as e:
        traces.read(TraceSpec(format=fmt, path=str(path), **options))
    return str(e.value).splitlines()


def test_blank_lines_do_not_shift_reported_lines_and_bad_bytes_spoil_only_their_row(tmp_path):
    path = tmp_path / "philly.csv"
    path.write_bytes(
        PHILLY_HEADER.encode()
        + b"0,10,1,10,a\n"  # line 2
        + b"\n"  # 3: blank
        + b"   \n"  # 4: blank
        + b"5,inf,2,20,b\n"  # 5: infinite run time
        + b"\n"  # 6
        + b"7,10,1e30,10,c\n"  # 7: absurd GPU count
        + b"8,\xff\xfe1,1,1,c\n"  # 8: not UTF-8
        + b"9,-1,1,1,c\n"  # 9: negative run time
        + b"10,5,2,10,\xff\n"  # 10: bad bytes in a text column: kept (replacement char)
    )
    assert problems("philly", path) == [
        f"{path}:5: column duration: 'inf' is not a finite number (0 <= x <= 1e+10)",
        f"{path}:7: column num_gpus: '1e30' is not an integer (1 <= x <= 1e+06)",
        f"{path}:8: column duration: '\ufffd\ufffd1' is not a finite number (0 <= x <= 1e+10)",
        f"{path}:9: column duration: '-1' is not a finite number (0 <= x <= 1e+10)",
    ]
    t = traces.read(TraceSpec(format="philly", path=str(path), on_error="skip"))
    assert t.skipped == 4 and t.submit_s.tolist() == [0.0, 10.0]
    assert t.vc.tolist() == ["a", "\ufffd"]


def test_openb_pods_scheduled_after_deletion_are_malformed(tmp_path):
    path = tmp_path / "openb.csv"
    header = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    header += "creation_time,deletion_time,scheduled_time\n"
    path.write_text(
        header
        + "p1,1000,100,1,1000,,LS,Succeeded,0,100,10\n"
        + "p2,1000,100,1,1000,,LS,Succeeded,0,100,150\n"  # scheduled after deletion
        + "p3,1000,100,1,1000,,LS,Succeeded,50,100,10\n"  # scheduled before creation
    )
    assert problems("openb", path) == [
        f"{path}:3: column scheduled_time: scheduled after deletion",
        f"{path}:4: column scheduled_time: scheduled before creation",
    ]
    t = traces.read(TraceSpec(format="openb", path=str(path), on_error="skip"))
    assert t.duration_s.tolist() == [90.0] and t.skipped == 2


def test_pai_with_bad_bytes_and_absurd_gpu_requests(tmp_path):
    jobs, tasks = tmp_path / "job.csv", tmp_path / "task.csv"
    jobs.write_bytes(b"j1,i1,al\xffice,Terminated,100,400\nj2,i2,bob,Terminated,150,250\n")
    tasks.write_bytes(
        b"j1,worker,2,Terminated,100,400,600,29.0,100,V100\n"
        b"j2,worker,1e30,Terminated,150,250,600,29.0,1e30,T4\n"
    )
    lines = problems("pai", jobs, tasks=str(tasks))
    assert lines == [
        f"{tasks}:2: column inst_num: '1e30' is not a finite number (0 <= x <= 100000)",
        f"{tasks}:2: column plan_gpu: '1e30' is not a finite number (0 <= x <= 100000)",
    ]
    t = traces.read(TraceSpec(format="pai", path=str(jobs), tasks=str(tasks), on_error="skip"))
    assert t.gpus.tolist() == [2] and t.vc.tolist() == ["al\ufffdice"]


def test_philly_json_with_bad_bytes_is_invalid_json_at_its_line(tmp_path):
    path = tmp_path / "log.json"
    path.write_bytes(b'[\n{"jobid": "a",\n "vc": "\xff\n')
    (line,) = problems("philly_json", path)
    assert line.startswith(f"{path}:3: <top level>: invalid JSON")


def gavel_trace(tmp_path, table) -> tuple[str, str]:
    throughputs = tmp_path / "throughputs.json"
    throughputs.write_text(table if isinstance(table, str) else json.dumps(table))
    trace = tmp_path / "jobs.trace"
    trace.write_text("ResNet-18\tcmd\tdir\t--steps\t1\t1000\t1\t1\t-1\t0\n")
    return str(trace), str(throughputs)


@pytest.mark.parametrize(
    "table, fragment",
    [
        ("{not json", "throughputs.json:1: <top level>: invalid JSON"),
        ([1, 2], "expected {chip:"),
        ({"v100": {"odd key": {"null": 1.0}}}, "v100.odd key: key is not ('<job type>', <GPUs>)"),
        ({"v100": {"('ResNet-18', 1)": {"other": 1.0}}}, 'needs "null": steps/s alone'),
        ({"v100": {"('ResNet-18', 1)": {"null": -3.0}}}, "null: must be >= 0, got -3.0"),
        ({"v100": {"('ResNet-18', 1)": {"null": 0.0}}}, "no measured speed for ResNet-18 x1"),
        ({"k80": {"('ResNet-18', 1)": {"null": 1.0}}}, "no chip 'v100'; known: k80"),
    ],
    ids=["bad_json", "a_list", "odd_key", "no_null", "negative_speed", "zero_speed", "no_chip"],
)
def test_gavel_throughputs_are_checked_against_their_shape(tmp_path, capsys, table, fragment):
    trace, throughputs = gavel_trace(tmp_path, table)
    spec = tiny()
    spec["workload"] = {"trace": {"format": "gavel", "path": trace, "throughputs": throughputs}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("error: ") for line in err) and any(fragment in e for e in err)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_a_valid_gavel_table_gives_positive_run_times(tmp_path):
    trace, throughputs = gavel_trace(tmp_path, {"v100": {"('ResNet-18', 1)": {"null": 4.0}}})
    t = traces.read(TraceSpec(format="gavel", path=trace, throughputs=throughputs))
    assert t.duration_s.tolist() == [250.0]


@pytest.mark.parametrize(
    "trace_options",
    [
        {"header_only": True},
        {"window": {"end": 0}},
        {"limit": 0},
        {"window": {"start": "1000d"}},
    ],
    ids=["header_only", "window_end_0", "limit_0", "window_after_the_trace"],
)
def test_zero_kept_jobs_is_an_empty_but_valid_run(tmp_path, capsys, trace_options):
    path = tmp_path / "philly.csv"
    header_only = trace_options.pop("header_only", False)
    path.write_text(PHILLY_HEADER + ("" if header_only else "0,10,1,10,a\n5,20,2,40,b\n"))
    spec = tiny()
    spec["workload"] = {"trace": {"format": "philly", "path": str(path), **trace_options}}
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["validate", str(scenario)]) == 0
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs_submitted"] == 0 and summary["mean_jct_s"] is None
    assert summary["makespan_s"] is None and summary["p99_wait_s"] is None
    results = simulator.Results.load(out)
    assert len(results.jobs) == 0 and "jct_s" in results.jobs.columns
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "jct_wait_cdf.png",
        "utilization_queue.png",
    ]
    t, v = results.level("busy_gpus")
    assert len(t) == len(v)
    check = ROOT.parent / "shared" / "tools" / "check_outputs.py"
    if check.exists():
        import subprocess
        import sys

        done = subprocess.run([sys.executable, str(check), str(out)], capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_filters_naming_nothing_in_the_trace_are_errors(tmp_path):
    path = tmp_path / "philly.csv"
    path.write_text(PHILLY_HEADER + "0,10,1,10,vc1\n5,20,2,40,vc2\n")
    spec = TraceSpec(format="philly", path=str(path), vcs=["vc1", "vcl"])
    with pytest.raises(ScenarioError, match=r"workload.trace.vcs: the trace has no 'vcl'; it has"):
        traces.select(traces.read(spec), spec, None)


def test_zero_job_synthetic_runs(tmp_path, capsys):
    for change in ("count", "after_horizon"):
        spec = tiny(horizon=10.0)
        for stream in spec["workload"]["training"]:
            if change == "count":
                stream["count"] = 0
            else:
                stream["arrival"] = {"times": [100.0]}
        scenario = tmp_path / "s.yaml"
        scenario.write_text(yaml.safe_dump(spec))
        out = tmp_path / "out"
        assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
        assert json.loads((out / "summary.json").read_text())["jobs_submitted"] == 0
