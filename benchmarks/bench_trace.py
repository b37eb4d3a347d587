"""Trace replay at full size: load time, run time and peak memory.

Usage:
    python benchmarks/bench_trace.py [--data ../shared/data]

1. The Philly CSV (82,247 jobs): reading and filtering it, then the whole replay under FIFO on
   the Philly cluster (scenarios/philly_replay.yaml at the recorded rate and at time_scale 0.2).
2. A 1,000,000-job Philly-format CSV (the real trace repeated 12 times, shifted in time),
   to show reading streams: memory grows with the job table, not with the file's text.

Each measurement runs in a fresh process so its peak RSS is its own. Not part of the test
suite: numbers are printed and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from simulator.scenario.workload import TraceSpec
from simulator.workload import traces
import numpy as np

kind, path = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if kind == "read":
    spec = TraceSpec(format="philly", path=path)
    trace = traces.select(traces.read(spec), spec, np.random.default_rng(0))
    out = {"jobs": len(trace), "read_s": round(time.perf_counter() - t0, 3)}
else:
    import simulator
    overrides = {"workload.trace.time_scale": float(sys.argv[3])}
    if len(sys.argv) > 4:  # --smoke: the first jobs only
        overrides["workload.trace.limit"] = int(sys.argv[4])
    r = simulator.run(path, overrides=overrides)
    out = {
        "jobs": r.summary["jobs_finished"],
        "total_s": round(time.perf_counter() - t0, 2),
        "loop_s": round(r.summary["wall_s"], 2),
        "mean_wait_s": round(r.summary["mean_wait_s"], 1),
    }
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
out["rss_before_mb"] = round(before / 1024, 1)
print(json.dumps(out))
"""


def child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--smoke", action="store_true", help="small cases (the test suite)")
    args = p.parse_args()
    philly = Path(args.data) / "traces" / "philly" / "philly_jobs.csv"
    print(json.dumps({"case": "read philly (82k)", **child("read", str(philly))}))
    for scale in ("1.0",) if args.smoke else ("1.0", "0.2"):
        result = child("run", "scenarios/philly_replay.yaml", scale, *["2000"] * args.smoke)
        print(json.dumps({"case": f"replay philly fifo, time_scale {scale}", **result}))
    import pandas as pd

    raw = pd.read_csv(philly)
    t = pd.to_datetime(raw["timestamp"])
    span = t.max() - t.min() + pd.Timedelta(days=1)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "philly_big.csv"
        rows = 5_000 if args.smoke else 1_000_000
        parts = []
        for k in range(-(-rows // len(raw))):  # copies of the trace, a span apart
            part = raw.copy()
            part["timestamp"] = (t + k * span).dt.strftime("%Y-%m-%d %H:%M:%S")
            parts.append(part)
        pd.concat(parts).iloc[:rows].to_csv(big, index=False)
        size = big.stat().st_size / 2**20
        case = f"read {rows:,}-job CSV ({size:.0f} MiB)"
        print(json.dumps({"case": case, **child("read", str(big))}))


if __name__ == "__main__":
    main()
