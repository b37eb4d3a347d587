"""Closed forms for checkpointed work under failures: the checkpoint interval of Young and
Daly, and the expected effective training time ratio (ETTR) of one job.

Model: a job needs ``work`` seconds of progress; after every ``interval`` seconds of progress
it writes a checkpoint for ``cost`` seconds (none after the last interval); failures strike it
as a Poisson process of rate ``1 / mtbf`` while it holds devices (computing, writing a
checkpoint or restoring); a failure sends it back to its last complete checkpoint, and before
it computes again it restores for ``restart`` seconds, which a failure can interrupt too. It
restarts at once (spare capacity). A segment of ``x`` seconds (an interval and its checkpoint)
then takes, in expectation (Daly 2006, eq. 7)::

    E[T(x)] = M e^(R / M) (e^(x / M) - 1)

with ``M = mtbf`` and ``R = restart``, and the job's expected held time is the sum over its
segments. ETTR = useful time / held time (Meta's definition in "Revisiting Reliability in
Large-Scale Machine Learning Research Clusters", HPCA 2025); over many runs the ratio of the
expected times.

Must not import: simpy, numba.
"""

from __future__ import annotations

import math

__all__ = ["expected_held_s", "expected_ettr", "job_mtbf_s", "young_daly"]


def young_daly(cost: float, mtbf: float) -> float:
    """The checkpoint interval ``sqrt(2 x cost x mtbf)`` (Young 1974; Daly 2006 to first
    order): it minimises the expected time lost to checkpoints and redone work."""
    return math.sqrt(2.0 * cost * mtbf)


def series_mtbf(*mtbfs: float) -> float:
    """Mean time between failures of a whole that stops when any of its parts (of these
    MTBFs; inf: never fails) does: their failure rates add up."""
    rate = sum(1.0 / m for m in mtbfs)
    return math.inf if rate == 0 else 1.0 / rate


def job_mtbf_s(
    gpus: int,
    gpus_per_node: int,
    gpu_mtbf: float,
    node_mtbf: float,
    rack_mtbf: float = math.inf,
    nodes_per_rack: int = 1,
) -> float:
    """Mean time between failures of a job on ``gpus`` devices consolidated on nodes of
    ``gpus_per_node`` and racks of ``nodes_per_rack``: the failure rates of its devices,
    hosts and racks add up (inf: none fails)."""
    nodes = math.ceil(gpus / gpus_per_node)
    racks = math.ceil(nodes / nodes_per_rack)
    rate = gpus / gpu_mtbf + nodes / node_mtbf + racks / rack_mtbf
    return math.inf if rate == 0 else 1.0 / rate


def _segment_s(x: float, mtbf: float, restart: float) -> float:
    if mtbf == math.inf:
        return x
    return mtbf * math.exp(restart / mtbf) * math.expm1(x / mtbf)


def expected_held_s(work: float, interval: float, cost: float, restart: float, mtbf: float):
    """Expected seconds the job holds devices to finish ``work`` (module docstring)."""
    full = math.ceil(work / interval) - 1  # intervals followed by a checkpoint
    last = work - full * interval
    return full * _segment_s(interval + cost, mtbf, restart) + _segment_s(last, mtbf, restart)


def expected_ettr(work: float, interval: float, cost: float, restart: float, mtbf: float):
    """Expected useful / held time of the job (module docstring)."""
    return work / expected_held_s(work, interval, cost, restart, mtbf)
