"""Model-described jobs in the engine: modelled rates, placement effects, shared uplinks."""

from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator import perf
from simulator.perf.collectives import CommPath
from simulator.perf.step import GRAD_BYTES, Parallelism, step_time
from simulator.policies import Placement, PlacementPolicy, register
from simulator.scenario import catalog, zoo

from .conftest import SHARED, tiny


def model_job(name, gpus, batch, iterations, t=0.0, tag="", **extra):
    return {
        "name": f"{name}-{t}{tag}",
        "arrival": {"times": [t]},
        "gpus": gpus,
        "model": {"name": name, "global_batch": batch, "iterations": iterations, **extra},
    }


def run(streams, **cluster):
    spec = tiny(**cluster)
    spec["workload"]["training"] = streams
    return simulator.run(spec, record_events=True)


def test_single_node_job_runs_steps_times_the_modelled_step():
    r = run([model_job("gpt-1.3b", 8, 64, 100)])
    expected = 100 * perf.step("gpt-1.3b", batch=64, chip="h100-sxm", gpus=8).time_s
    assert r.jobs["jct_s"][0] == pytest.approx(expected, rel=1e-12)
    assert r.jobs["model"][0] == "gpt-1.3b" and r.jobs["steps"][0] == 100
    assert np.isnan(r.jobs["duration_s"][0])


def test_tokens_and_samples_set_the_step_count():
    r = run([model_job("bert-large", 8, 256, 1)])
    spec = r.scenario.model_dump(mode="json")
    spec["workload"]["training"][0]["model"] = {
        "name": "bert-large",
        "global_batch": 256,
        "tokens": 256 * 128 * 10,
    }
    again = simulator.run(spec)
    assert again.jobs["steps"][0] == pytest.approx(10)
    assert again.jobs["jct_s"][0] == pytest.approx(10 * r.jobs["jct_s"][0])


@pytest.mark.parametrize(
    ("model", "batch", "overlap", "lower", "upper"),
    [
        # 340 M parameters of gradients per step of 8 sequences per GPU: communication-heavy
        ("bert-large", 64, 0.0, 1.5, None),
        # 11 M parameters, 2,048 images per GPU, all-reduce overlapped with backward: light
        ("resnet18-cifar10", 16384, 1.0, None, 1.0 + 1e-12),
    ],
)
def test_consolidated_beats_scattered_only_for_communication_heavy_jobs(
    model, batch, overlap, lower, upper
):
    job = [model_job(model, 8, batch, 50, overlap=overlap)]
    together = run(job, gpus_per_node=8, nodes=1)
    spec = tiny(gpus_per_node=1, nodes=8)  # same chips, one GPU and one 400 Gb/s NIC per node
    spec["cluster"]["datacenters"][0]["node_groups"][0]["node"]["nic"] = "400Gbps"
    spec["workload"]["training"] = job
    apart = simulator.run(spec, record_events=True)
    assert apart.events[apart.events["event"] == "start"]["detail"].iloc[0].count(",") == 7
    ratio = apart.jobs["jct_s"][0] / together.jobs["jct_s"][0]
    if lower is not None:
        assert ratio > lower
    if upper is not None:
        assert 1.0 <= ratio < upper


@register("placement", "test_pinned_pairs")
class PinnedPairs(PlacementPolicy):
    """Job j gets all devices of nodes j and j + 2 (so two jobs cross the same pod uplinks)."""

    def place(self, view, job):
        nodes = np.array([job, job + 2])
        per = view.topology.node_gpus[nodes]
        if np.any(view.free_gpus[nodes] < per) or per.sum() != view.gpus[job]:
            return None
        return Placement(nodes, per.copy())


def test_jobs_sharing_an_uplink_split_it_and_speed_up_when_alone():
    # 4 nodes, 1 per rack, 2 racks per pod, pod uplinks 4:1 oversubscribed. Job 0 on nodes
    # {0, 2} and job 1 on nodes {1, 3} both cross both pod uplinks: each gets half of them.
    spec = tiny(gpus_per_node=8, nodes=4, nodes_per_rack=1)
    spec["cluster"]["datacenters"][0]["network"] = {"racks_per_pod": 2, "pod_oversubscription": 4.0}
    spec["scheduler"] = {"placement": "test_pinned_pairs"}
    spec["workload"]["training"] = [
        model_job("bert-large", 16, 128, 200, tag="a"),
        model_job("bert-large", 16, 128, 600, tag="b"),
    ]
    r = simulator.run(spec, record_events=True)

    # the same numbers, computed by hand from the perf building blocks
    eff = catalog.NCCL_A100.inter_efficiency
    nic = 100e9 / 8  # inline node default NIC
    pod_uplink = 2 * nic / 4 * eff  # two racks of one node each, 4:1
    local = nic * eff  # one NIC per node, all 8 ranks drive it
    m = zoo.model("bert-large")
    cluster, _, _ = perf.hardware(None, 16, nodes=2, chip="h100-sxm")
    path = perf.comm_path(cluster.topology, np.array([0, 1]), np.array([8, 8]))

    def steps_per_s(bw):
        p = CommPath(16, bw, path.latency + 4 * 1e-6, True)  # + ToR and pod hops both ways
        return 1 / step_time(m, 128, [catalog.chip("h100-sxm")], Parallelism(16), p).time_s

    shared, alone = steps_per_s(min(local, pod_uplink / 2)), steps_per_s(min(local, pod_uplink))
    assert shared < alone
    end0 = 200 / shared
    end1 = end0 + (600 - shared * end0) / alone
    ends = r.jobs.set_index("job_id")["end_s"]
    assert ends[0] == pytest.approx(end0, rel=1e-9)
    assert ends[1] == pytest.approx(end1, rel=1e-9)
    assert GRAD_BYTES["mixed"] == 2.0


def test_duration_jobs_are_unaffected_by_the_model_machinery():
    r = run(
        [
            {"name": "d", "arrival": {"times": [0]}, "gpus": 8, "duration": 100},
            model_job("resnet50", 8, 256, 10, t=1.0),
        ]
    )
    assert r.jobs["jct_s"][0] == 100.0
    assert r.jobs["start_s"][1] == 100.0


GAVEL = str(SHARED / "data/profiles/gavel_throughputs/simulation_throughputs.json")
POLLUX = str(SHARED / "data/profiles/training_step/cifar10/placements.csv")


def cluster_of(node, count):
    return {
        "datacenters": [
            {
                "name": "dc",
                "node_groups": [{"name": "n", "node": node, "count": count, "nodes_per_rack": 4}],
            }
        ]
    }


def test_gavel_profile_sets_the_rate_where_it_has_the_chip():
    import json

    table = json.loads(Path(GAVEL).read_text())["v100"]
    measured = table["('ResNet-50 (batch size 64)', 1)"]["null"]
    job = model_job(
        "resnet50",
        1,
        64,
        1000,
        profile={"format": "gavel", "path": GAVEL, "job_type": "ResNet-50 (batch size 64)"},
    )
    spec = tiny()
    spec["workload"]["training"] = [job]
    spec["cluster"] = cluster_of("p3.16xlarge", 1)  # V100s: profiled
    assert simulator.run(spec).jobs["jct_s"][0] == pytest.approx(1000 / measured, rel=1e-12)
    spec["cluster"] = cluster_of("dgx-h100", 1)  # H100s: not in the table -> analytic
    analytic = 1000 * perf.step("resnet50", batch=64, node="dgx-h100", gpus=1).time_s
    assert simulator.run(spec).jobs["jct_s"][0] == pytest.approx(analytic, rel=1e-12)


def test_pollux_profile_interpolates_in_the_local_batch():
    import pandas as pd

    d = pd.read_csv(POLLUX, dtype={"placement": str})
    pts = d[d.placement == "4"].groupby("local_bsz")["step_time"].median()
    lo, hi = pts.index[0], pts.index[1]
    mid = (lo + hi) / 2
    expected_step = (pts.iloc[0] + pts.iloc[1]) / 2
    job = model_job(
        "resnet18-cifar10",
        4,
        4 * mid,
        100,
        profile={"format": "pollux", "path": POLLUX, "chip": "t4"},
    )
    spec = tiny()
    spec["workload"]["training"] = [job]
    spec["cluster"] = cluster_of("g4dn.12xlarge", 2)
    assert simulator.run(spec).jobs["jct_s"][0] == pytest.approx(100 * expected_step, rel=1e-12)


def test_profile_problems_are_reported(tmp_path):
    from simulator.scenario import ScenarioError

    spec = tiny()
    spec["workload"]["training"] = [
        model_job(
            "resnet50",
            8,
            64,
            10,
            profile={"format": "gavel", "path": GAVEL, "job_type": "ResNet-50 (batch size 65)"},
        )
    ]
    with pytest.raises(
        ScenarioError,
        match=r"model.profile.job_type: .*did you mean "
        r"'ResNet-50 \(batch size 64\)'",
    ):
        simulator.run(spec)
    spec["workload"]["training"][0]["model"]["profile"]["path"] = str(tmp_path / "none.json")
    with pytest.raises(ScenarioError, match="model.profile.path: .*none.json: file not found"):
        simulator.run(spec)
    spec["workload"]["training"][0]["model"]["profile"] = {"format": "gavel", "path": GAVEL}
    with pytest.raises(ScenarioError, match="a gavel profile needs job_type"):
        simulator.run(spec)
