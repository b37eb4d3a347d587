"""``clustersim`` command line: thin sub-commands over the public API, no simulation logic.

Exit status: 0 success, 2 bad input or a refused output path (each problem on its own line,
no traceback), 3 an internal error (one line; ``CLUSTERSIM_TRACEBACK=1`` shows the traceback),
1 an operating-system failure (a full disk), 130 interrupted, 143 terminated. A closed stdout
(``| head``) ends a command quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__, cli_perf, cli_trace
from .outdir import Terminated, check_out, safe_name
from .scenario import Problem, Scenario, ScenarioError
from .scenario.load import load_value
from .scenario.units import format_duration

PROGRESS_AFTER_S = 2.0


class QuietConsole(Console):
    """A rich console whose closed stdout raises BrokenPipeError for :func:`main` to handle
    (rich's own handling exits with status 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


_err = QuietConsole(stderr=True, highlight=False)


def error(message: object) -> None:
    """One problem, one line on stderr (never wrapped, no markup)."""
    _err.print(f"error: {message}", markup=False, soft_wrap=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clustersim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"clustersim {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write its results")
    r.add_argument("scenario", help="scenario file (.yaml, .toml or .json)")
    r.add_argument("--out", help="run directory (default: runs/<scenario name>)")
    r.add_argument("--seed", type=int, help="replace the scenario's seed")
    r.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. --set horizon=2d (repeatable)",
    )
    r.add_argument("--no-plots", action="store_true", help="skip plots/*.png")
    r.add_argument("--quiet", action="store_true", help="no summary table or progress bar")

    b = sub.add_parser("bench", help="compare policies over seeds, with confidence intervals")
    b.add_argument("scenario", help="scenario file (.yaml, .toml or .json)")
    b.add_argument(
        "--policies", help="scheduling policies, comma-separated (default: the scenario's)"
    )
    b.add_argument(
        "--placements", help="placement policies, comma-separated (default: the scenario's)"
    )
    b.add_argument(
        "--axis",
        dest="axes",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="vary a dotted path over values, e.g. --axis horizon=1d,2d (repeatable)",
    )
    b.add_argument("--seeds", type=int, help="seeds per variant (default: sweep's, else 5)")
    b.add_argument("--out", help="output directory (default: runs/bench-<scenario name>)")
    b.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    b.add_argument(
        "--dask", metavar="ADDRESS", help="run on this Dask scheduler, e.g. tcp://host:8786"
    )
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--no-plots", action="store_true", help="skip jct_cdf.png and metrics.png")

    v = sub.add_parser("validate", help="check scenario files; report every problem")
    v.add_argument("files", nargs="+")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    s = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    s.add_argument("--out", help="write to this file instead of stdout")

    cli_perf.add_parser(sub)
    cli_trace.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``clustersim`` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    commands = {
        "run": _run,
        "bench": _bench,
        "validate": _validate,
        "schema": _schema,
        "perf": cli_perf.run,
        "trace": cli_trace.run,
    }
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return commands[args.command](args)
    except ScenarioError as e:
        for problem in e.problems:
            error(problem)
        return 2
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit
        with contextlib.suppress(OSError, ValueError):  # stdout may be no file (captured)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Terminated:
        _err.print("terminated")
        return 143
    except KeyboardInterrupt:
        _err.print("interrupted")
        return 130
    except OSError as e:  # the machine, not the input: a full disk, a vanished directory
        error(f"{f'{e.filename}: ' if e.filename else ''}{e.strerror or e}")
        return 1
    except Exception as e:  # an engine bug, not bad input: one line, its own exit status
        where = traceback.extract_tb(e.__traceback__)[-1]
        error(
            f"internal error: {type(e).__name__}: {e} (at {Path(where.filename).name}:"
            f"{where.lineno}); please report it with the scenario, or rerun with "
            "CLUSTERSIM_TRACEBACK=1 for the traceback"
        )
        if os.environ.get("CLUSTERSIM_TRACEBACK"):
            traceback.print_exc()
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum, frame) -> None:
    raise Terminated()


def _run(args: argparse.Namespace) -> int:
    from .runner import resolve, run

    scenario = resolve(args.scenario, args.seed, args.overrides)
    out = check_out(args.out or Path("runs") / safe_name(scenario.name), "run")
    with _ProgressBar(scenario, enabled=not args.quiet) as bar:
        results = run(scenario, progress=bar.update)
    results.save(out, plots=not args.no_plots)
    if not args.quiet:
        _print_summary(results.summary, scenario, Path(args.out or out))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import bench
    from .build import resolve

    scenario = resolve(args.scenario, overrides=args.overrides)
    problems, axes, names = [], {}, {}
    for flag in ("policies", "placements"):
        text = getattr(args, flag)
        names[flag] = None if text is None else [x.strip() for x in text.split(",") if x.strip()]
        if names[flag] == []:
            problems.append(Problem(f"--{flag}", text, "no names given; e.g. fifo,sjf"))
    for item in args.axes:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            problems.append(Problem("--axis", item, "expected KEY=V1,V2,..."))
            continue
        try:
            axes[key.strip()] = [load_value(v) for v in values.split(",")]
        except ValueError as e:
            problems.append(Problem("--axis", item, str(e)))
    if problems:
        raise ScenarioError(problems)
    default = Path("runs") / safe_name(f"bench-{scenario.name}")
    out = check_out(args.out or default, "bench")
    result = bench(
        scenario,
        names["policies"],
        names["placements"],
        args.seeds,
        axes=axes,
        workers=args.workers,
        dask=args.dask,
    )
    seeds = len(set(result.runs["seed"]))
    result.save(out, plots=not args.no_plots)
    out = Path(args.out or default)
    table = Table(title=f"clustersim bench: {scenario.name}, {seeds} seeds, mean ± 95% CI")
    table.add_column("metric")
    for variant in result.table.index:
        table.add_column(str(variant), justify="right")
    for metric in (c for c in result.table if not c.endswith("_ci95")):
        table.add_row(metric, *(_mean_ci(row, metric) for _, row in result.table.iterrows()))
    QuietConsole().print(table)
    print(f"results in {out}/")
    return 0


def _mean_ci(row, metric: str) -> str:
    mean, ci = row[metric], row[f"{metric}_ci95"]
    if mean != mean:  # NaN: no run had a value (e.g. makespan when jobs are left)
        return "-"
    return f"{mean:.4g}" + ("" if ci != ci else f" ± {ci:.2g}")


def _validate(args: argparse.Namespace) -> int:
    from .build import build, resolve

    problems = 0
    for f in args.files:
        try:
            s = resolve(f, overrides=args.overrides)
            build(s, label=f)  # everything a run does before its clock starts
        except ScenarioError as e:
            problems += len(e.problems)
            for problem in e.problems:
                error(problem)
            continue
        print(
            f"ok: {f} ({s.name}: {s.cluster.total_gpus} GPUs, "
            f"{len(s.workload.training)} synthetic workload streams"
            f"{f', a {s.workload.trace.format} trace' if s.workload.trace else ''}"
            f"{f', {len(s.workload.services)} inference services' if s.workload.services else ''})"
        )
    return 2 if problems else 0


def _schema(args: argparse.Namespace) -> int:
    schema = Scenario.model_json_schema()
    # Top-level keys may come from included components, so none is required in one file.
    schema.pop("required", None)
    schema["properties"]["include"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "scenario component file(s) merged under this one",
    }
    text = json.dumps(schema, indent=2) + "\n"
    if args.out:
        out = Path(args.out)
        if out.is_dir() or (out.exists() and not out.is_file()):
            raise ScenarioError([Problem(args.out, "--out", "is not a regular file")])
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(text)
            tmp.replace(out)  # atomic: the old schema stays whole until the new one is there
        finally:
            tmp.unlink(missing_ok=True)
    else:
        sys.stdout.write(text)
    return 0


class _ProgressBar:
    """A rich progress bar over simulated time, shown only if the run lasts a while."""

    def __init__(self, scenario: Scenario, enabled: bool):
        self.enabled = enabled
        self.horizon = scenario.horizon
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.task = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, now: float, finished: int) -> None:
        if not self.enabled or time.monotonic() - self.started < PROGRESS_AFTER_S:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("simulated {task.fields[sim]}"),
                BarColumn(),
                TextColumn("{task.fields[done]} jobs done"),
                TimeElapsedColumn(),
                console=_err,
                transient=True,
            )
            self.task = self.progress.add_task("run", total=self.horizon, sim="", done=0)
            self.progress.start()
        self.progress.update(
            self.task,
            completed=now if self.horizon else None,
            sim=format_duration(now),
            done=finished,
        )


def _print_summary(summary: dict, scenario: Scenario, out: Path) -> None:
    console = QuietConsole()
    blocks = {"": {k: v for k, v in summary.items() if not isinstance(v, dict)}}
    for name in ("cost", "energy", "failures"):
        block = summary.get(name)
        if block:  # values, and one level of named values (failures per class, per centre)
            blocks[name] = {}
            for key, value in block.items():
                inner = value.items() if isinstance(value, dict) else [(None, value)]
                for sub, v in inner:
                    if not isinstance(v, dict):
                        blocks[name][key if sub is None else f"{key}.{sub}"] = v
    blocks |= {f"service {name}": block for name, block in summary.get("services", {}).items()}
    for title, values in blocks.items():
        table = Table(title=f"clustersim: {scenario.name} {title}".rstrip(), show_header=True)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in values.items():
            if value is None:
                text = "-"
            elif key.endswith("_s") and key != "wall_s" and value >= 60:
                text = f"{value:,.1f}  ({format_duration(value)})"
            elif isinstance(value, float):
                text = f"{value:.4g}"
            else:
                text = f"{value:,}"
            table.add_row(key, text)
        console.print(table)
    console.print(f"results in {out}/")
