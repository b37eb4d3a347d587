"""Gavel: heterogeneity-aware scheduling in rounds (Narayanan et al., OSDI 2020).

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from .. import kernels
from ..scenario.base import PositiveDuration
from . import allocation
from .base import ClusterView, Params, ScheduleDecision, SchedulingPolicy
from .registry import register
from .scheduling import _candidates


@register("scheduling", "gavel")
class Gavel(SchedulingPolicy):
    """Gavel's policies on chip types, enforced by its round-based mechanism.

    **Allocation.** The jobs that are active (queued or running) get an allocation ``X[j, k]``,
    the fraction of time job ``j`` should run on chip type ``k`` (see
    :mod:`simulator.policies.allocation`), from their speeds on each type
    (:meth:`ClusterView.rates_by_chip`, measured Gavel throughputs where the job has a Gavel
    profile):

    - ``max_min_fairness``: maximise the smallest normalised effective throughput, job weights
      from ``weights`` by tenant (Gavel's ``max_min_fairness_perf``);
    - ``makespan``: finish all remaining work soonest (``min_total_duration_perf``);
    - ``fifo``: in arrival order, each job takes the fastest type with room (``fifo_perf``).

    With ``heterogeneity_aware: false`` every type a job fits on counts as equally fast
    (Gavel's agnostic baselines; ``fifo`` then draws a new job's type at random and keeps
    running jobs where they are).

    **Rounds.** Leases last one ``round``. At each round boundary the allocation is recomputed
    if the active set changed (``fifo``: every round), and (job, type) pairs are served in
    decreasing priority ``X[j, k] / f[j, k]``, ``f`` being the fraction of the time since the
    job arrived that it ran on ``k`` (never served: infinite priority; ties: larger ``X``,
    then job id). Each job gets at most one type, while the type has GPUs left. A running job
    given its current type again keeps its devices; one given another type or none is
    preempted (and migrates, paying the restart cost). Jobs start only at round boundaries; a
    round also starts at once when nothing is running. A job that no single type can hold
    runs unpinned, after the others, if GPUs are left.
    """

    class Params(Params):
        objective: Literal["max_min_fairness", "makespan", "fifo"] = "max_min_fairness"
        heterogeneity_aware: bool = True
        round: PositiveDuration = Field(default=360.0, description="round (lease) length")
        weights: dict[str, float] = Field(
            default_factory=dict, description="priority weight per tenant (default 1)"
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._round_end = -math.inf
        self._round_start = 0.0
        self._active = np.empty(0, dtype=np.int64)  # the jobs the allocation was made for
        self._X = np.empty((0, 0))  # allocation, per job id and chip type
        self._received = np.empty((0, 0))  # seconds run on each type, per job id

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, p = view.now, self.params
        jobs = np.sort(_candidates(view))
        if jobs.size == 0:
            return ScheduleDecision(order=())
        if now < self._round_end - 1e-9 * max(1.0, p.round) and view.running:
            return ScheduleDecision(order=(), wake_at=self._round_end)
        if self._X.shape[0] != len(view.jobs):
            self._X = np.zeros((len(view.jobs), len(view.topology.chips)))
            self._received = np.zeros_like(self._X)
        on = {j: int(view.topology.node_chip[pl.nodes[0]]) for j, pl in view.running.items()}
        ran = np.fromiter(on, dtype=np.int64, count=len(on))
        self._received[ran, np.fromiter(on.values(), np.int64, len(on))] += now - self._round_start
        T = view.rates_by_chip(jobs)
        if not p.heterogeneity_aware:
            T = (T > 0).astype(np.float64)
        if p.objective == "fifo" or not np.array_equal(jobs, self._active):
            self._active = jobs
            self._X[jobs] = self._allocate(view, jobs, T, on)
        assigned = self._assign(view, jobs, self._X[jobs])
        self._round_start, self._round_end = now, now + p.round
        return self._decision(jobs, T, assigned, on)

    # ------------------------------------------------------------------ steps of a round

    def _allocate(
        self, view: ClusterView, jobs: np.ndarray, T: np.ndarray, on: dict[int, int]
    ) -> np.ndarray:
        scale = view.gpus[jobs].astype(np.float64)
        W = _gpus_per_type(view).astype(np.float64)
        objective = self.params.objective
        if objective == "fifo":
            if self.params.heterogeneity_aware:  # recomputed from scratch every round
                return allocation.fifo(T, scale, W)
            # agnostic: running jobs keep their type; new ones draw one at random
            X = np.zeros_like(T)
            for i, job in enumerate(jobs.tolist()):
                if job in on:
                    X[i, on[job]] = 1.0
                    W[on[job]] -= scale[i]
            new = X.sum(axis=1) == 0
            X[new] = allocation.fifo(T[new], scale[new], W, self.rng)
            return X
        if objective == "makespan":
            return allocation.min_makespan(T, scale, W, view.work_left(jobs))
        per_stream = [self.params.weights.get(t, 1.0) for t in view.jobs.stream_tenants]
        w = np.array(per_stream, dtype=np.float64)[view.jobs.stream[jobs]]
        return allocation.max_min_fairness(T, scale, W, w)

    def _assign(self, view: ClusterView, jobs: np.ndarray, X: np.ndarray) -> dict[int, int]:
        """Greedy by priority: job -> type for this round."""
        elapsed = np.maximum(view.now - view.jobs.submit_s[jobs], 0.0)
        got = self._received[jobs]
        share = np.divide(got, elapsed[:, None], out=np.zeros_like(got), where=elapsed[:, None] > 0)
        prio = np.divide(X, share, out=np.full_like(X, np.inf), where=share > 0)
        j_idx, k_idx = np.nonzero(X > 1e-9)
        order = np.lexsort((jobs[j_idx], -X[j_idx, k_idx], -prio[j_idx, k_idx]))
        pair_job, pair_type = j_idx[order], k_idx[order]
        out = np.empty(len(jobs), dtype=np.int64)
        kernels.assign_types(pair_job, pair_type, view.gpus[jobs], _gpus_per_type(view), out)
        granted = pair_job[out[pair_job] == pair_type]  # in priority order: placed first
        return dict(zip(jobs[granted].tolist(), out[granted].tolist(), strict=True))

    def _decision(
        self, jobs: np.ndarray, T: np.ndarray, assigned: dict[int, int], on: dict[int, int]
    ) -> ScheduleDecision:
        homeless = jobs[~T.any(axis=1)].tolist()  # too big for any single type: unpinned
        preempt = [j for j, k in on.items() if assigned.get(j, -1) != k and j not in homeless]
        kept = set(on) - set(preempt)
        order = [j for j in assigned if j not in kept] + [j for j in homeless if j not in kept]
        return ScheduleDecision(
            order=order,
            blocking=False,
            preempt=preempt,
            wake_at=self._round_end,
            chip_type={j: k for j, k in assigned.items() if j not in kept},
        )


def _gpus_per_type(view: ClusterView) -> np.ndarray:
    """Installed GPUs of each chip type (int64)."""
    t = view.topology
    return np.bincount(t.node_chip, t.node_gpus, len(t.chips)).astype(np.int64)
