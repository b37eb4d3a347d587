"""Inference services: latency oracles, queueing theory, batching, autoscaling, sharing, loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import simulator
from simulator.perf.inference import LatencyModel, infer
from simulator.policies import create
from simulator.policies.base import ServiceStats

from .conftest import tiny

LAT = LatencyModel("llama2-70b", node="dgx-a100", tp=8)


def scenario(service: dict, *, nodes: int = 1, jobs=(), horizon: float = 3600, **extra) -> dict:
    spec = tiny(list(jobs), horizon=horizon, **extra)
    spec["cluster"]["datacenters"][0]["node_groups"] = [
        {"name": "a100", "node": "dgx-a100", "count": nodes}
    ]
    svc = {"name": "chat", "model": "llama2-70b", "tp": 8, "prompt": 512, "output": 128}
    spec["workload"]["services"] = [svc | service]
    return spec


def requests(spec: dict, **kw):
    r = simulator.run(spec, **kw)
    return r, r.requests.set_index("request_id")


def test_one_request_takes_what_perf_infer_prints():
    r, req = requests(scenario({"arrivals": {"times": [5.0]}}))
    t = infer("llama2-70b", node="dgx-a100", tp=8, prompt=512, batch=1, output=128)
    assert req.ttft_s[0] == pytest.approx(t.prefill_s, rel=1e-12)
    assert req.e2e_s[0] == pytest.approx(t.e2e_s, rel=1e-12)
    assert req.tpot_s[0] == pytest.approx(t.decode_token_s, rel=1e-12)
    assert r.summary["services"]["chat"]["requests_served"] == 1


def test_fixed_replica_fcfs_queue_is_hand_computable():
    """Three requests at t=0 on one replica with batch 1: the k-th waits k service times."""
    r, req = requests(scenario({"arrivals": {"times": [0, 0, 0]}, "max_batch": 1}))
    p1 = LAT.prefill_s([512])[0]
    d1 = LAT.decode_token_s(1, 512 + 64)[0]
    service = p1 + 128 * d1
    assert req.ttft_s.tolist() == pytest.approx([p1, service + p1, 2 * service + p1], rel=1e-12)
    assert req.e2e_s.tolist() == pytest.approx([service, 2 * service, 3 * service], rel=1e-12)


def test_static_batching_runs_a_batch_to_its_end_before_the_next():
    spec = scenario({"arrivals": {"times": [0, 0, 0]}, "max_batch": 2, "batching": "static"})
    _, req = requests(spec)
    p2, d2 = LAT.prefill_s([512, 512])[0], LAT.decode_token_s(2, 576)[0]
    p1, d1 = LAT.prefill_s([512])[0], LAT.decode_token_s(1, 576)[0]
    first = p2 + 128 * d2
    assert req.ttft_s.tolist() == pytest.approx([p2, p2, first + p1], rel=1e-12)
    assert req.e2e_s.tolist() == pytest.approx([first, first, first + p1 + 128 * d1], rel=1e-12)


def test_continuous_batching_lets_a_request_join_after_its_prefill():
    """r1 at 0 decodes alone; r2 at 1 s pauses it for its prefill, then both decode at the
    batch-2 step; r1 ends first and r2 finishes alone."""
    _, req = requests(scenario({"arrivals": {"times": [0, 1.0]}}))
    p1, d1, d2 = (
        LAT.prefill_s([512])[0],
        LAT.decode_token_s(1, 576)[0],
        LAT.decode_token_s(2, 576)[0],
    )
    left = 128 - (1.0 - p1) / d1  # r1's tokens still to come at t=1
    joined = 1.0 + p1
    r1_end = joined + left * d2
    r2_end = r1_end + (128 - left) * d1
    assert req.ttft_s.tolist() == pytest.approx([p1, p1], rel=1e-12)
    assert req.end_s.tolist() == pytest.approx([r1_end, r2_end], rel=1e-9)


def test_poisson_arrivals_on_one_replica_match_the_md1_queue():
    """Batch 1, constant tokens: an M/D/1 queue; the mean wait is Pollaczek-Khinchine's
    rho S / (2 (1 - rho))."""
    p1 = LAT.prefill_s([512])[0]
    s = p1 + 128 * LAT.decode_token_s(1, 576)[0]
    lam = 0.7 / s
    horizon = 40_000 / lam
    spec = scenario({"arrivals": {"poisson": {"rate": lam}}, "max_batch": 1}, horizon=horizon)
    waits = []
    for seed in (1, 2):
        _, req = requests(spec, seed=seed)
        served = req[req.state == "served"]
        waits.append((served.ttft_s - p1).mean())
    expected = 0.7 * s / (2 * (1 - 0.7))
    assert np.mean(waits) == pytest.approx(expected, rel=0.06)


def test_the_queue_limit_drops_arrivals_beyond_it():
    spec = scenario({"arrivals": {"times": [0] * 6}, "max_batch": 1, "queue_limit": 2})
    r, req = requests(spec)
    # the first goes straight into the batch, two wait, three find the queue full
    assert req.state.tolist() == ["served"] * 3 + ["dropped"] * 3
    block = r.summary["services"]["chat"]
    assert (block["requests_served"], block["requests_dropped"]) == (3, 3)
    assert block["slo_attainment"] == 0.5  # no SLO: served ones meet it, drops do not


def test_slo_attainment_and_goodput_count_requests_within_every_objective():
    p1 = LAT.prefill_s([512])[0]
    s = p1 + 128 * LAT.decode_token_s(1, 576)[0]
    spec = scenario(
        {"arrivals": {"times": [0, 0, 0]}, "max_batch": 1, "slo": {"ttft": s + p1 + 0.01}},
        horizon=100,
    )
    r, _ = requests(spec)
    block = r.summary["services"]["chat"]
    assert block["slo_attainment"] == pytest.approx(2 / 3)
    assert block["goodput_rps"] == pytest.approx(2 / 100)


def test_queue_autoscaler_reaches_the_target_after_cooldown_plus_startup():
    """Ticks every 10 s. Two requests at 100 s want 2 replicas: the second is placed at 100 s
    and serves from 130 s (startup). Twenty more at 120 s want 4 (the max), but the scale-out
    cooldown holds until the tick at 160 s; those two serve from 190 s."""
    spec = scenario(
        {
            "arrivals": {"times": [100, 100] + [120] * 20},
            "max_batch": 1,
            "output": 1024,
            "replicas": 1,
            "min_replicas": 1,
            "max_replicas": 4,
            "startup": 30,
            "autoscaler": {
                "name": "queue",
                "interval": 10,
                "params": {"per_replica": 1, "up_cooldown": 60, "down_cooldown": 600},
            },
        },
        nodes=4,
        horizon=400,
    )
    r = simulator.run(spec)
    t, v = r.level("replicas", "chat")
    assert [(a, b) for a, b in zip(t, v, strict=True) if a <= 200] == [(0, 1), (100, 2), (160, 4)]
    t, v = r.level("ready_replicas", "chat")
    assert [(a, b) for a, b in zip(t, v, strict=True) if a <= 200] == [(0, 1), (130, 2), (190, 4)]


def stats(**kw) -> ServiceStats:
    base = dict(
        now=0.0,
        replicas=2,
        ready=2,
        queue=0,
        in_flight=0,
        max_batch=16,
        arrival_rate=0.0,
        recent_ttft_s=np.empty(0),
        slo_ttft_s=1.0,
    )
    return ServiceStats(**(base | kw))


def test_hpa_follows_the_kubernetes_formula_with_tolerance_and_stabilisation():
    hpa = create("replicas", "hpa", {"target": 8, "stabilization": 300})
    assert hpa.replicas(stats(in_flight=20, queue=10)) == math.ceil(2 * 30 / 2 / 8)  # 4
    assert hpa.replicas(stats(now=10, in_flight=17)) == 2  # 8.5 per replica: within 10 %
    # load falls: the recommendation (1) waits for the 300 s window's highest one
    assert hpa.replicas(stats(now=20, replicas=4, ready=4, in_flight=4)) == 4
    assert hpa.replicas(stats(now=400, replicas=4, ready=4, in_flight=4)) == 1


def test_slo_policy_scales_out_on_slow_ttft_and_in_when_well_inside():
    slo = create("replicas", "slo", {"quantile": 0.9, "up_cooldown": 0, "down_cooldown": 0})
    assert slo.replicas(stats(recent_ttft_s=np.full(10, 0.9))) == 3  # above 0.8 s
    assert slo.replicas(stats(now=1, recent_ttft_s=np.full(10, 0.5))) == 2
    assert slo.replicas(stats(now=2, recent_ttft_s=np.full(10, 0.1))) == 1


def test_a_replica_above_training_preempts_a_job_and_one_below_waits():
    job = [(0.0, 8, 1000.0)]
    above = scenario(
        {
            "arrivals": {"times": [10]},
            "replicas": 0,
            "max_replicas": 1,
            "autoscaler": {"name": "queue", "interval": 10},
        },
        jobs=job,
    )
    r = simulator.run(above, record_events=True)
    ev = r.events
    assert ev[ev.event == "preempt"].t_s.tolist() == [10.0]
    assert r.requests.ttft_s[0] == pytest.approx(LAT.prefill_s([512])[0])
    below = above | {}
    below["workload"]["services"][0]["priority"] = "below_training"
    r = simulator.run(below, record_events=True)
    assert "preempt" not in set(r.events.event)
    assert r.requests.admit_s[0] == pytest.approx(1000.0)  # after the job


@given(
    times=st.lists(st.floats(0, 300), min_size=1, max_size=40),
    max_batch=st.integers(1, 6),
    limit=st.none() | st.integers(0, 5),
    policy=st.sampled_from(["hpa", "queue", "slo"]),
    batching=st.sampled_from(["continuous", "static"]),
    jobs=st.lists(
        st.tuples(st.floats(0, 300), st.sampled_from([4, 8]), st.floats(1, 200)), max_size=4
    ),
    node_mtbf=st.sampled_from([None, 60.0, 200.0]),
)
def test_no_request_is_lost_and_devices_are_never_overcommitted(
    times, max_batch, limit, policy, batching, jobs, node_mtbf
):
    spec = scenario(
        {
            "arrivals": {"times": sorted(times)},
            "max_batch": max_batch,
            "queue_limit": limit,
            "batching": batching,
            "output": 64,
            "replicas": 1,
            "max_replicas": 3,
            "startup": 5,
            "slo": {"ttft": 1.0},
            "autoscaler": {
                "name": policy,
                "interval": 7,
                "params": {} if policy == "hpa" else {"down_cooldown": 20},
            },
        },
        nodes=2,
        jobs=jobs,
        horizon=350,
    )
    if node_mtbf:  # replicas fail with their nodes: their requests queue again, none is lost
        spec["failures"] = {"node": {"mtbf": node_mtbf, "repair": {"exponential": {"mean": 20}}}}
    r = simulator.run(spec)  # check_invariants: capacity checked after every pass
    req, block = r.requests, r.summary["services"]["chat"]
    counts = req.state.value_counts().to_dict()
    assert len(req) == len(times) == block["requests_arrived"]
    assert block["requests_served"] + block["requests_dropped"] + block[
        "requests_unfinished"
    ] == len(req)
    assert counts.get("served", 0) == block["requests_served"]
    served = req[req.state == "served"]
    assert (served.admit_s >= served.arrival_s - 1e-9).all()
    assert (served.first_token_s > served.admit_s).all() and (
        served.end_s > served.first_token_s
    ).all()


def test_services_need_a_horizon_and_a_node_of_their_template(tmp_path):
    spec = scenario({"arrivals": {"poisson": {"rate": 1}}, "node": "dgx-h100"})
    spec.pop("horizon")
    with pytest.raises(simulator.ScenarioError) as e:
        simulator.run(spec)
    text = str(e.value)
    assert "horizon" in text and "workload.services.0.node" in text


def test_an_unknown_replica_policy_is_reported_with_its_path():
    spec = scenario({"arrivals": {"times": [0]}, "autoscaler": {"name": "nope"}})
    with pytest.raises(simulator.ScenarioError, match=r"workload\.services\.0\.autoscaler"):
        simulator.run(spec)


def test_a_service_run_writes_its_requests_series_and_summary_block(tmp_path):
    from simulator.metrics.schema import REQUEST_COLUMNS, SERVICE_KEYS, SERVICE_SERIES

    spec = scenario({"arrivals": {"poisson": {"rate": 0.5}}}, horizon=600)
    r = simulator.run(spec)
    out = r.save(tmp_path / "run")
    assert list(r.summary["services"]["chat"]) == list(SERVICE_KEYS)
    assert list(r.requests.columns) == list(REQUEST_COLUMNS)
    chat = r.series[r.series.entity == "chat"]
    assert set(chat.metric) == set(SERVICE_SERIES)
    loaded = simulator.Results.load(out)
    assert loaded.requests.equals(r.requests)
    assert (out / "plots" / "service_chat.png").exists()


def test_request_processes_have_their_long_run_rates():
    from simulator.scenario.services import RequestArrivals
    from simulator.workload.requests import arrival_times

    rng = np.random.default_rng(3)
    day = 86400.0
    diurnal = RequestArrivals(diurnal={"mean": 2.0, "amplitude": 0.8, "peak": 50400})
    t = arrival_times(diurnal, 10 * day, rng)
    assert len(t) / (10 * day) == pytest.approx(2.0, rel=0.01)
    hour = (t % day) // 3600
    assert np.bincount(hour.astype(int)).argmax() in (13, 14)  # the peak hour
    bursty = RequestArrivals(bursty={"rate": 1.0, "burst_rate": 20.0, "calm": 600, "burst": 60})
    t = arrival_times(bursty, 20 * day, rng)
    assert len(t) / (20 * day) == pytest.approx((600 * 1 + 60 * 20) / 660, rel=0.03)


def test_a_service_replays_the_azure_trace(tmp_path):
    import pandas as pd

    from .conftest import SHARED

    path = SHARED / "data" / "traces" / "azure_llm" / "AzureLLMInferenceTrace_conv.csv"
    spec = scenario(
        {"arrivals": {"trace": {"path": str(path), "limit": 300, "time_scale": 0.5}}},
        nodes=2,
        horizon=7200,
    )
    _, req = requests(spec)
    rows = pd.read_csv(path, nrows=300)
    t = pd.to_datetime(rows.TIMESTAMP)
    assert len(req) == 300
    assert req.prompt_tokens.tolist() == rows.ContextTokens.clip(lower=1).tolist()
    assert req.output_tokens.tolist() == rows.GeneratedTokens.clip(lower=1).tolist()
    gaps = (t - t.iloc[0]).dt.total_seconds().to_numpy() * 0.5
    assert req.arrival_s.to_numpy() == pytest.approx(gaps, abs=1e-6)


def test_spot_reclaims_requeue_a_replicas_requests_and_none_is_lost():
    spec = scenario(
        {
            "arrivals": {"poisson": {"rate": 1.0}, "until": 3000},
            "replicas": 1,
            "max_replicas": 2,
            "autoscaler": {"name": "queue", "interval": 10},
        },
        nodes=2,
        horizon=6000,
        scheduler={"autoscaler": {"name": "queue", "params": {"delay": 0, "idle": 60}}},
    )
    group = spec["cluster"]["datacenters"][0]["node_groups"][0]
    group |= {
        "pricing": "spot",
        "spot_reclaim_rate": "10/h",
        "elastic": {"min": 0, "initial": 1, "provision": "1m"},
    }
    r = simulator.run(spec, record_events=True)
    assert (r.events.event == "spot_reclaim").sum() >= 3
    req = r.requests
    assert (req.state == "served").all()  # every request restarted after a reclaim finished
    assert (req.first_token_s >= req.admit_s).all()
