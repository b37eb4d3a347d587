"""An engine part written outside the engine: node maintenance windows.

The part below touches no engine file: it subclasses :class:`simulator.engine.parts.Part`,
acts only through the engine facade and the node lifecycle, and is passed to
``simulator.run(..., parts=[...])``. The tests pin what it must do, by hand-computed oracles:
the exact event log, the online-device series, the jobs' counters and the energy integral
(a node down for maintenance stays powered at idle).
"""

from functools import partial

import numpy as np
import pytest

import simulator
from simulator.engine.nodes import DOWN, ONLINE
from simulator.engine.parts import Part
from simulator.scenario import catalog

from .conftest import tiny
from .test_engine import log


class Maintenance(Part):
    """Each window ``(node, start, end)`` drains the node at ``start`` (its jobs checkpoint
    and queue again) and gives it back at ``end``; a node not online at ``start`` is skipped."""

    name = "maintenance"

    def __init__(self, windows: list[tuple[int, float, float]]):
        self.windows = windows
        self.seen: list[tuple[float, int, int, int]] = []  # every node event, for the test
        self.done = 0

    def attach(self, engine) -> None:
        super().attach(engine)
        for node, start, end in self.windows:
            engine.call_at(start, partial(self._down, node, end))

    def _down(self, node: int, end: float, _event) -> None:
        nodes = self.engine.nodes
        if nodes.status[node] != ONLINE:
            return
        nodes.take_down(node, "maintenance", keep_progress=True, billed=True)
        self.engine.log("maintenance", f"node {node}")
        self.engine.call_at(end, partial(self._up, node))

    def _up(self, node: int, _event) -> None:
        self.engine.nodes.bring_up(node)
        self.engine.log("maintained", f"node {node}")
        self.done += 1

    def on_node_status(self, node: int, old: int, new: int) -> None:
        self.seen.append((self.engine.now, node, old, new))


def test_maintenance_drains_a_node_and_its_job_resumes_there_when_it_is_back():
    part = Maintenance([(0, 30.0, 50.0)])
    r = simulator.run(tiny(nodes=2), record_events=True, parts=[part])
    assert log(r) == [
        (0.0, "submit", 0, ""),
        (0.0, "submit", 1, ""),
        (0.0, "start", 0, "0:8"),
        (0.0, "start", 1, "1:8"),
        (30.0, "preempt", 0, ""),
        (30.0, "maintenance", -1, "node 0"),
        (50.0, "maintained", -1, "node 0"),
        (50.0, "start", 0, "0:8"),  # 70 s of work left: checkpointed, nothing lost
        (100.0, "finish", 1, ""),
        (120.0, "finish", 0, ""),
    ]
    assert part.seen == [(30.0, 0, ONLINE, DOWN), (50.0, 0, DOWN, ONLINE)]
    assert part.done == 1
    jobs = r.jobs.set_index("job_id")
    assert jobs.loc[0, "preemptions"] == 1 and jobs.loc[0, "lost_work_s"] == 0
    assert jobs.loc[0, "jct_s"] == 120.0 and jobs.loc[1, "jct_s"] == 100.0
    online = r.series[r.series["metric"] == "online_gpus"]
    assert online.loc[online["t_s"] == 30.0, "value"].iloc[-1] == 8
    assert online.loc[online["t_s"] == 50.0, "value"].iloc[-1] == 16


def test_a_node_down_for_maintenance_is_billed_and_idles():
    spec = tiny(nodes=2)
    spec["cluster"]["datacenters"][0]["node_groups"][0]["price_per_hour"] = 36.0
    r = simulator.run(spec, parts=[Maintenance([(0, 30.0, 50.0)])])
    assert r.summary["cost"]["on_demand"] == pytest.approx(2 * 36.0 * 120 / 3600)
    chip = catalog.chip("h100-sxm")
    busy_gpu_s = 8 * 100 + 8 * 100  # job 1, and job 0 in two runs (30 s + 70 s)
    it_j = chip.idle_w * 16 * 120 + (chip.tdp_w - chip.idle_w) * busy_gpu_s
    assert r.summary["energy"]["it_kwh"] == pytest.approx(it_j / 3.6e6, rel=1e-12)


def test_windows_on_a_busy_cluster_keep_every_job_off_a_node_while_it_is_down():
    rng = np.random.default_rng(7)
    jobs = [
        (float(t), int(g), float(d))
        for t, g, d in zip(
            np.sort(rng.uniform(0, 500, 40)),
            rng.choice([1, 2, 4, 8], 40),
            rng.uniform(5, 200, 40),
            strict=True,
        )
    ]
    windows = [(1, 100.0, 300.0), (2, 250.0, 260.0), (1, 400.0, 450.0)]
    part = Maintenance(windows)
    r = simulator.run(tiny(jobs, nodes=3), record_events=True, parts=[part])
    assert part.done == 3 and (r.jobs["state"] == "finished").all()
    for row in r.events.itertuples():
        if row.event == "start":
            nodes = {int(x.split(":")[0]) for x in row.detail.split(",")}
            for node, start, end in windows:
                assert not (node in nodes and start <= row.t_s < end), row
