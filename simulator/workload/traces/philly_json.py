"""Philly's released ``cluster_job_log``: a JSON array read one job at a time.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ...scenario.limits import regular_file
from ...scenario.problems import Problem, ScenarioError
from ...scenario.workload import TraceSpec
from .base import Trace


def philly_json(spec: TraceSpec) -> Trace:
    """Philly's released ``cluster_job_log`` (a JSON array of jobs with ``status, vc, jobid,
    submitted_time, user, attempts: [{start_time, end_time, detail: [{ip, gpus}]}]``), read
    one job at a time. A job asks for the GPUs of its first attempt and runs for the sum of
    its attempts' run times; jobs that never started are not replayed."""
    rows: dict[str, list] = {k: [] for k in ("submit", "run", "gpus", "vc", "state", "start")}
    problems, skipped, ignored = [], 0, 0
    for line, job in _json_array(spec.path):
        try:
            attempts = job["attempts"]
            submit = _seconds(job["submitted_time"])
            if not attempts or attempts[0]["start_time"] in (None, "None"):
                ignored += 1
                continue
            spans = [
                (_seconds(a["start_time"]), _seconds(a["end_time"]))
                for a in attempts
                if a.get("end_time") not in (None, "None")
            ]
            gpus = sum(len(d["gpus"]) for d in attempts[0]["detail"])
            if not spans or gpus < 1 or any(e < s for s, e in spans):
                raise ValueError("no finished attempt with GPUs, or one ending before it starts")
        except (KeyError, TypeError, ValueError, IndexError) as e:
            if spec.on_error == "raise":
                jobid = job.get("jobid", "?") if isinstance(job, dict) else "?"
                problems.append(Problem(spec.path, f"job {jobid}", f"malformed: {e}", line))
            skipped += 1
            continue
        rows["submit"].append(submit)
        rows["run"].append(sum(e - s for s, e in spans))
        rows["gpus"].append(gpus)
        rows["vc"].append(str(job.get("vc", "")))
        rows["state"].append(str(job.get("status", "")))
        rows["start"].append(spans[0][0])
    if problems:
        raise ScenarioError(problems[:20])
    trace = Trace(
        np.array(rows["submit"], dtype=np.float64),
        np.array(rows["run"], dtype=np.float64),
        np.array(rows["gpus"], dtype=np.int64),
        vc=np.array(rows["vc"], dtype=object),
        state=np.array(rows["state"], dtype=object),
        start_s=np.array(rows["start"], dtype=np.float64),
        skipped=skipped,
    )
    if ignored:
        trace.ignored["never started"] = ignored
    return trace


def _seconds(value) -> float:
    if value in (None, "None", ""):
        raise ValueError("missing time")
    return (pd.Timestamp(value) - pd.Timestamp(0)).total_seconds()


def _json_array(path: str, chunk: int = 1 << 20):
    """Yield ``(line, element)`` of a top-level JSON array without loading the whole file."""
    regular_file(path, path)
    decoder = json.JSONDecoder()
    buf, line, opened = "", 1, False  # line: the line number at buf[0]
    with open(path, encoding="utf-8", errors="replace") as f:  # bad bytes: invalid JSON
        while True:
            more = f.read(chunk)
            buf += more
            pos = counted = 0  # line is the line at buf[counted]
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,[]":
                    opened |= buf[pos] == "["
                    pos += 1
                if pos >= len(buf):
                    break
                line += buf.count("\n", counted, pos)
                counted = pos
                if not opened:
                    raise ScenarioError([Problem(path, "", "not a JSON array", line)])
                try:
                    element, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as e:
                    if more:  # cut by the chunk: read more first
                        break
                    at = line + buf.count("\n", pos, e.pos)
                    raise ScenarioError([Problem(path, "", f"invalid JSON: {e.msg}", at)]) from None
                yield line, element
                pos = end
            line += buf.count("\n", counted, pos)
            buf = buf[pos:]
            if not more:
                return
