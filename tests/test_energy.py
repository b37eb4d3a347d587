"""Power, energy and carbon, and pricing classes: hand-computed oracles.

A chip draws idle + (peak - idle) x u (u = 1 while allocated); offline nodes draw nothing and
booting nodes draw idle; facility energy = IT x PUE; gCO2 = facility kWh x intensity."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.engine import energy
from simulator.scenario import ScenarioError, catalog

from .conftest import tiny

IDLE, PEAK = 100.0, 700.0
ROOT = Path(__file__).resolve().parents[1]


def cluster(count=2, elastic=None, pricing="on_demand", **dc):
    spec = tiny()
    group = {
        "name": "g",
        "node": {"chip": "h100-sxm", "gpus": 8},
        "count": count,
        "price_per_hour": 10.0,
        "pricing": pricing,
        "power": {"idle": f"{IDLE:g}W", "peak": f"{PEAK:g}W"},
    }
    if elastic is not None:
        group["elastic"] = elastic
    spec["cluster"]["datacenters"][0]["node_groups"] = [group]
    spec["cluster"]["datacenters"][0] |= dc
    return spec


def job(spec, gpus=8, hours=3.0, at=0.0):
    spec["workload"]["training"] = [
        {"name": "j", "arrival": {"times": [at]}, "gpus": gpus, "duration": hours * 3600}
    ]
    return spec


def test_fixed_cluster_energy_is_idle_plus_busy_dynamic_power_times_time():
    r = simulator.run(job(cluster(pue=1.5, carbon_intensity=400)))
    e = r.summary["energy"]
    it_kwh = 3 * (16 * IDLE + 8 * (PEAK - IDLE)) / 1e3  # 3 h of 16 idle + 8 busy chips
    assert e["it_kwh"] == pytest.approx(it_kwh)
    assert e["facility_kwh"] == pytest.approx(1.5 * it_kwh)
    assert e["gco2"] == pytest.approx(400 * 1.5 * it_kwh)
    assert e["mean_it_power_kw"] == pytest.approx(it_kwh / 3)
    assert e["peak_it_power_kw"] == pytest.approx(6.4)
    assert e["kwh_per_used_gpu_hour"] == pytest.approx(1.5 * it_kwh / 24)
    assert e["by_datacenter"] == {
        "dc": pytest.approx({"facility_kwh": 1.5 * it_kwh, "gco2": 400 * 1.5 * it_kwh})
    }
    power = r.series[r.series.metric == "power_kw"]
    assert power.value.tolist() == pytest.approx([6.4, 1.6])  # busy, then idle at the end


@pytest.mark.parametrize("per_pass", [False, True])
def test_powered_devices_idle_from_time_zero_before_the_first_event(monkeypatch, per_pass):
    # a job at 1 h for 1 h on 2 nodes: 16 GPUs idle over the 2 h run, 8 busy in the second
    if per_pass:  # the per-group path, as with several node groups or a carbon intensity
        monkeypatch.setattr(energy, "vectorised", lambda spec: False)
    e = simulator.run(job(cluster(), hours=1.0, at=3600.0)).summary["energy"]
    assert e["it_kwh"] == pytest.approx((16 * IDLE * 7200 + 8 * (PEAK - IDLE) * 3600) / 3.6e6)
    assert e["mean_it_power_kw"] == pytest.approx(e["it_kwh"] / 2)


def test_time_varying_intensity_is_integrated_hour_by_hour():
    spec = job(cluster(count=1, carbon_intensity={"values": [100, 500], "step": "1h"}))
    e = simulator.run(spec).summary["energy"]
    kw = 8 * PEAK / 1e3  # all 8 chips busy for 3 h
    assert e["gco2"] == pytest.approx(kw * (100 + 500 + 100))  # the profile repeats


def test_intensity_from_a_csv(tmp_path):
    path = tmp_path / "grid.csv"
    path.write_text("g_per_kwh\n300\n0\n")
    spec = job(cluster(count=1, carbon_intensity={"path": str(path), "step": "30m"}), hours=1)
    e = simulator.run(spec).summary["energy"]
    assert e["gco2"] == pytest.approx(8 * PEAK / 1e3 * (0.5 * 300 + 0.5 * 0))


def elastic_run(pricing):
    # the queue autoscaler's schedule of test_elastic: 2 nodes requested at 60 s, usable at
    # 360 s, the job runs 360 -> 3960 s, the nodes are released at 4560 s
    spec = job(cluster(elastic={"min": 0, "provision": "5m"}, pricing=pricing), gpus=16, hours=1)
    spec["scheduler"] = {
        "autoscaler": {"name": "queue", "params": {"delay": 60, "cooldown": 600, "idle": 600}}
    }
    return simulator.run(spec).summary


def test_offline_nodes_draw_nothing_and_booting_nodes_draw_idle():
    e = elastic_run("on_demand")["energy"]
    joules = 16 * IDLE * (4560 - 60) + 16 * (PEAK - IDLE) * 3600
    assert e["it_kwh"] == pytest.approx(joules / 3.6e6)
    assert e["gco2"] is None and e["by_datacenter"]["dc"]["gco2"] is None


def test_reserved_capacity_is_billed_for_every_node_the_whole_run():
    on_demand, reserved = elastic_run("on_demand")["cost"], elastic_run("reserved")["cost"]
    assert on_demand["on_demand"] == pytest.approx(2 * (4560 - 60) / 3600 * 10)
    assert on_demand["reserved"] is None and on_demand["spot"] is None
    assert reserved["reserved"] == pytest.approx(2 * 4560 / 3600 * 10)
    assert reserved["total"] == reserved["reserved"] and reserved["on_demand"] is None


def test_catalog_idle_figures_are_cited_or_the_cited_ratio_of_tdp():
    assert catalog.chip("a100-80gb").idle_w == 46.0  # CCF Appendix III
    assert catalog.chip("h100-sxm").idle_w == pytest.approx(700 * 35 / 306, abs=0.05)
    assert catalog.chip("tpu-v5e").idle_w is None  # no TDP published either


def test_a_chip_without_power_figures_gives_no_energy_block():
    spec = tiny()
    spec["cluster"]["datacenters"][0]["node_groups"] = [
        {"name": "g", "node": {"chip": "tpu-v5e", "gpus": 4}, "count": 1}
    ]
    r = simulator.run(job(spec, gpus=4))
    assert r.summary["energy"] is None
    assert "power_kw" not in set(r.series.metric)
    spec["cluster"]["datacenters"][0]["node_groups"][0]["power"] = {"idle": 20, "peak": 200}
    assert simulator.run(spec).summary["energy"]["peak_it_power_kw"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    "dc, path, message",
    [
        (
            {
                "node_groups": [
                    {"name": "g", "node": "dgx-a100", "count": 1, "power": {"idle": "900W"}}
                ]
            },
            "cluster.datacenters.0.node_groups.0",
            "idle (900 W) exceeds peak (400 W)",
        ),
        ({"carbon_intensity": {"values": [1], "path": "x.csv"}}, "carbon_intensity", "exactly one"),
        ({"carbon_intensity": -5}, "carbon_intensity", ">= 0"),
        ({"pue": 0.9}, "pue", "greater than or equal to 1"),
    ],
)
def test_bad_power_and_carbon_settings_are_reported_with_their_path(dc, path, message):
    spec = tiny()
    spec["cluster"]["datacenters"][0] |= dc
    with pytest.raises(ScenarioError) as err:
        simulator.run(spec)
    text = str(err.value)
    assert path in text and message in text


def _both_paths(monkeypatch, spec):
    vector = simulator.run(spec)
    with monkeypatch.context() as m:
        m.setattr(energy, "vectorised", lambda spec: False)
        per_pass = simulator.run(spec)
    blocks = []
    for e in (vector.summary["energy"], per_pass.summary["energy"]):
        (dc,) = e.pop("by_datacenter").values()
        e |= dc  # the one data centre's block, flat for approx
        blocks.append({k: v for k, v in e.items() if v is not None})  # gCO2: no intensity
    assert blocks[0] == pytest.approx(blocks[1], rel=1e-12)
    power = [r.series[r.series.metric == "power_kw"] for r in (vector, per_pass)]
    assert power[0].t_s.tolist() == power[1].t_s.tolist()
    assert power[0].value.tolist() == pytest.approx(power[1].value.tolist(), rel=1e-12)
    return vector


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 7200), st.sampled_from([1, 4, 8, 16]), st.floats(60, 7200)),
        min_size=1,
        max_size=12,
    )
)
def test_one_power_curve_at_the_end_equals_the_level_booked_after_every_pass(jobs):
    # the vector step at the end of a one-group run against the per-pass path, with nodes
    # booted and released by the queue autoscaler (idle watts change between passes)
    spec = cluster(count=2, elastic={"min": 0, "provision": "5m"})
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [at]}, "gpus": g, "duration": d}
        for i, (at, g, d) in enumerate(jobs)
    ]
    spec["scheduler"] = {
        "autoscaler": {"name": "queue", "params": {"delay": 60, "cooldown": 600, "idle": 600}}
    }
    with pytest.MonkeyPatch.context() as monkeypatch:
        _both_paths(monkeypatch, spec)


@pytest.mark.slow
def test_one_power_curve_with_services_equals_the_per_pass_path(monkeypatch):
    spec = simulator.load_scenario(ROOT / "scenarios" / "mixed_training_inference.yaml")
    assert energy.vectorised(spec.cluster)
    _both_paths(monkeypatch, spec)
