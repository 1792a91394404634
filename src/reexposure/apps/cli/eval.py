"""``reexpose eval``: the evaluation harness (:func:`reexposure.eval.run.run_eval`) from the command line."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from ...eval.baselines import parse_methods
from ...eval.brackets import BracketEvalOptions, run_brackets
from ...eval.photos import PhotoEvalOptions, run_photos
from ...eval.run import SHEET_EV, EvalError, EvalOptions, run_eval

__all__ = ["register", "options_from_args", "real_options_from_args"]


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
  reexpose eval --photos ../shared/data/demo --out eval/photos-demo       # colour fidelity, no ground truth
  reexpose eval --brackets ../shared/data/brackets --out eval/brackets   # real brackets as reference

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
    p.add_argument("--data", type=Path, default=None, help="folder of HDR images (.exr/.hdr/.pfm, searched "
                   "recursively) or of photos (JPEG/PNG/...)")
    p.add_argument("--photos", type=Path, default=None, help="instead of --data: folder of ordinary photos; "
                   "scores ours against naive without ground truth (colour against the ring around each clipped "
                   "region, banding, blotches) and writes per-photo contact sheets")
    p.add_argument("--brackets", type=Path, default=None, help="instead of --data: folder of exposure bracket "
                   "sets (each with info.json); scores ours against naive on the bright frames' clipped pixels "
                   "with the darker frame as reference")
    p.add_argument("--method", default=None, help="comma-separated methods, NAME or NAME=WEIGHTS "
                   "(naive, brightness, kovaleski, ours, expandnet); required with --data; with --photos/--brackets "
                   "only ours or ours=WEIGHTS (ours is always compared with naive)")
    p.add_argument("--model", default=None, help="weights file for ours/expandnet without their own =PATH")
    p.add_argument("--out", type=Path, default=Path("eval-out"), help="output folder (default: eval-out)")
    p.add_argument("--clip", default="0.02,0.08,0.20", help="target shares of clipped pixels (default 0.02,0.08,0.20)")
    p.add_argument("--ev", default="-1,-2,-3,-4,1",
                   help="re-exposure EVs to score, written --ev=-1,-2 (default -1,-2,-3,-4,1)")
    p.add_argument("--crf", default="sqrt", help="camera response: sqrt (default), srgb, gammaG, emor:PATH")
    p.add_argument("--format", choices=("png", "jpeg"), default="png", help="input photo format (default png)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality for --format jpeg (default 90)")
    p.add_argument("--max-side", type=int, default=None, help="downscale images to this long side first "
                   "(default: none with --data, 1600 with --photos/--brackets)")
    p.add_argument("--min-px", type=int, default=400, help="--photos: smallest clipped region scored, in pixels "
                   "(default 400)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images (bracket sets)")
    p.add_argument("--scenes", default=None, help="comma-separated scene names (file stems); 'holdout' = "
                   "the training hold-out list")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--cvvdp", action="store_true", help="also compute ColorVideoVDP JOD (needs the cvvdp package)")
    p.add_argument("--camera", type=int, default=None, metavar="SEED",
                   help="render each case as a camera's JPEG engine would (white balance, highlight shoulder, a "
                        "random curve, sharpening, 4:2:0 JPEG; seeded), while the methods still linearise with "
                        "--crf: photos like real ones, with ground truth (--format is then ignored)")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval, mode_defaults={dest: p.get_default(dest) for flags in _MODE_FLAGS.values()
                                                   for _, dest in flags})


#: Flags of one mode only (flag, argparse dest): given in another mode they would be ignored, so
#: that is an error instead (a flag the run silently drops misleads whoever reads the results).
_MODE_FLAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "--data": (("--clip", "clip"), ("--ev", "ev"), ("--format", "format"), ("--quality", "quality"),
               ("--scenes", "scenes"), ("--cvvdp", "cvvdp"), ("--camera", "camera")),
    "--photos": (("--min-px", "min_px"),),
}


def _check_mode_flags(args: argparse.Namespace, mode: str) -> None:
    """Refuse (``EvalError``) a flag that belongs to another mode than ``mode`` (``--data``,
    ``--photos`` or ``--brackets``) and was given a value other than its parser default
    (``args.mode_defaults``, set by :func:`register`)."""
    for owner, flags in _MODE_FLAGS.items():
        if owner == mode:
            continue
        for flag, dest in flags:
            if getattr(args, dest) != args.mode_defaults[dest]:
                raise EvalError(f"{flag} applies to {owner} only, not to {mode}")


def _check_sizes(args: argparse.Namespace) -> None:
    """--max-side, --limit and --threads, shared by every mode (raises ``EvalError``)."""
    if args.max_side is not None and args.max_side < 16:
        raise EvalError(f"--max-side must be at least 16, got {args.max_side}")
    if args.limit is not None and args.limit < 1:
        raise EvalError(f"--limit must be at least 1, got {args.limit}")
    if args.threads is not None and args.threads < 1:
        raise EvalError(f"--threads must be at least 1, got {args.threads}")


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    """Validate parsed arguments into :class:`EvalOptions` (raises ``EvalError``)."""
    try:
        clips = _floats(args.clip, "--clip")
        evs = _floats(args.ev, "--ev")
    except argparse.ArgumentTypeError as exc:
        raise EvalError(str(exc)) from None
    if not 1 <= args.quality <= 100:
        raise EvalError(f"--quality must be in 1..100, got {args.quality}")
    _check_sizes(args)
    _check_mode_flags(args, "--data")
    if any(not -10 <= e <= 10 for e in evs):
        raise EvalError("--ev values must be in [-10, 10]")
    if SHEET_EV not in evs:
        evs = evs + (SHEET_EV,)
    scenes = tuple(s.strip() for s in (args.scenes or "").split(",") if s.strip())
    photo_maker = None
    if args.camera is not None:
        from ...training.data import camera_case_photo

        photo_maker = functools.partial(camera_case_photo, seed=args.camera)
    return EvalOptions(data=args.data, methods=parse_methods(args.method), model=args.model, out=args.out,
                       clips=clips, evs=evs, crf=args.crf, format=args.format, quality=args.quality,
                       max_side=args.max_side, limit=args.limit, scenes=scenes, threads=args.threads,
                       force=args.force, cvvdp=args.cvvdp, camera=args.camera, photo_maker=photo_maker,
                       progress=not args.no_progress)


def _real_model(args: argparse.Namespace, flag: str) -> str | None:
    """The weights for ``ours`` in the --photos/--brackets modes: ``--method ours=PATH`` or ``--model``."""
    if not args.method:
        return args.model
    specs = parse_methods(args.method)
    if len(specs) != 1 or specs[0].partition("=")[0] != "ours":
        raise EvalError(f"{flag} compares ours with naive: --method takes only ours or ours=WEIGHTS")
    return specs[0].partition("=")[2] or args.model


def real_options_from_args(args: argparse.Namespace) -> PhotoEvalOptions | BracketEvalOptions:
    """``--photos``/``--brackets`` arguments -> :class:`~reexposure.eval.photos.PhotoEvalOptions` or
    :class:`~reexposure.eval.brackets.BracketEvalOptions` (raises ``EvalError``)."""
    modes = [f for f, v in (("--data", args.data), ("--photos", args.photos), ("--brackets", args.brackets))
             if v is not None]
    if len(modes) != 1:
        raise EvalError("give exactly one of --data, --photos and --brackets" + (f" (got {', '.join(modes)})"
                                                                                if modes else ""))
    flag = modes[0]
    _check_sizes(args)
    _check_mode_flags(args, flag)
    model = _real_model(args, flag)
    max_side = args.max_side if args.max_side is not None else 1600
    if flag == "--photos":
        if args.min_px < 1:
            raise EvalError(f"--min-px must be at least 1, got {args.min_px}")
        return PhotoEvalOptions(photos=args.photos, out=args.out, model=model, max_side=max_side, min_px=args.min_px,
                                crf=args.crf, threads=args.threads, limit=args.limit, force=args.force,
                                progress=not args.no_progress)
    return BracketEvalOptions(brackets=args.brackets, out=args.out, model=model, max_side=max_side,
                              crf=args.crf, threads=args.threads, limit=args.limit, force=args.force,
                              progress=not args.no_progress)


def _cmd_real(args: argparse.Namespace) -> int:
    """``reexpose eval --photos`` / ``--brackets``: one summary line per photo or set on stdout."""
    from tqdm import tqdm

    def echo(line: str) -> None:
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()

    opts = real_options_from_args(args)
    if isinstance(opts, PhotoEvalOptions):
        run_photos(opts, echo)
    else:
        run_brackets(opts, echo)
    print(f"wrote {Path(opts.out) / 'summary.md'} and summary.json")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    """Run ``reexpose eval`` (errors propagate to :func:`reexposure.apps.cli.main.main`)."""
    if args.data is None or args.photos is not None or args.brackets is not None:
        return _cmd_real(args)
    if not args.method:
        raise EvalError("--method is required with --data (e.g. --method naive,ours)")
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
