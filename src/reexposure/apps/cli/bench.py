"""``reexpose bench``: the inference benchmark of :mod:`reexposure.apps.bench` from the command line."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ...core.weights import ModelError
from ..bench import (
    DESCRIPTION,
    Case,
    format_table,
    format_targets,
    machine_info,
    run_cases,
    section_text,
    select_cases,
    update_markdown,
)
from .common import Formatter, UsageError, add_log_options, report

__all__ = ["register"]

log = logging.getLogger("reexposure")


def _parse_case(text: str) -> Case:
    try:
        mp, pct = text.split(":")
        case = Case(float(mp), float(pct) / 100.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad case {text!r}: expected MP:PERCENT, e.g. 12:5") from None
    if not (0 < case.mp <= 200 and 0 <= case.frac < 1):
        raise argparse.ArgumentTypeError(f"bad case {text!r}: 0 < MP <= 200, 0 <= PERCENT < 100")
    return case


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    cases = list(args.cases) if args.cases else select_cases([float(s) for s in args.sizes])
    if args.model is not None and not Path(args.model).is_file():
        raise ModelError(f"model file {args.model} not found")
    machine = machine_info()
    report(args, f"machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, "
                 f"load average {machine['load']}")
    shown: list[bool] = []

    def on_result(case: Case, r: dict) -> None:
        if not shown:
            m = r["model"]
            report(args, f"model: {m.get('path')} ({m.get('description', 'no description')}; "
                         f"trained_steps={m.get('trained_steps', '?')})")
            shown.append(True)
        report(args, f"{case.name}: latency {r['latency_s']:.2f} s (reconstruct {r['reconstruct_s']:.2f} + "
                     f"render {r['render_s']:.2f}), peak RSS {r['peak_rss_mb']:.0f} MB, "
                     f"{r['clipped_pct']:.1f}% clipped, {r['tiles_run']} tiles")

    machine, results, failed = run_cases(cases, model=args.model, threads=args.threads, timeout=args.timeout,
                                         json_path=args.json, on_result=on_result, machine=machine)
    print(format_table(results), end="")
    print(format_targets(results), end="")
    if args.output:
        argv = list(getattr(args, "argv", ["bench"]))[1:]
        command = "reexpose bench " + " ".join(argv)
        update_markdown(args.output, section_text(results, machine, command.strip(), failed))
        report(args, f"updated {args.output}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reexpose bench``."""
    p = subparsers.add_parser(
        "bench", help="latency and peak-memory benchmark on synthetic photos", formatter_class=Formatter,
        description=DESCRIPTION,
        epilog="""\
examples:
  reexpose bench                                   1, 12 and 48 MP (a few minutes)
  reexpose bench --sizes 1 12 --output docs/benchmarks.md
  reexpose bench --cases 12:5 12:0 --threads 2
""")
    p.add_argument("--model", metavar="PATH", default=None, help="weights file (default: the shipped model)")
    p.add_argument("--threads", metavar="N", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--sizes", nargs="+", metavar="MP", default=["1", "12", "48"],
                   help="megapixel sizes of the default cases to run (default 1 12 48)")
    p.add_argument("--cases", nargs="+", metavar="MP:PCT", type=_parse_case, default=None,
                   help="explicit cases instead, e.g. 12:5 12:0 (megapixels:clipped percent)")
    p.add_argument("--output", metavar="MD", default=None,
                   help="write/update the '## Inference' section of this markdown file (docs/benchmarks.md)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the raw results as JSON")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per case (default 3600)")
    add_log_options(p)
    p.set_defaults(func=_cmd_bench)


