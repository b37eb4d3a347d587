"""Production traces as workloads: one reader per format, then the same filters for all.

``read(spec)`` gives the jobs as the trace records them; ``select(trace, spec, rng)`` applies
the scenario's filters, sampling and time compression and shifts the clock so the first kept
job arrives at 0.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

import numpy as np

from ...scenario.problems import Problem, ScenarioError
from ...scenario.workload import TraceSpec
from . import philly_json, readers
from .base import Trace
from .clusters import TRACE_CHIPS

READERS = {
    "philly": readers.philly,
    "philly_json": philly_json.philly_json,
    "helios": readers.helios,
    "pai": readers.pai,
    "openb": readers.openb,
    "gavel": readers.gavel,
    "tiresias": readers.tiresias,
    "pollux": readers.pollux,
}


def read(spec: TraceSpec) -> Trace:
    """Every job of the trace file (malformed rows reported, or skipped and counted)."""
    return READERS[spec.format](spec)


def select(trace: Trace, spec: TraceSpec, rng: np.random.Generator) -> Trace:
    """The jobs the scenario replays, in submit order, the first at t = 0.

    In order: the time window (seconds after the trace's first submission), VCs, states and
    ``max_gpus`` filters; then the first ``limit`` jobs; then a seeded ``sample``; then
    inter-arrival times scaled by ``time_scale``. Recorded start times move with their job,
    so recorded waits are kept."""
    _check_names(trace, spec)
    order = np.argsort(trace.submit_s, kind="stable")
    trace = trace.take(order)
    t0 = trace.submit_s[0] if len(trace) else 0.0
    since = trace.submit_s - t0
    keep = since >= spec.window.start
    if spec.window.end is not None:
        keep &= since < spec.window.end
    if spec.vcs is not None and trace.vc is not None:
        keep &= np.isin(trace.vc, spec.vcs)
    if spec.states is not None and trace.state is not None:
        keep &= np.isin(trace.state, spec.states)
    if spec.max_gpus is not None:
        keep &= trace.gpus <= spec.max_gpus
    idx = np.flatnonzero(keep)
    if spec.limit is not None:
        idx = idx[: spec.limit]
    if spec.sample is not None and len(idx):
        idx = np.sort(rng.choice(idx, size=round(spec.sample * len(idx)), replace=False))
    out = _constraints_to_chips(trace.take(idx))
    if len(out):
        wait = None if out.start_s is None else out.start_s - out.submit_s
        out.submit_s = (out.submit_s - out.submit_s[0]) * spec.time_scale
        if wait is not None:
            out.start_s = out.submit_s + wait
    return out


def _check_names(trace: Trace, spec: TraceSpec) -> None:
    """``vcs`` and ``states`` must name values the trace has: a typo would keep no job."""
    problems = []
    for key, values in (("vcs", trace.vc), ("states", trace.state)):
        wanted = getattr(spec, key)
        if wanted is None or values is None:
            continue
        present = set(values.tolist())
        unknown = [w for w in wanted if w not in present]
        if unknown:
            shown = sorted(map(str, present))
            more = f" (and {len(shown) - 20} more)" if len(shown) > 20 else ""
            problems.append(
                Problem(
                    spec.path,
                    f"workload.trace.{key}",
                    f"the trace has no {', '.join(map(repr, unknown))}; it has "
                    f"{', '.join(shown[:20]) or 'none'}{more}",
                )
            )
    if problems:
        raise ScenarioError(problems)


def _constraints_to_chips(trace: Trace) -> Trace:
    """Rewrite GPU-model constraints (``A|B``) as catalog chip names; a job whose models all
    lack a catalog chip (e.g. openb's anonymised G2, PAI's MISC) cannot be placed faithfully
    and is not replayed (counted in ``ignored``)."""
    if trace.gpu_type is None:
        return trace
    chips, unknown = [], np.zeros(len(trace), dtype=bool)
    for i, spec in enumerate(trace.gpu_type.tolist()):
        models = [m.strip() for m in str(spec).split("|") if m.strip()]
        known = sorted({TRACE_CHIPS[m] for m in models if m in TRACE_CHIPS})
        unknown[i] = bool(models) and not known
        chips.append("|".join(known))
    trace.gpu_type = np.array(chips, dtype=object)
    if unknown.any():
        kept = trace.take(~unknown)
        kept.ignored["gpu model not in catalog"] = int(unknown.sum())
        return kept
    return trace


__all__ = ["READERS", "Trace", "read", "select"]
