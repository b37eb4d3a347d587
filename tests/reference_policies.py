"""Direct implementations of the preemptive policies: every pass ranks every running and
queued job from scratch, as the policies' docstrings state them. ``simulator.policies.preemptive``
does the same work incrementally; tests check both give identical runs. Registered as
``direct_<name>``.

The only difference from the policies as first written: LAS's and Gandiva's quantum clock of a
running job starts when the job last started (``view.started_at``, the ledger's), where they
remembered the first pass that saw it running or kept it. The two differ for a job that starts
although the ranking did not keep it (a share that fits on an open device) and under rounds (a
job that keeps its lease at a round boundary restarted its clock there). And Tiresias's
starvation clock of a queued job starts when it last entered the queue (``view.queued_since``)
or was promoted, where it remembered the first pass that saw the job queued: under rounds,
where a running job looks queued at round boundaries, that kept the clock of a job that had
run since. Its threshold crossings (the first instant after now at which a job reaches a
threshold) are computed by the ledger (``view.reaches_gpu_s``) from the start of the job's
run, where they were ``now + (next threshold - service) / GPUs``: the same instant up to
rounding, except for a share of a device, whose service grows at the share.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from simulator import kernels
from simulator.policies.base import ClusterView, Params, ScheduleDecision, SchedulingPolicy
from simulator.policies.registry import register
from simulator.policies.scheduling import _candidates, _queued, _running


def _preemptive(
    view: ClusterView, candidates: np.ndarray, *keys: np.ndarray
) -> tuple[ScheduleDecision, np.ndarray]:
    """Run the candidates (running and queued jobs) that rank best and fit together, counting
    GPUs: ``keys`` sort them, most significant last as in :func:`numpy.lexsort`, ties by job
    id. Running jobs outside that set are preempted; queued jobs are tried best first,
    non-blocking. Returns the decision and the jobs meant to run."""
    ranked = candidates[np.lexsort((candidates, *keys))]
    keep = np.empty(len(ranked), dtype=bool)
    kernels.greedy_fit(view.gpus[ranked], int(view.topology.node_gpus.sum()), keep)
    running = np.isin(ranked, _running(view))
    preempt = ranked[running & ~keep].tolist()
    order = np.concatenate([ranked[keep & ~running], ranked[~keep & ~running]]).tolist()
    return ScheduleDecision(order=order, blocking=False, preempt=preempt), ranked[keep]


def _next_quantum_end(since: float, now: float, quantum: float) -> float:
    """The first end of a ``quantum``-long slice, counted from ``since``, after ``now``."""
    eps = 1e-9 * max(1.0, quantum)
    return since + quantum * (math.floor((now - since + eps) / quantum) + 1)


@register("scheduling", "direct_srtf")
class DirectShortestRemainingTimeFirst(SchedulingPolicy):
    """Shortest remaining time first, preemptive, with oracle remaining times.

    At every pass the jobs with the least remaining time that fit together (by GPU count) are
    the ones that should run: a running job outside that set is preempted (its progress is
    kept), queued jobs inside it start. On one GPU with all jobs present at t=0 this is the
    shortest-processing-time order, which minimises mean JCT (Smith 1956; Schrage 1968 for
    the preemptive rule). Jobs that do not fit are skipped (no blocking).
    """

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        jobs = _candidates(view)
        return _preemptive(view, jobs, view.remaining_s_many(jobs))[0]


@register("scheduling", "direct_las")
class DirectLeastAttainedService(SchedulingPolicy):
    """Least attained service (LAS, also foreground-background), preemptive, time-sliced.

    Priority is the GPU-service a job has received so far (GPUs x seconds run; Rai et al.,
    SIGMETRICS 2003; Nuyens and Wierman 2008): no knowledge of job sizes is needed. Every
    ``quantum`` seconds the jobs with the least attained service that fit together run and the
    others are preempted, so equally served jobs take turns: with a small quantum two jobs on
    one GPU share it, as in processor sharing, until the shorter one finishes. A job that
    (re)started keeps its devices for at least one quantum, so with a quantum longer than the
    scenario's restart cost every run makes progress (a shorter one can livelock).
    """

    class Params(Params):
        quantum: float = Field(default=300.0, gt=0, description="seconds between passes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._since: dict[int, float] = {}  # when each running job last started

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, q = view.now, self.params.quantum
        running = _running(view)
        self._since = dict(zip(running.tolist(), view.started_at(running).tolist(), strict=True))
        jobs = _candidates(view)
        eps = 1e-9 * max(1.0, q)
        protected = np.array(
            [now - self._since.get(j, -math.inf) < q - eps for j in jobs.tolist()], dtype=bool
        )
        decision, keep = _preemptive(view, jobs, view.attained_gpu_s()[jobs], ~protected)
        for job in keep.tolist():
            self._since.setdefault(job, now)
        wake = None
        if len(jobs) > len(keep):  # someone waits: next quantum end of a running job
            ends = [
                _next_quantum_end(t, now, q)
                for j, t in self._since.items()
                if j not in decision.preempt
            ]
            wake = min(ends) if ends else now + q
        return ScheduleDecision(
            decision.order, blocking=False, preempt=decision.preempt, wake_at=wake
        )


@register("scheduling", "direct_tiresias")
class DirectTiresias(SchedulingPolicy):
    """Tiresias discretised two-dimensional LAS (Gu et al., NSDI 2019), preemptive.

    A job's priority is its attained GPU-service (GPUs x seconds run), discretised into queues
    by ``thresholds``: queue 0 below the first threshold, and so on. Higher queues preempt lower
    ones; within a queue jobs go first-come first-served (by submit time). A job moves down
    when its service crosses a threshold (the policy asks for a pass at that instant).
    Starvation prevention: a job that has waited more than ``starve_factor`` times its total
    run time since it last ran goes back to queue 0 with its counted service reset (if it has
    counted service: promoting a job with none would change nothing).
    """

    class Params(Params):
        thresholds: list[float] = Field(
            default_factory=lambda: [3600.0, 36000.0],
            description="GPU-seconds of service at which a job moves to the next queue",
        )
        starve_factor: float | None = Field(default=8.0, gt=0, description="None: never promote")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._offset: dict[int, float] = {}  # service not counted since a promotion
        self._waiting_since: dict[int, float] = {}

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, attained, p = view.now, view.attained_gpu_s(), self.params
        limits = np.asarray(p.thresholds, dtype=np.float64)
        since, queued = self._waiting_since, _queued(view)
        entered = dict(zip(queued.tolist(), view.queued_since(queued).tolist(), strict=True))
        # waiting since it queued, or since its promotion while queued
        self._waiting_since = {j: max(t, since.get(j, -math.inf)) for j, t in entered.items()}
        ran = attained / view.gpus  # seconds each job has run
        f = p.starve_factor
        if f is not None:
            for job, since in self._waiting_since.items():
                counted = attained[job] - self._offset.get(job, 0.0)
                if counted > 0 and now - since >= f * ran[job]:
                    self._offset[job] = attained[job]  # promoted: back to queue 0
                    self._waiting_since[job] = now

        service = attained.copy()
        for job, offset in self._offset.items():
            service[job] -= offset
        jobs = _candidates(view)
        level = np.searchsorted(limits, service[jobs], side="right")
        decision, keep = _preemptive(view, jobs, view.jobs.submit_s[jobs], level)
        # the instant a job meant to run crosses into the next queue
        crossing = [
            at
            for limit in limits.tolist()
            for at in view.reaches_gpu_s(keep, limit + (attained - service)[keep]).tolist()
            if at > now
        ]
        wake = min(crossing, default=math.inf)
        keep = set(keep.tolist())
        for job in decision.preempt:
            self._waiting_since[job] = now
        if f is not None:
            for job, since in self._waiting_since.items():
                if job not in keep and service[job] > 0:
                    wake = min(wake, since + f * ran[job])
        return ScheduleDecision(
            decision.order,
            blocking=False,
            preempt=decision.preempt,
            wake_at=None if math.isinf(wake) else wake,
        )


@register("scheduling", "direct_gandiva")
class DirectGandivaTimeSlicing(SchedulingPolicy):
    """Gandiva-style suspend-resume time slicing (Xiao et al., OSDI 2018), round-robin.

    A running job's time is cut into quanta of ``quantum`` seconds from its (re)start. At the
    end of a quantum, if jobs are waiting, it is suspended (preempted) and goes to the back of
    the queue, and the jobs that have waited longest start; if nobody waits it simply runs on
    into its next quantum. A job is never stopped mid-quantum, so an arrival waits for the next
    quantum boundary of a running job.
    """

    class Params(Params):
        quantum: float = Field(default=60.0, gt=0, description="seconds per time slice")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._run_since: dict[int, float] = {}
        self._wait_since: dict[int, float] = {}

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, q = view.now, self.params.quantum
        eps = 1e-9 * max(1.0, q)
        waits, running = self._wait_since, _running(view)
        self._run_since = dict(
            zip(running.tolist(), view.started_at(running).tolist(), strict=True)
        )
        self._wait_since = {j: waits.get(j, now) for j in view.queue}

        def quanta(job: int) -> float:
            return (now - self._run_since[job]) / q  # quanta done in the current run

        jobs = _candidates(view)
        # rank: running mid-quantum first, then waiting (longest first), then at a boundary
        key_time = np.empty(len(jobs))
        key_kind = np.empty(len(jobs), dtype=np.int64)
        for i, job in enumerate(jobs.tolist()):
            if job in self._run_since:
                k = quanta(job)
                boundary = round(k) >= 1 and abs(k - round(k)) * q <= eps
                key_time[i], key_kind[i] = (now, 2) if boundary else (-math.inf, 0)
            else:
                key_time[i], key_kind[i] = self._wait_since[job], 1
        decision, keep = _preemptive(view, jobs, key_kind, key_time)
        for job in keep.tolist():
            self._run_since.setdefault(job, now)
        for job in decision.preempt:
            del self._run_since[job]
            self._wait_since[job] = now
        wake = None
        if len(jobs) > len(keep):  # someone waits: look again at the next quantum boundary
            ends = [_next_quantum_end(since, now, q) for since in self._run_since.values()]
            wake = min(ends) if ends else None
        return ScheduleDecision(
            decision.order, blocking=False, preempt=decision.preempt, wake_at=wake
        )


@register("scheduling", "direct_themis")
class DirectThemisFairness(SchedulingPolicy):
    """Themis finish-time fairness (Mahajan et al., NSDI 2020), round-based leases.

    A job's finish-time fairness is ``rho = T_shared / T_ideal``: ``T_shared`` its expected
    completion time from submission if it ran from now on (time so far + oracle remaining
    time), ``T_ideal`` its run time on an equal 1/N share of the cluster's C GPUs, N being the
    active jobs: ``D x max(1, g N / C)`` for a job of g GPUs and total run time D. Resources are
    leased for ``lease`` seconds; when leases end, the jobs with the worst (largest) rho that fit
    together get them (Themis's auction with fairness knob 0). A job is never stopped before
    its lease ends.
    """

    class Params(Params):
        lease: float = Field(default=600.0, gt=0, description="seconds per lease")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lease_end: dict[int, float] = {}

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, lease = view.now, self.params.lease
        ends = self._lease_end
        self._lease_end = {j: ends.get(j, now + lease) for j in view.running}
        jobs = _candidates(view)
        g = view.gpus[jobs].astype(np.float64)
        remaining = view.remaining_s_many(jobs)
        total = remaining + view.attained_gpu_s()[jobs] / g  # D: run so far + still to run
        shared = now - view.jobs.submit_s[jobs] + remaining
        ideal = total * np.maximum(1.0, g * len(jobs) / float(view.topology.node_gpus.sum()))
        rho = shared / ideal
        eps = 1e-9 * max(1.0, lease)
        held = np.array(
            [self._lease_end.get(j, -math.inf) > now + eps for j in jobs.tolist()], dtype=bool
        )
        decision, keep = _preemptive(view, jobs, -rho, ~held)
        for job in keep.tolist():
            if self._lease_end.get(job, -math.inf) <= now + eps:
                self._lease_end[job] = now + lease  # a new lease
        for job in decision.preempt:
            self._lease_end.pop(job, None)
        waiting = len(jobs) > len(keep)
        wake = min(self._lease_end.values()) if waiting and self._lease_end else None
        return ScheduleDecision(
            decision.order, blocking=False, preempt=decision.preempt, wake_at=wake
        )
