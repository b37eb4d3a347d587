"""Elastic training jobs: an elastic policy resizes them while they run.

After each scheduling pass:

1. An elastic job still queued asks for its ``min_gpus`` from then on (it starts small and
   grows later), and another pass is requested if that now fits.
2. The GPUs queued jobs wait for are set aside: the longest queue prefix whose requests fit in
   the free GPUs plus what elastic jobs could give back above their minimum. ``free`` (what
   the policy may hand out) is the free GPUs minus that demand; negative means jobs must
   shrink.
3. The policy picks a size for every running elastic job; jobs resized less than
   ``interval`` ago keep theirs (a wake-up is set for when they may change).
4. Shrinking jobs keep a subset of their devices (the nodes where they hold fewest are
   emptied first); growing jobs are placed again at the new size by the placement policy (if
   that fails they keep their devices, without cost). A resized job holds its devices for its
   resize cost without progress, then runs at the speed of its new placement.

Must not import: numba.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..policies.base import ElasticJobs, ElasticPolicy, Placement
from ..scenario.workload import TrainingStream
from ..world.jobs import JobTable
from .parts import Engine, Part
from .state import EngineError


class Elastic(Part):
    """Per job: size bounds, size step and resize cost; the policy's decisions applied."""

    name = "elastic"

    def __init__(
        self,
        policy: ElasticPolicy,
        min_gpus: np.ndarray,
        max_gpus: np.ndarray,
        step: np.ndarray,
        resize_s: np.ndarray,
        interval: float,
    ):
        self.policy = policy
        self.min_gpus, self.max_gpus, self.step = min_gpus, max_gpus, step
        self.resize_s = resize_s
        self.interval = interval
        self.elastic = min_gpus < max_gpus
        self._rates: dict[tuple[int, int, int], float] = {}
        self._wake_at: float | None = None

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self._last = np.full(len(self.elastic), -np.inf)  # last resize

    def settled(self) -> bool:
        return self._wake_at is None

    # ------------------------------------------------------------------ the decision

    def after_pass(self) -> None:
        engine = self.engine
        gpus, state, queue = engine.view.gpus, engine.state, engine.queue
        for job in queue:  # queued elastic jobs start small
            if self.elastic[job] and gpus[job] > self.min_gpus[job]:
                engine.set_size(job, int(self.min_gpus[job]))
                if state.free_total >= gpus[job]:
                    engine.request_pass()
        running = np.array([j for j in state.running if self.elastic[j]], dtype=np.int64)
        if len(running) == 0:
            return
        reclaimable = int((gpus[running] - self.min_gpus[running]).sum())
        budget, demand = state.free_total + reclaimable, 0
        for job in queue:
            if demand + gpus[job] > budget:
                break
            demand += int(gpus[job])
        jobs = ElasticJobs(
            running,
            gpus[running].copy(),
            self.min_gpus[running],
            self.max_gpus[running],
            self.step[running],
            engine.view.work_left(running),
            self.resize_s[running],
            state.free_total - demand,
            lambda i, n: self._rate(int(running[i]), n),
        )
        sizes = np.asarray(self.policy.sizes(engine.view, jobs), dtype=np.int64)
        self._apply(running, jobs.gpus, sizes)

    def _apply(self, running: np.ndarray, current: np.ndarray, sizes: np.ndarray) -> None:
        now = self.engine.now
        bad = (sizes < self.min_gpus[running]) | (sizes > self.max_gpus[running])
        bad |= sizes % self.step[running] != 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise EngineError(
                f"{self.policy.name} sized job {running[i]} at {sizes[i]} GPUs: outside "
                f"{self.min_gpus[running[i]]}..{self.max_gpus[running[i]]} "
                f"in steps of {self.step[running[i]]}"
            )
        ready = self._last[running] + self.interval <= now  # as the wake-up time is computed
        changed = sizes != current
        blocked = changed & ~ready
        if blocked.any():
            self._wake(float(self._last[running[blocked]].min() + self.interval))
        order = np.argsort(sizes - current, kind="stable")  # shrinks first
        shrunk = False
        for i in order[(changed & ready)[order]].tolist():
            shrunk |= bool(sizes[i] < current[i])
            self._resize(int(running[i]), int(current[i]), int(sizes[i]))
        if shrunk:
            self.engine.request_pass()  # queued jobs may fit now

    # ------------------------------------------------------------------ mechanics

    def _resize(self, job: int, old: int, new: int) -> None:
        engine = self.engine
        smaller = shrunk(engine.state.running[job], old - new) if new < old else None
        if engine.resize(job, new, smaller, float(self.resize_s[job])):
            self._last[job] = engine.now

    def _rate(self, job: int, gpus: int) -> float:
        """Work units per second at ``gpus`` devices, consolidated (cached per stream and
        requested size)."""
        jobs = self.engine.jobs
        key = (int(jobs.stream[job]), int(jobs.gpus[job]), gpus)
        if key not in self._rates:
            self._rates[key] = self.engine.estimate_rate(job, gpus)
        return self._rates[key]

    def _wake(self, at: float) -> None:
        if self._wake_at is not None and self._wake_at <= at:
            return
        self._wake_at = at
        self.engine.call_at(at, partial(self._on_wake, at))

    def _on_wake(self, at: float, _event) -> None:
        if self._wake_at == at:
            self._wake_at = None
            self.engine.request_pass()


def shrunk(placement: Placement, remove: int) -> Placement:
    """``placement`` less ``remove`` devices, taken from the nodes where it holds fewest."""
    counts = placement.counts.copy()
    for i in np.argsort(counts, kind="stable").tolist():
        take = min(int(counts[i]), remove)
        counts[i] -= take
        remove -= take
        if remove == 0:
            break
    keep = counts > 0
    return Placement(placement.nodes[keep], counts[keep])


def build_elastic(
    training: list[TrainingStream], jobs: JobTable, restart_s: np.ndarray, policy: ElasticPolicy
) -> Elastic | None:
    """The elastic part for the training streams ``training`` (the first streams of
    ``jobs``); None if none is elastic. A resize costs the stream's ``resize``, else the
    job's restart cost."""
    if not any(s.elastic for s in training):
        return None
    low, high = jobs.gpus.copy(), jobs.gpus.copy()
    step, resize = np.ones(len(jobs), dtype=np.int64), np.array(restart_s, dtype=float)
    for i, stream in enumerate(training):
        e, mine = stream.elastic, jobs.stream == i
        if e is None:
            continue
        low[mine], high[mine] = e.min_gpus, e.max_gpus
        if stream.model is not None:
            step[mine] = stream.model.tp * stream.model.pp
        if e.resize is not None:
            resize[mine] = e.resize
    return Elastic(policy, low, high, step, resize, getattr(policy.params, "interval", 0.0))
