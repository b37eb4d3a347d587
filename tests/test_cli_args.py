"""Every command checks its arguments with the same contract (one line per problem, exit 2),
stops quietly when its reader goes away, and never prints NaN, Infinity or negative times."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import yaml

from simulator.cli import main

from .conftest import ROOT, SHARED, tiny

PHILLY = SHARED / "data" / "traces" / "philly" / "philly_jobs.csv"


def lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["step", "--model", "gpt-7b", "--batch", "512", "--tp", "0"], "--tp: must be an int"),
        (["step", "--model", "gpt-7b", "--batch", "512", "--pp", "0"], "--pp: must be an int"),
        (["step", "--model", "gpt-7b", "--batch=-512"], "--batch: must be a number in (0"),
        (["step", "--model", "gpt-7b", "--batch", "0"], "--batch: must be a number in (0"),
        (["step", "--model", "gpt-7b", "--batch", "nan"], "--batch: must be a number in (0"),
        (["step", "--model", "gpt-7b", "--batch", "8", "--overlap", "2"], "--overlap: must be"),
        (["step", "--model", "gpt-77b", "--batch", "8"], "--model: unknown model 'gpt-77b'"),
        (["step", "--model", "gpt-7b", "--batch", "8", "--chip", "h100"], "--chip: unknown chip"),
        (["step", "--model", "gpt-7b", "--batch", "8", "--chip", "alveo-u280"], "no mixed peak"),
        (["allreduce", "--size=-1MiB"], "--size must be in (0, 1PiB]"),
        (["allreduce", "--size", "0"], "--size must be in (0, 1PiB]"),
        (["allreduce", "--size", "4/h"], "is a rate, but a bytes is expected"),
        (["allreduce", "--size", "1MiB", "--gpus", "0"], "--gpus: must be an integer"),
        (["infer", "--model", "llama2-70b", "--tp", "1"], "needs 128.7 GiB but 1 devices hold"),
        (["infer", "--model", "llama2-70b", "--chip", "alveo-u280", "--tp", "1"], "no fp16"),
        (["infer", "--model", "resnet50"], "is not a transformer language model"),
        (["infer", "--model", "llama2-70b", "--batch", "0"], "--batch: must be an integer"),
    ],
)
def test_perf_arguments_are_checked(capsys, args, fragment):
    assert main(["perf", *args]) == 2
    err = lines(capsys)
    assert len(err) == 1 and err[0].startswith("error: clustersim perf"), err
    assert fragment in err[0], err


@pytest.mark.parametrize(
    "args",
    [
        ["allreduce", "--size", "1B", "--gpus", "2"],
        ["allreduce", "--size", "1PiB", "--gpus", "16", "--nodes", "2"],
        ["step", "--model", "gpt-7b", "--batch", "1e-6", "--gpus", "8"],
        ["infer", "--model", "llama2-70b", "--output", "0"],
    ],
)
def test_perf_json_is_strict_and_times_are_never_negative(capsys, args):
    assert main(["perf", *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    for key, value in out.items():
        if isinstance(value, float):
            assert math.isfinite(value) and value >= 0, (key, value)


def test_perf_calibrate_on_malformed_tables(tmp_path, capsys):
    (tmp_path / "profiles/nccl/a100_dgx").mkdir(parents=True)
    (tmp_path / "profiles/llm_inference").mkdir(parents=True)
    (tmp_path / "profiles/nccl/a100_dgx/all_reduce.csv").write_text("a,b\n1,2\n")
    (tmp_path / "profiles/llm_inference/perf_model_a100.csv").write_bytes(b"x\n\xff\n")
    assert main(["perf", "calibrate", "--data", str(tmp_path)]) == 2
    (line,) = lines(capsys)
    assert line.startswith(f"error: clustersim perf calibrate: cannot fit to {tmp_path}")


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny()))
    return path


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--placements", ",,"], "error: --placements: ,,: no names given"),
        (["--policies", " , "], "error: --policies:  , : no names given"),
        (["--axis", "horizon"], "error: --axis: horizon: expected KEY=V1,V2,..."),
        (["--axis", "horizon="], "expected KEY=V1,V2,..."),
        (["--axis", f"seed={10**400}"], "the integer is too large"),
        (["--dask", "nonsense"], "error: --dask: nonsense: cannot reach a Dask scheduler"),
        (["--workers", "0"], "workers: must be at least 1"),
        (["--seeds", "0"], "seeds: must be at least 1"),
    ],
)
def test_bench_arguments_are_checked(tmp_path, capsys, scenario, extra, fragment):
    out = tmp_path / "b"
    assert main(["bench", str(scenario), "--out", str(out), "--no-plots", *extra]) == 2
    err = lines(capsys)
    assert any(fragment in line for line in err), err
    assert all(line.startswith("error: ") for line in err)
    assert not out.exists()


def test_bench_out_file_is_refused(tmp_path, capsys, scenario):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert main(["bench", str(scenario), "--out", str(target), "--seeds", "1"]) == 2
    assert "clustersim never replaces a file" in lines(capsys)[0]
    assert target.read_text() == "mine"


@pytest.fixture
def trace(tmp_path):
    """A one-job Philly trace."""
    path = tmp_path / "t.csv"
    path.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n0,10,1,10,a\n")
    return path


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--option", "path="], "--option: path is given by FILE and --format"),
        (["--option", "noequals"], "'noequals' is not KEY=VALUE"),
        (["--option", "limit=-1"], "limit: Input should be greater than or equal to 0"),
        (["--option", "bogus=1"], "bogus: Extra inputs are not permitted"),
        (["--option", f"limit={10**400}"], "the integer is too large"),
    ],
)
def test_trace_stats_arguments_are_checked(capsys, trace, extra, fragment):
    assert main(["trace", "stats", str(trace), "--format", "philly", *extra]) == 2
    err = lines(capsys)
    assert any(fragment in line for line in err), err


def test_trace_stats_plot_into_a_file_is_refused(tmp_path, capsys, trace):
    (tmp_path / "fig.png").write_text("mine")
    args = ["trace", "stats", str(trace), "--format", "philly", "--plot", str(tmp_path / "fig.png")]
    assert main(args) == 2
    assert "exists and is not a directory" in lines(capsys)[0]
    assert (tmp_path / "fig.png").read_text() == "mine"


def test_trace_stats_of_an_empty_trace_is_strict_json(tmp_path, capsys):
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n")
    assert main(["trace", "stats", str(trace), "--format", "philly", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert out["jobs"] == 0


def test_schema_out_is_written_whole_and_refuses_a_directory(tmp_path, capsys):
    assert main(["schema", "--out", str(tmp_path)]) == 2
    assert "is not a regular file" in lines(capsys)[0]
    target = tmp_path / "schema.json"
    assert main(["schema", "--out", str(target)]) == 0
    assert json.loads(target.read_text())["properties"]["limits"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.json"]


@pytest.mark.parametrize(
    "args",
    [
        ["schema"],
        ["validate", str(ROOT / "scenarios" / "quickstart.yaml")],
        ["perf", "step", "--model", "gpt-7b", "--batch", "512", "--json"],
        ["perf", "step", "--model", "gpt-7b", "--batch", "512"],
        ["trace", "stats", str(PHILLY), "--format", "philly", "--json"],
        ["trace", "stats", str(PHILLY), "--format", "philly"],
    ],
    ids=["schema", "validate", "perf_json", "perf_table", "trace_json", "trace_table"],
)
def test_a_closed_stdout_ends_a_command_quietly(args):
    """As ``clustersim ... | head -0``: the reader is gone before the first line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err
