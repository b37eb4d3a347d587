"""Property: random mutations of valid scenarios never produce a traceback. ``validate`` either
accepts (exit 0) or reports problems (exit 2); whatever it accepts, ``run`` simulates to the
end (exit 0). Small ``limits`` keep every accepted mutant quick to run."""

from __future__ import annotations

import copy
import re
import resource
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main

from .conftest import tiny

LIMITS = {"max_jobs": 300, "max_requests": 3000, "max_events": 30000, "max_nodes": 64}


def bases() -> list[dict]:
    training = tiny([(0.0, 8, 100.0), (50.0, 4, 300.0)], nodes=2, horizon=7200.0, limits=LIMITS)
    training["workload"]["training"].append(
        {
            "name": "stream",
            "count": 20,
            "arrival": {"poisson": {"rate": "30/h"}},
            "gpus": {"choice": [1, 2, 8], "weights": [3, 2, 1]},
            "duration": {"lognormal": {"median": "10m", "sigma": 1.0}},
        }
    )
    training["workload"]["training"].append(
        {
            "name": "llm",
            "count": 2,
            "arrival": {"interval": "20m"},
            "gpus": 8,
            "model": {"name": "gpt-1.3b", "global_batch": 64, "iterations": 200},
        }
    )
    training["scheduler"] = {"policy": "las", "placement": "best_fit"}
    serving = tiny([(0.0, 4, 600.0)], nodes=3, horizon=1800.0, limits=LIMITS)
    serving["cluster"]["datacenters"][0]["node_groups"][0]["node"] = "dgx-a100"
    serving["workload"]["services"] = [
        {
            "name": "chat",
            "model": "llama2-70b",
            "node": "dgx-a100",
            "tp": 8,
            "replicas": 1,
            "max_replicas": 3,
            "arrivals": {"poisson": {"rate": "1/s"}},
            "prompt": {"lognormal": {"median": 200, "sigma": 0.5}, "max": 2048},
            "output": 64,
            "slo": {"ttft": "2s"},
            "autoscaler": {"name": "queue", "interval": "30s"},
        }
    ]
    elastic = tiny([(0.0, 8, 100.0), (10.0, 16, 200.0)], nodes=3, horizon=7200.0, limits=LIMITS)
    group = elastic["cluster"]["datacenters"][0]["node_groups"][0]
    group |= {
        "elastic": {"min": 0, "initial": 1, "provision": "2m"},
        "price_per_hour": 10.0,
        "pricing": "spot",
        "spot_reclaim_rate": "0.5/h",
    }
    elastic["scheduler"] = {"autoscaler": "queue", "restart": {"save": "30s", "restore": "1m"}}
    return [training, serving, elastic]


BASES = bases()

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "1ns",
            "4/h",
            "1e9",
            "-1s",
            "80GiB",
            "400Gbps",
            "fifo",
            "las",
            "tiresias",
            "gavel",
            "dgx-h100",
            "h100-sxm",
            "llama2-70b",
            "gpt-7b",
            "queue",
            "spot",
            "0",
            "1d",
        ]
    ),
    st.lists(st.integers(-3, 100), max_size=3),
    st.dictionaries(
        st.sampled_from(["name", "rate", "x", "count", "median"]), st.integers(0, 9), max_size=2
    ),
)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def mutate(spec: dict, path: tuple, op: str, value) -> dict:
    spec = copy.deepcopy(spec)
    if not path:
        return spec
    parent = spec
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete" and isinstance(parent, dict):
        parent.pop(last)
    elif op == "add_key" and isinstance(parent[last], dict):
        parent[last]["unknown_key"] = value
    else:
        parent[last] = value
    return spec


@st.composite
def mutants(draw):
    spec = draw(st.sampled_from(BASES))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = list(paths(spec))
        path = draw(st.sampled_from(all_paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add_key"]))
        spec = mutate(spec, path, op, draw(JUNK))
    return spec


@pytest.fixture(scope="module")
def bounded_memory():
    """Cap this process's address space 4 GiB above its present size while the property runs,
    so a mutant that allocates without bound fails here (MemoryError: exit 3) instead of
    exhausting the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = int(re.search(r"VmSize:\s+(\d+) kB", Path("/proc/self/status").read_text())[1])
    cap = size * 1024 + 4 * 2**30
    resource.setrlimit(
        resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard)
    )
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=mutants())
def test_mutated_scenarios_never_traceback(tmp_path_factory, bounded_memory, spec):
    tmp = tmp_path_factory.mktemp("mutant")
    path = tmp / "s.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    code = main(["validate", str(path)])
    assert code in (0, 2)
    if code == 0:
        out = tmp / "out"
        assert main(["run", str(path), "--out", str(out), "--quiet", "--no-plots"]) == 0
        assert (out / "summary.json").exists()


def test_the_unmutated_bases_are_valid_and_run(tmp_path):
    for k, spec in enumerate(BASES):
        path = tmp_path / f"base{k}.yaml"
        path.write_text(yaml.safe_dump(spec))
        out = tmp_path / f"out{k}"
        assert main(["run", str(path), "--out", str(out), "--quiet", "--no-plots"]) == 0
