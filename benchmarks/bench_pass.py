"""Scheduling pass cost: one pass with 10,000 queued jobs on 2,048 nodes, per policy.

Usage:
    python benchmarks/bench_pass.py            # 10,000 queued jobs on 2,048 nodes
    python benchmarks/bench_pass.py --smoke    # 50 queued jobs on 8 nodes (the test suite)

16,384 H100 GPUs (2,048 DGX H100 nodes) run 2,048 8-GPU jobs; 10,000 more jobs of 1-64 GPUs
wait. Times ``Simulation._pass()`` (the policy's decision plus the engine trying and applying
it) with the cluster full, and the policy's ``schedule()`` alone. Not part of the test suite:
numbers are printed and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from bench_fifo import h100_cluster

POLICIES = {
    "fifo": {"policy": "fifo"},
    "sjf": {"policy": "sjf"},
    "srtf": {"policy": "srtf"},
    "las": {"policy": "las"},
    "tiresias": {"policy": "tiresias"},
    "easy_backfill": {"policy": "easy_backfill"},
    "capacity": {"policy": "capacity"},
    "gandiva": {"policy": "gandiva"},
    "themis": {"policy": "themis"},
    # timed at a round boundary (the allocation recomputed, leases handed out again)
    "gavel": {"policy": "gavel"},
    "gavel(objective=fifo)": {"policy": {"name": "gavel", "params": {"objective": "fifo"}}},
    "srtf+round": {"policy": "srtf", "round": "6m"},
}


def scenario(label: str, nodes: int = 2048, queued: int = 10_000) -> dict:
    return {
        "name": "pass",
        "seed": 1,
        "cluster": h100_cluster(nodes),
        "scheduler": POLICIES[label],
        "workload": {
            "training": [
                {
                    "name": "full",
                    "count": nodes,
                    "arrival": {"interval": "1ms"},
                    "gpus": 8,
                    "duration": "10d",
                },
                {
                    "name": "queued",
                    "count": queued,
                    "arrival": {"interval": "1s", "start": "1s"},
                    "gpus": {"choice": [1, 2, 4, 8, 16, 64], "weights": [3, 2, 2, 2, 1, 1]},
                    "duration": {"exponential": {"mean": "2h"}},
                },
            ]
        },
    }


def one(label: str, nodes: int = 2048, queued: int = 10_000) -> dict:
    from simulator import kernels
    from simulator.build import _make_policies, resolve
    from simulator.engine import RngStreams, Simulation
    from simulator.engine.throughput import Throughput
    from simulator.workload import build_jobs
    from simulator.world.cluster import build_cluster

    kernels.warmup()
    spec = resolve(scenario(label, nodes, queued))
    rngs = RngStreams(spec.seed)
    cluster = build_cluster(spec.cluster)
    jobs = build_jobs(spec.workload, None, lambda *key: rngs.generator("workload", *key))
    scheduler, placer, *_ = _make_policies(spec, rngs)
    sim = Simulation(
        cluster,
        jobs,
        scheduler,
        placer,
        horizon=10_000.0,
        throughput=Throughput(cluster, jobs, [None, None]),
    )
    sim.run()  # every job has arrived; 2,048 run, the rest wait
    times, decide = [], []
    for _ in range(20):
        boundary(scheduler)
        t0 = time.perf_counter()
        sim._pass()
        times.append(time.perf_counter() - t0)
        boundary(scheduler)
        t0 = time.perf_counter()
        scheduler.schedule(sim.view)
        decide.append(time.perf_counter() - t0)
    return {
        "policy": label,
        "queued": len(sim.queue),
        "pass_ms": round(float(np.median(times)) * 1e3, 2),
        "schedule_ms": round(float(np.median(decide)) * 1e3, 2),
    }


def boundary(scheduler) -> None:
    """Make the next pass of a round-based policy a round boundary with a new allocation."""
    if hasattr(scheduler, "_boundary"):  # scheduler.round
        scheduler._boundary = -np.inf
    if hasattr(scheduler, "_round_end"):  # gavel
        scheduler._round_end = -np.inf
        scheduler._active = np.empty(0, dtype=np.int64)


if __name__ == "__main__":
    sizes = (8, 50) if "--smoke" in sys.argv[1:] else (2048, 10_000)
    for p in POLICIES:
        print(json.dumps(one(p, *sizes)))
