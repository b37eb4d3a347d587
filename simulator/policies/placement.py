"""Placement policies: where a job's devices go.

Must not import: simpy, numba (kernels are reached through their wrappers).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

from .. import kernels
from ..scenario.base import Duration
from .base import ClusterView, Params, Placement, PlacementPolicy
from .registry import register


class _KernelPlacement(PlacementPolicy):
    """A placement searched by a kernel into reusable node/count buffers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._nodes = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)

    def search(self, view: ClusterView, job: int, need: int, nodes, counts) -> int:
        """Write the placement into ``nodes``/``counts``; return the nodes used (0: none)."""
        raise NotImplementedError

    def place(self, view: ClusterView, job: int) -> Placement | None:
        need = int(view.gpus[job])
        if need > view.free_total:
            return None
        n = view.free_gpus.shape[0]
        if self._nodes.shape[0] != n:
            self._nodes = np.empty(n, dtype=np.int64)
            self._counts = np.empty(n, dtype=np.int64)
        k = self.search(view, job, need, self._nodes, self._counts)
        if k == 0:
            return None
        return Placement(self._nodes[:k].copy(), self._counts[:k].copy())


@register("placement", "first_fit")
class FirstFit(_KernelPlacement):
    """First fit: the lowest-id node that can hold the whole job; if none can, the job's
    devices are taken greedily from nodes in id order (see :func:`kernels.first_fit`)."""

    def search(self, view, job, need, nodes, counts):
        return kernels.first_fit(view.free_gpus, need, nodes, counts)


class _Ranked(_KernelPlacement):
    """Placement by per-node ranks (lower is better, ``inf`` = never), see
    :func:`kernels.ranked_fit`: the best-ranked node that holds the whole job, else nodes
    greedily in rank order."""

    def ranks(self, view: ClusterView, job: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rank_whole, rank_spill)``: float64 per node."""
        raise NotImplementedError

    def search(self, view, job, need, nodes, counts):
        whole, spill = self.ranks(view, job)
        return kernels.ranked_fit(view.free_gpus, need, whole, spill, nodes, counts)


@register("placement", "best_fit")
class BestFit(_Ranked):
    """Best fit (least leftover): the node whose free devices exceed the job's request by the
    least; a job no node holds takes the nodes with the most free devices first (fewest nodes).
    Ties go to the lower node id."""

    def ranks(self, view, job):
        free = view.free_gpus.astype(np.float64)
        return free, -free


@register("placement", "worst_fit")
class WorstFit(_Ranked):
    """Worst fit (spread): the node with the most free devices, leaving small holes for small
    jobs elsewhere; a job no node holds takes nodes with the most free devices first."""

    def ranks(self, view, job):
        neg = -view.free_gpus.astype(np.float64)
        return neg, neg


@register("placement", "random")
class RandomFit(_Ranked):
    """A uniformly random node among those that hold the whole job, else random nodes until
    the request is met (the policy's own seeded stream: reproducible per scenario seed)."""

    def ranks(self, view, job):
        r = self.rng.random(view.free_gpus.shape[0])
        return r, r


@register("placement", "consolidated")
class Consolidated(_KernelPlacement):
    """Topology-aware: fewest nodes, then fewest racks, then fewest pods
    (:func:`kernels.consolidated`). One node if any holds the job (best fit); otherwise the
    smallest possible number of nodes, inside one rack if a rack can provide that many, else
    inside one pod, else anywhere."""

    def search(self, view, job, need, nodes, counts):
        t = view.topology
        return kernels.consolidated(view.free_gpus, t.node_rack, t.node_pod, need, nodes, counts)


FEATURES = ("free", "used", "rack_free", "id", "random", "failures")


class FilterParams(Params):
    """Which nodes may be used at all."""

    chips: list[str] | None = Field(default=None, description="allowed chip names")
    groups: list[str] | None = Field(default=None, description="allowed 'dc/group' names")
    min_free: int = Field(default=1, ge=1, description="ignore nodes with fewer free devices")
    failed_within: Duration | None = Field(
        default=None, description="ignore nodes that failed less than this long ago"
    )


@register("placement", "filter_weigh")
class FilterWeigh(_Ranked):
    """Filter + weigher composition (as in OpenStack Nova's scheduler): filters drop nodes,
    then every remaining node gets ``score = sum(weight x feature)`` and the highest score
    wins, both for a node that holds the whole job and for the order of spilling.

    Features per node: ``free`` and ``used`` devices, ``rack_free`` (free devices in its
    rack), ``id``, ``random`` (uniform in [0, 1), from the policy's seeded stream) and
    ``failures`` (its failures so far: a negative weight prefers healthy nodes). The
    ``failed_within`` filter keeps jobs off nodes that failed recently (``failures:``).
    Example: ``{name: filter_weigh, params: {filters: {chips: [h100-sxm]},
    weights: {rack_free: 1.0, free: -0.1}}}`` packs racks and prefers fuller nodes in them.
    """

    class Params(Params):
        filters: FilterParams = FilterParams()
        weights: dict[str, float] = Field(default_factory=lambda: {"free": -1.0})

        @field_validator("weights")
        @classmethod
        def _known_features(cls, value: dict[str, float]) -> dict[str, float]:
            unknown = sorted(set(value) - set(FEATURES))
            if unknown:
                raise ValueError(f"unknown feature(s) {unknown}; valid: {', '.join(FEATURES)}")
            return value

    def ranks(self, view, job):
        t, p = view.topology, self.params
        free = view.free_gpus.astype(np.float64)
        score = np.zeros_like(free)
        for name, weight in p.weights.items():
            score += weight * self._feature(name, view, free)
        allowed = free >= p.filters.min_free
        if p.filters.chips is not None:
            allowed &= np.isin(np.asarray(t.chips)[t.node_chip], p.filters.chips)
        if p.filters.groups is not None:
            allowed &= np.isin(np.asarray(t.group_names)[t.node_group], p.filters.groups)
        if p.filters.failed_within is not None:
            last = view.node_health()[2]
            allowed &= ~(view.now - last < p.filters.failed_within)  # NaN: never failed
        rank = np.where(allowed, -score, np.inf)
        return rank, rank

    def _feature(self, name: str, view: ClusterView, free: np.ndarray) -> np.ndarray:
        t = view.topology
        if name == "free":
            return free
        if name == "used":
            return t.node_gpus - free
        if name == "rack_free":
            return np.bincount(t.node_rack, weights=free)[t.node_rack]
        if name == "id":
            return np.arange(free.shape[0], dtype=np.float64)
        if name == "failures":
            return view.node_health()[1].astype(np.float64)
        return self.rng.random(free.shape[0])
