"""Random streams keyed by name: adding or reordering a stream, a service or a node group
never changes the numbers any other one draws (common random numbers)."""

import numpy as np
import pytest

import simulator
from simulator.engine import RngStreams

from .conftest import tiny
from .test_workload import jobs_of, stream


def test_named_generators_are_reproducible_and_distinct():
    a = RngStreams(3).generator("workload", "stream", "a", "arrivals").random(4)
    again = RngStreams(3).generator("workload", "stream", "a", "arrivals").random(4)
    np.testing.assert_array_equal(a, again)
    for other in (
        RngStreams(3).generator("workload", "stream", "b", "arrivals"),
        RngStreams(3).generator("workload", "stream", "a", "gpus"),
        RngStreams(4).generator("workload", "stream", "a", "arrivals"),
    ):
        assert not np.array_equal(a, other.random(4))
    with pytest.raises(KeyError, match="unknown RNG component"):
        RngStreams(3).generator("wrkload")


def test_a_stream_added_in_front_leaves_the_others_draws_alone():
    late = stream(
        name="late",
        count=100,
        arrival={"poisson": {"rate": "4/h"}},
        gpus={"choice": [1, 2, 4, 8]},
        duration={"exponential": {"mean": "1h"}},
    )
    first = stream(
        name="first", count=30, arrival={"poisson": {"rate": "9/h"}}, gpus={"choice": [1, 2]}
    )
    alone, both = jobs_of([late]), jobs_of([first, late])
    mine = both.stream == 1
    np.testing.assert_array_equal(alone.submit_s, both.submit_s[mine])
    np.testing.assert_array_equal(alone.gpus, both.gpus[mine])
    np.testing.assert_array_equal(alone.duration_s, both.duration_s[mine])


def test_a_service_added_in_front_leaves_the_others_requests_alone():
    def chat_requests(services):
        spec = tiny([], horizon=600)
        spec["cluster"]["datacenters"][0]["node_groups"] = [
            {"name": "a100", "node": "dgx-a100", "count": 2}
        ]
        spec["workload"]["services"] = services
        r = simulator.run(spec).requests
        return r[r["service"] == "chat"][["arrival_s", "prompt_tokens", "output_tokens"]]

    chat = {
        "name": "chat",
        "model": "llama2-70b",
        "tp": 8,
        "arrivals": {"poisson": {"rate": "2/s"}},
        "prompt": {"lognormal": {"median": 512, "sigma": 0.5}},
        "output": {"lognormal": {"median": 128, "sigma": 0.5}},
    }
    code = chat | {"name": "code", "arrivals": {"poisson": {"rate": "1/s"}}}
    alone, both = chat_requests([chat]), chat_requests([code, chat])
    assert len(alone) > 500
    np.testing.assert_array_equal(alone.to_numpy(), both.to_numpy())


def test_a_spot_group_added_in_front_leaves_the_others_reclaims_alone():
    def reclaims(names):
        spec = tiny([(0.0, 1, 48 * 3600.0)], horizon=48 * 3600)  # keeps the run going
        spec["cluster"]["datacenters"][0]["node_groups"] = [
            {
                "name": name,
                "node": {"chip": "h100-sxm", "gpus": 8},
                "count": 4,
                "pricing": "spot",
                "spot_reclaim_rate": "0.2/h",
                "elastic": {"min": 4, "provision": "10m"},
            }
            for name in names
        ]
        sizes = {name: [[0, 4]] for name in names}  # a reclaimed node is replaced at once
        spec["scheduler"] = {"autoscaler": {"name": "schedule", "params": {"sizes": sizes}}}
        ev = simulator.run(spec, record_events=True).events
        return ev[(ev["event"] == "spot_reclaim") & (ev["detail"] == "late")]["t_s"].tolist()

    alone = reclaims(["late"])
    assert len(alone) > 10
    assert reclaims(["early", "late"]) == alone
