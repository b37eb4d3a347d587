"""Cost of the throughput model: batch kernels and end-to-end runs with model jobs.

Usage:
    python benchmarks/bench_perf.py            # kernels + 100k and 1M model-job runs
    python benchmarks/bench_perf.py --quick    # kernels + 100k only

1. ``kernels.step_times`` for 10,000 running jobs in one call, and ``kernels.maxmin_share`` for
   10,000 flows over 1,000 shared links (2-4 links each), compile time reported apart.
2. FIFO + first-fit at offered load 0.95 with jobs of 1-64 GPUs (mean 8.58) on 16,384 H100s in
   a 4:1 oversubscribed fat-tree, so rings of multi-node jobs share ToR and pod uplinks: once
   with exponential durations (mean 1 h), once with every job described by a model
   (ResNet-50 / BERT-large / GPT-1.3B, step counts set so that the offered load, consolidated,
   is the same 0.95), and with model jobs on a non-blocking (1:1) fat-tree. The difference is
   the cost of the throughput model; the 4:1 case is its worst case (shares recomputed at
   almost every start and finish).
Not part of the test suite: numbers are printed and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_fifo import LOAD  # noqa: E402
from bench_fifo import scenario as duration_scenario  # noqa: E402


def kernel_timings() -> dict:
    from simulator import kernels

    rng = np.random.default_rng(0)
    n = 10_000
    t0 = time.perf_counter()
    kernels.warmup()
    compile_s = time.perf_counter() - t0
    args = (
        rng.uniform(0.01, 1, n),
        rng.uniform(1e6, 1e10, n),
        rng.integers(1, 1024, n),
        rng.uniform(1e9, 1e11, n),
        rng.uniform(1e-6, 1e-4, n),
        rng.uniform(0, 1, n),
    )
    out = np.empty(n)
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        kernels.step_times(*args, out)
    step_us = (time.perf_counter() - t0) / reps * 1e6
    links = 1000
    flow_links = np.full((n, 4), -1, dtype=np.int64)
    for f, k in enumerate(rng.integers(2, 5, n)):
        flow_links[f, :k] = rng.choice(links, k, replace=False)
    capacity = rng.uniform(1e10, 1e11, links)
    caps = rng.uniform(1e8, 1e10, n)
    share, load = np.empty(n), np.empty(links)
    t0 = time.perf_counter()
    for _ in range(10):
        kernels.maxmin_share(capacity, flow_links, caps, share, load)
    maxmin_ms = (time.perf_counter() - t0) / 10 * 1e3
    return {
        "compile_s": round(compile_s, 2),
        "step_times_10k_jobs_us": round(step_us, 1),
        "maxmin_10k_flows_1k_links_ms": round(maxmin_ms, 1),
    }


# 1 to 64 GPUs: jobs of 16 or more span nodes, and with first-fit on a busy cluster also racks
GPUS = {"choice": [1, 2, 4, 8, 16, 32, 64], "weights": [0.3, 0.2, 0.15, 0.15, 0.1, 0.06, 0.04]}
MEAN_GPUS = sum(g * w for g, w in zip(GPUS["choice"], GPUS["weights"], strict=True))  # 8.58
MODELS = (("cnn", "resnet50", 2048), ("bert", "bert-large", 512), ("gpt", "gpt-1.3b", 64))


def scenario(kind: str, jobs: int, gpus: int) -> dict:
    """The benchmark workload on a 4:1 fat-tree with durations or model jobs (``duration``,
    ``model``), or with model jobs on a non-blocking fat-tree (``model-1:1``)."""
    from simulator import perf

    spec = duration_scenario(jobs, gpus)
    spec["name"] = f"bench_{kind}_{jobs}_{gpus}"
    spec["cluster"]["datacenters"][0]["network"] = {
        "racks_per_pod": 16,
        "tor_oversubscription": 1.0 if kind == "model-1:1" else 4.0,
    }
    stream = spec["workload"]["training"][0]
    rate = LOAD * gpus / (MEAN_GPUS * 3600.0)
    stream["arrival"]["poisson"]["rate"] = rate
    stream["gpus"] = GPUS
    if kind == "duration":
        return spec
    streams = []
    for name, model, batch in MODELS:
        # steps such that a job's mean GPU-seconds, consolidated on DGX H100s, equal those of
        # the duration run (MEAN_GPUS x 1 h): the same offered load of 0.95
        gpu_s_per_step = sum(
            w * g * perf.step(model, batch=batch, node="dgx-h100", gpus=g).time_s
            for g, w in zip(GPUS["choice"], GPUS["weights"], strict=True)
        )
        steps = round(MEAN_GPUS * 3600.0 / gpu_s_per_step)
        streams.append(
            {
                "name": name,
                "count": jobs // 3 + (name == "cnn") * (jobs % 3),
                "arrival": {"poisson": {"rate": rate / 3}},
                "gpus": GPUS,
                "model": {"name": model, "global_batch": batch, "iterations": steps},
            }
        )
    spec["workload"]["training"] = streams
    return spec


def one_case(kind: str, jobs: int, gpus: int) -> dict:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import simulator
    from simulator import kernels

    kernels.warmup()
    spec = scenario(kind, jobs, gpus)
    t0 = time.perf_counter()
    r = simulator.run(spec)
    run_s = time.perf_counter() - t0
    s = r.summary
    return {
        "kind": kind,
        "jobs": jobs,
        "gpus": gpus,
        "events": s["events"],
        "loop_s": round(s["wall_s"], 2),
        "run_s": round(run_s, 2),
        "jobs_per_s": round(jobs / s["wall_s"]),
        "mean_jct_s": round(s["mean_jct_s"], 1),
        "mean_wait_s": round(s["mean_wait_s"], 1),
        "utilization": round(s["gpu_utilization"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--smoke", action="store_true", help="300 jobs on 64 GPUs (the test suite)")
    p.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        print(json.dumps(one_case(args.case[0], int(args.case[1]), int(args.case[2]))))
        return
    print(json.dumps(kernel_timings()))
    sizes = [300] if args.smoke else [100_000] if args.quick else [100_000, 1_000_000]
    gpus = "64" if args.smoke else "16384"
    for jobs in sizes:
        for kind in ("duration", "model-1:1", "model"):
            out = subprocess.run(
                [sys.executable, __file__, "--case", kind, str(jobs), gpus],
                capture_output=True,
                text=True,
                check=True,
            )
            print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
