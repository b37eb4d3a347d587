"""Every scenario runs (short horizon), every notebook executes, README examples work."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import simulator

from .conftest import ROOT, tiny

SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.yaml"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_on_a_short_horizon(path: Path, tmp_path):
    results = simulator.run(path, overrides={"horizon": "1d", "check_invariants": True})
    assert results.summary["jobs_submitted"] > 0 or results.summary["services"]
    results.save(tmp_path / path.stem)


def test_there_are_scenarios_and_notebooks():
    assert {p.stem for p in SCENARIOS} >= {"quickstart"} and len(SCENARIOS) >= 4
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_quickstart.ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors


def test_readme_policy_example_runs():
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"```python\n(import numpy as np\nfrom simulator.policies.*?)```", text, re.S
    ).group(1)
    exec(compile(block, "README.md", "exec"), {})
    spec = tiny([(0, 4, 10.0), (0, 4, 10.0)], nodes=2)
    spec["scheduler"] = {"placement": "last_node"}
    r = simulator.run(spec, record_events=True)
    starts = r.events[r.events["event"] == "start"]["detail"].tolist()
    assert starts == ["1:4", "1:4"]


def test_readme_part_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"### Adding an engine part.*?```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), scope)
    jobs = scope["results"].jobs
    assert (jobs["preemptions"] > 0).any()  # node 0 went down under running jobs
