"""The output contract: files, columns, glossary, round trips, golden summaries."""

import json
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

import simulator
from simulator.metrics import JOB_COLUMNS, SERIES_COLUMNS, SERIES_METRICS, SUMMARY_KEYS
from simulator.metrics.schema import (
    COST_KEYS,
    ENERGY_KEYS,
    FAILURE_KEYS,
    REQUEST_COLUMNS,
    SERVICE_KEYS,
    SERVICE_SERIES,
)

from .conftest import ROOT, SHARED, tiny

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "run"
    results = simulator.run(QUICKSTART)
    results.save(out)
    return results, out


def test_run_directory_passes_the_shared_contract_checker(quick_run):
    _, out = quick_run
    res = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "check_outputs.py"), str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == [
        "jct_wait_cdf.png",
        "utilization_queue.png",
    ]


def test_columns_and_keys_come_from_the_schema(quick_run):
    results, out = quick_run
    assert list(results.summary) == list(SUMMARY_KEYS)
    assert pq.read_schema(out / "jobs.parquet").names == list(JOB_COLUMNS)
    assert pq.read_schema(out / "series.parquet").names == list(SERIES_COLUMNS)
    optional = set(SERVICE_SERIES) | {"down_gpus"}  # with services, with a failures block
    assert set(results.series["metric"]) == set(SERIES_METRICS) - optional
    field = pq.read_schema(out / "jobs.parquet").field("wait_s")
    assert field.metadata[b"unit"] == b"s"


def test_load_round_trip_and_resolved_config_reruns_identically(quick_run, tmp_path):
    results, out = quick_run
    loaded = simulator.Results.load(out)
    assert loaded.summary == json.loads((out / "summary.json").read_text())
    assert loaded.jobs.equals(results.jobs)
    assert loaded.scenario == results.scenario
    again = simulator.run(out / "config.resolved.yaml")
    again.save(tmp_path / "again", plots=False)
    assert (tmp_path / "again" / "jobs.parquet").read_bytes() == (out / "jobs.parquet").read_bytes()


def test_manifest(quick_run):
    _, out = quick_run
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == 7 and m["scenario"] == "quickstart"
    assert len(m["scenario_sha256"]) == 64
    assert m["events"] > 0 and m["compile_s"] >= 0 and m["wall_s"] > 0
    assert m["packages"]["simpy"]


def test_readme_glossary_matches_schema():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Metrics glossary", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", section, re.M)
    documented = {(where.strip(), name): unit.strip() for name, where, unit, _ in rows}
    expected = {("summary", k): u for k, (u, _) in SUMMARY_KEYS.items()}
    expected |= {("jobs", k): u for k, (_, u, _) in JOB_COLUMNS.items()}
    expected |= {("series", k): u for k, (u, _) in SERIES_METRICS.items()}
    expected |= {("services", k): u for k, (u, _) in SERVICE_KEYS.items()}
    expected |= {("cost", k): u for k, (u, _) in COST_KEYS.items()}
    expected |= {("energy", k): u for k, (u, _) in ENERGY_KEYS.items()}
    expected |= {("failures", k): u for k, (u, _) in FAILURE_KEYS.items()}
    expected |= {("requests", k): u for k, (_, u, _) in REQUEST_COLUMNS.items()}
    assert documented == expected


GOLDEN = ["quickstart", "heavy_tail", "multi_dc", "llm_training"]


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_summary(name, update_golden):
    """Fixed-seed summaries; regenerate only with ``pytest --update-golden``."""
    summary = simulator.run(ROOT / "scenarios" / f"{name}.yaml").summary
    summary.pop("wall_s")
    path = ROOT / "tests" / "golden" / f"{name}.json"
    if update_golden:
        path.write_text(json.dumps(summary, indent=2) + "\n")
    expected = _flat(json.loads(path.read_text()))
    summary = _flat(summary)
    assert summary.keys() == expected.keys()
    for key, value in expected.items():
        assert summary[key] == (pytest.approx(value, rel=1e-12) if value is not None else None)


def _flat(block: dict, prefix: str = "") -> dict:
    """Nested blocks as dotted keys (an empty block stays a key)."""
    out = {}
    for key, value in block.items():
        if isinstance(value, dict) and value:
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def test_empty_workload_runs():
    spec = tiny([])
    r = simulator.run(spec)
    assert r.summary["jobs_submitted"] == 0 and r.summary["mean_jct_s"] is None


def test_series_table_keeps_the_last_sample_of_each_instant_and_only_level_changes():
    # a direct per-metric oracle: walk the samples, keep the last one of each instant, drop
    # those that repeat the level kept before
    import numpy as np

    from simulator.metrics.summary import series_table

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 25))
        t = np.sort(rng.integers(0, 6, n)).astype(float)
        series = {m: rng.integers(0, 3, n).astype(float) for m in ("busy_gpus", "queue_length")}
        table = series_table(t, series).to_pandas()
        for metric, v in series.items():
            expected = []
            for i in range(n):
                if i + 1 < n and t[i + 1] == t[i]:
                    continue  # not the last sample of its instant
                if not expected or expected[-1][1] != v[i]:
                    expected.append((t[i], v[i]))
            got = table[table.metric == metric]
            assert list(zip(got.t_s, got.value, strict=True)) == expected
