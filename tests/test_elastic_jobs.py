"""Elastic training jobs under the marginal-speedup policy: hand-computed schedules, the
throughput model at each size, resize costs, and whole-run properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.scenario import ScenarioError

from .conftest import ROOT, tiny


def elastic_jobs(rows, nodes=1, **elastic):
    """One elastic stream per (submit, gpus, duration, min, max)."""
    spec = tiny([], nodes=nodes)
    spec["workload"]["training"] = [
        {
            "name": f"j{i}",
            "arrival": {"times": [t]},
            "gpus": g,
            "duration": d,
            "elastic": {"min_gpus": lo, "max_gpus": hi, **elastic},
        }
        for i, (t, g, d, lo, hi) in enumerate(rows)
    ]
    return spec


def log_of(r):
    return [(t, e, j, d) for t, e, j, d in r.events.itertuples(index=False) if e != "submit"]


def test_jobs_grow_into_free_gpus_and_give_back_what_a_queued_job_needs():
    # a (4 GPUs asked) grows to all 8 at once; b arrives at 600 s, starts at its minimum after a
    # gives one back; when a finishes, b takes the node. Linear scaling (serial fraction 0):
    # a does 1200 s of work by 600 s at 8 GPUs, the other 2400 at 7/4 speed: done at 1971.43;
    # b does 1371.43 x 1/4 at 1 GPU, the rest at 8/4 speed: done at 3600
    r = simulator.run(
        elastic_jobs([(0, 4, 3600.0, 1, 8), (600, 4, 3600.0, 1, 8)]), record_events=True
    )
    a_end = 600 + 2400 / 1.75
    expected = [
        (0.0, "start", 0, "0:4"),
        (0.0, "resize", 0, "4->8"),
        (600.0, "resize", 0, "8->7"),
        (600.0, "start", 1, "0:1"),
        (a_end, "finish", 0, ""),
        (a_end, "resize", 1, "1->8"),
        (3600.0, "finish", 1, ""),
    ]
    log = log_of(r)
    assert [row[1:] for row in log] == [row[1:] for row in expected]
    assert [row[0] for row in log] == pytest.approx([row[0] for row in expected])
    # linear scaling and free resizes conserve GPU-seconds: duration x requested GPUs
    assert r.jobs["gpu_service_s"].tolist() == pytest.approx([4 * 3600.0, 4 * 3600.0])
    assert r.jobs["resizes"].tolist() == [2, 1]


@pytest.mark.parametrize("min_gain, size, end", [(0.02, 4, 3600 / 1.6), (0.15, 3, 3600 / 1.5)])
def test_amdahl_scaling_and_the_least_gain_worth_a_gpu(min_gain, size, end):
    # serial fraction 0.5: S(1) = 1, S(2) = 4/3, S(3) = 1.5, S(4) = 1.6; gains per added GPU
    # 1/3, 1/6, 1/10: all worth 0.02, only the first two worth 0.15
    spec = elastic_jobs([(0, 1, 3600.0, 1, 4)], serial_fraction=0.5)
    spec["scheduler"] = {"elastic": {"name": "marginal", "params": {"min_gain": min_gain}}}
    r = simulator.run(spec, record_events=True)
    assert log_of(r)[1] == (0.0, "resize", 0, f"1->{size}")
    assert r.jobs["end_s"][0] == pytest.approx(end)


def test_a_resize_holds_the_devices_for_its_cost_and_is_skipped_when_not_worth_it():
    # growing 4 -> 8 with a 60 s resize: progress resumes at 60 s at twice the speed
    r = simulator.run(elastic_jobs([(0, 4, 3600.0, 4, 8)], resize="60s"))
    assert r.jobs["end_s"][0] == pytest.approx(60 + 3600 / 2)
    assert r.jobs["lost_work_s"][0] == pytest.approx(60)
    # 100 s of work: 60 + 50 s at 8 GPUs is no faster than 100 s at 4
    r = simulator.run(elastic_jobs([(0, 4, 100.0, 4, 8)], resize="60s"))
    assert r.jobs["resizes"][0] == 0 and r.jobs["end_s"][0] == pytest.approx(100)


def test_model_jobs_run_at_the_throughput_model_speed_of_their_new_size():
    def job(gpus, elastic=None):
        spec = tiny([], nodes=1)
        stream = {
            "name": "m",
            "arrival": {"times": [0]},
            "gpus": gpus,
            "model": {"name": "resnet50", "global_batch": 256, "iterations": 20000},
        }
        if elastic:
            stream["elastic"] = elastic
        spec["workload"]["training"] = [stream]
        return simulator.run(spec).jobs["end_s"][0]

    grown = job(2, {"min_gpus": 2, "max_gpus": 8})
    assert grown == pytest.approx(job(8), rel=1e-12)  # resized to 8 at t=0, no cost
    assert grown < job(2)


def test_a_queued_elastic_job_starts_at_its_minimum():
    # 6 of 8 GPUs busy with a rigid job: an elastic job asking 4 (min 2) starts on the 2 left
    spec = elastic_jobs([(0, 4, 1000.0, 2, 4)])
    spec["workload"]["training"].insert(
        0, {"name": "rigid", "arrival": {"times": [0]}, "gpus": 6, "duration": 5000}
    )
    r = simulator.run(spec, record_events=True)
    starts = [(t, j, d) for t, e, j, d in log_of(r) if e == "start"]
    assert starts == [(0.0, 0, "0:6"), (0.0, 1, "0:2")]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3000),
            st.sampled_from([1, 2, 4, 8]),
            st.floats(60, 5000),
            st.sampled_from([1, 2]),
            st.sampled_from([8, 16]),
        ),
        min_size=1,
        max_size=8,
    ),
    resize=st.sampled_from([0.0, 30.0]),
)
def test_every_job_finishes_and_devices_are_never_overcommitted(rows, resize):
    rows = sorted((float(t), g, d, min(lo, g), hi) for t, g, d, lo, hi in rows)
    spec = elastic_jobs(rows, nodes=2, resize=resize)  # check_invariants after every pass
    r = simulator.run(spec)
    assert (r.jobs["state"] == "finished").all()
    if resize == 0:  # linear scaling, free resizes: GPU-seconds are conserved
        expected = [g * d for _, g, d, _, _ in rows]
        assert r.jobs["gpu_service_s"].tolist() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "elastic, gpus, message",
    [
        ({"min_gpus": 4, "max_gpus": 2}, 4, "min_gpus (4) exceeds max_gpus (2)"),
        ({"min_gpus": 1, "max_gpus": 2}, 4, "outside elastic min_gpus..max_gpus"),
    ],
)
def test_bad_elastic_bounds_are_reported_with_their_path(elastic, gpus, message):
    spec = tiny()
    spec["workload"]["training"][0] |= {"gpus": gpus, "elastic": elastic}
    with pytest.raises(ScenarioError) as err:
        simulator.run(spec)
    assert "workload.training.0" in str(err.value) and message in str(err.value)


def test_the_bundled_scenario_finishes_sooner_elastic_than_rigid():
    path = ROOT / "scenarios" / "elastic_training.yaml"
    elastic = simulator.run(path).summary
    rigid = simulator.run(path, overrides={"workload.training.0.elastic": None}).summary
    assert elastic["jobs_finished"] == rigid["jobs_finished"] == 60
    assert elastic["mean_jct_s"] < 0.6 * rigid["mean_jct_s"]
    assert elastic["gpu_utilization"] > rigid["gpu_utilization"]
