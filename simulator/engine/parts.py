"""Engine parts and the narrow facade they act through.

Role: everything the engine does beyond the core loop (arrivals, passes, gang placement,
completions) is a *part*: spot reclaims, the node autoscaler, inference services, elastic
jobs, energy, and whatever a user adds. A part subclasses :class:`Part`, overrides the hooks
it needs, and is handed to :class:`~.simulation.Simulation` in its ``parts`` list. The engine
calls each hook on the parts that override it, in list order:

- ``attach(engine)`` once, before the first event (nodes already in their initial status);
- ``before_pass()`` at the start of every scheduling pass, before the scheduling policy;
- ``after_pass()`` after the pass has placed jobs (the shared links are settled after all
  parts, then the levels are recorded). A part whose pass hooks give the same result however
  many passes run (energy books only changes) sets ``pass_driven = False``; while every part
  with pass hooks does, a policy may skip passes that cannot change its own decision
  (``view.passes_skippable``);
- ``on_node_status(node, old, new)`` whenever a node changes status (:mod:`.nodes`);
- ``on_node_down(node, reason)`` when a usable node stops being usable (its jobs are already
  stopped; a part releases what it holds there);
- ``on_finish(job)`` when a job finishes;
- ``pending_gpus()`` devices the part waits for (the autoscaler's demand, beyond the queue);
- ``settled()`` whether the part will do nothing more by itself (the run may end once every
  job is done and every part is settled);
- ``finish(end_time)`` at the end of the run; ``report()`` its raw results (plain arrays and
  numbers), which :mod:`simulator.metrics` turns into summary blocks; ``series()`` level series
  sampled once per pass (same length as the engine's own), for the series table.

A part never calls another part and never writes the engine's state directly: it acts through
:class:`Engine` (preempt, fail, resize, replace a failed node, reserve devices, call at a
time, request a pass, log) and through :class:`~.nodes.Nodes` (``engine.nodes``: request,
release, take down, bring up and hold spare nodes), which publishes the node events every
part sees. A worked example (a node-maintenance
part) is in the README's "Adding an engine part" section and ``tests/test_parts.py``.

Must not import: numba.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .environment import ARRIVAL, COMPLETION

if TYPE_CHECKING:
    from ..policies.base import Placement
    from .nodes import Nodes
    from .simulation import Simulation

HOOKS = (
    "before_pass",
    "after_pass",
    "on_node_status",
    "on_node_down",
    "on_finish",
    "pending_gpus",
)


class Part:
    """Base class of engine parts: every hook does nothing. Override the ones you need."""

    name = "part"  # the key of its report
    pass_driven = True  # its before_pass / after_pass may act differently if a pass is skipped

    def attach(self, engine: Engine) -> None:
        self.engine = engine

    def before_pass(self) -> None: ...

    def after_pass(self) -> None: ...

    def on_node_status(self, node: int, old: int, new: int) -> None: ...

    def on_node_down(self, node: int, reason: str) -> None: ...

    def on_finish(self, job: int) -> None: ...

    def pending_gpus(self) -> int:
        return 0

    def settled(self) -> bool:
        return True

    def finish(self, end_time: float) -> None: ...

    def report(self) -> Any:
        return None

    def series(self) -> dict[str, np.ndarray]:
        return {}


def overriding(parts: list[Part], hook: str) -> list[Callable]:
    """The bound ``hook`` of each part that overrides it (the engine calls only those); a
    part may switch off a hook it does not need in this run by setting it to None."""
    return [
        getattr(p, hook)
        for p in parts
        if getattr(type(p), hook, None) is not getattr(Part, hook) and getattr(p, hook) is not None
    ]


class Engine:
    """What a part may read and do. Reads: ``now``, ``view`` (what policies see), ``state``
    (the devices), ``ledger`` (per-job books), ``jobs`` (the immutable job table),
    ``cluster``, ``nodes``. Everything that changes the run goes through a method here."""

    def __init__(self, sim: Simulation, nodes: Nodes):
        self._sim = sim
        self.view, self.state, self.ledger = sim.view, sim.state, sim.ledger
        self.jobs, self.cluster, self.nodes = sim.jobs, sim.cluster, nodes
        self._env = sim.env

    @property
    def now(self) -> float:
        return self._env._now  # noqa: SLF001 (simpy's own property costs a call more)

    @property
    def passes(self) -> int:
        """Scheduling passes whose levels are recorded so far (the next one's row index)."""
        return len(self._sim._t)

    def levels(self) -> dict[str, np.ndarray]:
        """The engine's level series, one row per pass, and their times ``t``. Only at
        ``finish``: the arrays are views of buffers that must not grow any more."""
        return self._sim.levels()

    @property
    def queue(self):
        """Queued jobs in queue order (read only)."""
        return self.view.queue

    def call_at(self, at: float, callback: Callable[[Any], None], *, completion: bool = False):
        """Run ``callback(event)`` at time ``at`` (>= now), with the completions of that
        instant (``completion``) or with its arrivals (see :mod:`.environment`)."""
        self._env.call_at(at, COMPLETION if completion else ARRIVAL, callback)

    def request_pass(self) -> None:
        """Ask for a scheduling pass once every event of this instant has run."""
        self._sim._pass_pending = True

    def log(self, event: str, detail: str = "", job: int = -1) -> None:
        """Add a row to the event log (when the run keeps one)."""
        if self._sim._log is not None:
            self._sim._log.append((self._env.now, event, job, detail))

    def preempt(self, job: int, *, lose_run: bool = False) -> None:
        """Stop a running job and queue it again; ``lose_run``: it is interrupted, with no
        time to write a checkpoint (it goes back to its last complete one, or to the start of
        its run; :mod:`.ledger`)."""
        self._sim._preempt(job, interrupted=lose_run)

    def fail(self, job: int, reason: str) -> None:
        """A queued job gives up for good: it leaves the queue, state failed (``reason`` in
        the jobs table's ``failure_reason``)."""
        sim = self._sim
        del sim.queue[job]
        self.ledger.fail(job, reason)
        sim._finished += 1  # done with, as far as the end of the run goes
        self.log("job_failed", reason, job)

    def reserve(self, node: int, gpus: int) -> None:
        """Take ``gpus`` whole free devices of ``node`` outside any job (a service replica)."""
        self.state.reserve(node, gpus)

    def unreserve(self, node: int, gpus: int) -> None:
        self.state.unreserve(node, gpus)

    def set_size(self, job: int, gpus: int) -> None:
        """A queued job asks for ``gpus`` devices from now on (elastic jobs)."""
        self.ledger.resize(job, gpus)

    def resize(
        self,
        job: int,
        gpus: int,
        placement: Placement | None,
        cost: float,
        interrupted: bool = False,
    ) -> bool:
        """Give running ``job`` a new size: on ``placement`` (None: where the placement
        policy puts it). It holds its devices ``cost`` seconds without progress, then runs at
        the speed of the new placement. If it cannot be placed it carries on as it was, at no
        cost (returns False). ``interrupted``: a failure shrinks it onto ``placement``, back
        to its last checkpoint, and it holds the devices for its restart cost instead."""
        sim, now = self._sim, self._env.now
        old_placement, old = self.state.running[job], int(self.ledger.gpus[job])
        sim._stop(job, interrupted)
        self.ledger.resize(job, gpus)
        if placement is None:
            placement = sim._place(job)
        if placement is None:
            self.ledger.resize(job, old)
            self.state.allocate(job, old_placement, old)
            self.ledger.regrant(job, now, resized=False)
            sim._run(job, old_placement)
            return False
        self.state.allocate(job, placement, gpus)
        self.ledger.regrant(job, now, resized=True, restarted=interrupted)
        if interrupted:
            cost = self.ledger.restart_cost(job)
        self.log("job_interrupted" if interrupted else "resize", f"{old}->{gpus}", job)
        sim._hold(job, placement, cost)
        return True

    def replace_node(self, job: int, old: int, new: int) -> None:
        """Running ``job`` loses node ``old`` (a failure) and goes on at once on node ``new``
        in its place (a hot spare, online and idle): interrupted, it goes back to its last
        checkpoint and pays its restart cost on the new placement, without queueing."""
        sim, now = self._sim, self._env.now
        placement = self.state.running[job]
        sim._stop(job, interrupted=True)
        nodes = np.where(placement.nodes == old, new, placement.nodes)
        moved = type(placement)(nodes, placement.counts.copy())
        self.state.allocate(job, moved, int(self.ledger.gpus[job]))
        self.ledger.regrant(job, now, resized=False, restarted=True)
        self.log("job_interrupted", f"spare {old}->{new}", job)
        sim._hold(job, moved, self.ledger.restart_cost(job))

    def delay_restart(self, job: int, seconds: float) -> None:
        """The job's next restart holds its devices ``seconds`` longer, booked as restart
        time (a failure noticed only after a detection time)."""
        self.ledger.owe(job, seconds)

    def estimate_rate(self, job: int, gpus: int | None = None) -> float:
        """Work units per second of ``job`` at ``gpus`` devices consolidated on idle nodes."""
        return self._sim.throughput.estimate_rate(job, gpus=gpus)

    def node_down(self, node: int, reason: str, keep_progress: bool) -> None:
        """Called by :class:`~.nodes.Nodes` as a usable node goes: stop the jobs on it (their
        current run's work kept only with ``keep_progress``), then tell every part."""
        sim = self._sim
        for job in self.state.jobs_on(node):
            self.preempt(job, lose_run=not keep_progress)
        for hook in sim._hooks["on_node_down"]:
            hook(node, reason)

    def node_status(self, node: int, old: int, new: int) -> None:
        """Called by :class:`~.nodes.Nodes` on every status change: tell every part."""
        for hook in self._sim._hooks["on_node_status"]:
            hook(node, old, new)
