"""Jobs whose gradient rings cross shared uplinks: their link shares, speeds and progress.

Every such job is a *flow* over the shared links its ring crosses (ToR uplinks, pod uplinks,
WAN links), capped by its own in-node / NIC bandwidth. A flow's share is its max-min fair rate
(:func:`kernels.maxmin_share`); its speed in steps per second follows from its share
(:func:`kernels.step_times`). Flows live in slot arrays so that a change costs vectorised work
over the shared links rather than per-job Python, and the whole set has ONE pending completion: the
earliest of ``remaining / speed`` over its jobs. The engine calls :meth:`settle` once per
instant in which the shared links changed, and :meth:`due` when that completion fires.

Incremental sharing: a flow that joins with room to spare on every link it crosses gets its cap
and changes nobody's share; a flow that leaves links none of which was saturated frees
bandwidth nobody was waiting for. Only other changes recompute the shares of the shared links.

Must not import: numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels

# relative slack below which a link counts as saturated
SATURATED = 1e-9


_FLOATS = ("cap", "compute", "grad", "latency", "overlap", "share", "speed", "left")
_INTS = ("ranks", "job")


class SharedLinks:
    """The flows over shared links, with their progress (work left, speed).

    Flows occupy rows ``[0, n)`` of the slot arrays; a leaving flow's row is refilled with the
    last one, so every batch operation works on views.
    """

    def __init__(self, bandwidth: np.ndarray):
        self.bandwidth = np.asarray(bandwidth, dtype=np.float64)
        self.used = np.zeros_like(self.bandwidth)  # sum of the shares of flows on each link
        self.dirty = False  # changed since the last settle()
        self.recomputes = 0  # full max-min recomputations so far (for benchmarks)
        self._full = False  # the next settle() must recompute every share
        self._row: dict[int, int] = {}
        self._last = 0.0  # progress is booked up to this time
        self.links = np.full((0, 0), -1, dtype=np.int64)
        for name in _FLOATS:
            setattr(self, name, np.zeros(0))
        for name in _INTS:
            setattr(self, name, np.zeros(0, dtype=np.int64))
        self._grow(64, 4)

    def _grow(self, rows: int, width: int) -> None:
        n, w = self.links.shape
        links = np.full((rows, width), -1, dtype=np.int64)
        links[:n, :w] = self.links
        self.links = links
        for name in _FLOATS + _INTS:
            old = getattr(self, name)
            arr = np.zeros(rows, dtype=old.dtype)
            arr[:n] = old
            setattr(self, name, arr)

    def __contains__(self, job: int) -> bool:
        return job in self._row

    def __len__(self) -> int:
        return len(self._row)

    def add(
        self,
        job: int,
        links: np.ndarray,
        cap: float,
        compute_s: float,
        grad_bytes: float,
        ranks: int,
        latency: float,
        overlap: float,
        work: float,
    ) -> None:
        """A job starts with ``work`` steps to do; its ring crosses ``links``."""
        r = len(self._row)
        rows, width = self.links.shape
        if r == rows or len(links) > width:
            self._grow(rows * 2 if r == rows else rows, max(width, len(links)))
        self._row[job] = r
        self.links[r] = -1
        self.links[r, : len(links)] = links
        self.cap[r], self.compute[r], self.grad[r] = cap, compute_s, grad_bytes
        self.ranks[r], self.latency[r], self.overlap[r] = ranks, latency, overlap
        self.job[r], self.left[r], self.speed[r] = job, work, 0.0  # no progress until settled
        self.dirty = True
        if not self._full:
            if np.all(self.used[links] + cap <= self.bandwidth[links] * (1 - SATURATED)):
                self.share[r] = cap
                self.used[links] += cap
            else:
                self._full = True

    def remove(self, job: int) -> None:
        """A job leaves (finished or stopped)."""
        r = self._row.pop(job)
        self.dirty = True
        if not self._full:
            links = self.links[r][self.links[r] >= 0]
            if np.all(self.used[links] < self.bandwidth[links] * (1 - SATURATED)):
                self.used[links] -= self.share[r]
            else:
                self._full = True
        last = len(self._row)
        if r != last:
            self.links[r] = self.links[last]
            for name in _FLOATS + _INTS:
                arr = getattr(self, name)
                arr[r] = arr[last]
            self._row[int(self.job[r])] = r

    def settle(self, now: float) -> float:
        """Book progress up to ``now``, bring shares and speeds up to date; return the time of
        the shared links' next completion (``inf`` when empty)."""
        n = len(self._row)
        left, speed = self.left[:n], self.speed[:n]
        if now > self._last:
            left -= speed * (now - self._last)
        self._last = now
        self.dirty = False
        if self._full:
            self._full = False
            self.recomputes += 1
            kernels.maxmin_share(
                self.bandwidth, self.links[:n], self.cap[:n], self.share[:n], self.used
            )
        if n == 0:
            return math.inf
        kernels.step_times(
            self.compute[:n],
            self.grad[:n],
            self.ranks[:n],
            self.share[:n],
            self.latency[:n],
            self.overlap[:n],
            speed,
        )
        np.reciprocal(speed, out=speed)
        return now + float(np.min(left / speed))

    def due(self, now: float) -> list[int]:
        """Jobs whose work is done at ``now`` (the shared links' completion time), in job order."""
        n = len(self._row)
        finish = self._last + self.left[:n] / self.speed[:n]
        return sorted(self.job[:n][finish <= now].tolist())

    def left_of(self, job: int, now: float) -> float:
        """Work ``job`` has left at ``now`` (``now`` no earlier than the last settle)."""
        r = self._row[job]
        return float(self.left[r] - self.speed[r] * (now - self._last))

    def speed_of(self, job: int) -> float:
        """Current steps per second of ``job`` (valid after :meth:`settle`)."""
        return float(self.speed[self._row[job]])

    def violations(self) -> list[str]:
        """Broken invariants: shares above caps or link capacities, bad speeds."""
        n = len(self._row)
        links = self.links[:n]
        mask = links >= 0
        shares = np.broadcast_to(self.share[:n, None], links.shape)[mask]
        load = np.bincount(links[mask], weights=shares, minlength=len(self.bandwidth))
        problems = []
        if np.any(load > self.bandwidth * (1 + 1e-9)):
            problems.append("flows exceed a shared link's bandwidth")
        if np.any(self.share[:n] > self.cap[:n] * (1 + 1e-12)):
            problems.append("a flow's share exceeds its own cap")
        speed = self.speed[:n]
        if not self.dirty and not np.all(np.isfinite(speed) & (speed > 0)):
            problems.append("a job on shared links has no positive finite speed")
        return problems
