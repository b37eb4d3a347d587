"""Random streams: one independent generator per component and sub-stream.

``RngStreams(seed).generator(component, *path)`` is the generator of
``SeedSequence(seed).spawn(...)`` child ``(component_index, *path)``: adding a component or a
stream never changes the numbers another one draws (common random numbers across policies).

Must not import: simpy, numba.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = {"workload": 0, "failures": 1, "policy": 2, "perf": 3, "services": 4}


class RngStreams:
    """Factory of per-component generators for one seed."""

    def __init__(self, seed: int):
        self.seed = seed

    def generator(self, component: str, *path: int) -> np.random.Generator:
        if component not in COMPONENTS:
            raise KeyError(f"unknown RNG component {component!r}; known: {sorted(COMPONENTS)}")
        key = (COMPONENTS[component], *path)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))
