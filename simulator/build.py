"""The build step: a scenario -> a checked, runnable world (cluster, jobs, policies, parts).

Everything that can stop a run before its clock starts happens here, so that
``clustersim validate`` (which calls :func:`build` too) accepts exactly what ``run`` can
simulate: policies and their parameters, profiles and traces, jobs the cluster cannot host,
services that do not fit their nodes, and the estimated size against ``limits``.

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import policies
from .engine import RngStreams, Simulation
from .engine.autoscale import Autoscale
from .engine.elastic import build_elastic
from .engine.energy import Energy
from .engine.failures import Failures, mtbf_s
from .engine.nodes import Nodes
from .engine.parts import Part
from .engine.service_state import Service
from .engine.services import Services
from .engine.spot import Spot
from .engine.throughput import Throughput
from .perf.inference import LatencyModel
from .policies.rounds import Rounds
from .scenario import Problem, Scenario, ScenarioError, load_scenario
from .scenario.estimate import estimate
from .workload import build_jobs
from .workload.requests import build_requests
from .world.cluster import build_cluster
from .world.jobs import JobTable


def resolve(
    scenario: str | Path | Scenario | Mapping[str, Any],
    seed: int | None = None,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
) -> Scenario:
    """A validated scenario from a path, mapping or Scenario, with seed/overrides applied,
    whose policies exist in the registry with valid parameters."""
    source = scenario
    if isinstance(scenario, Scenario):
        if overrides or seed is not None:
            scenario = load_scenario(scenario.model_dump(mode="json"), overrides or (), seed=seed)
    else:
        scenario = load_scenario(scenario, overrides or (), seed=seed)
    label = str(source) if isinstance(source, str | Path) else "<scenario>"
    scheduler = _make_policies(scenario, RngStreams(scenario.seed), label)[0]
    _check_policy_ticks(scenario, scheduler, label)
    _replica_policies(scenario, RngStreams(scenario.seed), label)
    _check_profiles(scenario, label)
    return scenario


def _check_policy_ticks(scenario: Scenario, scheduler, label: str) -> None:
    """A time-slicing policy passes every quantum, lease or round while work is left: count
    those passes with the other estimated events against ``limits.max_events``."""
    params = getattr(getattr(scheduler, "inner", scheduler), "params", None)
    period = next(
        (p for k in ("quantum", "lease", "round") if (p := getattr(params, k, None))), None
    )
    if not period:
        return
    est = estimate(scenario)
    events = est.events + est.length_s / period
    if events > scenario.limits.max_events:
        raise ScenarioError(
            [
                Problem(
                    label,
                    "scheduler.policy",
                    f"about {events:,.0f} simulation events expected ({est.length_s / period:,.0f}"
                    f" passes of {period:g} s over {est.length_s:,.0f} s of simulated time), over "
                    f"limits.max_events = {scenario.limits.max_events:,}; shorten the run or "
                    "lengthen the quantum, or raise limits.max_events",
                )
            ]
        )


def _transfer_s(scenario: Scenario, streams: int) -> np.ndarray:
    """Seconds to write (or read) one checkpoint at the scheduler's storage bandwidth, per
    workload stream: checkpoint bytes / bandwidth for model streams, 0 for the others (and
    for trace streams, after the synthetic ones) or without a bandwidth."""
    from .perf.step import checkpoint_bytes
    from .scenario import zoo

    out = np.zeros(streams)
    bandwidth = scenario.scheduler.restart.storage_bandwidth
    for i, stream in enumerate(scenario.workload.training):
        if bandwidth and stream.model is not None:
            size = checkpoint_bytes(zoo.model(stream.model.name), stream.model.precision)
            out[i] = size / bandwidth
    return out


def _restart_s(scenario: Scenario, streams: int) -> np.ndarray:
    """Seconds a restart after a preemption costs, per workload stream: save + restore, plus
    writing and reading the checkpoint at the storage bandwidth."""
    cost = scenario.scheduler.restart
    return cost.save + cost.restore + 2 * _transfer_s(scenario, streams)


def _check_profiles(scenario: Scenario, label: str) -> None:
    """Gavel profiles must name a job type their file has."""
    from .perf.profiled import GavelTable

    problems = []
    for i, stream in enumerate(scenario.workload.training):
        profile = stream.model.profile if stream.model is not None else None
        if profile is None or profile.format != "gavel":
            continue
        known = GavelTable.read(profile.path).job_types
        if profile.job_type not in known:
            close = difflib.get_close_matches(profile.job_type, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                Problem(
                    label,
                    f"workload.training.{i}.model.profile.job_type",
                    f"{profile.path} has no job type {profile.job_type!r}; "
                    f"{hint}known: {', '.join(sorted(known))}",
                )
            )
    if problems:
        raise ScenarioError(problems)


def _check_fits(jobs: JobTable, cluster, max_jobs: int, label: str) -> None:
    """Trace jobs larger than the cluster, or limited to GPU models it does not have, would
    wait for ever (and block a FIFO queue): refuse them; and more jobs than the limits."""
    problems, total = [], cluster.total_gpus
    if len(jobs) > max_jobs:
        problems.append(
            Problem(
                label,
                "limits.max_jobs",
                f"{len(jobs):,} jobs (synthetic and trace), over limits.max_jobs = "
                f"{max_jobs:,}; use workload.trace.limit or window, or raise limits.max_jobs",
            )
        )
    too_big = jobs.gpus > total
    if too_big.any():
        problems.append(
            Problem(
                label,
                "workload.trace.max_gpus",
                f"{int(too_big.sum())} trace jobs ask for more than the cluster's {total} "
                f"GPUs (up to {int(jobs.gpus.max())}); set max_gpus to drop them",
            )
        )
    present = set(cluster.topology.chips)
    for spec in sorted(set(jobs.chips[jobs.chips != ""].tolist())):
        if not set(spec.split("|")) & present:
            n = int((jobs.chips == spec).sum())
            problems.append(
                Problem(
                    label,
                    "workload.trace",
                    f"{n} trace jobs may only run on {spec}, which the cluster does not have",
                )
            )
    if problems:
        raise ScenarioError(problems)


def _make_policies(scenario: Scenario, rngs: RngStreams, label: str = "<scenario>"):
    """The scheduling, placement, autoscaling (or None) and elastic policies of a scenario."""
    made, problems = [], []
    kinds = (
        ("scheduling", "policy"),
        ("placement", "placement"),
        ("autoscaling", "autoscaler"),
        ("elastic", "elastic"),
    )
    for kind, key in kinds:
        ref = getattr(scenario.scheduler, key)
        if ref is None:
            made.append(None)
            continue
        try:
            rng = rngs.generator("policy", kind)
            made.append(policies.create(kind, ref.name, ref.params, rng))
        except policies.PolicyError as e:
            problems += [
                Problem(label, ".".join(filter(None, ("scheduler", key, p))), m)
                for p, m in e.problems
            ]
    if problems:
        raise ScenarioError(problems)
    if scenario.scheduler.round is not None:
        made[0] = Rounds(made[0], scenario.scheduler.round)
    return made


def _replica_policies(scenario: Scenario, rngs: RngStreams, label: str = "<scenario>") -> list:
    """Each service's replica autoscaling policy (None: fixed replicas)."""
    made, problems = [], []
    for i, svc in enumerate(scenario.workload.services):
        ref = svc.autoscaler
        try:
            made.append(
                None
                if ref is None
                else policies.create(
                    "replicas",
                    ref.name,
                    ref.params,
                    rngs.generator("services", svc.name, "replicas"),
                )
            )
        except policies.PolicyError as e:
            where = f"workload.services.{i}.autoscaler"
            problems += [
                Problem(label, ".".join(filter(None, (where, p))), m) for p, m in e.problems
            ]
    if problems:
        raise ScenarioError(problems)
    return made


def _services(scenario: Scenario, cluster, rngs: RngStreams, label: str) -> Services | None:
    """The run's inference services (None if it has none)."""
    specs = scenario.workload.services
    if not specs:
        return None
    groups = scenario.cluster.node_groups
    made, problems = [], []
    for i, (spec, policy) in enumerate(zip(specs, _replica_policies(scenario, rngs), strict=True)):
        hosts = [k for k, g in enumerate(groups) if g.node == spec.node]
        nodes = np.isin(cluster.topology.node_group, hosts)
        requests = build_requests(
            spec, scenario.horizon, lambda part, n=spec.name: rngs.generator("services", n, part)
        )
        try:
            latency = LatencyModel(spec.model, node=spec.node, tp=spec.tp)
            made.append(Service(spec, requests, latency, nodes, policy))
        except ValueError as e:
            problems.append(Problem(label, f"workload.services.{i}.tp", str(e)))
    arrived = sum(len(svc.arrival) for svc in made)
    if arrived > scenario.limits.max_requests:
        problems.append(
            Problem(
                label,
                "limits.max_requests",
                f"{arrived:,} requests, over limits.max_requests = "
                f"{scenario.limits.max_requests:,}; lower a trace's limit or raise the limit",
            )
        )
    if problems:
        raise ScenarioError(problems)
    return Services(made)


@dataclass(frozen=True)
class World:
    """A scenario built and checked, ready to simulate: everything :func:`run` needs."""

    sim: Simulation
    cluster: Any
    jobs: JobTable
    models: list


def build(
    scenario: Scenario,
    *,
    record_events: bool = False,
    label: str = "<scenario>",
    parts: Iterable[Part] = (),
) -> World:
    """Build everything a run of the (resolved) scenario needs, raising :class:`ScenarioError`
    for whatever would stop it before the clock starts: trace contents, jobs the cluster
    cannot host, services that do not fit their nodes, chips without the figures a model
    needs. ``clustersim validate`` calls it too, so a scenario that validates gets this far.
    ``parts``: engine parts of the caller's own, run after the built-in ones (energy last)."""
    rngs = RngStreams(scenario.seed)
    cluster = build_cluster(scenario.cluster)
    jobs = build_jobs(
        scenario.workload, scenario.horizon, lambda *key: rngs.generator("workload", *key)
    )
    scheduler, placer, autoscaler, resizer = _make_policies(scenario, rngs)
    services = _services(scenario, cluster, rngs, label)
    training = scenario.workload.training
    traced = len(jobs.stream_names) - len(training)  # trace streams come after
    models = [s.model for s in training] + [None] * traced
    _check_fits(jobs, cluster, scenario.limits.max_jobs, label)
    restart_s = _restart_s(scenario, len(jobs.stream_names))[jobs.stream]
    elastic = build_elastic(training, jobs, restart_s, resizer)
    serial = [s.elastic.serial_fraction if s.elastic else 0.0 for s in training] + [0.0] * traced
    spec, extra = scenario.cluster, parts
    parts = []  # in hook order: see the docstring of engine.parts
    if Spot.wanted(spec):
        parts.append(
            Spot(spec, lambda *key: rngs.generator("spot", *key), scenario.scheduler.restart.save)
        )
    if scenario.failures is not None:
        rng_for = lambda *key: rngs.generator("failures", *key)  # noqa: E731
        bounds = None if elastic is None else (elastic.min_gpus, elastic.step)
        parts.append(Failures(scenario.failures, spec, rng_for, bounds))
    parts += [p for p in (services, elastic) if p is not None]
    if autoscaler is not None and any(g.elastic for g in spec.node_groups):
        parts.append(Autoscale(spec, autoscaler))
    parts += list(extra)
    energy = Energy(spec)
    if energy.modelled:
        parts.append(energy)
    sim = Simulation(
        cluster,
        jobs,
        scheduler,
        placer,
        restart_s=restart_s,
        horizon=scenario.horizon,
        check_invariants=scenario.check_invariants,
        record_events=record_events,
        throughput=Throughput(cluster, jobs, models, serial),
        nodes=Nodes(spec),
        parts=parts,
        max_events=scenario.limits.max_events,
    )
    if scenario.failures is not None and scenario.failures.checkpoint.interval is not None:
        sim.ledger.set_checkpoints(*_checkpoints(scenario, jobs, cluster))
    return World(sim, cluster, jobs, models)


def _checkpoints(scenario: Scenario, jobs: JobTable, cluster) -> tuple[np.ndarray, np.ndarray]:
    """Per job: seconds of progress between periodic checkpoints, and seconds to write one
    (the given cost, plus checkpoint bytes / storage bandwidth for model jobs when the
    scheduler's restart gives a bandwidth)."""
    from .reliability import job_mtbf_s, series_mtbf, young_daly

    spec = scenario.failures
    cost = (spec.checkpoint.cost + _transfer_s(scenario, len(jobs.stream_names)))[jobs.stream]
    if spec.checkpoint.interval != "young_daly":
        return np.full(len(jobs), spec.checkpoint.interval), cost
    per_node = int(cluster.topology.node_gpus.max(initial=1))
    per_rack = max(g.nodes_per_rack for g in scenario.cluster.node_groups)
    groups = scenario.cluster.node_groups  # the shortest MTBF of any group (catalog figures)
    gpu, node, nic = (
        min(mtbf_s(n, c, g) for g in groups) if c else math.inf
        for n, c in (("gpu", spec.gpu), ("node", spec.node), ("nic", spec.nic))
    )
    nics = max(g.resolved_node().nics for g in groups)
    node = series_mtbf(node, nic / nics)  # a host or any of its NICs takes the node down
    # a job over whole power domains of k racks sees one domain's rate per k racks
    rack = series_mtbf(
        spec.rack.mtbf if spec.rack else math.inf,
        spec.power.mtbf * spec.power.racks if spec.power else math.inf,
    )
    mtbf = {
        g: job_mtbf_s(g, per_node, gpu, node, rack, per_rack) for g in np.unique(jobs.gpus).tolist()
    }
    every = [young_daly(c, mtbf[g]) for c, g in zip(cost.tolist(), jobs.gpus.tolist(), strict=True)]
    return np.asarray(every), cost
