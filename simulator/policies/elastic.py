"""Elastic training policies: how many GPUs each running elastic job should hold.

Must not import: simpy, anything from ``engine``.
"""

from __future__ import annotations

import heapq

import numpy as np
from pydantic import Field

from ..scenario.base import Duration
from .base import ClusterView, ElasticJobs, ElasticPolicy, Params
from .registry import register


class ElasticParams(Params):
    interval: Duration = Field(default=300.0, description="least time between resizes of a job")


@register("elastic", "marginal")
class MarginalSpeedup(ElasticPolicy):
    """Give GPUs where the marginal speedup is largest (in the spirit of Pollux and AFS).

    A job's value is its speed relative to its current size, so every job counts alike. When
    queued jobs need GPUs (``free`` < 0), jobs give back steps of GPUs, the one losing the least
    speed per GPU first, down to their minimum. When GPUs are free, each step goes to the job
    whose speed grows most per GPU, while that growth is at least ``min_gain`` per GPU; a job
    then grows only if the time it saves on its remaining work exceeds the resize cost. Jobs
    are never shrunk to grow others, so no resize is spent on reshuffling.
    """

    class Params(ElasticParams):
        min_gain: float = Field(
            default=0.02, ge=0, description="least relative speedup per added GPU worth having"
        )

    def sizes(self, view: ClusterView, jobs: ElasticJobs) -> np.ndarray:
        size = jobs.gpus.copy()
        if jobs.free < 0:
            self._shrink(jobs, size, -jobs.free)
        elif jobs.free > 0:
            self._grow(jobs, size, jobs.free)
        return size

    @staticmethod
    def _relative(jobs: ElasticJobs, i: int, n: int) -> float:
        return jobs.rate(i, n) / jobs.rate(i, int(jobs.gpus[i]))

    def _shrink(self, jobs: ElasticJobs, size: np.ndarray, need: int) -> None:
        heap = []
        for i in range(len(size)):
            self._push_loss(jobs, size, i, heap)
        while need > 0 and heap:
            _, i = heapq.heappop(heap)
            size[i] -= jobs.step[i]
            need -= int(jobs.step[i])
            self._push_loss(jobs, size, i, heap)

    def _push_loss(self, jobs: ElasticJobs, size: np.ndarray, i: int, heap: list) -> None:
        n, k = int(size[i]), int(jobs.step[i])
        if n - k >= jobs.min_gpus[i]:
            loss = (self._relative(jobs, i, n) - self._relative(jobs, i, n - k)) / k
            heapq.heappush(heap, (loss, i))

    def _grow(self, jobs: ElasticJobs, size: np.ndarray, free: int) -> None:
        heap = []
        for i in range(len(size)):
            self._push_gain(jobs, size, i, heap, free)
        while heap:
            neg_gain, i = heapq.heappop(heap)
            k = int(jobs.step[i])
            if -neg_gain < self.params.min_gain or k > free:
                continue
            size[i] += k
            free -= k
            self._push_gain(jobs, size, i, heap, free)
        for i in np.flatnonzero(size > jobs.gpus).tolist():  # worth the resize?
            now, then = jobs.rate(i, int(jobs.gpus[i])), jobs.rate(i, int(size[i]))
            if jobs.resize_s[i] + jobs.work_left[i] / then >= jobs.work_left[i] / now:
                size[i] = jobs.gpus[i]

    def _push_gain(self, jobs: ElasticJobs, size: np.ndarray, i: int, heap: list, free: int):
        n, k = int(size[i]), int(jobs.step[i])
        if n + k <= jobs.max_gpus[i] and k <= free:
            gain = (self._relative(jobs, i, n + k) - self._relative(jobs, i, n)) / k
            heapq.heappush(heap, (-gain, i))
