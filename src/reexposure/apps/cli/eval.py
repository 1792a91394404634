"""``reexpose eval``: the evaluation harness (:func:`reexposure.eval.run.run_eval`) from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...eval.baselines import parse_methods
from ...eval.run import SHEET_EV, EvalError, EvalOptions, run_eval

__all__ = ["register", "options_from_args"]


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"{what}: empty list")
    return vals


EPILOG = """examples:
  reexpose eval --data ../shared/data/hdr --scenes holdout --method naive,brightness,kovaleski,ours \\
      --max-side 512 --threads 1 --out eval/holdout
  reexpose eval --data ../shared/data/hdr --scenes holdout --method naive,ours --format jpeg --out eval/jpeg
  reexpose eval --data tests/eval/data --method naive,brightness --out /tmp/eval
  reexpose eval --data ../shared/data/demo --method ours --max-side 800 --out eval/demo   # photos: sheets only

methods: naive, brightness, kovaleski (classical iTMO, Kovaleski & Oliveira 2014), ours (shipped
model, or --model PATH / ours=PATH), expandnet (needs --model PATH or expandnet=PATH).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reexpose eval``."""
    p = subparsers.add_parser(
        "eval", help="score reconstruction methods on HDR images (or compare them on photos)",
        description="Render 8-bit photos from HDR images at several clipped shares, reconstruct them with "
                    "each method, and report HDR metrics (log-PSNR, PU21-PSNR), re-exposure PSNR/SSIM and "
                    "texture in the clipped region, with per-image JSON, a Markdown summary and contact sheets. "
                    "On a folder of ordinary photos it writes comparison sheets only.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="folder of HDR images (.exr/.hdr/.pfm, searched "
                   "recursively) or of photos (JPEG/PNG/...)")
    p.add_argument("--method", required=True, help="comma-separated methods, NAME or NAME=WEIGHTS "
                   "(naive, brightness, kovaleski, ours, expandnet)")
    p.add_argument("--model", default=None, help="weights file for ours/expandnet without their own =PATH")
    p.add_argument("--out", type=Path, default=Path("eval-out"), help="output folder (default: eval-out)")
    p.add_argument("--clip", default="0.02,0.08,0.20", help="target shares of clipped pixels (default 0.02,0.08,0.20)")
    p.add_argument("--ev", default="-1,-2,-3,1",
                   help="re-exposure EVs to score, written --ev=-1,-2 (default -1,-2,-3,1)")
    p.add_argument("--crf", default="sqrt", help="camera response: sqrt (default), srgb, gammaG, emor:PATH")
    p.add_argument("--format", choices=("png", "jpeg"), default="png", help="input photo format (default png)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality for --format jpeg (default 90)")
    p.add_argument("--max-side", type=int, default=None, help="downscale images to this long side first")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--scenes", default=None, help="comma-separated scene names (file stems); 'holdout' = "
                   "the training hold-out list")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--cvvdp", action="store_true", help="also compute ColorVideoVDP JOD (needs the cvvdp package)")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    """Validate parsed arguments into :class:`EvalOptions` (raises ``EvalError``)."""
    try:
        clips = _floats(args.clip, "--clip")
        evs = _floats(args.ev, "--ev")
    except argparse.ArgumentTypeError as exc:
        raise EvalError(str(exc)) from None
    if not 1 <= args.quality <= 100:
        raise EvalError(f"--quality must be in 1..100, got {args.quality}")
    if args.max_side is not None and args.max_side < 16:
        raise EvalError(f"--max-side must be at least 16, got {args.max_side}")
    if args.limit is not None and args.limit < 1:
        raise EvalError(f"--limit must be at least 1, got {args.limit}")
    if args.threads is not None and args.threads < 1:
        raise EvalError(f"--threads must be at least 1, got {args.threads}")
    if any(not -10 <= e <= 10 for e in evs):
        raise EvalError("--ev values must be in [-10, 10]")
    if SHEET_EV not in evs:
        evs = evs + (SHEET_EV,)
    scenes = tuple(s.strip() for s in (args.scenes or "").split(",") if s.strip())
    return EvalOptions(data=args.data, methods=parse_methods(args.method), model=args.model, out=args.out,
                       clips=clips, evs=evs, crf=args.crf, format=args.format, quality=args.quality,
                       max_side=args.max_side, limit=args.limit, scenes=scenes, threads=args.threads,
                       force=args.force, cvvdp=args.cvvdp, progress=not args.no_progress)


def _cmd_eval(args: argparse.Namespace) -> int:
    """Run ``reexpose eval`` (errors propagate to :func:`reexposure.apps.cli.main.main`)."""
    opts = options_from_args(args)
    doc = run_eval(opts)
    out = Path(opts.out)
    print(f"wrote {out / 'summary.md'}" + (f" and {len(doc.get('sheets', []))} sheet(s)" if doc.get("sheets") else ""))
    if "sanity_check" in doc:
        s = doc["sanity_check"]
        print(f"sanity check (naive beats brightness, clipped region, EV -2): "
              f"{'holds' if s['naive_beats_brightness_clipped_ev-2'] else 'FAILS'} "
              f"({s['naive_db']:.2f} vs {s['brightness_db']:.2f} dB)")
    return 0
