"""Every benchmark script runs on a tiny input, so none can rot (``bench_pass.py`` once
crashed as shipped for weeks). Times are not checked: benchmarks report, never assert."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

BENCH = ROOT / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCH.glob("bench_*.py"))

ARGS = {
    "bench_fifo.py": [
        "--jobs",
        "300",
        "--gpus",
        "64",
        "--policy",
        "fifo",
        "tiresias",
        "fifo+failures",
    ],
    "bench_pass.py": ["--smoke"],
    "bench_perf.py": ["--smoke"],
    "bench_placement.py": ["--smoke"],
    "bench_services.py": ["--smoke"],
    "bench_trace.py": ["--smoke"],
}


def test_every_benchmark_script_has_a_smoke_run():
    assert sorted(ARGS) == SCRIPTS


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_runs_on_a_tiny_input(script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *ARGS[script]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    out = done.stdout.strip()
    if script == "bench_placement.py":  # one indented JSON document
        assert json.loads(out)["median_us_per_place"]
    elif script == "bench_services.py":  # one sentence per case
        assert out.count("requests/s") == 2
    else:  # one JSON object per line (bench_fifo: on stderr, with a table on stdout)
        rows = [json.loads(x) for x in (out + "\n" + done.stderr).splitlines() if x[:1] == "{"]
        assert rows and all(isinstance(row, dict) for row in rows)
