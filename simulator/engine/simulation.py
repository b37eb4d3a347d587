"""The simulation loop: arrivals, coalesced scheduling passes, gang allocation, completions.

Role: run a :class:`JobTable` on a :class:`Cluster` under a scheduling and a placement policy,
and return the per-job times and the recorded level series. Event ordering is defined in
:mod:`.environment` (completions, then arrivals, then one pass per instant).

The run covers the closed interval ``[0, horizon]``: events at exactly the horizon are
processed. Without a horizon it runs until no event is left (every job finished).

A pass: the scheduling policy returns the running jobs to preempt, an order of queued jobs and
optionally a time for the next pass; preempted jobs keep their progress and queue again; for
each queued job in order, the placement policy proposes devices; the engine validates and
applies every placement (gang: all requested devices at once) and schedules the job's
completion (after a restart cost, if it is a restart). With a blocking decision the pass stops
at the first job that cannot be placed.

Everything else is an engine part (:mod:`.parts`: failures, spot reclaims, the autoscaler,
services, elastic jobs, energy, a user's own), called through its hooks before and after each
pass and on node events; node statuses belong to :mod:`.nodes`, per-job books to :mod:`.ledger`.

A running job keeps the rate it started with, except jobs whose rings cross shared uplinks:
those are tracked by the :class:`~.sharing.SharedLinks`, settled once at the end of every
pass in which it changed, with a single pending completion event for all of them (an older
one is recognised as stale by its version and ignored).

Must not import: numba.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import numpy as np

from ..policies.base import PlacementPolicy, SchedulingPolicy
from ..world.cluster import Cluster
from ..world.jobs import JobTable
from .environment import ARRIVAL, COMPLETION, Environment
from .ledger import Ledger
from .nodes import Nodes
from .outcome import EventLimitError, Outcome
from .parts import HOOKS, Engine, Part, overriding
from .state import ClusterState, EngineError, InvariantError, allowed_nodes, check
from .throughput import Throughput
from .view import View

__all__ = ["EngineError", "InvariantError", "Outcome", "Simulation"]

ProgressFn = Callable[[float, int], None]


class Simulation:
    """One run of the engine. Create, call :meth:`run` once."""

    PROGRESS_EVERY = 1 << 15

    def __init__(
        self,
        cluster: Cluster,
        jobs: JobTable,
        scheduler: SchedulingPolicy,
        placer: PlacementPolicy,
        *,
        restart_s: np.ndarray | None = None,
        horizon: float | None = None,
        check_invariants: bool = False,
        record_events: bool = False,
        throughput: Throughput | None = None,
        nodes: Nodes | None = None,
        parts: list[Part] = (),
        max_events: float = math.inf,
    ):
        self.env = Environment()
        self.max_events = max_events  # past this, the run stops with EventLimitError
        self.cluster = cluster
        self.jobs = jobs
        self.scheduler = scheduler
        self.placer = placer
        self.horizon = horizon
        self.check_invariants = check_invariants
        self.state = ClusterState(cluster, jobs.gpu_milli)
        # queued jobs in arrival order. Not a dict: a dict keeps deleted slots until it resizes
        # and iteration scans them from the front, so with a long queue drained from its head
        # every pass would cost O(jobs already gone); an OrderedDict iterates a linked list
        self.queue: OrderedDict[int, None] = OrderedDict()
        self.throughput = throughput or Throughput(cluster, jobs, [None] * len(jobs.stream_names))
        # jobs on shared links have one completion event for all of them; an event carries
        # the shared links' version it was scheduled for and is ignored once stale
        self.links = self.throughput.links
        self._pool_version = 0
        # per-job progress; a completion event carries the job's ledger version and is
        # ignored once stale (the job was preempted since)
        self.ledger = Ledger(jobs, self.throughput.works(), restart_s)
        self.view = View(self.env, self.state, self.queue, jobs, cluster, self)
        self._wake_version = 0
        # oracle speed of each job before it runs (1 for duration jobs; model jobs on demand)
        self._oracle_rate = np.where(np.isnan(jobs.duration_s), np.nan, 1.0)
        self._oracle_cache: dict[tuple[int, ...], float] = {}
        self._next_arrival = 0
        self._pass_pending = False
        self._finished = 0
        self._log = [] if record_events else None
        self._t, self._busy, self._queued, self._running = (array("d") for _ in range(4))
        self._fragmented, self._online = array("d"), array("d")
        # hot-path locals
        self._submit = jobs.submit_s
        self._gpus = self.ledger.gpus  # current sizes
        self._allowed = allowed_nodes(jobs, cluster.topology)  # job -> node mask, if limited
        self.parts = list(parts)
        self._hooks = {hook: overriding(self.parts, hook) for hook in HOOKS}
        self._before, self._after = self._hooks["before_pass"], self._hooks["after_pass"]
        self.passes_skippable = not any(
            getattr(hook.__self__, "pass_driven", True) for hook in self._before + self._after
        )
        self.nodes = nodes or Nodes()
        engine = self.engine = Engine(self, self.nodes)
        self.nodes.attach(engine)  # initial node statuses, before any part looks
        for part in self.parts:
            part.attach(engine)

    # ------------------------------------------------------------------ events

    def _schedule_next_arrival(self) -> None:
        i = self._next_arrival
        if i < len(self._submit):
            self.env.call_at(float(self._submit[i]), ARRIVAL, self._on_arrival)

    def _on_arrival(self, _event) -> None:
        now = self.env.now
        submit, queue, i, n = self._submit, self.queue, self._next_arrival, len(self._submit)
        while i < n and submit[i] <= now:
            queue[i] = None
            self.ledger.arrive(i)
            if self._log is not None:
                self._log.append((now, "submit", i, ""))
            i += 1
        self._next_arrival = i
        self._schedule_next_arrival()
        self._request_pass()

    def _on_complete(self, job: int, version: int, _event) -> None:
        if version != self.ledger.version[job]:
            return  # preempted since
        self._finish(job)
        self._request_pass()

    def _on_wake(self, version: int, _event) -> None:
        if version == self._wake_version:
            self._request_pass()

    def _on_pool_due(self, version: int, _event) -> None:
        if version != self._pool_version:
            return  # the shared links changed since: a newer event stands for it
        for job in self.links.due(self.env.now):
            self._finish(job, on_links=True)
        self._request_pass()

    def _finish(self, job: int, on_links: bool = False) -> None:
        now = self.env.now
        self.state.release(job, self._gpus[job])
        self.throughput.finish(job)
        self.ledger.finish(job, now, on_links)
        self._finished += 1
        if self._log is not None:
            self._log.append((now, "finish", job, ""))
        for hook in self._hooks["on_finish"]:
            hook(job)

    def _request_pass(self) -> None:
        self._pass_pending = True

    # ------------------------------------------------------------------ the pass

    def _pass(self) -> None:
        self._pass_pending = False
        view, queue, state, env = self.view, self.queue, self.state, self.env
        for hook in self._before:
            hook()  # e.g. service replicas above training (they may preempt)
        view.changed = self.ledger.take_touched()
        decision = self.scheduler.schedule(view)
        for job in decision.preempt:
            if job not in state.running:
                raise EngineError(
                    f"{self.scheduler.name} preempted job {job}, which is not running"
                )
            self._preempt(job)
        if decision.wake_at is not None and decision.wake_at > env._now:
            self._wake_version += 1
            wake = partial(self._on_wake, self._wake_version)
            self.env.call_at(decision.wake_at, ARRIVAL, wake)
        started, gpus = [], self._gpus
        pinned = decision.chip_type or {}
        order, tail, first, skipped = decision.order, None, 0, False
        for i, job in enumerate(order):
            job = int(job)  # an order may be an int array
            if skipped and tail is None:  # after the first job skipped, look ahead
                tail, first = self._tail_min(order[i:]), i
            if tail is not None and tail[i - first] > state.free_total:
                break  # no job from here on asks for few enough devices
            if job not in queue:
                raise EngineError(f"{self.scheduler.name} ordered job {job}, which is not queued")
            nodes = self._allowed.get(job)  # GPU-model limits and the scheduler's pin
            if job in pinned:
                on_type = self.cluster.topology.node_chip == pinned[job]
                nodes = on_type if nodes is None else nodes & on_type
            placement = state.share_placement(job, nodes) if state.is_share(job) else None
            if placement is None and gpus[job] > state.free_total:  # cannot fit anywhere
                if decision.blocking or state.free_total == 0:
                    break
                skipped = True
                continue
            if placement is None:
                placement = self._place(job, nodes)
            if placement is None:
                if decision.blocking:
                    break
                skipped = True
                continue
            self._start(job, placement)
            started.append(job)
        for job in started:
            del queue[job]
        for hook in self._after:
            hook()  # e.g. services below training, elastic resizes, the autoscaler, energy
        if self.links.dirty:
            self._pool_version += 1
            at = self.links.settle(env._now)
            if at < math.inf:
                env.call_at(at, COMPLETION, partial(self._on_pool_due, self._pool_version))
        online = self.nodes.online_gpus
        self._online.append(online)
        self._t.append(env._now)
        self._busy.append(online - state.free_total)
        self._queued.append(len(queue))
        self._running.append(len(state.running))
        if queue:  # devices free but unusable by the oldest waiting job
            head = next(iter(queue))
            self._fragmented.append(state.fragmented(gpus[head]))
        else:
            self._fragmented.append(0)
        if self.check_invariants:
            check(self)

    def _tail_min(self, order) -> list[int]:
        """For each position of (the rest of) a non-blocking order, the fewest devices a job
        from there on asks for (0 for a share of a device: it may fit an open shared one;
        all 0 for a short order, where looking ahead costs more than trying)."""
        if len(order) <= 16:
            return [0] * len(order)
        ids = np.asarray(order, dtype=np.int64)
        need = self.ledger.size[ids]
        if self.state.milli is not None:
            need[self.state.milli[ids] < 1000] = 0
        return np.minimum.accumulate(need[::-1])[::-1].tolist()

    def _place(self, job: int, nodes: np.ndarray | None = None):
        """The placement policy's devices for ``job`` (on the nodes in mask ``nodes``, or
        those its GPU-model limits allow), or None."""
        if nodes is None:
            nodes = self._allowed.get(job)
        return self.placer.place(self.view if nodes is None else self.view.on_nodes(nodes), job)

    def _start(self, job: int, placement) -> None:
        self.state.allocate(job, placement, self._gpus[job])
        now = self.env.now
        if self._log is not None:
            where = ",".join(
                f"{n}:{c}"
                for n, c in zip(placement.nodes.tolist(), placement.counts.tolist(), strict=True)
            )
            self._log.append((now, "start", job, where))
        if self.ledger.start(job, now, placement.nodes):  # a restart
            return self._hold(job, placement, self.ledger.restart_cost(job))
        self._run(job, placement)

    def _hold(self, job: int, placement, cost: float) -> None:
        """Devices held without progress for ``cost`` seconds (a checkpoint restored, a
        communicator rebuilt), then the job runs."""
        if cost <= 0:
            return self._run(job, placement)
        at = self.env.now + cost
        self.ledger.hold(job, at)
        resume = partial(self._on_resume, job, self.ledger.version[job], placement, cost)
        self.env.call_at(at, COMPLETION, resume)

    def _on_resume(self, job: int, version: int, placement, cost: float, _event) -> None:
        if version == self.ledger.version[job]:  # not stopped while restoring
            self._run(job, placement, cost)
            if self.links.dirty:  # it joined the shared links: settle it in a pass
                self._request_pass()

    def _run(self, job: int, placement, lost: float = 0.0) -> None:
        """The job makes progress from now on, at its modelled rate (after ``lost`` seconds
        of restore)."""
        now, ledger = self.env.now, self.ledger
        left = ledger.run(job, now, lost)
        rate = self.throughput.start(job, placement, left, self._gpus[job])
        if rate is not None:  # otherwise the shared links own its progress
            ledger.set_rate(job, rate)
            at = now + ledger.wall_s(job, left if rate == 1.0 else left / rate)
            self.env.call_at(at, COMPLETION, partial(self._on_complete, job, ledger.version[job]))

    def _preempt(self, job: int, interrupted: bool = False) -> None:
        """Stop a running job and queue it again (``interrupted``: see :meth:`Ledger.stop`)."""
        stopped = self._stop(job, interrupted)
        self.ledger.preempt(job, self.env.now, stopped.nodes)
        self.queue[job] = None
        if self._log is not None:
            event = "job_interrupted" if interrupted else "preempt"
            self._log.append((self.env.now, event, job, ""))

    def _stop(self, job: int, interrupted: bool = False):
        """Book a running job's progress, void its pending events and free its devices
        (returns the placement it had)."""
        now = self.env.now
        links_left = self.links.left_of(job, now) if job in self.links else None
        self.ledger.stop(job, now, links_left, interrupted)
        self.throughput.finish(job)
        return self.state.release(job, self._gpus[job])

    # ------------------------------------------------------------------ driver

    def levels(self) -> dict[str, np.ndarray]:
        """The levels recorded after every pass and their times ``t`` (views: no more passes)."""
        return {
            "t": np.frombuffer(self._t, dtype=np.float64),
            "busy_gpus": np.frombuffer(self._busy, dtype=np.float64),
            "queue_length": np.frombuffer(self._queued, dtype=np.float64),
            "running_jobs": np.frombuffer(self._running, dtype=np.float64),
            "fragmented_gpus": np.frombuffer(self._fragmented, dtype=np.float64),
            "online_gpus": np.frombuffer(self._online, dtype=np.float64),
        }

    def run(self, progress: ProgressFn | None = None) -> Outcome:
        """Process events up to the horizon (or until none is left) and return the outcome.

        Args:
            progress: called as ``progress(now, jobs_finished)`` every few thousand events,
                when ``max_events`` is checked too (:class:`EventLimitError` past it).
        """
        env = self.env
        queue = env._queue
        step = env.step
        limit = math.inf if self.horizon is None else self.horizon
        self._schedule_next_arrival()
        njobs = len(self.jobs)
        settled = lambda: all(p.settled() for p in self.parts)  # noqa: E731
        events = 0
        every = check_at = self.PROGRESS_EVERY
        while True:
            if self._pass_pending and (not queue or queue[0][0] > env._now):
                self._pass()  # every event of this instant has been processed
                events += 1
                continue
            if not queue or queue[0][0] > limit or (self._finished == njobs and settled()):
                if self._pass_pending and env._now <= limit:
                    self._pass()  # the levels after the last change, whatever else is due
                    events += 1
                break  # no event left, past the horizon, or all done (spot timers aside)
            step()
            events += 1
            if events >= check_at:  # passes count too, so not events % every
                check_at += every
                if progress is not None:
                    progress(env.now, self._finished)
                if events > self.max_events:
                    raise EventLimitError(self.max_events, env.now)
        end_time = env.now if self.horizon is None else self.horizon
        if progress is not None:
            progress(end_time, self._finished)
        series = {name: v for name, v in self.levels().items() if name != "t"}
        self.nodes.finish(end_time)
        reports = {"nodes": self.nodes.report()}
        for part in self.parts:
            part.finish(end_time)
            series.update(part.series())
            reports[part.name] = part.report()
        ledger = self.ledger
        return Outcome(
            ledger.start_s,
            ledger.end_s,
            ledger.state,
            np.frombuffer(self._t, dtype=np.float64),
            series,
            end_time,
            events,
            self._log,
            ledger.preemptions,
            ledger.service(end_time),
            ledger.restarts,
            ledger.lost_s,
            ledger.migrations,
            ledger.resizes,
            reports,
            *ledger.interruption_books(),
        )
