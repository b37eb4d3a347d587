"""Placement policies in the engine: hand-computed placements from exact event logs."""

import numpy as np
import pytest

import simulator
from simulator import ScenarioError

from .conftest import tiny
from .test_throughput_engine import model_job


def starts(spec):
    r = simulator.run(spec, record_events=True)
    return r.events[r.events["event"] == "start"]["detail"].tolist()


def with_placement(spec, placement):
    spec["scheduler"] = {"placement": placement}
    return spec


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        # free after j0, j1: [2, 4, 8]; j2 (2 GPUs) and j3 (3 GPUs) differ by policy
        ("first_fit", ["0:6", "1:4", "0:2", "1:3"]),
        ("best_fit", ["0:6", "1:4", "0:2", "1:3"]),  # least leftover
        ("worst_fit", ["0:6", "1:4", "2:2", "2:3"]),  # most free
    ],
)
def test_single_node_choice(placement, expected):
    jobs = [(0, 6, 100), (0, 4, 100), (1, 2, 100), (2, 3, 100)]
    assert starts(with_placement(tiny(jobs, nodes=3), placement)) == expected


def test_spilling_order_per_policy():
    # 3 nodes of 4 GPUs; jobs of 3, 1, 2 GPUs, then one of 5 that no node holds.
    # first fit: free [0, 2, 4] -> id order; best fit: free [0, 2, 4] (j1 fills node 0) ->
    # most free first; worst fit: free [1, 3, 2] (each job to the emptiest node) -> same rule
    jobs = [(0, 3, 100), (0, 1, 100), (0, 2, 100), (1, 5, 100)]
    spec = tiny(jobs, gpus_per_node=4, nodes=3)
    assert starts(with_placement(spec, "first_fit")) == ["0:3", "0:1", "1:2", "1:2,2:3"]
    assert starts(with_placement(spec, "best_fit")) == ["0:3", "0:1", "1:2", "2:4,1:1"]
    assert starts(with_placement(spec, "worst_fit")) == ["0:3", "1:1", "2:2", "1:3,2:2"]


def test_consolidated_keeps_a_gang_in_one_rack_where_first_fit_scatters():
    # 4 nodes of 4 GPUs, racks {0, 1} and {2, 3}; free [1, 1, 4, 4] when the 6-GPU job comes
    jobs = [(0, 3, 100), (0, 3, 100), (1, 6, 100)]
    spec = tiny(jobs, gpus_per_node=4, nodes=4, nodes_per_rack=2)
    assert starts(with_placement(spec, "first_fit"))[-1] == "0:1,1:1,2:4"
    assert starts(with_placement(spec, "consolidated"))[-1] == "2:4,3:2"


def test_consolidated_placement_beats_first_fit_for_communication_heavy_jobs():
    # the same situation with BERT-large behind 8:1 oversubscribed ToR uplinks: scattered,
    # its ring crosses racks at a quarter of a NIC; packed, it stays under one ToR
    spec = tiny(gpus_per_node=4, nodes=4, nodes_per_rack=2)
    spec["cluster"]["datacenters"][0]["network"] = {"tor_oversubscription": 8.0}
    spec["workload"]["training"] = [
        {"name": "a", "arrival": {"times": [0]}, "gpus": 3, "duration": 1e6},
        {"name": "b", "arrival": {"times": [0]}, "gpus": 3, "duration": 1e6},
        model_job("bert-large", 6, 96, 1000, t=1.0),
    ]
    first = simulator.run(with_placement(spec, "first_fit")).jobs
    packed = simulator.run(with_placement(spec, "consolidated")).jobs
    assert packed["jct_s"][2] < first["jct_s"][2] / 1.5


def test_filter_weigh_filters_chips_and_follows_weights():
    spec = tiny([(0, 4, 100), (0, 4, 100)], nodes=2)
    spec["cluster"]["datacenters"][0]["node_groups"].append(
        {"name": "a", "node": {"chip": "a100-80gb", "gpus": 8}, "count": 1, "nodes_per_rack": 8}
    )
    spec["scheduler"] = {
        "placement": {
            "name": "filter_weigh",
            "params": {"filters": {"chips": ["h100-sxm"]}, "weights": {"id": 1.0}},
        }
    }
    assert starts(spec) == ["1:4", "1:4"]  # highest-id H100 node; never the A100 node 2
    spec["scheduler"]["placement"]["params"] = {"filters": {"groups": ["dc/a"]}}
    assert starts(spec) == ["2:4", "2:4"]


def test_filter_weigh_rejects_unknown_features():
    spec = tiny()
    spec["scheduler"] = {"placement": {"name": "filter_weigh", "params": {"weights": {"fre": 1}}}}
    with pytest.raises(ScenarioError, match="unknown feature"):
        simulator.run(spec)


def test_random_placement_is_reproducible_per_seed():
    jobs = [(t, 1, 50) for t in range(12)]
    spec = with_placement(tiny(jobs, nodes=4), "random")
    a, b = starts(spec), starts(spec)
    assert a == b and len({s.split(":")[0] for s in a}) > 1
    spec["seed"] = 99
    assert starts(spec) != a
    assert np.all([s.endswith(":1") for s in a])
