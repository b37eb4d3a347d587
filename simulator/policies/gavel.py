"""Gavel: heterogeneity-aware scheduling in rounds (Narayanan et al., OSDI 2020).

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from ..spec.base import PositiveDuration
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
        self._active: frozenset[int] = frozenset()
        self._X: dict[int, np.ndarray] = {}
        self._received: dict[int, np.ndarray] = {}  # seconds run on each type, per job

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, p = view.now, self.params
        jobs = np.sort(_candidates(view))
        if jobs.size == 0:
            return ScheduleDecision(order=())
        if now < self._round_end - 1e-9 * max(1.0, p.round) and view.running:
            return ScheduleDecision(order=(), wake_at=self._round_end)
        self._account(view, now)
        T = view.rates_by_chip(jobs)
        if not p.heterogeneity_aware:
            T = (T > 0).astype(np.float64)
        if p.objective == "fifo" or frozenset(jobs.tolist()) != self._active:
            self._active = frozenset(jobs.tolist())
            X = self._allocate(view, jobs, T)
            self._X = dict(zip(jobs.tolist(), X, strict=True))
        X = np.array([self._X[j] for j in jobs.tolist()])
        assigned = self._assign(view, jobs, X)
        self._round_start, self._round_end = now, now + p.round
        return self._decision(view, jobs, T, assigned)

    # ------------------------------------------------------------------ steps of a round

    def _account(self, view: ClusterView, now: float) -> None:
        """Book the round that just ended on the types the running jobs ran on."""
        chips = view.topology.node_chip
        n_types = len(view.topology.chips)
        for job, placement in view.running.items():
            got = self._received.setdefault(job, np.zeros(n_types))
            got[chips[placement.nodes[0]]] += now - self._round_start
        active = set(view.running) | set(view.queue)
        self._received = {j: r for j, r in self._received.items() if j in active}

    def _allocate(self, view: ClusterView, jobs: np.ndarray, T: np.ndarray) -> np.ndarray:
        scale = view.jobs.gpus[jobs].astype(np.float64)
        W = np.bincount(
            view.topology.node_chip, view.topology.node_gpus, len(view.topology.chips)
        ).astype(np.float64)
        objective = self.params.objective
        if objective == "fifo":
            if self.params.heterogeneity_aware:  # recomputed from scratch every round
                return allocation.fifo(T, scale, W)
            # agnostic: running jobs keep their type; new ones draw one at random
            X = np.zeros_like(T)
            for i, job in enumerate(jobs.tolist()):
                if job in view.running:
                    k = view.topology.node_chip[view.running[job].nodes[0]]
                    X[i, k] = 1.0
                    W[k] -= scale[i]
            new = X.sum(axis=1) == 0
            X[new] = allocation.fifo(T[new], scale[new], W, self.rng)
            return X
        if objective == "makespan":
            fits = T.any(axis=1)
            X = np.zeros_like(T)
            X[fits] = allocation.min_makespan(T[fits], scale[fits], W, view.work_left(jobs[fits]))
            return X
        tenants = view.jobs.stream_tenants
        w = [self.params.weights.get(tenants[s], 1.0) for s in view.jobs.stream[jobs].tolist()]
        return allocation.max_min_fairness(T, scale, W, np.array(w))

    def _assign(self, view: ClusterView, jobs: np.ndarray, X: np.ndarray) -> dict[int, int]:
        """Greedy by priority: job -> type for this round."""
        submit = view.jobs.submit_s[jobs]
        elapsed = np.maximum(view.now - submit, 0.0)
        got = np.array([self._received.get(j, np.zeros(X.shape[1])) for j in jobs.tolist()])
        share = np.divide(got, elapsed[:, None], out=np.zeros_like(got), where=elapsed[:, None] > 0)
        with np.errstate(divide="ignore"):
            prio = np.where(share > 0, X / np.where(share > 0, share, 1.0), np.inf)
        j_idx, k_idx = np.nonzero(X > 1e-9)
        order = np.lexsort((jobs[j_idx], -X[j_idx, k_idx], -prio[j_idx, k_idx]))
        left = np.bincount(
            view.topology.node_chip, view.topology.node_gpus, len(view.topology.chips)
        )
        gpus = view.jobs.gpus
        assigned: dict[int, int] = {}
        for i in order.tolist():
            job, k = int(jobs[j_idx[i]]), int(k_idx[i])
            if job not in assigned and left[k] >= gpus[job]:
                assigned[job] = k
                left[k] -= gpus[job]
        return assigned

    def _decision(
        self, view: ClusterView, jobs: np.ndarray, T: np.ndarray, assigned: dict[int, int]
    ) -> ScheduleDecision:
        chips = view.topology.node_chip
        homeless = jobs[~T.any(axis=1)].tolist()  # too big for any single type: unpinned
        preempt = [
            j
            for j, placement in view.running.items()
            if assigned.get(j, -1) != chips[placement.nodes[0]] and j not in homeless
        ]
        kept = set(view.running) - set(preempt)
        order = [j for j in assigned if j not in kept]
        order += [j for j in homeless if j not in kept]
        pins = {j: k for j, k in assigned.items() if j not in kept}
        return ScheduleDecision(
            order=order,
            blocking=False,
            preempt=preempt,
            wake_at=view.now + self.params.round,
            chip_type=pins,
        )
