"""``clustersim`` command line: thin sub-commands over the public API, no simulation logic.

Exit status: 0 success, 2 bad input or a refused output path (each problem on its own line,
no traceback), 3 an internal error (one line; ``CLUSTERSIM_TRACEBACK=1`` shows the traceback),
1 an operating-system failure (a full disk), 130 interrupted, 143 terminated. A closed stdout
(``| head``) ends a command quietly.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__, cli_trace
from .outdir import Terminated, check_out, safe_name
from .spec import Problem, Scenario, ScenarioError
from .spec.limits import regular_file
from .spec.load import load_value
from .spec.units import format_duration

PROGRESS_AFTER_S = 2.0

_err = Console(stderr=True, highlight=False)


def _error(message: object) -> None:
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

    perf = sub.add_parser("perf", help="query the throughput model (no scenario needed)")
    psub = perf.add_subparsers(dest="perf_command", required=True)
    for name, text in (
        ("allreduce", "time of one all-reduce"),
        ("step", "time of one training step"),
    ):
        q = psub.add_parser(name, help=text)
        q.add_argument("--node", default="dgx-h100", help="node template (default dgx-h100)")
        q.add_argument("--chip", help="inline nodes of this chip instead of a template")
        q.add_argument("--gpus", type=int, default=8, help="GPUs in total (default 8)")
        q.add_argument("--nodes", type=int, help="spread the GPUs evenly over this many nodes")
        q.add_argument("--algorithm", choices=["auto", "ring", "tree"], default="auto")
        q.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "allreduce":
            q.add_argument("--size", required=True, help="message size, e.g. 64MiB")
        else:
            q.add_argument("--model", required=True, help="zoo model, e.g. gpt-7b")
            q.add_argument("--batch", type=float, required=True, help="global batch (samples)")
            q.add_argument("--tp", type=int, default=1, help="tensor-parallel degree")
            q.add_argument("--pp", type=int, default=1, help="pipeline-parallel degree")
            q.add_argument("--precision", choices=["mixed", "fp32"], default="mixed")
            q.add_argument(
                "--overlap",
                type=float,
                default=0.0,
                help="fraction of the all-reduce hidden behind backward (0..1)",
            )
    inf = psub.add_parser("infer", help="LLM inference: prefill, per-token decode, end to end")
    inf.add_argument("--model", required=True, help="zoo language model, e.g. llama2-70b")
    inf.add_argument("--node", default="dgx-a100", help="node template (default dgx-a100)")
    inf.add_argument("--chip", help="an inline node of this chip instead of a template")
    for flag, default, text in (
        ("--tp", 8, "tensor-parallel GPUs in the node"),
        ("--prompt", 512, "prompt tokens per request"),
        ("--batch", 1, "requests in the batch"),
        ("--output", 128, "output tokens per request"),
    ):
        inf.add_argument(flag, type=int, default=default, help=f"{text} (default {default})")
    inf.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cal = psub.add_parser(
        "calibrate",
        help="fit link efficiencies, latencies and the achievable FLOP fraction to measurements",
    )
    cal.add_argument(
        "--data",
        default="../shared/data",
        help="folder with profiles/nccl/a100_dgx and profiles/llm_inference",
    )
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
        "perf": _perf,
        "trace": cli_trace.run,
    }
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return commands[args.command](args)
    except ScenarioError as e:
        for problem in e.problems:
            _error(problem)
        return 2
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Terminated:
        _err.print("terminated")
        return 143
    except KeyboardInterrupt:
        _err.print("interrupted")
        return 130
    except OSError as e:  # the machine, not the input: a full disk, a vanished directory
        _error(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
        return 1
    except Exception as e:  # an engine bug, not bad input: one line, its own exit status
        where = traceback.extract_tb(e.__traceback__)[-1]
        _error(
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
    from .runner import resolve

    scenario = resolve(args.scenario, overrides=args.overrides)
    problems, axes = [], {}
    names = {}
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
    Console().print(table)
    print(f"results in {out}/")
    return 0


def _mean_ci(row, metric: str) -> str:
    mean, ci = row[metric], row[f"{metric}_ci95"]
    if mean != mean:  # NaN: no run had a value (e.g. makespan when jobs are left)
        return "-"
    return f"{mean:.4g}" + ("" if ci != ci else f" ± {ci:.2g}")


def _validate(args: argparse.Namespace) -> int:
    from .runner import build, resolve

    problems = 0
    for f in args.files:
        try:
            s = resolve(f, overrides=args.overrides)
            build(s, label=f)  # everything a run does before its clock starts
        except ScenarioError as e:
            problems += len(e.problems)
            for problem in e.problems:
                _error(problem)
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
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _perf_problems(args: argparse.Namespace) -> list[Problem]:
    """Every bad ``clustersim perf`` argument, one problem each."""
    from .spec import catalog, zoo

    problems = []

    def bad(flag: str, value: object, message: str) -> None:
        problems.append(Problem(f"clustersim perf {args.perf_command}", flag, message))

    lookups = [("--model", zoo.model, getattr(args, "model", None))]
    lookups += [("--chip", catalog.chip, args.chip), ("--node", catalog.node_template, args.node)]
    for flag, lookup, value in lookups:
        if value is not None:
            try:
                lookup(value)
            except KeyError as e:
                bad(flag, value, e.args[0])
    least = {"gpus": 1, "nodes": 1, "tp": 1, "pp": 1, "prompt": 1, "output": 0}
    if args.perf_command == "infer":
        least["batch"] = 1
    for name, low in least.items():
        value = getattr(args, name, None)
        if value is not None and not low <= value <= 10**7:
            bad(f"--{name}", value, f"must be an integer in [{low}, 10^7], got {value}")
    if args.perf_command == "step":
        if not (math.isfinite(args.batch) and 0 < args.batch <= 1e9):
            bad("--batch", args.batch, f"must be a number in (0, 1e9], got {args.batch}")
        if not 0.0 <= args.overlap <= 1.0:
            bad("--overlap", args.overlap, f"must be in [0, 1], got {args.overlap}")
    return problems


def _perf(args: argparse.Namespace) -> int:
    from . import perf
    from .perf.inference import infer
    from .spec.units import UnitError, parse_quantity

    if args.perf_command == "calibrate":
        return _calibrate(Path(args.data))
    problems = _perf_problems(args)
    if problems:
        raise ScenarioError(problems)
    node = None if args.chip else args.node
    common = {"node": node, "chip": args.chip}
    if args.perf_command != "infer":
        common |= {"gpus": args.gpus, "nodes": args.nodes, "algorithm": args.algorithm}
    try:
        if args.perf_command == "infer":
            result = infer(
                args.model,
                tp=args.tp,
                prompt=args.prompt,
                batch=args.batch,
                output=args.output,
                **common,
            ).as_dict()
        elif args.perf_command == "allreduce":
            size = parse_quantity(args.size, "bytes")
            if not 0 < size <= 2**50:
                raise ValueError(f"--size must be in (0, 1PiB], got {args.size!r}")
            result = perf.allreduce(size, **common)
        else:
            result = perf.step(
                args.model,
                batch=args.batch,
                tp=args.tp,
                pp=args.pp,
                precision=args.precision,
                overlap=args.overlap,
                **common,
            ).as_dict()
    except (KeyError, ValueError, UnitError) as e:
        _error(f"clustersim perf {args.perf_command}: {e.args[0]}")
        return 2
    odd = [k for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)]
    if odd:
        _error(f"clustersim perf {args.perf_command}: no finite {', '.join(odd)} for these inputs")
        return 2
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
        return 0
    table = Table(title=f"clustersim perf {args.perf_command}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    Console().print(table)
    return 0


def _calibrate(data: Path) -> int:
    from .perf import calibrate

    nccl = data / "profiles/nccl/a100_dgx/all_reduce.csv"
    prefill = data / "profiles/llm_inference/perf_model_a100.csv"
    for p in (nccl, prefill):
        regular_file(p, str(p), limit=256 * 2**20)
    try:
        fit = calibrate.fit_collectives(nccl)
        flop_fraction = calibrate.fit_compute_fraction(prefill)
    except (KeyError, ValueError, TypeError, IndexError, pd_errors()) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        _error(f"clustersim perf calibrate: cannot fit to {data}: {type(e).__name__}: {reason}")
        return 2
    table = Table(title="calibration")
    table.add_column("constant")
    table.add_column("value", justify="right")
    for key in ("intra_efficiency", "intra_latency_s", "inter_efficiency", "inter_latency_s"):
        table.add_row(key, f"{getattr(fit, key):.6g}")
    table.add_row("achievable_flop_fraction", f"{flop_fraction:.6g}")
    Console().print(table)
    return 0


def pd_errors() -> type[Exception]:
    """pandas' parser error (imported only when a command reads tables)."""
    import pandas as pd

    return pd.errors.ParserError


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
    console = Console()
    blocks = {"": {k: v for k, v in summary.items() if not isinstance(v, dict)}}
    for name in ("cost", "energy"):
        block = summary.get(name)
        if block:
            blocks[name] = {k: v for k, v in block.items() if not isinstance(v, dict)}
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
