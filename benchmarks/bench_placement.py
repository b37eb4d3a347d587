"""Placement search cost: one ``place()`` call per policy on a large, fragmented cluster.

Usage:
    python benchmarks/bench_placement.py            # 2,048 nodes, 200 calls per case
    python benchmarks/bench_placement.py --smoke    # 16 nodes, 5 calls (the test suite)

2,048 DGX H100 nodes (16,384 GPUs, 4 per rack, 16 racks per pod) with a random fragmented
occupancy (each node 0-8 GPUs free); for each placement policy and job size, the median time
of ``place(view, job)`` over repeated calls (compile time excluded). Not part of the test
suite: numbers are printed and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import json
import sys
import time
import types

import numpy as np
from bench_fifo import h100_cluster

SIZES = (1, 8, 64)


def main(nodes: int = 2048, repeats: int = 200) -> None:
    from simulator import kernels, policies
    from simulator.scenario import load_scenario
    from simulator.world.cluster import build_cluster

    kernels.warmup()
    spec = {
        "name": "placement",
        "cluster": h100_cluster(nodes),
        "workload": {"training": []},
    }
    cluster = build_cluster(load_scenario(spec).cluster)
    rng = np.random.default_rng(0)
    free = rng.integers(0, 9, cluster.n_nodes).astype(np.int64)
    free.setflags(write=False)
    out = {}
    for name in policies.names("placement"):
        policy = policies.create("placement", name, rng=np.random.default_rng(1))
        for gpus in SIZES:
            view = types.SimpleNamespace(
                free_gpus=free,
                free_total=int(free.sum()),
                topology=cluster.topology,
                gpus=np.array([gpus]),
            )
            policy.place(view, 0)  # first call compiles nothing (warmup) but fills buffers
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                policy.place(view, 0)
                times.append(time.perf_counter() - t0)
            out[f"{name}/{gpus}"] = round(float(np.median(times)) * 1e6, 1)
    print(json.dumps({"nodes": cluster.n_nodes, "median_us_per_place": out}, indent=1))


if __name__ == "__main__":
    main(*((16, 5) if "--smoke" in sys.argv[1:] else ()))
