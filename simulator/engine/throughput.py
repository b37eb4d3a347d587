"""How fast each running job progresses: the throughput model, wired into the engine.

A job with a bare ``duration`` has ``duration`` units of work done at rate 1 wherever it runs
on its requested GPUs; an elastic one on n GPUs runs at S(n) / S(requested), with Amdahl's
speedup S(n) = 1 / (s + (1 - s) / n) for its stream's serial fraction s.
A job with a ``model`` has ``steps`` units of work done at ``1 / step_time`` steps per second,
where the step time comes from :mod:`simulator.perf` for the chips and placement it got.

A job whose data-parallel ring leaves its rack crosses shared uplinks (ToR uplinks, pod
uplinks, WAN links): it joins the :class:`SharedLinks`, which gives it the max-min fair
share of every link it crosses, capped by its own in-node and NIC bandwidth, and tracks its
progress as shares change. Every other job keeps the rate it started with.

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import math

import numpy as np

from ..perf.collectives import CommPath, comm_path
from ..perf.profiled import GavelTable, PlacementTable
from ..perf.step import GRAD_BYTES, Parallelism, step_time
from ..policies.base import Placement
from ..scenario import catalog, zoo
from ..scenario.catalog import NCCL_A100
from ..scenario.workload import ModelJob, ProfileSpec
from ..world.cluster import Cluster
from ..world.jobs import JobTable
from ..world.topology import ring_hops
from .sharing import SharedLinks


class Throughput:
    """Speed of running jobs; owns the shared-link state."""

    def __init__(
        self,
        cluster: Cluster,
        jobs: JobTable,
        stream_models: list[ModelJob | None],
        serial: list[float] | None = None,
    ):
        self.topo = cluster.topology
        self.jobs = jobs  # as requested: the reference size of elastic duration jobs
        self.models = stream_models
        self.serial = serial or [0.0] * len(stream_models)  # Amdahl's s, per stream
        t = self.topo
        # shared links, numbered as in ring_hops: ToR uplinks, pod uplinks, WAN pairs
        wan = np.full(len(t.dc_names) ** 2, t.wan_bw)
        bandwidth = np.concatenate([t.rack_uplink_bw, t.pod_uplink_bw, wan])
        self.links = SharedLinks(bandwidth * NCCL_A100.inter_efficiency)
        self._chips: dict[tuple[int, ...], list[catalog.Chip]] = {}
        self._profiles = [
            _read_profile(m.profile) if m is not None and m.profile else None for m in stream_models
        ]
        self._single: dict[tuple[int, int, int], float] = {}
        # plain lists (small ints, shared): read one job at a time on every start
        self._asked, self._stream = jobs.gpus.tolist(), jobs.stream.tolist()

    def works(self) -> np.ndarray:
        """Units of work of every job: seconds of duration, or training steps."""
        work = np.array(self.jobs.duration_s, dtype=np.float64)
        for stream, model in enumerate(self.models):
            if model is not None:
                work[self.jobs.stream == stream] = model.steps
        return work

    def start(self, job: int, placement: Placement, work: float, gpus: int) -> float | None:
        """Register a starting job with ``work`` units left on ``gpus`` devices; its rate in
        work units per second, or None when it joined the shared links, which then own
        its progress."""
        return self._rate(job, placement, work, gpus)

    def estimate_rate(self, job: int, chip: int | None = None, gpus: int | None = None) -> float:
        """Work units per second ``job`` would get on ``gpus`` devices (default: its request)
        consolidated on the cluster's first nodes (of chip type ``chip``, if given) with no
        other traffic: the oracle speed policies may use; 0 if those nodes have too few."""
        gpus = int(self.jobs.gpus[job]) if gpus is None else gpus
        per_node = self.topo.node_gpus
        ok = per_node > 0 if chip is None else (per_node > 0) & (self.topo.node_chip == chip)
        ids = np.flatnonzero(ok)
        before = np.cumsum(per_node[ids]) - per_node[ids]
        if before.size == 0 or before[-1] + per_node[ids[-1]] < gpus:
            return 0.0
        take = before < gpus
        counts = np.minimum(per_node[ids[take]], gpus - before[take])
        return self._rate(job, Placement(ids[take], counts), None, gpus)

    def _rate(self, job: int, placement: Placement, work: float | None, gpus: int) -> float | None:
        """Work units per second of ``job`` on ``placement`` (``gpus`` devices in all)."""
        stream = self._stream[job]
        model = self.models[stream]
        if model is None:  # a duration job: Amdahl's law against the size it asked for
            ref, s = self._asked[job], self.serial[stream]
            return 1.0 if gpus == ref else (s + (1 - s) / ref) / (s + (1 - s) / gpus)
        measured = self._profiled(stream, placement) if self._profiles[stream] else None
        if measured is not None:
            return measured
        if len(placement.nodes) == 1:
            return 1.0 / self._single_node_step(job, model, placement)
        return self._multi_node_step(job, model, placement, work)

    def finish(self, job: int) -> None:
        """A running job ends."""
        if job in self.links:
            self.links.remove(job)

    # ------------------------------------------------------------------ helpers

    def _profiled(self, stream: int, placement: Placement) -> float | None:
        """Measured steps/s for this stream's profile, or None where it has no point."""
        table, model = self._profiles[stream], self.models[stream]
        chips = self._chips_of(placement.nodes)
        if len(chips) != 1:
            return None
        gpus = int(placement.counts.sum())
        if isinstance(table, GavelTable):
            return table.steps_per_s(
                model.profile.job_type, chips[0].name, gpus, len(placement.nodes)
            )
        return table.steps_per_s(placement.counts, model.global_batch / gpus, chips[0].name)

    def _chips_of(self, nodes: np.ndarray) -> list[catalog.Chip]:
        key = tuple(np.unique(self.topo.node_chip[nodes]).tolist())
        if key not in self._chips:
            self._chips[key] = [catalog.chip(self.topo.chips[i]) for i in key]
        return self._chips[key]

    def _parallelism(self, model: ModelJob, gpus: int) -> Parallelism:
        return Parallelism(dp=gpus // (model.tp * model.pp), tp=model.tp, pp=model.pp)

    def _tp_path(self, model: ModelJob, node: int) -> CommPath | None:
        if model.tp == 1:
            return None
        return comm_path(self.topo, np.array([node]), np.array([model.tp]))

    def _single_node_step(self, job: int, model: ModelJob, placement: Placement) -> float:
        node = int(placement.nodes[0])
        key = (int(self.jobs.stream[job]), int(self.topo.node_chip[node]), int(placement.counts[0]))
        if key not in self._single:
            gpus = int(placement.counts[0])
            par = self._parallelism(model, gpus)
            path = comm_path(self.topo, placement.nodes, placement.counts)
            dp = CommPath(par.dp, path.bandwidth, path.latency, False)
            st = step_time(
                zoo.model(model.name),
                model.global_batch,
                self._chips_of(placement.nodes),
                par,
                dp,
                self._tp_path(model, node),
                precision=model.precision,
                overlap=model.overlap,
            )
            self._single[key] = st.time_s
        return self._single[key]

    def _multi_node_step(
        self, job: int, model: ModelJob, placement: Placement, work: float | None
    ) -> float | None:
        """Rate of a ring over several nodes; with ``work`` (a starting job) a ring crossing
        shared uplinks joins the shared links instead (returns None)."""
        gpus = int(placement.counts.sum())
        par = self._parallelism(model, gpus)
        path = comm_path(self.topo, placement.nodes, placement.counts)
        dp = CommPath(par.dp, path.bandwidth, path.latency, True, path.uplink_bandwidth)
        spec = zoo.model(model.name)
        st = step_time(
            spec,
            model.global_batch,
            self._chips_of(placement.nodes),
            par,
            dp,
            self._tp_path(model, int(placement.nodes[0])),
            precision=model.precision,
            overlap=model.overlap,
        )
        if work is not None and math.isfinite(path.uplink_bandwidth):
            grad = spec.allreduce_params / (model.tp * model.pp) * GRAD_BYTES[model.precision]
            self.links.add(
                job,
                ring_hops(self.topo, np.sort(placement.nodes))[0],
                path.local_bandwidth,
                st.compute_s,
                grad,
                par.dp,
                path.latency,
                model.overlap,
                work,
            )
            return None
        return 1.0 / st.time_s


def _read_profile(profile: ProfileSpec) -> GavelTable | PlacementTable:
    if profile.format == "gavel":
        return GavelTable.read(profile.path)
    return PlacementTable.read(profile.path, profile.chip)
