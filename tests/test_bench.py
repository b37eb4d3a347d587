"""Policy benchmark harness: statistics, equality of serial / process-pool / Dask runs, CLI."""

import math

import numpy as np
import pandas as pd
import pytest

from simulator import ScenarioError
from simulator.bench import bench, confidence_interval, jain_fairness
from simulator.cli import main

from .conftest import ROOT, tiny

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def test_confidence_interval_is_the_student_t_interval():
    mean, half = confidence_interval([1.0, 2.0, 3.0])
    # s = 1, t(0.975, 2 dof) = 4.302653 (tables), half-width = t s / sqrt(3)
    assert mean == 2.0 and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert confidence_interval([5.0, 5.0]) == (5.0, 0.0)
    mean, half = confidence_interval([4.0, float("nan"), None])
    assert mean == 4.0 and math.isnan(half)


def test_jain_fairness_bounds():
    assert jain_fairness(np.ones(7)) == pytest.approx(1.0)
    assert jain_fairness(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(0.25)


def small():
    spec = tiny(gpus_per_node=4, nodes=4, nodes_per_rack=2)
    spec["workload"]["training"] = [
        {
            "name": "mix",
            "count": 40,
            "arrival": {"poisson": {"rate": "2/h"}},
            "gpus": {"choice": [1, 2, 4, 6], "weights": [0.4, 0.3, 0.2, 0.1]},
            "duration": {"exponential": {"mean": "1h"}},
        }
    ]
    return spec


def test_matrix_shape_seeds_and_common_workload():
    r = bench(small(), placements=["first_fit", "consolidated"], seeds=3, workers=1)
    assert list(r.table.index) == ["first_fit", "consolidated"]
    assert r.runs.groupby("scheduler.placement")["seed"].apply(list).to_dict() == {
        "consolidated": [0, 1, 2],
        "first_fit": [0, 1, 2],
    }
    # duration jobs run as long wherever they are placed and every job fits once enough GPUs
    # are free (spilling is allowed), so both placements give the same schedule, seed by seed
    a, b = (
        r.runs[r.runs["scheduler.placement"] == p].reset_index(drop=True) for p in r.table.index
    )
    pd.testing.assert_frame_equal(
        a.drop(columns=["variant", "scheduler.placement"]),
        b.drop(columns=["variant", "scheduler.placement"]),
    )
    assert sorted(r.jct) == ["consolidated", "first_fit"] and len(r.jct["first_fit"]) == 120


def test_sweep_block_crosses_any_axes():
    spec = small()
    spec["workload"]["training"][0]["count"] = 10
    spec["sweep"] = {
        "seeds": 2,
        "axes": {
            "scheduler.policy": ["fifo", "sjf"],
            "cluster.datacenters.0.node_groups.0.count": [2, 4],
        },
    }
    r = bench(spec, workers=1)
    assert list(r.table.index) == ["fifo+count=2", "fifo+count=4", "sjf+count=2", "sjf+count=4"]
    assert len(r.runs) == 8 and set(r.runs["seed"]) == {0, 1}
    # fewer nodes, more waiting: the cluster size axis really changed the runs
    fifo = r.table["mean_wait_s"]
    assert fifo["fifo+count=2"] > fifo["fifo+count=4"]


def test_process_pool_and_dask_give_the_serial_results():
    distributed = pytest.importorskip("distributed")
    spec = small()
    spec["workload"]["training"][0]["count"] = 15
    args = dict(placements=["first_fit", "best_fit"], seeds=2)
    serial = bench(spec, workers=1, **args)
    pooled = bench(spec, workers=2, **args)
    pd.testing.assert_frame_equal(serial.runs, pooled.runs)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = bench(spec, dask=cluster.scheduler_address, **args)
    pd.testing.assert_frame_equal(serial.runs, on_dask.runs)
    pd.testing.assert_frame_equal(serial.table, on_dask.table)


def test_bad_variants_are_reported_together_before_anything_runs():
    with pytest.raises(ScenarioError) as e:
        bench(small(), policies=["fifo", "lifo"], placements=["nope"], seeds=0)
    lines = [str(p) for p in e.value.problems]
    assert lines[0] == "bench: seeds: must be at least 1"
    assert any(
        x.startswith("bench variant: scheduler.policy: unknown scheduling policy 'lifo'")
        for x in lines
    )
    assert any(
        x.startswith("bench variant: scheduler.placement: unknown placement policy 'nope'")
        for x in lines
    )
    with pytest.raises(ScenarioError, match="horizonn"):
        bench(small(), axes={"horizonn": ["1d"]}, seeds=1)


def test_cli_bench_writes_table_runs_and_plots(tmp_path, capsys):
    out = tmp_path / "b"
    code = main(
        [
            "bench",
            str(QUICKSTART),
            "--placements",
            "first_fit,worst_fit",
            "--seeds",
            "2",
            "--workers",
            "1",
            "--set",
            "workload.training.0.count=30",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "table.csv",
        "runs.csv",
        "manifest.json",
        "jct_cdf.png",
        "metrics.png",
    }
    table = pd.read_csv(out / "table.csv", index_col="variant")
    assert list(table.index) == ["first_fit", "worst_fit"] and "mean_jct_s_ci95" in table
    assert "mean_jct_s" in capsys.readouterr().out


def test_cli_bench_bad_policy_exits_2_one_line(capsys):
    assert main(["bench", str(QUICKSTART), "--policies", "srtff", "--seeds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: bench variant: scheduler.policy: unknown scheduling policy")
