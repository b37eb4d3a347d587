"""Preemptive and time-slicing scheduling policies: SRTF, LAS, Tiresias, Gandiva, Themis.

Each ranks the running and the queued jobs; the best-ranked ones that fit together (counting
GPUs) should run: running jobs outside that set are preempted, queued ones inside it are tried
first (non-blocking).

Cost of a pass. When every running and queued job fits at once (``view.demand_gpus`` at most
the installed GPUs: the usual case below saturation) nobody can be preempted, so only the
queued jobs are ranked. The times a rank depends on are the ledger's (``view.started_at``,
``view.queued_since``), so nothing is rebuilt per running job; Tiresias then asks for no pass
at threshold crossings, and under contention it keeps each running job's next crossing in a
heap refreshed from ``view.changed``. Only under contention is every candidate ranked, by one
kernel that sorts only the queued jobs, starting from their order at the last contended pass
(:func:`~simulator.kernels.rank_fit`: only jobs new to the queue or with new keys are sorted
and merged in; the order is the full sort's whatever it starts from); for LAS and
Gandiva the whole contended pass is one kernel (:func:`~simulator.kernels.las_rank`, which
also finds the quantum ends at which nothing can change, so that they get no pass, and
:func:`~simulator.kernels.gandiva_rank`). The direct implementations these must agree with (the same
event log, jobs and series; pass for pass but for the passes LAS and Tiresias skip) are in
``tests/reference_policies.py``.

Must not import: simpy, numba.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from pydantic import Field

from .. import kernels
from .base import ClusterView, Params, ScheduleDecision
from .ranking import _order, _Ranking
from .registry import register
from .scheduling import _queued, _running, _shares


@register("scheduling", "srtf")
class ShortestRemainingTimeFirst(_Ranking):
    """Shortest remaining time first, preemptive, with oracle remaining times.

    At every pass the jobs with the least remaining time that fit together (by GPU count) are
    the ones that should run: a running job outside that set is preempted (its progress is
    kept), queued jobs inside it start. On one GPU with all jobs present at t=0 this is the
    shortest-processing-time order, which minimises mean JCT (Smith 1956; Schrage 1968 for
    the preemptive rule). Jobs that do not fit are skipped (no blocking).
    """

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        queued = _queued(view)
        if self._fits_all(view):
            return ScheduleDecision(_order(queued, view.remaining_s_many), False)
        running = _running(view)
        left = view.remaining_s_many(np.concatenate([running, queued]))
        return self._contended(view, running, queued, left)[0]


@register("scheduling", "las")
class LeastAttainedService(_Ranking):
    """Least attained service (LAS, also foreground-background), preemptive, time-sliced.

    Priority is the GPU-service a job has received so far (GPUs x seconds run; Rai et al.,
    SIGMETRICS 2003; Nuyens and Wierman 2008): no knowledge of job sizes is needed. Every
    ``quantum`` seconds the jobs with the least attained service that fit together run and the
    others are preempted, so equally served jobs take turns: with a small quantum two jobs on
    one GPU share it, as in processor sharing, until the shorter one finishes. A job that
    (re)started keeps its devices for at least one quantum, so with a quantum longer than the
    scenario's restart cost every run makes progress (a shorter one can livelock). Quantum
    ends at which no decision can change (no queued job can overtake enough running ones
    yet) get no pass: the runs are the same, with fewer events.
    """

    class Params(Params):
        quantum: float = Field(default=300.0, gt=0, description="seconds between passes")

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        queued = _queued(view)
        if self._fits_all(view):
            return ScheduleDecision(_order(queued, view.attained_gpu_s), False)
        now, q = view.now, self.params.quantum
        running = _running(view)
        (stay, quiet, quiet_wake), decision, keep = self._rank(
            view, kernels.las_rank, running, queued,
            view.gpus, *view.service_terms(), now, q, self._installed,
        )  # fmt: skip
        wake = None
        if not keep.all():  # someone waits
            kept_queued = bool(keep[len(running) :].any())
            wake = min(stay, now + q) if kept_queued else stay
            if math.isinf(wake):  # nothing keeps running: look again in a quantum
                wake = now + q
            elif view.passes_skippable and not (
                view.changed or decision.preempt or kept_queued or _shares(view, queued)
            ):
                # Nothing changed since the last pass (the engine starts nothing either). A
                # later pass changes something only if it keeps a queued job: a running job
                # ranked before it must move after it. Queued keys are fixed while nothing
                # happens; running jobs only move down (protection ends, service grows), each
                # past the queued key just above its own first: the earliest such move
                # (``quiet``) bounds the change, and the quantum ends before it get no pass.
                if math.isinf(quiet):  # nothing can change before an event
                    wake = None
                elif quiet > now:
                    wake = quiet_wake
        return ScheduleDecision(decision.order, False, decision.preempt, wake)


@register("scheduling", "tiresias")
class Tiresias(_Ranking):
    """Tiresias discretised two-dimensional LAS (Gu et al., NSDI 2019), preemptive.

    A job's priority is its attained GPU-service (GPUs x seconds run), discretised into queues
    by ``thresholds``: queue 0 below the first threshold, and so on. Higher queues preempt lower
    ones; within a queue jobs go first-come first-served (by submit time). A job moves down
    when its service crosses a threshold (the policy asks for a pass at that instant).
    Starvation prevention: a job that has waited more than ``starve_factor`` times its total
    run time since it last ran goes back to queue 0 with its counted service reset (if it has
    any: promoting a job without would change nothing, again and again at one instant).
    """

    class Params(Params):
        thresholds: list[float] = Field(
            default_factory=lambda: [3600.0, 36000.0],
            description="GPU-seconds of service at which a job moves to the next queue",
        )
        starve_factor: float | None = Field(default=8.0, gt=0, description="None: never promote")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._limits = np.asarray(self.params.thresholds, dtype=np.float64)
        self._limit_list = self._limits.tolist()
        # per job, from the first promotion on (None before: nobody was promoted): service
        # not counted since a promotion, and when it was (a promotion restarts the clock)
        self._offset: np.ndarray | None = None
        self._promoted_at: np.ndarray | None = None
        # next threshold crossing of each running job: (instant, job, token); an entry is
        # void once the job's token moves on (it changed since) or it no longer runs
        self._crossings: list[tuple[float, int, int]] = []
        self._token: dict[int, int] = {}
        self._stale = False  # not kept while everything fits: rebuilt when next needed

    def _offsets(self, jobs: np.ndarray) -> np.ndarray | float:
        return 0.0 if self._offset is None else self._offset[jobs]

    def _levels(self, jobs: np.ndarray, attained: np.ndarray) -> np.ndarray:
        """The queue of each of ``jobs`` (``attained``: their service): by counted service,
        attained less what a promotion forgave."""
        return np.searchsorted(self._limits, attained - self._offsets(jobs), side="right")

    def _crossing(self, view: ClusterView, jobs: np.ndarray) -> np.ndarray:
        """When each of ``jobs`` next crosses a threshold if it runs from now (inf: past the
        last one)."""
        if len(jobs) <= 4:  # the usual pass: a job or two, in plain floats
            return np.array([self._crossing_one(view, j) for j in jobs.tolist()])
        offsets = self._offsets(jobs)
        targets = self._limits + (offsets[:, None] if isinstance(offsets, np.ndarray) else offsets)
        at = view.reaches_gpu_s(jobs[:, None], targets)  # [jobs, thresholds]
        return np.where(at > view.now, at, math.inf).min(axis=1, initial=math.inf)

    def _crossing_one(self, view: ClusterView, job: int) -> float:
        """:meth:`_crossing` of one job."""
        offset, now = 0.0 if self._offset is None else float(self._offset[job]), view.now
        ats = view.reaches_gpu_s(job, [limit + offset for limit in self._limit_list])
        return min((at for at in ats if at > now), default=math.inf)

    def _refresh(self, view: ClusterView) -> None:
        """Re-enter the jobs changed since the last pass (every job if the heap is stale)."""
        if not (view.changed or self._stale):
            return
        token, running, queue = self._token, view.running, view.queue
        # the running ones are entered; with nothing running (a round boundary shows every
        # job queued) the queued ones, which may be running when the heap is next read
        enter = running or queue
        live = []
        for job in dict.fromkeys(view.changed):
            token[job] = token.get(job, 0) + 1
            if job in enter:
                live.append(job)
        if self._stale:
            self._stale, self._crossings = False, []
            live = view.running_ids() if running else view.queued_ids()
            for job in live.tolist():
                token.setdefault(job, 0)
        if not len(live):
            return
        live = np.asarray(live, dtype=np.int64)
        for at, job in zip(self._crossing(view, live).tolist(), live.tolist(), strict=True):
            if at < math.inf:
                heapq.heappush(self._crossings, (at, job, token[job]))
        if len(self._crossings) > 4 * (len(running) + len(queue)) + 1024:
            self._crossings = [e for e in self._crossings if token.get(e[1]) == e[2]]
            heapq.heapify(self._crossings)

    def _next_running_crossing(self, view: ClusterView, stopping=()) -> float:
        """The earliest next crossing of a running job not in ``stopping`` (the jobs this
        pass would preempt, kept: a round's lease may keep them running; inf: none). An entry
        stands until its instant passes (the job crossed: its next threshold is entered)."""
        heap, token, running, now = self._crossings, self._token, view.running, view.now
        passed, out = [], math.inf
        while heap:
            at, job, tok = heap[0]
            if tok != token.get(job) or job not in running:
                heapq.heappop(heap)
            elif at <= now:
                at = self._crossing_one(view, job)
                if at < math.inf:
                    heapq.heapreplace(heap, (at, job, tok))
                else:
                    heapq.heappop(heap)
            elif job in stopping:
                passed.append(heapq.heappop(heap))
            else:
                out = at
                break
        for entry in passed:
            heapq.heappush(heap, entry)
        return out

    def _promote(self, view: ClusterView, queued: np.ndarray, attained: np.ndarray) -> None:
        """Starvation prevention for the queued jobs (``attained``: their service)."""
        f, now = self.params.starve_factor, view.now
        if f is None or not attained.any():
            return
        ran = attained / view.gpus[queued]
        since = view.queued_since(queued)
        if self._promoted_at is not None:
            since = np.maximum(since, self._promoted_at[queued])
        counted = attained - self._offsets(queued)
        promoted = np.flatnonzero((counted > 0) & (now - since >= f * ran))
        if not len(promoted):
            return
        if self._offset is None:
            self._offset = np.zeros(len(view.jobs))
            self._promoted_at = np.full(len(view.jobs), -math.inf)
        self._offset[queued[promoted]] = attained[promoted]  # promoted: back to queue 0
        self._promoted_at[queued[promoted]] = now

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, fits = view.now, self._fits_all(view)
        # only running jobs cross thresholds (a queued job's service is fixed), and while
        # everything fits their queues matter to nobody: the next pass that can change
        # anything follows an event, which ranks afresh (the crossings heap is rebuilt then)
        quiet = fits and view.passes_skippable
        self._stale = self._stale or quiet
        if not quiet:
            self._refresh(view)
        queued = _queued(view)
        attained = view.attained_gpu_s(queued) if len(queued) else queued.astype(float)
        if len(queued):
            self._promote(view, queued, attained)
        if fits:
            submit = view.jobs.submit_s
            order = _order(queued, lambda q: submit[q], lambda q: self._levels(q, attained))
            if quiet:
                return ScheduleDecision(order, False)
            wake = self._next_running_crossing(view) if view.running else math.inf
            if len(queued):
                wake = min(wake, float(self._crossing(view, queued).min()))
            return ScheduleDecision(order, False, (), None if math.isinf(wake) else wake)
        running = _running(view)
        jobs = np.concatenate([running, queued])
        attained = np.concatenate([view.attained_gpu_s(running), attained])
        level = self._levels(jobs, attained)
        decision, keep = self._contended(view, running, queued, level, view.jobs.submit_s[jobs])
        stopping = set(decision.preempt)
        wake = self._next_running_crossing(view, stopping) if view.running else math.inf
        kept_queued = queued[keep[len(running) :]]
        if len(kept_queued):
            wake = min(wake, float(self._crossing(view, kept_queued).min()))
        f = self.params.starve_factor
        if f is not None:  # the starvation clock of jobs left waiting
            left_out = ~keep
            waiting = jobs[left_out]
            ran = attained[left_out] / view.gpus[waiting]
            since = view.queued_since(waiting)
            preempted = np.flatnonzero(left_out) < len(running)  # running, not kept
            since[preempted] = now
            if self._promoted_at is not None:
                promoted = self._promoted_at[waiting]
                since[~preempted] = np.maximum(since, promoted)[~preempted]
            counted = (attained[left_out] - self._offsets(waiting)) > 0
            starving = since[counted] + f * ran[counted]
            if len(starving):
                wake = min(wake, float(starving.min()))
        return ScheduleDecision(
            decision.order, False, decision.preempt, None if math.isinf(wake) else wake
        )


@register("scheduling", "gandiva")
class GandivaTimeSlicing(_Ranking):
    """Gandiva-style suspend-resume time slicing (Xiao et al., OSDI 2018), round-robin.

    A running job's time is cut into quanta of ``quantum`` seconds from its (re)start. At the
    end of a quantum, if jobs are waiting, it is suspended (preempted) and goes to the back of
    the queue, and the jobs that have waited longest start; if nobody waits it simply runs on
    into its next quantum. A job is never stopped mid-quantum, so an arrival waits for the next
    quantum boundary of a running job.
    """

    class Params(Params):
        quantum: float = Field(default=60.0, gt=0, description="seconds per time slice")

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        queued = _queued(view)
        if self._fits_all(view):
            return ScheduleDecision(_order(queued, view.queued_since), False)
        now, q = view.now, self.params.quantum
        running = _running(view)
        # rank: running mid-quantum first, then waiting (longest first), then at a boundary
        stay, decision, keep = self._rank(
            view, kernels.gandiva_rank, running, queued,
            view.queued_since(queued), view.gpus, view.service_terms()[3], now, q,
            self._installed,
        )  # fmt: skip
        wake = math.inf
        if not keep.all():  # someone waits: next quantum boundary (a job started now: now + q)
            wake = min(stay, now + q) if keep[len(running) :].any() else stay
        return ScheduleDecision(
            decision.order, False, decision.preempt, None if math.isinf(wake) else wake
        )


@register("scheduling", "themis")
class ThemisFairness(_Ranking):
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
        self._end: np.ndarray | None = None  # lease end per job id (-inf: no lease)
        self._next = math.inf  # at most the earliest lease end of a running job

    def _rho(self, view: ClusterView, jobs: np.ndarray, active: int) -> np.ndarray:
        g = view.gpus[jobs].astype(np.float64)
        remaining = view.remaining_s_many(jobs)
        total = remaining + view.attained_gpu_s(jobs) / g  # D: run so far + still to run
        shared = view.now - view.jobs.submit_s[jobs] + remaining
        return shared / (total * np.maximum(1.0, g * active / float(self._installed)))

    def schedule(self, view: ClusterView) -> ScheduleDecision:
        now, lease = view.now, self.params.lease
        eps = 1e-9 * max(1.0, lease)
        if self._end is None:
            self._end = np.full(len(view.jobs), -math.inf)
        end, running = self._end, view.running
        for job in view.changed:  # a job that (re)started gets a lease; one that left, none
            if job not in running:
                end[job] = -math.inf
                continue
            if end[job] == -math.inf:
                end[job] = now + lease
            self._next = min(self._next, end[job])
        queued, run = _queued(view), _running(view)
        active = len(run) + len(queued)
        if self._fits_all(view):
            if self._next <= now + eps:  # expired leases of running jobs renew
                ends = end[run]
                ends[ends <= now + eps] = now + lease
                end[run] = ends
                self._next = ends.min(initial=math.inf)
            order = _order(queued, lambda q: -self._rho(view, q, active))
            end[order] = now + lease  # leased when ordered: those that start keep it
            return ScheduleDecision(order, False)
        end[queued] = -math.inf  # only the jobs that run hold leases
        ends = end[run]
        ends[ends == -math.inf] = now + lease
        jobs = np.concatenate([run, queued])
        free = np.concatenate([ends <= now + eps, np.ones(len(queued), dtype=bool)])
        decision, keep = self._contended(view, run, queued, free, -self._rho(view, jobs, active))
        ends = np.concatenate([ends, end[queued]])
        ends[keep & (ends <= now + eps)] = now + lease  # a new lease
        ends[~keep] = -math.inf  # preempted, or left waiting
        end[jobs] = ends
        self._next = ends[keep].min(initial=math.inf)
        wake = self._next if not keep.all() and keep.any() else None
        return ScheduleDecision(decision.order, False, decision.preempt, wake)
