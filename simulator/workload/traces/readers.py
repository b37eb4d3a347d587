"""One reader per trace format; each returns a :class:`Trace`.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.limits import regular_file
from ...scenario.problems import Problem, ScenarioError
from ...scenario.workload import TraceSpec
from .base import Trace, number, read_columns, text, timestamp


def philly(spec: TraceSpec) -> Trace:
    """Philly (Jeon et al., ATC'19), the processed CSV ``timestamp,duration,num_gpus,
    gpu_time,cluster``: submit time, run seconds, GPUs, GPU-seconds, virtual cluster."""
    cols, skipped = read_columns(
        spec.path,
        {
            "timestamp": timestamp(),
            "duration": number(),
            "num_gpus": number(int, minimum=1),
            "cluster": text(),
        },
        on_error=spec.on_error,
    )
    return Trace(
        cols["timestamp"], cols["duration"], cols["num_gpus"], vc=cols["cluster"], skipped=skipped
    )


def helios(spec: TraceSpec) -> Trace:
    """Helios (Hu et al., SC'21) ``cluster_log.csv``: ``job_id,user,vc,gpu_num,cpu_num,
    node_num,state,submit_time,start_time,end_time,duration,queue``; CPU-only jobs are not
    replayed (counted in ``ignored``)."""
    cols, skipped = read_columns(
        spec.path,
        {
            "vc": text(),
            "gpu_num": number(int),
            "state": text(),
            "submit_time": timestamp(),
            "start_time": timestamp(required=False),
            "duration": number(),
        },
        on_error=spec.on_error,
    )
    trace = Trace(
        cols["submit_time"],
        cols["duration"],
        cols["gpu_num"],
        vc=cols["vc"],
        state=cols["state"],
        start_s=cols["start_time"],
        skipped=skipped,
    )
    return _drop(trace, trace.gpus == 0, "cpu-only")


PAI_JOB = ["job_name", "inst_id", "user", "status", "start_time", "end_time"]
PAI_TASK = [
    "job_name",
    "task_name",
    "inst_num",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
    "plan_gpu",
    "gpu_type",
]


def pai(spec: TraceSpec) -> Trace:
    """Alibaba PAI 2020 (Weng et al., NSDI'22): ``pai_job_table`` (``job_name,inst_id,user,
    status,start_time,end_time``; ``start_time`` is the submission) and ``pai_task_table``
    (``tasks``: ``job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,
    plan_gpu,gpu_type``; ``plan_gpu`` in percent of a GPU per instance), with or without the
    header line (the released files have none). A job asks for the sum over its tasks of
    ``inst_num x plan_gpu``: below one GPU it is a fractional request. Jobs without GPUs or
    without an end time are not replayed (counted in ``ignored``)."""
    if spec.tasks is None:
        raise ScenarioError([Problem(spec.path, "workload.trace.tasks", "pai needs tasks")])
    jobs, skipped = read_columns(
        spec.path,
        {
            "job_name": text(),
            "user": text(),
            "status": text(),
            "start_time": number(),
            "end_time": number(required=False),
        },
        on_error=spec.on_error,
        header=None if _has_header(spec.path, "job_name") else PAI_JOB,
    )
    tasks, skipped_tasks = read_columns(
        spec.tasks,
        {
            "job_name": text(),
            "inst_num": number(required=False, maximum=1e5),
            "plan_gpu": number(required=False, maximum=1e5),  # percent of one GPU
            "gpu_type": text(),
        },
        on_error=spec.on_error,
        header=None if _has_header(spec.tasks, "job_name") else PAI_TASK,
    )
    percent = np.nan_to_num(tasks["inst_num"] * tasks["plan_gpu"])
    per_job = pd.Series(percent).groupby(tasks["job_name"]).sum()
    gpu_type = pd.Series(tasks["gpu_type"]).groupby(tasks["job_name"]).first()
    total = per_job.reindex(jobs["job_name"]).fillna(0.0).to_numpy() / 100.0
    milli = np.where(total < 1, np.round(total * 1000), 1000).astype(np.int64)
    trace = Trace(
        jobs["start_time"],
        jobs["end_time"] - jobs["start_time"],
        np.maximum(np.ceil(total - 1e-9), 1).astype(np.int64),
        vc=jobs["user"],
        state=jobs["status"],
        gpu_milli=milli,
        gpu_type=gpu_type.reindex(jobs["job_name"]).fillna("").to_numpy(object),
        skipped=skipped + skipped_tasks,
    )
    trace = _drop(trace, total <= 0, "cpu-only")
    return _drop(trace, np.isnan(trace.duration_s) | (trace.duration_s < 0), "no end time")


def openb(spec: TraceSpec) -> Trace:
    """Alibaba GPU cluster 2023 (Weng et al., ATC'23) ``openb_pod_list_*.csv``: ``name,
    cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,
    scheduled_time``. A pod arrives at its creation, runs from its scheduling to its deletion,
    asks for ``num_gpu`` GPUs of ``gpu_milli`` thousandths each (a share of one GPU if
    < 1000) of a model in ``gpu_spec`` (``A|B``: either; empty: any). CPU-only pods and pods
    never scheduled are not replayed (counted in ``ignored``)."""
    cols, skipped = read_columns(
        spec.path,
        {
            "num_gpu": number(int),
            "gpu_milli": number(int, required=False),
            "gpu_spec": text(),
            "pod_phase": text(),
            "creation_time": number(),
            "deletion_time": number(),
            "scheduled_time": number(required=False),
        },
        on_error=spec.on_error,
        check=lambda c: [
            (c["deletion_time"] < c["creation_time"], "deletion_time", "deleted before created"),
            (
                c["scheduled_time"] > c["deletion_time"],
                "scheduled_time",
                "scheduled after deletion",
            ),
            (
                c["scheduled_time"] < c["creation_time"],
                "scheduled_time",
                "scheduled before creation",
            ),
        ],
    )
    trace = Trace(
        cols["creation_time"],
        cols["deletion_time"] - cols["scheduled_time"],
        cols["num_gpu"],
        state=cols["pod_phase"],
        start_s=cols["scheduled_time"],
        gpu_milli=np.where(cols["gpu_milli"] > 0, np.minimum(cols["gpu_milli"], 1000), 1000),
        gpu_type=cols["gpu_spec"],
        skipped=skipped,
    )
    trace = _drop(trace, trace.gpus == 0, "cpu-only")
    return _drop(trace, np.isnan(trace.start_s), "never scheduled")


GAVEL = [
    "job_type",
    "command",
    "working_directory",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "scale_factor",
    "priority_weight",
    "SLO",
    "arrival_time",
]


def gavel(spec: TraceSpec) -> Trace:
    """Gavel (Narayanan et al., OSDI'20) ``.trace`` files: tab-separated ``job_type, command,
    working_directory, num_steps_arg, needs_data_dir, total_steps, scale_factor,
    priority_weight, SLO, arrival_time``. A job runs ``total_steps`` at the measured speed of
    its type on ``scale_factor`` GPUs of ``reference_chip`` from ``throughputs``."""
    if spec.throughputs is None:
        raise ScenarioError(
            [Problem(spec.path, "workload.trace.throughputs", "gavel needs throughputs")]
        )
    cols, skipped = read_columns(
        spec.path,
        {
            "job_type": text(),
            "total_steps": number(minimum=0),
            "scale_factor": number(int, minimum=1),
            "arrival_time": number(),
        },
        on_error=spec.on_error,
        header=GAVEL,
        sep="\t",
    )
    rates = gavel_speeds(spec.throughputs, spec.reference_chip)
    keys = list(zip(cols["job_type"].tolist(), cols["scale_factor"].tolist(), strict=True))
    unknown = sorted({f"{t} x{s}" for t, s in keys if (t, s) not in rates})
    if unknown:
        raise ScenarioError(
            [Problem(spec.throughputs, "", f"no measured speed for {', '.join(unknown)}")]
        )
    speed = np.array([rates[k] for k in keys])
    return Trace(
        cols["arrival_time"],
        cols["total_steps"] / speed,
        cols["scale_factor"],
        vc=cols["job_type"],
        skipped=skipped,
    )


def gavel_speeds(path: str, table: str) -> dict[tuple[str, int], float]:
    """``(job type, scale factor) -> iterations/s alone`` in one table (a chip such as
    ``v100``) of a Gavel ``simulation_throughputs.json`` (shape-checked on reading)."""
    from ...perf.profiled import GavelTable

    tables = GavelTable.read(path).tables
    if table not in tables:
        known = ", ".join(sorted(tables))
        raise ScenarioError(
            [Problem(path, "workload.trace.reference_chip", f"no chip {table!r}; known: {known}")]
        )
    return tables[table]


def tiresias(spec: TraceSpec) -> Trace:
    """Tiresias (Gu et al., NSDI'19) CSV: ``job_id,num_gpu,submit_time,iterations,
    model_name,duration,interval``."""
    cols, skipped = read_columns(
        spec.path,
        {
            "num_gpu": number(int, minimum=1),
            "submit_time": number(),
            "duration": number(),
        },
        on_error=spec.on_error,
    )
    return Trace(cols["submit_time"], cols["duration"], cols["num_gpu"], skipped=skipped)


def pollux(spec: TraceSpec) -> Trace:
    """Pollux (Qiao et al., OSDI'21) workload CSV: ``name,time,application,num_replicas,
    batch_size``. The file has no run times: ``durations`` gives one per application."""
    cols, skipped = read_columns(
        spec.path,
        {"time": number(), "application": text(), "num_replicas": number(int, minimum=1)},
        on_error=spec.on_error,
    )
    apps = cols["application"]
    missing = sorted(set(apps.tolist()) - set(spec.durations))
    if missing:
        raise ScenarioError(
            [
                Problem(
                    spec.path,
                    "workload.trace.durations",
                    f"no run time for application(s) {', '.join(missing)}",
                )
            ]
        )
    duration = np.array([spec.durations[a] for a in apps.tolist()], dtype=np.float64)
    return Trace(cols["time"], duration, cols["num_replicas"], vc=apps, skipped=skipped)


def _has_header(path: str, first: str) -> bool:
    regular_file(path, path)  # before opening: a FIFO would block
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline(1 << 16).split(",")[0].strip() == first
    except OSError:
        return True  # read_columns reports the missing file or the FIFO


def _drop(trace: Trace, mask: np.ndarray, reason: str) -> Trace:
    if not mask.any():
        return trace
    out = trace.take(~mask)
    out.ignored[reason] = out.ignored.get(reason, 0) + int(mask.sum())
    return out
