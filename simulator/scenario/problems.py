"""Problems in scenarios: one located line each (file, line, dotted path, message, hint).

Role: the :class:`Problem` / :class:`ScenarioError` types, the translation of pydantic
validation errors into located problems with hints (valid keys, close matches), and the checks
that need a whole validated scenario (impossible or unbounded requests).

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from . import catalog
from .estimate import estimate
from .failures import CLASSES, catalog_mtbf_h
from .spec import Scenario

Path_ = tuple[str | int, ...]
Origins = dict[Path_, tuple[str, int | None]]  # path -> (file, line) where it is defined


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (file, line, dotted path) and what."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<top level>'}: {self.message}"


class ScenarioError(Exception):
    """Raised with every problem found in a scenario; ``str()`` is one line per problem."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # pickled whole from bench worker processes
        return (type(self), (self.problems,))


def problems_from(error: ValidationError, data: Any, origins: Origins, label: str) -> list[Problem]:
    merged: dict[tuple[str, str], Problem] = {}
    for err in error.errors(include_url=False):
        path = _data_path(err["loc"], data)
        file, line = locate(path, origins, label)
        message = _message(err, path)
        key = (file, ".".join(map(str, path)))
        if key in merged and message not in merged[key].message:
            message = f"{merged[key].message}; or {message}"
        merged[key] = Problem(file, key[1], message, line)
    return sorted(merged.values(), key=lambda p: (p.file, p.line or 0))


def _data_path(loc: tuple, data: Any) -> Path_:
    """Keep only the parts of a pydantic location that exist in the input (drops union tags)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part.isidentifier():
            node = None  # a missing or unknown key: still part of the path
        else:
            continue
        out.append(part)
    return tuple(out)


def locate(path: Path_, origins: Origins, label: str) -> tuple[str, int | None]:
    """(file, line) where ``path`` or its nearest given parent is defined."""
    for n in range(len(path), -1, -1):
        if path[:n] in origins:
            return origins[path[:n]]
    return label, None


def _message(err: dict, path: Path_) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        valid = _valid_keys(path[:-1])
        close = difflib.get_close_matches(str(path[-1]), valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key {path[-1]!r}; {hint}valid keys here: {', '.join(valid)}"
    if kind == "missing":
        return "required key is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if "input" in err and kind not in ("value_error", "assertion_error"):
        msg = f"{msg} (got {err['input']!r})"
    return msg


def _valid_keys(path: Path_) -> list[str]:
    cls: type[BaseModel] | None = Scenario
    for part in path:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(str(part)) if cls else None
        cls = _model_in(field.annotation) if field else None
    keys = list(cls.model_fields) if cls else []
    return ["include", *keys] if not path else keys


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None


def semantic_problems(scenario: Scenario, origins: Origins, label: str) -> list[Problem]:
    """Checks that need the whole validated scenario (impossible or unbounded requests)."""
    problems: list[Problem] = []

    def add(path: Path_, message: str) -> None:
        file, line = locate(path, origins, label)
        problems.append(Problem(file, ".".join(map(str, path)), message, line))

    total = scenario.cluster.total_gpus
    for i, stream in enumerate(scenario.workload.training):
        too_big = [g for g in stream.gpu_values if g > total]
        if too_big:
            add(
                ("workload", "training", i, "gpus"),
                f"asks for {max(too_big)} GPUs but the cluster has only {total}; "
                "lower the request or add nodes",
            )
        if stream.count is None and scenario.horizon is None and stream.arrival.times is None:
            add(
                ("workload", "training", i, "count"),
                "the stream is unbounded: give a count, a scenario horizon, or explicit times",
            )
        times = stream.arrival.times
        if times is not None and stream.count is not None and stream.count > len(times):
            add(
                ("workload", "training", i, "count"),
                f"count {stream.count} exceeds the {len(times)} explicit arrival times",
            )
        if stream.model is not None:
            _flop_problems(scenario, stream.model, ("workload", "training", i, "model"), add)
        profile = stream.model.profile if stream.model is not None else None
        wrong = _not_a_file(profile.path) if profile is not None else None
        if wrong:
            add(
                ("workload", "training", i, "model", "profile", "path"),
                f"{profile.path}: {wrong} (a relative path is relative to the scenario file)",
            )
    elastic = [
        (d, g)
        for d, dc in enumerate(scenario.cluster.datacenters)
        for g, group in enumerate(dc.node_groups)
        if group.elastic is not None
    ]
    if elastic and scenario.scheduler.autoscaler is None:
        d, g = elastic[0]
        add(
            ("cluster", "datacenters", d, "node_groups", g, "elastic"),
            "an elastic node group needs scheduler.autoscaler (e.g. queue) to change size",
        )
    _service_problems(scenario, add)
    _size_problems(scenario, add)
    trace = scenario.workload.trace
    for key in ("path", "tasks", "throughputs") if trace is not None else ():
        where = getattr(trace, key)
        wrong = _not_a_file(where) if where is not None else None
        if wrong:
            add(("workload", "trace", key), f"{where}: {wrong}")
    for d, dc in enumerate(scenario.cluster.datacenters):
        where = dc.carbon_intensity.path if dc.carbon_intensity is not None else None
        wrong = _not_a_file(where) if where is not None else None
        if wrong:
            add(("cluster", "datacenters", d, "carbon_intensity", "path"), f"{where}: {wrong}")
    _failure_problems(scenario, add)
    return problems


def _failure_problems(scenario: Scenario, add) -> None:
    """Hot spares come from node groups that exist and can spare them; a trace is a file."""
    failures = scenario.failures
    if failures is None:
        return
    groups = {g.name: g for g in scenario.cluster.node_groups}
    for name, count in failures.hot_spares.items():
        group = groups.get(name)
        if group is None:
            add(("failures", "hot_spares", name), f"no node group {name!r}")
        elif count > group.count or group.elastic is not None:
            why = "is elastic" if group.elastic is not None else f"has {group.count} nodes"
            add(("failures", "hot_spares", name), f"{count} spares, but the group {why}")
    horizon, spares = scenario.horizon, any(failures.hot_spares.values())
    for name in CLASSES:
        spec = getattr(failures, name)
        if spec is None:
            continue
        for group in scenario.cluster.node_groups if spec.mtbf == "catalog" else ():
            node = group.resolved_node()
            if catalog_mtbf_h(name, node) is None:
                what = {"gpu": f"chip {node.chip}", "node": f"node {node.name}"}.get(name, name)
                add(
                    ("failures", name, "mtbf"),
                    f"the catalog has no failure rate for the {what} of node group "
                    f"{group.name!r}; give mtbf",
                )
                break
        repair = spec.repair.mean()
        if horizon and repair > horizon and not spares:
            add(
                ("failures", name, "repair"),
                f"a repair takes {repair:,.0f} s on average, longer than the horizon "
                f"({horizon:,.0f} s), and there are no hot_spares: a failed node would stay "
                "down for the rest of the run; shorten the repair or add spares",
            )
    wrong = _not_a_file(failures.trace) if failures.trace is not None else None
    if wrong:
        add(("failures", "trace"), f"{failures.trace}: {wrong}")


def _flop_problems(scenario: Scenario, model, at: Path_, add) -> None:
    """A model job's speed needs the peak FLOP/s of its precision on every chip it may get."""
    chips = {g.resolved_node().chip for g in scenario.cluster.node_groups}
    for name in sorted(chips):
        chip = catalog.chip(name)
        peak = chip.peak_fp16_flops if model.precision == "mixed" else chip.peak_fp32_flops
        if peak is None:
            add(
                at,
                f"{name} publishes no {model.precision}-precision peak FLOP/s, so the "
                "throughput model cannot time a model job on it; give the stream a duration "
                "instead, or use a cluster without that chip",
            )


def _size_problems(scenario: Scenario, add) -> None:
    """The estimated size of the run against ``limits`` (see :mod:`.estimate`)."""
    est, limits = estimate(scenario), scenario.limits
    raise_it = "or raise limits.{0} (e.g. --set limits.{0}={1})"
    if limits.max_jobs < est.jobs < math.inf:
        i = max(range(len(est.jobs_by_stream)), key=est.jobs_by_stream.__getitem__)
        add(
            ("workload", "training", i),
            f"about {est.jobs:,.0f} jobs expected ({est.jobs_by_stream[i]:,.0f} from this "
            f"stream), over limits.max_jobs = {limits.max_jobs:,}; lower its count, rate or "
            "the horizon, " + raise_it.format("max_jobs", f"{math.ceil(est.jobs):d}"),
        )
    if est.requests > limits.max_requests:
        i = max(range(len(est.requests_by_service)), key=est.requests_by_service.__getitem__)
        add(
            ("workload", "services", i, "arrivals"),
            f"about {est.requests:,.0f} requests expected, over limits.max_requests = "
            f"{limits.max_requests:,}; lower the rate or the horizon, "
            + raise_it.format("max_requests", f"{math.ceil(est.requests):d}"),
        )
    if est.nodes > limits.max_nodes:
        add(
            ("cluster",),
            f"{est.nodes:,} nodes, over limits.max_nodes = {limits.max_nodes:,}; lower the node "
            "counts, " + raise_it.format("max_nodes", est.nodes),
        )
    devices = scenario.cluster.total_gpus
    if devices > limits.max_gpus:
        add(
            ("cluster",),
            f"{devices:,} devices, over limits.max_gpus = {limits.max_gpus:,}; lower the node "
            "counts or devices per node, " + raise_it.format("max_gpus", devices),
        )
    sized = est.jobs <= limits.max_jobs and est.requests <= limits.max_requests
    if sized and limits.max_events < est.events < math.inf:
        add(
            ("limits", "max_events"),
            f"about {est.events:,.0f} simulation events expected (jobs, requests, rounds, "
            f"autoscaler ticks, spot reclaims), over limits.max_events = "
            f"{limits.max_events:,}; "
            + raise_it.format("max_events", f"{math.ceil(est.events):d}"),
        )


def _service_problems(scenario: Scenario, add) -> None:
    """Services need a horizon, nodes of their template big enough for a replica and (for
    traces) a file."""
    groups = scenario.cluster.node_groups
    for i, svc in enumerate(scenario.workload.services):
        at = ("workload", "services", i)
        if scenario.horizon is None:
            add(("horizon",), f"service {svc.name!r} needs a scenario horizon")
        if not any(g.node == svc.node for g in groups):
            add((*at, "node"), f"the cluster has no {svc.node} node group")
        elif catalog.node_template(svc.node).gpus < svc.tp:
            add((*at, "tp"), f"a {svc.node} node has fewer than tp={svc.tp} devices")
        trace = svc.arrivals.trace
        wrong = _not_a_file(trace.path) if trace is not None else None
        if wrong:
            add((*at, "arrivals", "trace", "path"), f"{trace.path}: {wrong}")


def _not_a_file(path: str) -> str | None:
    """Why ``path`` cannot be read as a data file (missing, a directory, a FIFO), or None."""
    from .limits import regular_file  # limits imports this module

    try:
        regular_file(path, path)
    except ScenarioError as e:
        return e.problems[0].message
    return None
