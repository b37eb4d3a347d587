"""Jobs asking for a share of one GPU (gpu_milli < 1000): packing, waiting, conservation."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator

from .conftest import tiny


def shares(jobs, **cluster):
    """(submit, gpu_milli, duration) per job; gpu_milli 1000 is a whole GPU."""
    spec = tiny(**cluster)
    spec["workload"]["training"] = [
        {"name": f"j{i}", "arrival": {"times": [t]}, "gpus": 1, "gpu_milli": m, "duration": d}
        for i, (t, m, d) in enumerate(jobs)
    ]
    return simulator.run(spec, record_events=True)


def test_shares_pack_one_device_and_a_whole_job_waits_for_it_to_empty():
    # one GPU: 500 + 500 fill it; the 300 waits (FIFO) until job 0 leaves at 10, then shares
    # with job 1; the whole-GPU job waits until the device is empty again at 20
    r = shares([(0, 500, 10), (0, 500, 20), (0, 300, 5), (0, 1000, 7)], gpus_per_node=1)
    got = r.jobs.set_index("job_id")[["start_s", "end_s"]].to_dict("index")
    assert got == {
        0: {"start_s": 0.0, "end_s": 10.0},
        1: {"start_s": 0.0, "end_s": 20.0},
        2: {"start_s": 10.0, "end_s": 15.0},
        3: {"start_s": 20.0, "end_s": 27.0},
    }
    assert r.jobs["gpu_service_s"].tolist() == [5.0, 10.0, 1.5, 7.0]


def test_a_share_goes_on_the_tightest_open_device_leaving_whole_ones_free():
    # two GPUs: 600 opens one, 300 fits beside it (best fit) instead of opening the second,
    # so the whole-GPU job starts at once
    r = shares([(0, 600, 10), (1, 300, 10), (2, 1000, 10)], gpus_per_node=2)
    assert r.jobs["start_s"].tolist() == [0.0, 1.0, 2.0]
    busy = r.series[r.series["metric"] == "busy_gpus"].set_index("t_s")["value"]
    assert busy.asof(1.5) == 1 and busy.asof(2.0) == 2  # a shared device counts as busy


@settings(max_examples=30, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(
            st.integers(0, 20), st.sampled_from([100, 250, 500, 700, 1000]), st.integers(1, 30)
        ),
        min_size=1,
        max_size=20,
    ),
    policy=st.sampled_from(["fifo", "sjf", "srtf", "las"]),
)
def test_shares_never_overfill_a_device_and_every_job_finishes(jobs, policy):
    # the engine checks after every pass that each shared device's free thousandths equal
    # 1000 minus its shares, and that whole and shared devices add up per node
    spec = tiny(gpus_per_node=2, nodes=2)
    spec["workload"]["training"] = [
        {
            "name": f"j{i}",
            "arrival": {"times": [float(t)]},
            "gpus": 1,
            "gpu_milli": m,
            "duration": float(d),
        }
        for i, (t, m, d) in enumerate(sorted(jobs))
    ]
    spec["scheduler"] = {
        "policy": {"name": policy, "params": {"quantum": 5.0} if policy == "las" else {}}
    }
    r = simulator.run(spec).jobs
    assert (r["state"] == "finished").all()
    np.testing.assert_allclose(r["gpu_service_s"], r["gpu_milli"] / 1000 * r["duration_s"])
