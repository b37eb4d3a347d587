"""The throughput model: formulas, paths over placements, step-time roofline, CLI."""

import json
import math

import numpy as np
import pytest

from simulator import perf
from simulator.cli import main
from simulator.perf.collectives import ring_allreduce_s, tree_allreduce_s
from simulator.scenario import catalog, zoo
from simulator.scenario.catalog import NCCL_A100, CollectiveCalibration

RAW = CollectiveCalibration(1.0, 0.0, 1.0, 0.0, "test")


def test_alpha_beta_formulas():
    # 4 ranks, 1 MB, 1 GB/s, 1 us: ring = 6 us + 1.5 ms; tree = 4 us + 2 ms
    assert ring_allreduce_s(1e6, 4, 1e9, 1e-6) == pytest.approx(6e-6 + 1.5e-3)
    assert tree_allreduce_s(1e6, 4, 1e9, 1e-6) == pytest.approx(4e-6 + 2e-3)
    assert ring_allreduce_s(1e6, 1, 1e9, 1e-6) == 0.0
    path = perf.CommPath(64, 1e9, 1e-5, True)
    small, big = 1e3, 1e9
    assert perf.allreduce_s(small, path) == tree_allreduce_s(small, 64, 1e9, 1e-5)  # latency
    assert perf.allreduce_s(big, path) == ring_allreduce_s(big, 64, 1e9, 1e-5)  # bandwidth


def _path(node, counts, calibration=RAW, **kw):
    cluster, _, _ = perf.hardware(
        node, sum(counts) if "gpus" not in kw else kw["gpus"], nodes=len(counts)
    )
    return perf.comm_path(cluster.topology, np.arange(len(counts)), np.array(counts), calibration)


def test_paths_take_the_slowest_hop():
    one = _path("dgx-h100", [8])
    assert one.bandwidth == 450e9 and not one.inter_node  # NVLink 4, per direction
    two = _path("dgx-h100", [8, 8])
    assert two.bandwidth == 400e9 and two.inter_node  # 8 x 400 Gb/s NICs
    thin = _path("dgx-h100", [1, 1], gpus=2)
    assert thin.bandwidth == 50e9  # one rank per node drives one of the 8 NICs
    g4 = _path("g4dn.12xlarge", [2, 2])
    assert g4.bandwidth == 50e9 / 8  # a single 50 Gb/s NIC, whatever the ranks
    calibrated = _path("dgx-h100", [8], NCCL_A100)
    assert calibrated.bandwidth == pytest.approx(450e9 * NCCL_A100.intra_efficiency)


def test_uplinks_limit_rings_that_leave_the_rack():
    from simulator.scenario.spec import ClusterSpec
    from simulator.world.cluster import build_cluster

    spec = ClusterSpec.model_validate(
        {
            "datacenters": [
                {
                    "name": "dc",
                    "network": {"tor_oversubscription": 8.0},
                    "node_groups": [
                        {"name": "h", "node": "dgx-h100", "count": 4, "nodes_per_rack": 2}
                    ],
                }
            ]
        }
    )
    topo = build_cluster(spec).topology
    same_rack = perf.comm_path(topo, np.array([0, 1]), np.array([8, 8]), RAW)
    cross = perf.comm_path(topo, np.array([0, 2]), np.array([8, 8]), RAW)
    assert same_rack.bandwidth == 400e9
    assert cross.bandwidth == pytest.approx(2 * 400e9 / 8)  # ToR uplink, 8:1 oversubscribed
    assert cross.latency > same_rack.latency


def test_consolidation_helps_communication_heavy_jobs_only():
    heavy = [
        perf.step("bert-large", batch=64, node="dgx-a100", gpus=8, nodes=n).time_s for n in (1, 8)
    ]
    light = [
        perf.step(
            "resnet18-cifar10", batch=16384, node="dgx-a100", gpus=8, nodes=n, overlap=1.0
        ).time_s
        for n in (1, 8)
    ]
    assert heavy[1] / heavy[0] > 1.5
    assert light[1] / light[0] < 1.05


def test_step_roofline_and_parallelism():
    s = perf.step("gpt-7b", batch=512, node="dgx-h100", gpus=64)
    m = zoo.model("gpt-7b")
    peak = 989e12 * catalog.ACHIEVABLE_FLOP_FRACTION
    assert s.flops_s == pytest.approx(512 / 64 * m.flops_per_sample / peak)
    assert s.compute_s == max(s.flops_s, s.memory_s)
    assert s.time_s == pytest.approx(s.compute_s + s.comm_s)
    hidden = perf.step("gpt-7b", batch=512, node="dgx-h100", gpus=64, overlap=1.0)
    assert hidden.time_s == pytest.approx(max(s.compute_s, s.comm_s))
    tp = perf.step("gpt-70b", batch=512, node="dgx-h100", gpus=64, tp=8)
    assert (
        tp.tp_comm_s > 0
        and tp.comm_s < perf.step("gpt-70b", batch=512, node="dgx-h100", gpus=64).comm_s
    )
    pp = perf.step("gpt-70b", batch=512, node="dgx-h100", gpus=64, tp=8, pp=2)
    assert pp.bubble_s > 0


def test_heterogeneous_jobs_run_at_the_slowest_chips_pace():
    fast = perf.step_time(
        zoo.model("resnet50"),
        256,
        [catalog.chip("h100-sxm")],
        perf.Parallelism(dp=8),
        perf.CommPath(8, 1e11, 1e-5, False),
    )
    mixed = perf.step_time(
        zoo.model("resnet50"),
        256,
        [catalog.chip("h100-sxm"), catalog.chip("t4")],
        perf.Parallelism(dp=8),
        perf.CommPath(8, 1e11, 1e-5, False),
    )
    slow = perf.step_time(
        zoo.model("resnet50"),
        256,
        [catalog.chip("t4")],
        perf.Parallelism(dp=8),
        perf.CommPath(8, 1e11, 1e-5, False),
    )
    assert mixed.compute_s == slow.compute_s > fast.compute_s


def test_chips_without_a_published_peak_are_refused():
    with pytest.raises(ValueError, match="publishes no fp32 peak"):
        perf.step("resnet50", batch=32, chip="tpu-v4", gpus=1, precision="fp32")


def test_zoo_training_flops_follow_6n_plus_attention():
    m = zoo.model("gpt-1.3b")
    assert m.flops_per_sample == pytest.approx((6 * 1.3e9 + 12 * 24 * 2048 * 2048) * 2048)
    assert zoo.model("resnet50").flops_per_sample == pytest.approx(6 * 4.09e9)
    with pytest.raises(KeyError, match="did you mean 'gpt-7b'"):
        zoo.model("gpt-8b")


def test_cli_perf_json(capsys):
    assert (
        main(
            ["perf", "allreduce", "--node", "dgx-h100", "--gpus", "8", "--size", "64MiB", "--json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert {"time_s", "compute_s", "comm_s"} <= set(out)
    assert out["time_s"] == pytest.approx(
        perf.allreduce(64 * 2**20, node="dgx-h100", gpus=8)["time_s"]
    )
    assert (
        main(
            [
                "perf",
                "step",
                "--model",
                "gpt-7b",
                "--node",
                "dgx-h100",
                "--gpus",
                "64",
                "--batch",
                "512",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["time_s"] == pytest.approx(out["compute_s"] + out["exposed_comm_s"])
    assert (
        main(["perf", "allreduce", "--chip", "t4", "--gpus", "4", "--nodes", "4", "--size", "47MB"])
        == 0
    )
    assert "busbw_bytes_per_s" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["perf", "step", "--model", "nope", "--batch", "8"],
        ["perf", "allreduce", "--size", "12parsecs"],
        ["perf", "allreduce", "--size", "1MiB", "--gpus", "12", "--nodes", "1"],
        ["perf", "step", "--model", "gpt-7b", "--batch", "8", "--gpus", "8", "--tp", "3"],
    ],
)
def test_cli_perf_bad_input(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: clustersim perf") and err.count("\n") == 1


def test_query_spreads_gpus_evenly():
    _, ids, counts = perf.hardware("dgx-h100", 64)
    assert len(ids) == 8 and set(counts.tolist()) == {8}
    with pytest.raises(ValueError, match="do not spread evenly"):
        perf.hardware("dgx-h100", 12, nodes=5)
    assert math.isfinite(perf.allreduce(1e6, chip="mi300x", gpus=8)["time_s"])


def test_cli_calibrate(capsys):
    from .conftest import SHARED

    assert main(["perf", "calibrate", "--data", str(SHARED / "data")]) == 0
    out = capsys.readouterr().out
    assert f"{catalog.NCCL_A100.inter_efficiency:.6g}" in out
    assert main(["perf", "calibrate", "--data", "/nonexistent"]) == 2
    assert capsys.readouterr().err.count("file not found") == 2
