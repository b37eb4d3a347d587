"""The job ledger: every job's progress, state and counters, in arrays, with one writer.

Role: the engine's per-job books. A job is QUEUED (submitted, or preempted and queued again),
RUNNING (it holds devices: restoring, or making progress) or FINISHED. While it runs, its work
left is ``left[job]`` units as of ``since[job]``, decreasing at ``rate[job]`` units per second
(jobs on shared links: the :class:`~.sharing.SharedLinks` keeps their progress instead).
A restart holds the devices without progress until ``resume_at[job]``. ``version[job]`` is
bumped whenever the job's pending event (completion or resume) becomes void.

Periodic checkpoints: a job with an interval ``ckpt_every[job]`` (seconds of progress; inf:
none) pauses for ``ckpt_cost[job]`` seconds to write a checkpoint after every interval of
progress in a run, except at its end (:meth:`progress`). Stopped by the scheduler, a job is
checkpointed as it stops and keeps all its progress; interrupted (a failure, a reclaim
without notice: :meth:`stop`) it goes back to its last complete checkpoint, or to the start
of the run without one. Held device time thus splits into useful progress, redone
work and restores (``lost_s``; the redone part alone in ``redo_s``) and checkpoint writing
(``ckpt_s``).

Everything here is written only through the methods below (start, hold, run, stop, preempt,
finish, fail, resize, regrant, owe); parts and policies read the arrays, never assign them.
The job table stays immutable (its ``gpus`` is the size asked for); the current size of an
elastic job is ``gpus[job]`` here (``size``: the same as an array).

Kept with every transition, so that a scheduling pass costs what changed rather than what
exists: ``running_gpus`` and ``queued_gpus`` (the devices asked for by running and queued jobs:
whether every job could run at once is O(1)), :meth:`ids` (the ids in each state as arrays,
so a policy reads them without iterating a mapping; built on the first call and kept from
then on, so a run whose policy never asks, FIFO's, pays nothing for them), and ``touched``, the
jobs whose state, progress or size changed since the engine last took the list
(``take_touched``, once per pass).

Must not import: numba, simpy.
"""

from __future__ import annotations

import math

import numpy as np

from ..world.jobs import JobState, JobTable

QUEUED, RUNNING, FINISHED = int(JobState.QUEUED), int(JobState.RUNNING), int(JobState.FINISHED)
FAILED = int(JobState.FAILED)


class IdSet:
    """A set of job ids kept as an array (in no particular order) for vector reads: add and
    remove are O(1) amortised (a removed id's slot takes the last id; the array doubles when
    full, so it is as long as the most ids held at once, not the number of jobs)."""

    __slots__ = ("_ids", "_pos")

    def __init__(self):
        self._ids = np.empty(64, dtype=np.int64)
        self._pos: dict[int, int] = {}

    def add(self, job: int) -> None:
        n = len(self._pos)
        if n == len(self._ids):
            self._ids = np.concatenate([self._ids, np.empty(n, dtype=np.int64)])
        self._ids[n] = job
        self._pos[job] = n

    def remove(self, job: int) -> None:
        i = self._pos.pop(job)
        n = len(self._pos)
        if i != n:
            last = int(self._ids[n])
            self._ids[i] = last
            self._pos[last] = i

    def array(self) -> np.ndarray:
        """The ids (a read-only view, valid until the set changes)."""
        out = self._ids[: len(self._pos)]
        out.flags.writeable = False
        return out

    def __len__(self) -> int:
        return len(self._pos)


class Ledger:
    """Per-job books of one run (arrays indexed by job id)."""

    def __init__(self, jobs: JobTable, works: np.ndarray, restart_s: np.ndarray | None = None):
        n = len(jobs)
        self.start_s = np.full(n, np.nan)  # first start
        self.end_s = np.full(n, np.nan)
        self.state = np.full(n, QUEUED, dtype=np.int8)
        self.left = np.asarray(works, dtype=float).copy()  # work units left as of ``since``
        self.run_left = self.left.copy()  # work left when the current run began
        self.rate = np.ones(n)  # work units per second of the current run
        self.since = np.zeros(n)  # when the current run began making progress
        self.version = [0] * n  # a list: read and bumped one job at a time
        self.attained_s = np.zeros(n)  # GPU-seconds of service in runs that were stopped
        self.held_since = np.zeros(n)  # when the job last got its devices (or was resized)
        self.started_at = np.zeros(n)  # when the job last started (a scheduling pass)
        self.queued_at = np.array(jobs.submit_s, dtype=float)  # when it last entered the queue
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.restarts = np.zeros(n, dtype=np.int64)
        self.migrations = np.zeros(n, dtype=np.int64)  # restarts on other nodes
        self.resizes = np.zeros(n, dtype=np.int64)  # by the elastic policy
        self.lost_s = np.zeros(n)  # seconds devices were held for restarts, without progress
        self.restart_s = np.zeros(n) if restart_s is None else np.asarray(restart_s, float)
        self.resume_at = np.full(n, -np.inf)  # a restarting job progresses from then on
        self.ckpt_every: np.ndarray | None = None  # seconds of progress between checkpoints
        self.ckpt_cost: np.ndarray | None = None  # seconds one checkpoint takes to write
        self.ckpt_s = np.zeros(0)  # seconds spent writing checkpoints (with the above)
        self.redo_s: dict[int, float] = {}  # seconds of progress lost to interruptions
        self.interruptions: dict[int, int] = {}  # (both rare: kept per interrupted job)
        self.reasons: dict[int, str] = {}  # why a failed job gave up
        self.owed: dict[int, float] = {}  # seconds added to a job's next restart (detection)
        self.gpus = jobs.gpus.tolist()  # current size (elastic jobs change it), for scalar reads
        self.size = jobs.gpus.copy()  # the same as an array, for vector reads
        self.amount = np.array(jobs.gpu_amount, dtype=float)  # devices held: GPUs or a share
        self._stopped_on: dict[int, bytes] = {}  # sorted nodes of a preempted job
        self.preempted = False  # any preemption yet (restarts are checked only then)
        self.running_gpus = 0
        self.queued_gpus = 0
        self.arrived = 0  # jobs submitted so far (ids below it: jobs arrive in id order)
        self._queued_ids: IdSet | None = None  # built by the first ``ids`` call
        self._running_ids: IdSet | None = None
        self.touched: list[int] = []

    def ids(self, which: int) -> np.ndarray:
        """The ids of the submitted jobs in state ``which`` (QUEUED or RUNNING), in no
        particular order (a read-only view, valid until the next transition)."""
        if self._queued_ids is None:
            self._queued_ids, self._running_ids = IdSet(), IdSet()
            for job in np.flatnonzero(self.state[: self.arrived] == QUEUED).tolist():
                self._queued_ids.add(job)
            for job in np.flatnonzero(self.state[: self.arrived] == RUNNING).tolist():
                self._running_ids.add(job)
        return (self._queued_ids if which == QUEUED else self._running_ids).array()

    def take_touched(self) -> list[int]:
        """The jobs touched since the last call (in order, possibly repeated); starts anew."""
        out, self.touched = self.touched, []
        return out

    # ------------------------------------------------------------------ transitions

    def arrive(self, job: int) -> None:
        """The job is submitted (it is queued from its submit time)."""
        self.queued_gpus += self.gpus[job]
        self.arrived += 1
        if self._queued_ids is not None:
            self._queued_ids.add(job)
        self.touched.append(job)

    def start(self, job: int, now: float, nodes: np.ndarray) -> bool:
        """The job gets devices on ``nodes``; returns whether this is a restart (it was
        preempted before), counting a migration if the nodes differ from its last run's."""
        if self.start_s[job] != self.start_s[job]:  # NaN: the first start
            self.start_s[job] = now
        g = self.gpus[job]
        self.queued_gpus -= g
        self.running_gpus += g
        if self._queued_ids is not None:
            self._queued_ids.remove(job)
            self._running_ids.add(job)
        self.state[job] = RUNNING
        self.held_since[job] = self.started_at[job] = now
        self.version[job] += 1
        self.touched.append(job)
        if not (self.preempted and self.preemptions[job] > self.restarts[job]):
            return False
        self.restarts[job] += 1
        if self._stopped_on.pop(job) != np.sort(nodes).tobytes():
            self.migrations[job] += 1
        return True

    def hold(self, job: int, until: float) -> None:
        """The job holds its devices without progress until ``until`` (a restore)."""
        self.resume_at[job] = until

    def run(self, job: int, now: float, cost: float = 0.0) -> float:
        """The job makes progress from ``now`` (after a hold of ``cost`` seconds, booked as
        lost); returns its work left."""
        self.lost_s[job] += cost
        self.since[job] = now
        left = self.run_left[job] = self.left[job]
        return left

    def restart_cost(self, job: int) -> float:
        """Seconds the job's restart holds its devices: its restart cost, plus what a failure
        added to it (:meth:`owe`)."""
        return float(self.restart_s[job]) + (self.owed.pop(job, 0.0) if self.owed else 0.0)

    def owe(self, job: int, seconds: float) -> None:
        """The job's next restart holds its devices ``seconds`` longer (a failure's
        detection time)."""
        self.owed[job] = self.owed.get(job, 0.0) + seconds

    def set_rate(self, job: int, rate: float) -> None:
        self.rate[job] = rate

    def set_checkpoints(self, every: np.ndarray, cost: np.ndarray) -> None:
        """Periodic checkpoints: every ``every[job]`` seconds of progress (inf: none), each
        taking ``cost[job]`` seconds to write."""
        self.ckpt_every = np.asarray(every, dtype=float)
        self.ckpt_cost = np.asarray(cost, dtype=float)
        self.ckpt_s = np.zeros(len(self.ckpt_every))

    def wall_s(self, job: int, progress: float) -> float:
        """Seconds a run takes to make ``progress`` seconds of progress, checkpoints included."""
        if self.ckpt_every is None or progress <= self.ckpt_every[job]:
            return progress
        every = self.ckpt_every[job]
        return progress + (math.ceil(progress / every) - 1) * self.ckpt_cost[job]

    def progress(self, job: int, elapsed: float) -> tuple[float, float]:
        """Seconds of progress ``elapsed`` seconds into a run, and how many of them are in a
        complete checkpoint (a run alternates an interval of progress and a checkpoint)."""
        if self.ckpt_every is None or self.ckpt_every[job] == np.inf:
            return elapsed, 0.0
        every = self.ckpt_every[job]
        cycle = every + self.ckpt_cost[job]
        done = math.floor(elapsed / cycle)
        return done * every + min(elapsed - done * cycle, every), done * every

    def stop(
        self, job: int, now: float, links_left: float | None = None, interrupted: bool = False
    ) -> None:
        """Book a running job's progress up to ``now`` (``links_left``: its work left, if the
        shared links kept it) and void its pending event. Its state is unchanged.
        ``interrupted``: it could not write a checkpoint as it stopped, so it keeps only the
        progress of its last complete one (jobs on shared links: of the run's start)."""
        redo = 0.0
        if now < self.resume_at[job]:  # stopped before it could resume: the restore is lost
            self.lost_s[job] += now - self.held_since[job]
        elif links_left is not None:
            if interrupted:  # (no periodic checkpoints on shared links)
                redo, self.left[job] = now - self.since[job], self.run_left[job]
            else:
                self.left[job] = max(links_left, 0.0)
        else:
            elapsed = now - self.since[job]
            done, kept = self.progress(job, elapsed)
            if self.ckpt_every is not None:
                self.ckpt_s[job] += elapsed - done
            if interrupted:
                redo, done = done - kept, kept
            self.left[job] = max(self.left[job] - self.rate[job] * done, 0.0)
        if interrupted:
            self.interruptions[job] = self.interruptions.get(job, 0) + 1
            self.redo_s[job] = self.redo_s.get(job, 0.0) + redo
            self.lost_s[job] += redo
        self.version[job] += 1
        self.resume_at[job] = -np.inf
        self.touched.append(job)
        self.attained_s[job] += self.amount[job] * (now - self.held_since[job])

    def preempt(self, job: int, now: float, nodes: np.ndarray) -> None:
        """A stopped job (it ran on ``nodes``) is queued again."""
        self._stopped_on[job] = np.sort(nodes).tobytes()
        g = self.gpus[job]
        self.running_gpus -= g
        self.queued_gpus += g
        if self._queued_ids is not None:
            self._running_ids.remove(job)
            self._queued_ids.add(job)
        self.state[job] = QUEUED
        self.queued_at[job] = now
        self.preemptions[job] += 1
        self.preempted = True

    def finish(self, job: int, now: float, on_links: bool = False) -> None:
        """The job is done (``on_links``: its last run's progress was the shared links')."""
        self.running_gpus -= self.gpus[job]
        if self._running_ids is not None:
            self._running_ids.remove(job)
        self.end_s[job] = now
        self.state[job] = FINISHED
        self.touched.append(job)
        if self.ckpt_every is not None and not on_links:  # its last run's checkpoints
            elapsed = now - self.since[job]
            if elapsed > self.ckpt_every[job]:  # (none in a run shorter than an interval)
                self.ckpt_s[job] += elapsed - self.progress(job, elapsed)[0]

    def fail(self, job: int, reason: str) -> None:
        """A queued job gives up for good (``reason``: why, for the jobs table)."""
        self.queued_gpus -= self.gpus[job]
        if self._queued_ids is not None:
            self._queued_ids.remove(job)
        self.state[job] = FAILED
        self.reasons[job] = reason
        self.touched.append(job)

    def resize(self, job: int, gpus: int) -> None:
        """The job's size becomes ``gpus`` (an elastic job; running ones are stopped first)."""
        delta = gpus - self.gpus[job]
        if self.state[job] == RUNNING:
            self.running_gpus += delta
        elif self.state[job] == QUEUED:
            self.queued_gpus += delta
        self.gpus[job] = self.size[job] = gpus
        self.amount[job] = float(gpus)
        self.touched.append(job)

    def regrant(self, job: int, now: float, resized: bool, restarted: bool = False) -> None:
        """A stopped running job holds devices again from ``now`` (its resize, its old
        devices back, or, ``restarted``, a spare in place of a failed node)."""
        self.held_since[job] = now
        if resized:
            self.resizes[job] += 1
        if restarted:
            self.restarts[job] += 1
            self.migrations[job] += 1

    # ------------------------------------------------------------------ readings

    def attained(self, jobs: np.ndarray, now: float) -> np.ndarray:
        """GPU-seconds of service of ``jobs`` up to ``now`` (a fresh array)."""
        out = self.attained_s[jobs]
        running = self.state[jobs] == RUNNING
        held = jobs[running]
        out[running] += self.amount[held] * (now - self.held_since[held])
        return out

    def reaches(self, jobs: np.ndarray, target: np.ndarray, now: float) -> np.ndarray:
        """When the attained service of ``jobs`` reaches ``target`` GPU-seconds if they hold
        devices from now on (a queued job as if it started at ``now``). Computed from the
        start of the current run, so the instant does not depend on when it is asked."""
        running = self.state[jobs] == RUNNING
        base = np.where(running, self.held_since[jobs], now)
        return base + (target - self.attained_s[jobs]) / self.amount[jobs]

    def attained_one(self, job: int, now: float) -> float:
        """:meth:`attained` of one job, as a float (the same arithmetic)."""
        out = self.attained_s[job]
        if self.state[job] == RUNNING:
            out += self.amount[job] * (now - self.held_since[job])
        return float(out)

    def reaches_one(self, job: int, targets: list[float], now: float) -> list[float]:
        """:meth:`reaches` of one job for each of ``targets`` (the same arithmetic)."""
        base = self.held_since[job] if self.state[job] == RUNNING else now
        have, rate = self.attained_s[job], self.amount[job]
        return [float(base + (t - have) / rate) for t in targets]

    def service(self, end_time: float) -> np.ndarray:
        """GPU-seconds of service of every job at the end of the run."""
        out = self.attained_s.copy()
        last = np.where(self.state == FINISHED, self.end_s, end_time)
        held = (self.state == RUNNING) | (self.state == FINISHED)  # queued or failed: not
        out[held] += self.amount[held] * (last[held] - self.held_since[held])
        return out

    def interruption_books(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
        """Per job: interruptions, seconds writing checkpoints, seconds of progress redone
        (read-only; one shared array of zeros for the last two in a run without either), and
        why the failed jobs failed."""
        n = len(self.state)
        counts = np.zeros(n, dtype=np.int64)
        counts[list(self.interruptions)] = list(self.interruptions.values())
        zeros = np.zeros(n)
        zeros.flags.writeable = False
        redo = zeros
        if self.redo_s:
            redo = np.zeros(n)
            redo[list(self.redo_s)] = list(self.redo_s.values())
        return counts, self.ckpt_s if len(self.ckpt_s) else zeros, redo, dict(self.reasons)

    def violations(self, arrived: int) -> list[str]:
        """The counters agree with the states (jobs ``>= arrived`` are not submitted yet)."""
        gpus, state = np.asarray(self.gpus[:arrived]), self.state[:arrived]
        out = [] if arrived == self.arrived else [f"{self.arrived} jobs arrived, not {arrived}"]
        for name, which, count, ids in (
            ("running", RUNNING, self.running_gpus, self._running_ids),
            ("queued", QUEUED, self.queued_gpus, self._queued_ids),
        ):
            total = int(gpus[state == which].sum())
            if count != total:
                out.append(f"the ledger counts {count} {name} GPUs, the job states {total}")
            if ids is not None and not np.array_equal(
                np.sort(ids.array()), np.flatnonzero(state == which)
            ):
                out.append(f"the ledger's {name} ids differ from the job states")
        return out
