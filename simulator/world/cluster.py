"""The cluster a run simulates: topology arrays plus name <-> id maps.

Role: build once per run from a :class:`~simulator.scenario.spec.ClusterSpec` (via the networkx
graph of :mod:`.topology`) and hand the engine contiguous integer ids and per-node device arrays.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from ..scenario.spec import ClusterSpec
from .topology import TopologyArrays, build_graph, export_arrays


@dataclass(frozen=True)
class Cluster:
    """Immutable description of the installed devices; mutable state lives in the engine."""

    topology: TopologyArrays
    graph: nx.Graph
    node_names: tuple[str, ...]

    @property
    def n_nodes(self) -> int:
        return self.topology.n_nodes

    @property
    def devices(self) -> np.ndarray:
        """Devices per node (int64, read-only)."""
        return self.topology.node_gpus

    @property
    def total_gpus(self) -> int:
        return self.topology.total_gpus

    @cached_property
    def node_id(self) -> dict[str, int]:
        """Node name -> contiguous id."""
        return {name: i for i, name in enumerate(self.node_names)}


def build_cluster(spec: ClusterSpec) -> Cluster:
    """Build the graph, export it to arrays, and freeze the arrays."""
    graph = build_graph(spec)
    topology = export_arrays(graph)
    for value in vars(topology).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    names = tuple(graph.nodes[("node", i)]["name"] for i in range(topology.n_nodes))
    return Cluster(topology, graph, names)
