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
        self._chip = np.empty(0, dtype=np.int64)  # chip type of each running job (-1: unknown)
        self._jobs = np.empty(0, dtype=np.int64)  # active jobs at the last boundary, sorted
        self._moved: list[int] = []  # jobs changed since then

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, p, running = view.now, self.params, view.running
        if self._X.shape[0] != len(view.jobs):
            self._X = np.zeros((len(view.jobs), len(view.topology.chips)))
            self._received = np.zeros_like(self._X)
            self._chip = np.full(len(view.jobs), -1, dtype=np.int64)
            self._given, self._kept = self._chip.copy(), np.zeros(len(view.jobs), dtype=bool)
        for job in view.changed:  # started, stopped or resized since the last pass
            self._chip[job] = -1  # looked up again when next needed
        self._moved += view.changed
        if now < self._round_end - 1e-9 * max(1.0, p.round) and running:
            return ScheduleDecision(order=(), wake_at=self._round_end)
        jobs = self._active_jobs(view)
        if jobs.size == 0:
            return ScheduleDecision(order=())
        ran = np.fromiter(running, dtype=np.int64, count=len(running))  # in start order
        on = self._chip[ran]
        for i in np.flatnonzero(on < 0).tolist():
            job = int(ran[i])
            on[i] = self._chip[job] = view.topology.node_chip[running[job].nodes[0]]
        self._received[ran, on] += now - self._round_start
        T = view.rates_by_chip(jobs)
        if not p.heterogeneity_aware:
            T = (T > 0).astype(np.float64)
        if p.objective == "fifo" or not np.array_equal(jobs, self._active):
            self._active = jobs
            self._X[jobs] = self._allocate(view, jobs, T, ran, on)
        assigned, types = self._assign(view, jobs, self._X[jobs])
        self._round_start, self._round_end = now, now + p.round
        return self._decision(jobs, T, assigned, types, ran, on)

    def _active_jobs(self, view: ClusterView) -> np.ndarray:
        """The running and queued jobs, sorted: last boundary's, less those that left since,
        plus those that came (only jobs in ``view.changed`` come or go)."""
        moved, self._moved = np.unique(np.asarray(self._moved, dtype=np.int64)), []
        jobs, running, queue = self._jobs, view.running, view.queue
        if len(moved):
            at = np.minimum(np.searchsorted(moved, jobs), len(moved) - 1)
            jobs = jobs[moved[at] != jobs]
            came = np.array([j for j in moved.tolist() if j in running or j in queue], np.int64)
            jobs = np.insert(jobs, np.searchsorted(jobs, came), came)
        if len(jobs) != len(running) + len(queue):  # not what the view holds: start afresh
            jobs = np.sort(_candidates(view))
        self._jobs = jobs
        return jobs

    # ------------------------------------------------------------------ steps of a round

    def _allocate(
        self, view: ClusterView, jobs: np.ndarray, T: np.ndarray, ran: np.ndarray, on: np.ndarray
    ) -> np.ndarray:
        """The allocation of ``jobs`` (sorted; ``ran`` the running ones, ``on`` their types)."""
        scale = view.gpus[jobs].astype(np.float64)
        W = _gpus_per_type(view).astype(np.float64)
        objective = self.params.objective
        if objective == "fifo":
            if self.params.heterogeneity_aware:  # recomputed from scratch every round
                return allocation.fifo(T, scale, W)
            # agnostic: running jobs keep their type; new ones draw one at random
            X = np.zeros_like(T)
            rows = np.searchsorted(jobs, ran)
            X[rows, on] = 1.0
            W -= np.bincount(on, weights=scale[rows], minlength=len(W))
            new = X.sum(axis=1) == 0
            X[new] = allocation.fifo(T[new], scale[new], W, self.rng)
            return X
        if objective == "makespan":
            return allocation.min_makespan(T, scale, W, view.work_left(jobs))
        per_stream = [self.params.weights.get(t, 1.0) for t in view.jobs.stream_tenants]
        w = np.array(per_stream, dtype=np.float64)[view.jobs.stream[jobs]]
        return allocation.max_min_fairness(T, scale, W, w)

    def _assign(self, view: ClusterView, jobs: np.ndarray, X: np.ndarray):
        """Greedy by priority: the jobs given a type this round (in priority order) and their
        types."""
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
        return jobs[granted], out[granted]

    def _decision(self, jobs, T, assigned, types, ran, on) -> ScheduleDecision:
        """Running jobs (``ran``, on types ``on``) not given their type again are preempted
        (but for those no single type can hold, which run unpinned); the jobs ``assigned`` to
        ``types`` start pinned to them, then the unpinned ones."""
        homeless = ~T.any(axis=1)
        given, kept = self._given, self._kept  # per job id, scratch: left -1 and False
        given[assigned] = types
        stay = (given[ran] == on) | homeless[np.searchsorted(jobs, ran)]
        given[assigned] = -1
        kept[ran[stay]] = True
        fresh, unpinned = ~kept[assigned], jobs[homeless]
        unpinned = unpinned[~kept[unpinned]]
        kept[ran] = False
        start = assigned[fresh].tolist()
        return ScheduleDecision(
            order=[*start, *unpinned.tolist()],
            blocking=False,
            preempt=ran[~stay].tolist(),
            wake_at=self._round_end,
            chip_type=dict(zip(start, types[fresh].tolist(), strict=True)),
        )


def _gpus_per_type(view: ClusterView) -> np.ndarray:
    """Installed GPUs of each chip type (int64)."""
    t = view.topology
    return np.bincount(t.node_chip, t.node_gpus, len(t.chips)).astype(np.int64)
