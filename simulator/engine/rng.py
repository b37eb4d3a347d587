"""Random streams: one independent generator per named component and sub-stream.

``RngStreams(seed).generator(component, *names)`` is the generator of
``SeedSequence(seed, spawn_key=...)`` whose spawn key is a 64-bit hash (BLAKE2b) of each
name in turn, e.g. ``("workload", "stream", "chat", "arrivals")`` or
``("spot", "dc1/h100", "3")``. Streams are keyed by what they are for, never by position:
adding, removing or reordering a stream, a service, a node group or a whole component never
changes the numbers any other one draws (common random numbers across policies and across
scenario edits; ``tests/test_workload.py`` checks it).

Must not import: simpy, numba.
"""

from __future__ import annotations

import hashlib

import numpy as np

COMPONENTS = ("workload", "spot", "failures", "policy", "services")  # failures: reserved (#15)


def _word(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class RngStreams:
    """Factory of named generators for one seed."""

    def __init__(self, seed: int):
        self.seed = seed

    def generator(self, component: str, *names: str) -> np.random.Generator:
        if component not in COMPONENTS:
            raise KeyError(f"unknown RNG component {component!r}; known: {list(COMPONENTS)}")
        key = tuple(_word(str(n)) for n in (component, *names))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))
