"""Inference serving at scale: requests per second of simulated serving.

Usage:
    python benchmarks/bench_services.py            # a simulated day per case
    python benchmarks/bench_services.py --smoke    # ten simulated minutes (the test suite)

Runs ``scenarios/diurnal_chat.yaml`` (one day, ~260k Llama-2-70B requests, continuous
batching, HPA on an elastic pool) and the same service at 10x the load with 10x the replica
ceiling, and prints requests, events and the loop's wall time. Not part of the test suite:
numbers are printed and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import simulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "diurnal_chat.yaml"

CASES = {
    "diurnal_chat (mean 3 req/s)": {},
    "10x load, 120 nodes": {
        "workload.services.0.arrivals.diurnal.mean": "30/s",
        "workload.services.0.max_replicas": 120,
        "cluster.datacenters.0.node_groups.0.count": 120,
    },
}

SMOKE = {"horizon": "10m"} if "--smoke" in sys.argv[1:] else {}

for name, overrides in CASES.items():
    r = simulator.run(SCENARIO, overrides={**overrides, **SMOKE})
    block = r.summary["services"]["chat"]
    n, wall = block["requests_arrived"], r.summary["wall_s"]
    print(
        f"{name}: {n:,} requests, {r.summary['events']:,} events, loop {wall:.1f} s "
        f"({n / wall:,.0f} requests/s), attainment {block['slo_attainment']:.4f}, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
