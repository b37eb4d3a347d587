"""``clustersim perf``: query the throughput and inference models (no scenario needed).

Must not import: simpy, numba.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from rich.table import Table

from .scenario import Problem, ScenarioError
from .scenario.limits import regular_file


def add_parser(sub) -> None:
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


def _perf_problems(args: argparse.Namespace) -> list[Problem]:
    """Every bad ``clustersim perf`` argument, one problem each."""
    from .scenario import catalog, zoo

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


def run(args: argparse.Namespace) -> int:
    from . import perf
    from .cli import QuietConsole, error
    from .perf.inference import infer
    from .scenario.units import UnitError, parse_quantity

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
        error(f"clustersim perf {args.perf_command}: {e.args[0]}")
        return 2
    odd = [k for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)]
    if odd:
        error(f"clustersim perf {args.perf_command}: no finite {', '.join(odd)} for these inputs")
        return 2
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
        return 0
    table = Table(title=f"clustersim perf {args.perf_command}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    QuietConsole().print(table)
    return 0


def _calibrate(data: Path) -> int:
    import pandas as pd

    from .cli import QuietConsole, error
    from .perf import calibrate

    nccl = data / "profiles/nccl/a100_dgx/all_reduce.csv"
    prefill = data / "profiles/llm_inference/perf_model_a100.csv"
    problems = []
    for p in (nccl, prefill):
        try:
            regular_file(p, str(p), limit=256 * 2**20)
        except ScenarioError as e:
            problems += e.problems
    if problems:
        raise ScenarioError(problems)
    try:
        fit = calibrate.fit_collectives(nccl)
        flop_fraction = calibrate.fit_compute_fraction(prefill)
    except (KeyError, ValueError, TypeError, IndexError, pd.errors.ParserError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        error(f"clustersim perf calibrate: cannot fit to {data}: {type(e).__name__}: {reason}")
        return 2
    table = Table(title="calibration")
    table.add_column("constant")
    table.add_column("value", justify="right")
    for key in ("intra_efficiency", "intra_latency_s", "inter_efficiency", "inter_latency_s"):
        table.add_row(key, f"{getattr(fit, key):.6g}")
    table.add_row("achievable_flop_fraction", f"{flop_fraction:.6g}")
    QuietConsole().print(table)
    return 0
