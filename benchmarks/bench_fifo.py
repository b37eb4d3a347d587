"""FIFO + first-fit speed and memory: 100k and 1M jobs on 2,048 and 16,384 GPUs.

Usage:
    python benchmarks/bench_fifo.py                 # the full matrix (about a minute)
    python benchmarks/bench_fifo.py --jobs 100000   # one size only
    python benchmarks/bench_fifo.py --gpus 16384 --policy fifo las tiresias srtf gandiva themis
                                                    # the same workload under other policies
    python benchmarks/bench_fifo.py --policy fifo fifo-noenergy   # what energy accounting costs
    python benchmarks/bench_fifo.py --policy fifo fifo+failures   # what failures cost

Each case runs in a fresh process pinned to one core, so peak RSS and time belong to that case
alone. The workload keeps the offered load at 0.95 (queues form): single- to 8-GPU jobs
(mean 2.6 GPUs) with exponential run times of mean 1 h, Poisson arrivals at
0.95 x GPUs / (2.6 x 3600 s).
Printed per case: setup (cluster + job generation), simulation loop, end-to-end ``run()``,
saving the run directory (parquet, no plots), jobs/s and events/s of the loop, and peak RSS.
Not part of the test suite: numbers are printed and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

NO_ENERGY = "-noenergy"  # --policy fifo-noenergy: FIFO with the energy part left out
FAILING = "+failures"  # --policy fifo+failures: with GPU failures and Young/Daly checkpoints
# Llama 3 405B's rate (419 interruptions in 54 days on 16,384 H100: a per-GPU MTBF of
# ~50,700 h), 4 h repairs, a 1-minute checkpoint at the Young/Daly interval
FAILURES = {
    "gpu": {"mtbf": "50700h", "repair": "4h"},
    "checkpoint": {"interval": "young_daly", "cost": "1m"},
}
MEAN_GPUS = 0.4 * 1 + 0.3 * 2 + 0.2 * 4 + 0.1 * 8  # 2.6
LOAD = 0.95


def h100_cluster(nodes: int) -> dict:
    """``nodes`` DGX H100 (8 GPUs each), 4 per rack, 16 racks per pod: the benchmark cluster."""
    node_group = {"name": "h100", "node": "dgx-h100", "count": nodes, "nodes_per_rack": 4}
    return {
        "datacenters": [
            {"name": "dc", "network": {"racks_per_pod": 16}, "node_groups": [node_group]}
        ]
    }


def scenario(jobs: int, gpus: int, policy: str = "fifo") -> dict:
    rate = LOAD * gpus / (MEAN_GPUS * 3600.0)
    failing = policy.endswith(FAILING)
    policy = policy.removesuffix(FAILING)
    return {
        **({"failures": FAILURES} if failing else {}),
        "name": f"bench_{jobs}_{gpus}",
        "seed": 1,
        "scheduler": {"policy": policy},
        "cluster": h100_cluster(gpus // 8),
        "workload": {
            "training": [
                {
                    "name": "bench",
                    "count": jobs,
                    "arrival": {"poisson": {"rate": rate}},
                    "gpus": {"choice": [1, 2, 4, 8], "weights": [0.4, 0.3, 0.2, 0.1]},
                    "duration": {"exponential": {"mean": "1h"}},
                }
            ]
        },
    }


def one_case(jobs: int, gpus: int, policy: str = "fifo") -> dict:
    """Run one case in this process and return its measurements."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import simulator
    from simulator import kernels

    if policy.endswith(NO_ENERGY):  # the same run without the energy part (for its cost)
        import simulator.build

        class Unmodelled(simulator.build.Energy):
            modelled = property(lambda self: False, lambda self, value: None)

        simulator.build.Energy = Unmodelled
        policy = policy.removesuffix(NO_ENERGY)
    compile_s = kernels.warmup()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    results = simulator.run(scenario(jobs, gpus, policy))
    run_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        t1 = time.perf_counter()
        results.save(os.path.join(d, "run"), plots=False)
        save_s = time.perf_counter() - t1
    s, m = results.summary, results.manifest
    failures = results.summary["failures"]
    return {
        "policy": policy if results.summary["energy"] else policy + NO_ENERGY,
        "failures": failures["component_failures"]["gpu"] if failures else 0,
        "jobs": jobs,
        "gpus": gpus,
        "finished": s["jobs_finished"],
        "utilization": round(s["gpu_utilization"], 4),
        "mean_wait_s": round(s["mean_wait_s"], 1),
        "events": s["events"],
        "compile_s": round(compile_s, 2),
        "setup_s": round(m["setup_s"], 2),
        "loop_s": round(s["wall_s"], 2),
        "run_s": round(run_s, 2),
        "save_s": round(save_s, 2),
        "jobs_per_s": round(jobs / s["wall_s"]),
        "events_per_s": round(s["events"] / s["wall_s"]),
        "us_per_event": round(1e6 * s["wall_s"] / s["events"], 2),
        "base_rss_mb": round(base_rss),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--gpus", type=int, nargs="*", default=[2048, 16384])
    p.add_argument("--policy", nargs="*", default=["fifo"], help="scheduling policies")
    p.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        print(json.dumps(one_case(int(args.case[0]), int(args.case[1]), args.case[2])))
        return
    from rich.console import Console
    from rich.table import Table

    rows = []
    for jobs in args.jobs:
        for gpus in args.gpus:
            for policy in args.policy:
                out = subprocess.run(
                    [sys.executable, __file__, "--case", str(jobs), str(gpus), policy],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), file=sys.stderr)
    fifo = {(r["jobs"], r["gpus"]): r["loop_s"] for r in rows if r["policy"] == "fifo"}
    # loop time per event at each size against the smallest size's, per policy (linearity)
    first = {}
    for row in rows:
        first.setdefault((row["policy"], row["gpus"]), row["us_per_event"])
        row["x_small"] = round(row["us_per_event"] / first[(row["policy"], row["gpus"])], 2)
    for row in rows:  # loop time against FIFO's on the same workload, in this run
        base = fifo.get((row["jobs"], row["gpus"]))
        row["x_fifo"] = round(row["loop_s"] / base, 2) if base else "-"
    shown = [
        "policy",
        "jobs",
        "gpus",
        "mean_wait_s",
        "events",
        "setup_s",
        "loop_s",
        "run_s",
        "save_s",
        "jobs_per_s",
        "events_per_s",
        "us_per_event",
        "x_fifo",
        "x_small",
        "peak_rss_mb",
    ]
    table = Table(title="first-fit, one core")
    for key in shown:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k in shown))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
