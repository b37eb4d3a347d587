"""Hand-computed scenarios: every number below was worked out on paper."""

import pytest

import simulator

from .conftest import tiny


def test_two_8gpu_jobs_of_100s_on_one_8gpu_node_under_fifo():
    r = simulator.run(tiny())
    assert sorted(r.jobs["jct_s"]) == [100.0, 200.0]
    s = r.summary
    assert s["mean_jct_s"] == 150.0 and s["mean_wait_s"] == 50.0
    assert s["makespan_s"] == 200.0 and s["gpu_utilization"] == 1.0


def test_single_gpu_jobs_pack_onto_one_node():
    # 8 one-GPU jobs of 60 s at t=0 on 1 x 8 GPUs run together: all JCTs 60, makespan 60.
    r = simulator.run(tiny([(0.0, 1, 60.0)] * 8))
    assert r.jobs["jct_s"].tolist() == [60.0] * 8
    assert r.summary["gpu_utilization"] == 1.0


def test_utilization_of_a_half_busy_cluster():
    # 2 nodes x 8 GPUs; one 8-GPU job for 100 s -> 8/16 GPUs for the whole window.
    r = simulator.run(tiny([(0.0, 8, 100.0)], nodes=2))
    assert r.summary["gpu_utilization"] == pytest.approx(0.5)


def test_staggered_arrivals_hand_computed():
    # 1 node x 4 GPUs. a(0s, 2 GPUs, 30 s), b(10 s, 4 GPUs, 20 s), c(15 s, 2 GPUs, 5 s)
    # a: 0-30. b needs all 4: waits for a -> 30-50. c is behind b (FIFO) -> 50-55.
    r = simulator.run(tiny([(0, 2, 30.0), (10, 4, 20.0), (15, 2, 5.0)], gpus_per_node=4))
    assert r.jobs["start_s"].tolist() == [0, 30, 50]
    assert r.jobs["jct_s"].tolist() == [30, 40, 40]
    # busy GPU-seconds: 2*30 + 4*20 + 2*5 = 150 over a window of 55 s on 4 GPUs
    assert r.summary["gpu_utilization"] == pytest.approx(150 / (55 * 4))
    # queue: b waits 10..30 (20 s), c waits 15..50 (35 s); mean queue = 55 / 55 = 1.0
    assert r.summary["mean_queue_length"] == pytest.approx(1.0)
    assert r.summary["p50_jct_s"] == 40.0
