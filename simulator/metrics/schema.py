"""The single source of truth for every output column, series metric and summary key.

Each entry: name -> (unit, definition). The README's metrics glossary is checked against these
tables by a test, and the writers build their files from them.

Base definitions (a_j submit, s_j first start, c_j completion): wait = s_j - a_j,
JCT = c_j - a_j; means over jobs that started (waits) or finished (JCTs); percentiles use linear
interpolation between order statistics (numpy's default).

Must not import: simpy, numba.
"""

from __future__ import annotations

import pyarrow as pa

JOB_COLUMNS: dict[str, tuple[pa.DataType, str, str]] = {
    "job_id": (pa.int64(), "-", "contiguous id, in submit order (ties: stream, then sequence)"),
    "name": (pa.string(), "-", "'<stream>-<k>': the k-th job of its workload stream"),
    "kind": (pa.string(), "-", "job kind: training"),
    "stream": (pa.string(), "-", "workload stream (or trace) the job came from"),
    "submit_s": (pa.float64(), "s", "a_j, time the job entered the queue"),
    "start_s": (pa.float64(), "s", "s_j, time it first started (null if never started)"),
    "end_s": (pa.float64(), "s", "c_j, time it finished (null if not finished)"),
    "wait_s": (pa.float64(), "s", "s_j - a_j (null if never started)"),
    "jct_s": (pa.float64(), "s", "c_j - a_j, job completion time (null if not finished)"),
    "gpus": (pa.int64(), "GPUs", "devices requested and granted (gang: all at once)"),
    "duration_s": (
        pa.float64(),
        "s",
        "requested run time on the reference chip (null for model jobs)",
    ),
    "model": (pa.string(), "-", "zoo model of a model-described job (null for duration jobs)"),
    "steps": (pa.float64(), "steps", "training steps a model job runs (null for duration jobs)"),
    "state": (pa.string(), "-", "finished, running, queued or failed at the end of the run"),
    "preemptions": (pa.int64(), "-", "times the scheduler stopped the job while it ran"),
    "restarts": (pa.int64(), "-", "times it started again after a preemption"),
    "migrations": (pa.int64(), "-", "restarts on other nodes than it was stopped on"),
    "resizes": (pa.int64(), "-", "times the elastic policy resized it while it ran"),
    "lost_work_s": (
        pa.float64(),
        "s",
        "time it held devices without lasting progress: checkpoint save and restore on "
        "restarts, and progress lost to interruptions (done again)",
    ),
    "interruptions": (pa.int64(), "-", "times it was stopped without a checkpoint (failures)"),
    "checkpoint_s": (pa.float64(), "s", "time it spent writing periodic checkpoints"),
    "failure_reason": (pa.string(), "-", "why a failed job gave up (null unless failed)"),
    "gpu_milli": (pa.int64(), "1/1000 GPU", "share of each device (1000: whole devices)"),
    "chips": (pa.string(), "-", "catalog chips the job may run on, bar-separated (empty: any)"),
    "gpu_service_s": (
        pa.float64(),
        "GPU-s",
        "devices x seconds the job held in the run (a share counts as its fraction)",
    ),
    "trace_wait_s": (
        pa.float64(),
        "s",
        "the wait the replayed trace recorded for this job (null: synthetic, or not recorded)",
    ),
}

SERIES_COLUMNS: dict[str, tuple[pa.DataType, str, str]] = {
    "t_s": (pa.float64(), "s", "time from which the value holds (until the next row)"),
    "entity": (
        pa.dictionary(pa.int32(), pa.string()),
        "-",
        "what the value describes, e.g. 'cluster'",
    ),
    "metric": (pa.dictionary(pa.int32(), pa.string()), "-", "one of the series metrics below"),
    "value": (pa.float64(), "metric", "level of the metric from t_s on"),
}

SERIES_METRICS: dict[str, tuple[str, str]] = {
    "busy_gpus": ("GPUs", "devices allocated to running jobs and service replicas"),
    "queue_length": ("jobs", "jobs submitted and waiting to start"),
    "running_jobs": ("jobs", "jobs holding devices"),
    "fragmented_gpus": (
        "GPUs",
        "free devices the oldest queued job cannot use without splitting over partly busy "
        "nodes: those on nodes with fewer free than min(its request, node size); 0 if none waits",
    ),
    "online_gpus": ("GPUs", "devices on online nodes (elastic node groups grow and shrink)"),
    "down_gpus": ("GPUs", "devices on nodes down after a failure, waiting for repair"),
    "power_kw": (
        "kW",
        "IT power of the chips: idle x powered devices + (peak - idle) x allocated devices",
    ),
    "replicas": ("replicas", "a service's replicas wanted alive: waiting, loading or serving"),
    "ready_replicas": ("replicas", "a service's replicas serving requests"),
    "service_queue": ("requests", "a service's requests waiting for a batch slot"),
    "in_flight": ("requests", "a service's requests in a replica's batch (prefill or decode)"),
}

SERVICE_SERIES = ("replicas", "ready_replicas", "service_queue", "in_flight")  # per service

SUMMARY_KEYS: dict[str, tuple[str, str]] = {
    "jobs_submitted": ("jobs", "jobs that arrived within the run"),
    "jobs_started": ("jobs", "jobs that started at least once"),
    "jobs_finished": ("jobs", "jobs that completed"),
    "jobs_running": ("jobs", "jobs still running at the end of the run"),
    "jobs_queued": ("jobs", "jobs still waiting at the end of the run"),
    "mean_jct_s": ("s", "mean of c_j - a_j over finished jobs (null if none)"),
    "p50_jct_s": ("s", "median JCT over finished jobs"),
    "p99_jct_s": ("s", "99th percentile JCT over finished jobs"),
    "mean_wait_s": ("s", "mean of s_j - a_j over started jobs"),
    "p99_wait_s": ("s", "99th percentile wait over started jobs"),
    "makespan_s": ("s", "last completion - first submission (null unless every job finished)"),
    "gpu_utilization": (
        "fraction",
        "time-weighted allocated GPUs / installed GPUs over the metric window",
    ),
    "mean_queue_length": ("jobs", "time-weighted mean queue length over the metric window"),
    "mean_fragmented_gpus": (
        "GPUs",
        "time-weighted mean of the fragmented_gpus series over the metric window",
    ),
    "window_start_s": ("s", "metric window start: first submission"),
    "window_end_s": (
        "s",
        "metric window end: last completion if every job finished, else the horizon",
    ),
    "installed_gpus": ("GPUs", "devices in the cluster"),
    "trace_rows_skipped": ("rows", "malformed trace rows skipped (workload.trace.on_error: skip)"),
    "cost": ("-", "the bill (see COST_KEYS); null if no node group has a price"),
    "energy": ("-", "power, energy and carbon (see ENERGY_KEYS); null: a chip has no power figure"),
    "failures": ("-", "failures, lost work and ETTR (see FAILURE_KEYS); null: no failures block"),
    "services": ("-", "one block per inference service, keyed by name (see SERVICE_KEYS)"),
    "events": ("events", "simulation events processed (arrivals, completions, passes)"),
    "wall_s": ("s", "wall-clock time of the simulation loop (excludes compile and I/O)"),
}


COST_KEYS: dict[str, tuple[str, str]] = {
    "total": ("currency", "price per node-hour x billed node-hours, from t=0 to the run's end"),
    "per_used_gpu_hour": ("currency/GPU-h", "total / GPU-hours allocated to jobs and replicas"),
    "idle": (
        "currency",
        "the part of total paying for billed GPU-hours nothing used (one price per GPU-hour)",
    ),
    "on_demand": ("currency", "the bill of on_demand groups (billed from request to release)"),
    "reserved": ("currency", "the bill of reserved groups (every node, the whole run)"),
    "spot": ("currency", "the bill of spot groups (billed from request to release or reclaim)"),
}

ENERGY_KEYS: dict[str, tuple[str, str]] = {
    "it_kwh": ("kWh", "chip energy: the integral of the power_kw series"),
    "facility_kwh": ("kWh", "IT energy x the PUE of its data centre"),
    "mean_it_power_kw": ("kW", "it_kwh / run length"),
    "peak_it_power_kw": ("kW", "highest value of the power_kw series"),
    "kwh_per_used_gpu_hour": ("kWh/GPU-h", "facility_kwh / GPU-hours allocated"),
    "gco2": (
        "gCO2",
        "facility power x carbon intensity, integrated over time (data centres with an intensity)",
    ),
    "by_datacenter": ("-", "per data centre: facility_kwh and gco2 (null: no intensity given)"),
}

FAILURE_KEYS: dict[str, tuple[str, str]] = {
    "component_failures": (
        "-",
        "failures per component class (gpu, node, nic, rack, power) over the run",
    ),
    "job_interruptions": ("-", "times a job was stopped without a checkpoint (failures, reclaims)"),
    "jobs_failed": ("jobs", "jobs that gave up after failures.retries interruptions"),
    "spare_swaps": ("-", "failed nodes a hot spare replaced in a running job's placement"),
    "redone_gpu_h": ("GPU-h", "devices x hours of progress lost to interruptions and done again"),
    "checkpoint_gpu_h": ("GPU-h", "devices x hours spent writing periodic checkpoints"),
    "restore_gpu_h": (
        "GPU-h",
        "devices x hours held restoring (and detecting failures) on restarts, without progress",
    ),
    "mttr_s": ("s", "mean time to recovery: failure to repair, waits for a crew included"),
    "availability": ("-", "per data centre: 1 - GPU-time down after failures / installed GPU-time"),
    "ettr": (
        "fraction",
        "effective training time ratio: useful GPU-time / GPU-time held by training jobs",
    ),
    "p50_job_ettr": ("fraction", "median over jobs that held devices of useful / held time"),
    "p10_job_ettr": ("fraction", "10th percentile over jobs of useful / held time"),
}

SERVICE_KEYS: dict[str, tuple[str, str]] = {
    "requests_arrived": ("requests", "requests that arrived within the run"),
    "requests_served": ("requests", "requests that got their last token"),
    "requests_dropped": ("requests", "requests refused on arrival (queue_limit reached)"),
    "requests_unfinished": ("requests", "arrived requests queued or in a batch at the end"),
    "mean_ttft_s": ("s", "mean time to first token (arrival to end of its prefill), served"),
    "p50_ttft_s": ("s", "median time to first token over served requests"),
    "p90_ttft_s": ("s", "90th percentile time to first token"),
    "p99_ttft_s": ("s", "99th percentile time to first token"),
    "p50_tpot_s": ("s", "median time per output token: (last - first token) / output tokens"),
    "p99_tpot_s": ("s", "99th percentile time per output token"),
    "p50_e2e_s": ("s", "median end-to-end latency: arrival to last token"),
    "p99_e2e_s": ("s", "99th percentile end-to-end latency"),
    "slo_attainment": (
        "fraction",
        "requests served within every SLO given / requests served or dropped",
    ),
    "goodput_rps": ("requests/s", "requests served within the SLO per second of the run"),
    "mean_replicas": ("replicas", "time-weighted mean of the replicas series"),
    "peak_replicas": ("replicas", "most replicas wanted alive at once"),
    "replica_gpu_hours": ("GPU-h", "devices x hours held by the service's replicas"),
}

REQUEST_COLUMNS: dict[str, tuple[pa.DataType, str, str]] = {
    "service": (pa.string(), "-", "the service the request was sent to"),
    "request_id": (pa.int64(), "-", "index of the request in its service, in arrival order"),
    "arrival_s": (pa.float64(), "s", "time the request arrived"),
    "prompt_tokens": (pa.int64(), "tokens", "prompt length"),
    "output_tokens": (pa.int64(), "tokens", "tokens generated for it"),
    "admit_s": (pa.float64(), "s", "start of its prefill (null if never admitted)"),
    "first_token_s": (pa.float64(), "s", "end of its prefill (null if not reached)"),
    "end_s": (pa.float64(), "s", "time of its last token (null if not served)"),
    "ttft_s": (pa.float64(), "s", "first_token_s - arrival_s"),
    "tpot_s": (pa.float64(), "s", "(end_s - first_token_s) / output_tokens"),
    "e2e_s": (pa.float64(), "s", "end_s - arrival_s"),
    "state": (pa.string(), "-", "served, dropped, in_flight or queued at the end of the run"),
    "slo_met": (pa.bool_(), "-", "served within every SLO of its service"),
}


def arrow_schema(columns: dict[str, tuple[pa.DataType, str, str]]) -> pa.Schema:
    """Arrow schema of a column table, with unit and definition as field metadata."""
    return pa.schema(
        [
            pa.field(name, dtype, metadata={"unit": unit, "definition": text})
            for name, (dtype, unit, text) in columns.items()
        ]
    )
