"""Placement policies: where a job's devices go.

Must not import: simpy, numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .base import ClusterView, Placement, PlacementPolicy
from .registry import register


@register("placement", "first_fit")
class FirstFit(PlacementPolicy):
    """First fit: the lowest-id node that can hold the whole job; if none can, the job's
    devices are taken greedily from nodes in id order (see :func:`kernels.first_fit`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._nodes = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)

    def place(self, view: ClusterView, job: int) -> Placement | None:
        need = int(view.jobs.gpus[job])
        if need > view.free_total:
            return None
        free = view.free_gpus
        if self._nodes.shape[0] != free.shape[0]:
            self._nodes = np.empty(free.shape[0], dtype=np.int64)
            self._counts = np.empty(free.shape[0], dtype=np.int64)
        k = kernels.first_fit(free, need, self._nodes, self._counts)
        if k == 0:
            return None
        return Placement(self._nodes[:k].copy(), self._counts[:k].copy())
