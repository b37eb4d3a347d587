"""Shared test helpers: tiny scenario builders, paths, Hypothesis profile, golden flag."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

settings.register_profile(
    "ci", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.json from the current code",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def tiny(
    jobs: list[tuple[float, int, float]] | None = None,
    *,
    gpus_per_node: int = 8,
    nodes: int = 1,
    nodes_per_rack: int = 8,
    **extra,
) -> dict:
    """A scenario mapping: ``nodes`` inline nodes and one job per (submit, gpus, duration).

    Each job gets its own stream with explicit times, so job ids follow submit order (ties:
    list order).
    """
    jobs = jobs if jobs is not None else [(0.0, 8, 100.0), (0.0, 8, 100.0)]
    spec = {
        "name": "tiny",
        "check_invariants": True,
        "cluster": {
            "datacenters": [
                {
                    "name": "dc",
                    "node_groups": [
                        {
                            "name": "g",
                            "node": {"chip": "h100-sxm", "gpus": gpus_per_node},
                            "count": nodes,
                            "nodes_per_rack": nodes_per_rack,
                        }
                    ],
                }
            ]
        },
        "workload": {
            "training": [
                {"name": f"j{i}", "arrival": {"times": [t]}, "gpus": g, "duration": d}
                for i, (t, g, d) in enumerate(jobs)
            ]
        },
    }
    spec.update(copy.deepcopy(extra))
    return spec
