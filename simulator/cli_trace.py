"""``clustersim trace``: inspect production traces (the trace readers behind a CLI).

Must not import: simpy, numba.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def add_parser(sub) -> None:
    t = sub.add_parser("trace", help="inspect production traces").add_subparsers(
        dest="trace_command", required=True
    )
    ts = t.add_parser("stats", help="jobs, span, GPU histogram, run-time percentiles, arrivals")
    ts.add_argument("file", help="trace file")
    ts.add_argument("--format", required=True, help="philly, helios, pai, openb, ..., azure_llm")
    ts.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a workload.trace option (YAML value), e.g. --option tasks=pai_task_table.csv",
    )
    ts.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ts.add_argument("--plot", metavar="DIR", help="also write the figures to DIR")


def run(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from .cli import _error
    from .spec.workload import TraceSpec
    from .workload import traces
    from .workload.traces.requests import azure_llm
    from .workload.traces.stats import plot_stats, stats

    label = f"clustersim trace stats {args.file}"
    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            _error(f"{label}: --option {item!r} is not KEY=VALUE")
            return 2
        options[key.strip()] = yaml.safe_load(value)
    if args.format == "azure_llm":
        trace = azure_llm(args.file, options.get("on_error", "raise"))
    else:
        try:
            trace = traces.read(TraceSpec(format=args.format, path=args.file, **options))
        except ValidationError as e:
            for err in e.errors(include_url=False):
                _error(f"{label}: {'.'.join(map(str, err['loc'])) or 'format'}: {err['msg']}")
            return 2
    result = stats(trace)
    if args.plot:
        plot_stats(trace, args.plot, Path(args.file).name)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table(title=f"{Path(args.file).name} ({args.format})")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:,}" for k, v in value.items())
        table.add_row(
            key,
            f"{value:,.6g}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else value,
        )
    Console().print(table)
    return 0
