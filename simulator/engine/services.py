"""Inference services: replicas holding devices, requests batched inside them.

Serving model, per service (one shared FCFS queue in front of its replicas):

- A request arriving when ``queue_limit`` requests already wait (and no replica can take it
  at once) is dropped; otherwise it waits. Arrivals are absorbed lazily (only when a replica
  could take one, or when the service is looked at), which is exact: the queue only shrinks
  when a batch is formed, and every batch formation absorbs first.
- A serving replica with free batch slots (``continuous``) or with nothing to do
  (``static``), and not prefilling, admits up to ``max_batch`` minus its batch from the queue
  (least-loaded replica first, ties by age) and prefills them together: ``prefill_s`` of their
  prompts from :class:`~simulator.perf.inference.LatencyModel`. Decoding of the requests
  already in its batch pauses meanwhile (prefill first, as vLLM schedules). At the end of the
  prefill each admitted request has its first token.
- Decoding: every request of a batch of ``b`` gains one token per ``decode_token_s(b, c)``
  seconds, ``c`` the service's mean prompt plus half its mean output; a request leaves the
  batch when it has all its ``output`` tokens. So with a constant batch a request's
  ``e2e = wait + prefill + output x decode`` exactly as ``clustersim perf infer`` prints.
- There is one pending event per replica (prefill end or next completion) and at most one
  arrival event per service: never a process per request.

Replicas: each takes ``tp`` devices of one node (best fit among nodes of the service's node
template) when placed, and serves ``startup`` seconds later. Services above training are
placed at the start of each scheduling pass and preempt training jobs on one node when no
node has room; services below training take only what the pass left free. Scale-in removes
replicas waiting for devices, then loading ones, then idle ones, then drains busy ones (no new
requests; released when their batch is done). A spot reclaim puts the requests of the
replicas on the node back at the head of the queue (they start over) and re-places them.

Must not import: numba.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..policies.base import ServiceStats
from .parts import Engine, Part
from .service_state import DRAINING, LOADING, PENDING, READY, Replica, Service


class Services(Part):
    """Every inference service of a run (an engine part)."""

    name = "services"

    def __init__(self, services: list[Service]):
        self.services = services

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        for svc in self.services:  # initial replicas serve from t=0, placed before any job
            self._sample(svc)
            self._place(svc, preempt=False, warm=True)
            engine.call_at(0.0, partial(self._on_tick, svc))
        engine.request_pass()  # a pass at t=0 records the cluster's levels

    # ------------------------------------------------------------------ placement

    def before_pass(self) -> None:
        for svc in self.services:
            if svc.spec.priority == "above_training":
                self._place(svc, preempt=True)

    def after_pass(self) -> None:
        for svc in self.services:
            if svc.spec.priority == "below_training":
                self._place(svc, preempt=False)

    def _place(self, svc: Service, preempt: bool, warm: bool = False) -> None:
        engine, tp = self.engine, svc.spec.tp
        state = engine.state
        for r in svc.replicas:
            if r.status != PENDING:
                continue
            ok = np.flatnonzero(svc.nodes & (state.free >= tp))
            if len(ok):
                node = int(ok[np.argmin(state.free[ok])])  # best fit
            elif not preempt or (node := self._make_room(svc)) < 0:
                return
            engine.reserve(node, tp)
            now = engine.now
            r.status, r.node, r.held_since = LOADING, node, now
            r.version += 1
            if svc.spec.startup > 0 and not warm:
                ready = partial(self._on_ready, svc, r, r.version)
                engine.call_at(now + svc.spec.startup, ready, completion=True)
            else:
                self._ready(svc, r)
            self._log("replica_placed", f"{svc.spec.name}@{node}")
            self._sample(svc)

    def _make_room(self, svc: Service) -> int:
        """Preempt training jobs on the node where that stops the fewest devices' worth of
        jobs (youngest jobs first); -1 if no node can be freed."""
        engine, state, tp = self.engine, self.engine.state, svc.spec.tp
        on: dict[int, list[int]] = {}
        for job, p in state.running.items():
            if job in state.shared:
                continue  # a share frees no whole device
            for node in p.nodes.tolist():
                if svc.nodes[node]:
                    on.setdefault(node, []).append(job)
        best, best_cost, best_jobs = -1, np.inf, []
        for node, jobs in on.items():
            jobs.sort(key=lambda j: -engine.ledger.held_since[j])
            free, cost, chosen = int(state.free[node]), 0, []
            for job in jobs:
                if free >= tp:
                    break
                p = state.running[job]
                free += int(p.counts[p.nodes == node].sum())
                cost += int(engine.ledger.gpus[job])
                chosen.append(job)
            if free >= tp and cost < best_cost:
                best, best_cost, best_jobs = node, cost, chosen
        for job in best_jobs:
            engine.preempt(job)
        return best

    def _on_ready(self, svc: Service, r: Replica, version: int, _event) -> None:
        if version == r.version:
            self._ready(svc, r)

    def _ready(self, svc: Service, r: Replica) -> None:
        r.status = READY
        self._sample(svc)
        self._dispatch(svc)

    def _release(self, svc: Service, r: Replica) -> None:
        now = self.engine.now
        if r.node >= 0:
            self.engine.unreserve(r.node, svc.spec.tp)
            svc.gpu_s += svc.spec.tp * (now - r.held_since)
            self._log("replica_released", f"{svc.spec.name}@{r.node}")
            self.engine.request_pass()
        r.node = -1
        r.version += 1
        svc.replicas.remove(r)

    def on_node_down(self, node: int, reason: str) -> None:
        """The node is going away (a spot reclaim, a failure): its replicas' requests queue
        again and the replicas are placed anew."""
        for svc in self.services:
            for r in [r for r in svc.replicas if r.node == node]:
                back = sorted(r.active + r.prefilling)
                svc.admit_s[back] = svc.first_s[back] = np.nan
                svc.queue.extendleft(reversed(back))
                r.active, r.left, r.prefilling = [], [], []
                draining = r.status == DRAINING
                self._release(svc, r)
                if not draining:
                    svc.replicas.append(Replica())
                self._sample(svc)

    # ------------------------------------------------------------------ requests

    def _absorb(self, svc: Service, now: float, final: bool = False) -> None:
        """Queue the arrivals up to ``now``, dropping those that found the queue full. An
        arrival at ``now`` itself is held back (``final``: dropped) while the queue is full:
        a batch formed at ``now`` may still make room for it."""
        j = int(np.searchsorted(svc.arrival, now, side="right"))
        limit, k = svc.spec.queue_limit, svc.next
        if limit is None:
            svc.queue.extend(range(k, j))
            k = j
        while k < j:
            if len(svc.queue) < limit:
                svc.queue.append(k)
            elif svc.arrival[k] < now or final:
                svc.dropped[k] = True
            else:
                break
            k += 1
        svc.next = k

    def _dispatch(self, svc: Service) -> None:
        now = self.engine.now
        while True:
            self._absorb(svc, now)
            open_ = [r for r in svc.replicas if svc.can_admit(r)]
            if not svc.queue or not open_:
                break
            r = min(open_, key=lambda r: len(r.active))
            take = min(svc.max_batch - len(r.active), len(svc.queue))
            batch = [svc.queue.popleft() for _ in range(take)]
            self._book(svc, r, now)
            r.version += 1
            r.prefilling = batch
            svc.admit_s[batch] = now
            prefill = svc.latency.prefill_s(svc.prompt[batch])[0]
            done = partial(self._on_prefilled, svc, r, r.version)
            self.engine.call_at(now + prefill, done, completion=True)
        self._absorb(svc, now, final=True)
        if (
            not svc.armed
            and svc.next < len(svc.arrival)
            and any(svc.can_admit(r) for r in svc.replicas)
        ):
            svc.armed = True
            at = float(svc.arrival[svc.next])
            self.engine.call_at(at, partial(self._on_arrival, svc))

    def _on_arrival(self, svc: Service, _event) -> None:
        svc.armed = False
        self._dispatch(svc)

    def _book(self, svc: Service, r: Replica, now: float) -> None:
        """Count the decode progress of ``r``'s batch up to ``now`` (none while prefilling)."""
        if r.active and not r.prefilling:
            tokens = (now - r.since) / svc.step_s[len(r.active)]
            r.left = [x - tokens for x in r.left]
        r.since = now

    def _on_prefilled(self, svc: Service, r: Replica, version: int, _event) -> None:
        if version != r.version:
            return
        now = self.engine.now
        batch, r.prefilling = r.prefilling, []
        svc.first_s[batch] = now
        svc.recent.extend((now - svc.arrival[batch]).tolist())
        r.active += batch
        r.left += svc.output[batch].astype(float).tolist()
        r.since = now
        self._dispatch(svc)
        self._arm_decode(svc, r)

    def _arm_decode(self, svc: Service, r: Replica) -> None:
        if r.active and not r.prefilling:
            r.version += 1
            at = r.since + min(r.left) * svc.step_s[len(r.active)]
            done = partial(self._on_decoded, svc, r, r.version)
            self.engine.call_at(at, done, completion=True)

    def _on_decoded(self, svc: Service, r: Replica, version: int, _event) -> None:
        if version != r.version:
            return
        now = self.engine.now
        self._book(svc, r, now)
        done = [i for i, x in zip(r.active, r.left, strict=True) if x <= 1e-6]
        keep = [(i, x) for i, x in zip(r.active, r.left, strict=True) if x > 1e-6]
        svc.end_s[done] = now
        r.active, r.left = [i for i, _ in keep], [x for _, x in keep]
        if r.status == DRAINING and not r.active:
            self._release(svc, r)
            self._sample(svc)
        self._dispatch(svc)
        self._arm_decode(svc, r)

    # ------------------------------------------------------------------ scaling

    def _on_tick(self, svc: Service, _event) -> None:
        now = self.engine.now
        self._dispatch(svc)
        if svc.policy is not None:
            alive = svc.alive
            stats = ServiceStats(
                now,
                len(alive),
                sum(r.status == READY for r in alive),
                len(svc.queue),
                svc.in_flight(),
                svc.max_batch,
                self._rate(svc, now),
                np.asarray(svc.recent),
                svc.spec.slo.ttft,
            )
            self._scale(svc, svc.policy.replicas(stats))
        svc.recent = []
        self._sample(svc)
        self._dispatch(svc)
        if not svc.done():
            self.engine.call_at(now + svc.interval, partial(self._on_tick, svc))

    def _rate(self, svc: Service, now: float) -> float:
        lo = np.searchsorted(svc.arrival, now - svc.interval, side="right")
        return float(svc.next - lo) / svc.interval

    def _scale(self, svc: Service, target: int) -> None:
        spec = svc.spec
        target = min(max(int(target), spec.min_replicas), spec.most_replicas)
        alive = svc.alive
        if target > len(alive):
            svc.replicas += [Replica() for _ in range(target - len(alive))]
            self._log("replicas_out", f"{spec.name}+{target - len(alive)}")
            self.engine.request_pass()
            return
        surplus = len(alive) - target
        if surplus <= 0:
            return
        self._log("replicas_in", f"{spec.name}-{surplus}")

        def order(r: Replica) -> tuple:
            busy = len(r.active) + len(r.prefilling)
            return (r.status != PENDING, r.status != LOADING, busy > 0, busy)

        for r in sorted(reversed(alive), key=order)[:surplus]:
            if r.status in (PENDING, LOADING) or not (r.active or r.prefilling):
                self._release(svc, r)
            else:
                r.status = DRAINING

    # ------------------------------------------------------------------ records

    def _sample(self, svc: Service, at: float | None = None) -> None:
        alive = svc.alive
        ready = sum(r.status == READY for r in alive)
        svc.t.append(self.engine.now if at is None else at)
        svc.levels.append((len(alive), ready, len(svc.queue), svc.in_flight()))

    def _log(self, event: str, detail: str) -> None:
        self.engine.log(event, detail)

    def pending_gpus(self) -> int:
        return sum(
            svc.spec.tp * sum(r.status == PENDING for r in svc.replicas) for svc in self.services
        )

    def settled(self) -> bool:
        return all(svc.done() for svc in self.services)

    def report(self) -> list[Service]:
        """The services, with the plain arrays they kept (:mod:`simulator.metrics.services`)."""
        return self.services

    def finish(self, end_time: float) -> None:
        """Absorb the arrivals up to the end, close the replicas' device time, last sample."""
        for svc in self.services:
            self._absorb(svc, end_time, final=True)
            for r in svc.replicas:
                if r.node >= 0:
                    svc.gpu_s += svc.spec.tp * (end_time - r.held_since)
            self._sample(svc, end_time)
