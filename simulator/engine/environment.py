"""simpy Environment with absolute-time scheduling and the engine's event priorities.

Same-time tie rule (the one ordering key is ``(time, priority, insertion order)``):

1. ``COMPLETION`` events (jobs finishing, devices coming back) run first,
2. then ``ARRIVAL`` events (jobs entering the queue), in insertion order,
3. then at most one scheduling pass, after every event at that timestamp, so a pass always sees
   all arrivals and completions of its instant. Requests for a pass only set a flag; the run
   loop (:meth:`Simulation.run`) performs the pass once the next event lies in the future.
   This is the same order a lowest-priority simpy event would give, without a heap entry.

A completion caused by a pass at time t (a zero-length job) runs at t too, before another pass
at t. Events are scheduled at *absolute* times (``start + duration``), never by accumulating
delays, so times are exactly reproducible.

Must not import: numba.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush

import simpy

COMPLETION = 0
ARRIVAL = 1


class Environment(simpy.Environment):
    """simpy environment that can schedule a callback at an absolute time."""

    def call_at(self, at: float, priority: int, callback: Callable[[simpy.Event], None]) -> None:
        """Run ``callback(event)`` at simulated time ``at`` (>= now) with ``priority``."""
        event = simpy.Event(self)
        event._ok = True
        event._value = None
        event.callbacks.append(callback)
        heappush(self._queue, (at, priority, next(self._eid), event))

    def next_time(self) -> float:
        """Time of the next scheduled event (inf when none)."""
        return self._queue[0][0] if self._queue else float("inf")
