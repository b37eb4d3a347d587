"""``clustersim trace``: inspect production traces (the trace readers behind a CLI).

Must not import: simpy, numba.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
    from pydantic import ValidationError

    from .cli import QuietConsole
    from .results import strict_json
    from .scenario import Problem, ScenarioError
    from .scenario.load import load_value
    from .scenario.workload import TraceSpec
    from .workload import traces
    from .workload.traces.requests import azure_llm
    from .workload.traces.stats import plot_stats, stats

    label = f"clustersim trace stats {args.file}"
    options, problems = {}, []
    for item in args.option:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem(label, "--option", f"{item!r} is not KEY=VALUE"))
        elif key in ("path", "format"):
            problems.append(Problem(label, "--option", f"{key} is given by FILE and --format"))
        else:
            try:
                options[key] = load_value(value)
            except ValueError as e:
                problems.append(Problem(label, f"--option {key}", str(e)))
    if args.plot and Path(args.plot).exists() and not Path(args.plot).is_dir():
        problems.append(Problem(label, "--plot", f"{args.plot} exists and is not a directory"))
    if args.format == "azure_llm" and set(options) - {"on_error"}:
        extra = ", ".join(sorted(set(options) - {"on_error"}))
        problems.append(Problem(label, "--option", f"azure_llm takes only on_error, not {extra}"))
    if problems:
        raise ScenarioError(problems)
    if args.format == "azure_llm":
        if options.get("on_error", "raise") not in ("raise", "skip"):
            raise ScenarioError([Problem(label, "--option on_error", "must be raise or skip")])
        trace = azure_llm(args.file, options.get("on_error", "raise"))
    else:
        try:
            trace = traces.read(TraceSpec(format=args.format, path=args.file, **options))
        except ValidationError as e:
            raise ScenarioError(
                Problem(label, ".".join(map(str, err["loc"])) or "--format", err["msg"])
                for err in e.errors(include_url=False)
            ) from None
    result = stats(trace)
    if args.plot:
        plot_stats(trace, args.plot, Path(args.file).name)
    if args.json:
        print(json.dumps(strict_json(result), indent=2, allow_nan=False))
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
    QuietConsole().print(table)
    return 0
