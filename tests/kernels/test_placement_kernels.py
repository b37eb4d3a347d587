"""Placement kernels against independently written naive references (exact agreement)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import kernels
from simulator.kernels.placement import (
    BAD_COUNT,
    BAD_NODE,
    OK,
    OVER_FREE,
    OVER_USABLE,
    WRONG_TOTAL,
)

from ..conftest import tiny


def naive_first_fit(free: list[int], need: int) -> list[tuple[int, int]]:
    """Reference: first node that holds the whole request, else greedy spill in id order."""
    whole = [i for i, f in enumerate(free) if f >= need]
    if whole:
        return [(whole[0], need)]
    if sum(free) < need:
        return []
    out, left = [], need
    for i, f in enumerate(free):
        if left and f:
            out.append((i, min(f, left)))
            left -= min(f, left)
    return out


free_lists = st.lists(st.integers(0, 16), min_size=1, max_size=64)


@given(free_lists, st.integers(1, 200))
def test_first_fit_matches_reference(free, need):
    arr = np.array(free, dtype=np.int64)
    nodes = np.full(len(free), -1, dtype=np.int64)
    counts = np.full(len(free), -1, dtype=np.int64)
    k = kernels.first_fit(arr, need, nodes, counts)
    assert list(zip(nodes[:k].tolist(), counts[:k].tolist(), strict=True)) == naive_first_fit(
        free, need
    )
    assert arr.tolist() == free  # the search never mutates its input
    if k:
        assert counts[:k].sum() == need and np.all(counts[:k] <= arr[nodes[:k]])
        assert len(set(nodes[:k].tolist())) == k


@given(free_lists, st.integers(1, 50))
def test_first_fit_accepts_read_only_input(free, need):
    arr = np.array(free, dtype=np.int64)
    arr.setflags(write=False)
    buf = np.empty((2, len(free)), dtype=np.int64)
    k = kernels.first_fit(arr, need, buf[0], buf[1])
    assert (k > 0) == (sum(free) >= need)


def partly_busy(free, size) -> np.ndarray:
    """The nodes with 0 < free < size, counted per free count (the kernels' ``tally``)."""
    free = np.asarray(free)
    return np.bincount(free[(free > 0) & (free < size)], minlength=int(size.max()) + 1)


@given(free_lists, st.data())
def test_allocate_then_release_restores_state(free, data):
    capacity = np.array(free, dtype=np.int64) + data.draw(st.integers(0, 4))
    arr = np.array(free, dtype=np.int64)
    need = data.draw(st.integers(1, max(1, sum(free))))
    buf = np.empty((2, len(free)), dtype=np.int64)
    k = kernels.first_fit(arr, need, buf[0], buf[1])
    if k == 0:
        return
    nodes, counts = buf[0, :k].copy(), buf[1, :k].copy()
    tally = partly_busy(arr, capacity)
    assert kernels.allocate(arr, nodes, counts, need, capacity, tally) == OK
    assert arr.sum() == sum(free) - need and np.all(arr >= 0)
    assert tally.tolist() == partly_busy(arr, capacity).tolist()
    assert kernels.release(arr, capacity, nodes, counts, capacity, tally) == OK
    assert arr.tolist() == free and tally.tolist() == partly_busy(arr, capacity).tolist()


def test_allocate_rejects_bad_placements_and_changes_nothing():
    free, size = np.array([4, 2, 0], dtype=np.int64), np.array([4, 4, 4], dtype=np.int64)
    tally = partly_busy(free, size)

    def attempt(nodes, counts, total):
        before = free.copy()
        nodes, counts = np.array(nodes, dtype=np.int64), np.array(counts, dtype=np.int64)
        status = kernels.allocate(free, nodes, counts, total, size, tally)
        assert free.tolist() == before.tolist()
        assert tally.tolist() == partly_busy(free, size).tolist()
        return status

    assert attempt([3], [1], 1) == BAD_NODE
    assert attempt([-1], [1], 1) == BAD_NODE
    assert attempt([0], [0], 0) == BAD_COUNT
    assert attempt([0, 1], [2, 3], 5) == OVER_FREE
    assert attempt([0, 0], [3, 2], 5) == OVER_FREE  # same node listed twice, 5 > 4
    assert attempt([0, 1], [1, 1], 3) == WRONG_TOTAL


def test_release_refuses_to_exceed_capacity():
    free = np.array([4, 2], dtype=np.int64)
    capacity = np.array([4, 4], dtype=np.int64)
    tally = partly_busy(free, capacity)
    status = kernels.release(free, capacity, np.array([1, 0]), np.array([1, 1]), capacity, tally)
    assert status == OVER_USABLE and free.tolist() == [4, 2]
    assert tally.tolist() == partly_busy(free, capacity).tolist()


def test_empty_cluster_and_warmup():
    empty = np.zeros(0, dtype=np.int64)
    assert kernels.first_fit(empty, 1, empty.copy(), empty.copy()) == 0
    assert kernels.warmup() >= 0.0


def test_kernel_bodies_also_pass_as_plain_python():
    """Run the kernel tests again with NUMBA_DISABLE_JIT=1 so the bodies are executed (and
    measured by coverage) as Python."""
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(Path(__file__).parent),
            str(Path(__file__).parents[1] / "test_topology.py")
            + "::test_ring_hops_kernel_matches_graph_paths",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing is compiled")
def test_warmup_covers_every_signature_a_run_uses():
    """Compile time must not leak into the timed loop: after warmup a run adds no signature,
    including the throughput kernels of model jobs that share uplinks."""
    import simulator
    from simulator.kernels import placement, scheduling, throughput, topology

    from ..test_throughput_engine import model_job

    def signatures():
        return {
            f"{m.__name__}.{k}": len(v.signatures)
            for m in (placement, scheduling, throughput, topology)
            for k, v in vars(m).items()
            if hasattr(v, "signatures") and not k.startswith("_")  # helpers inline into callers
        }

    kernels.warmup()
    before = signatures()
    spec = tiny(gpus_per_node=8, nodes=4, nodes_per_rack=1)
    spec["workload"]["training"] = [
        model_job("bert-large", 16, 64, 10, tag="a"),
        model_job("bert-large", 16, 64, 20, tag="b"),
    ]
    simulator.run(spec)
    spec["scheduler"] = {"policy": {"name": "gavel", "params": {"round": 5.0}}}
    simulator.run(spec)
    contended = tiny([(0.0, 4, 100.0), (0.0, 4, 100.0), (1.0, 8, 50.0)], gpus_per_node=8)
    contended["scheduler"] = {"policy": {"name": "las", "params": {"quantum": 10.0}}}
    assert simulator.run(contended).jobs["preemptions"].sum() > 0  # las_rank ran
    contended["scheduler"] = {"policy": "srtf"}
    assert simulator.run(contended).jobs["preemptions"].sum() > 0  # rank_fit ran
    contended["scheduler"] = {"policy": {"name": "gandiva", "params": {"quantum": 10.0}}}
    assert simulator.run(contended).jobs["preemptions"].sum() > 0  # gandiva_rank ran
    assert signatures() == before and len(before) == 15
