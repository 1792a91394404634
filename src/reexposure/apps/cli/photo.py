"""``reexpose expose`` (the default), ``hdr``, ``sweep`` and ``compare``: parsers and handlers.

Each handler validates its arguments, plans every output path first (:func:`.common.plan_outputs`)
and then calls library functions per photo: :func:`reexposure.formats.io.read_photo`, the
:class:`reexposure.core.infer.Reconstructor`, and a writer (``write_photo``, ``write_hdr``,
:func:`reexposure.formats.video.write_sweep`, :func:`reexposure.apps.compare.compare_image`).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ...formats import ultrahdr, video
from ...formats.extensions import HDR_EXTENSIONS, VIDEO_EXTENSIONS
from ...formats.io import write_hdr, write_photo
from .. import compare
from .common import (
    PHOTO_EXTS,
    PROG,
    WRITE_EXTS,
    Formatter,
    UsageError,
    add_log_options,
    add_model_options,
    add_output_options,
    check_common,
    check_ev,
    check_pixels,
    ev_tag,
    load_reconstructor,
    plan_inputs,
    read_input,
    reconstruct,
    report,
    run_batch,
)

if TYPE_CHECKING:
    from ...core.infer import Reconstructor

__all__ = ["register"]

log = logging.getLogger("reexposure")
HDR_EXTS = HDR_EXTENSIONS
VIDEO_EXTS = VIDEO_EXTENSIONS

def _cmd_expose(args: argparse.Namespace) -> int:
    check_common(args)
    evs = [check_ev(ev) for ev in args.ev]
    if len(set(evs)) != len(evs):
        raise UsageError("the same --ev is given twice")
    if args.format and f".{args.format}" not in WRITE_EXTS:
        raise UsageError(f"--format {args.format}: use one of {', '.join(e[1:] for e in WRITE_EXTS)}")

    def suffix(p: Path) -> str:
        if args.format:
            return f".{args.format}"
        return p.suffix.lower() if p.suffix.lower() in WRITE_EXTS else ".jpg"

    inputs, plan = plan_inputs(args, lambda p: [f"{p.stem}_ev{ev_tag(ev)}{suffix(p)}" for ev in evs],
                               WRITE_EXTS)
    if not plan:
        return 0

    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        photo = read_input(args, src)
        rmap = reconstruct(args, rec, photo.rgb, tiles)
        for ev, out in zip(evs, outs):
            if args.skip_existing and out.exists():
                continue  # --skip-existing resuming a photo interrupted between its EVs
            write_photo(out, rmap.reexpose(ev), like=photo, quality=args.quality, force=args.force,
                        inputs=inputs)
            report(args, f"wrote {out}")

    return run_batch(args, plan, work)


def _cmd_hdr(args: argparse.Namespace) -> int:
    check_common(args)
    inputs, plan = plan_inputs(args, lambda p: [f"{p.stem}.{args.format}"], HDR_EXTS)
    if not plan:
        return 0
    loaded: list[Reconstructor] = []

    def reconstructor() -> Reconstructor:
        if not loaded:
            loaded.append(load_reconstructor(args))
        return loaded[0]

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        # gain-map JPEGs (Ultra HDR) already hold the radiance: read it instead of reconstructing
        if src.suffix.lower() in (".jpg", ".jpeg") and ultrahdr.is_ultrahdr(src):
            check_pixels(args, src)
            rad, what = ultrahdr.hdr_from_ultrahdr(src)
            report(args, f"{src}: gain-map JPEG, no reconstruction: {what}")
            if args.area or args.strength != 1.0:
                log.warning("%s: --strength and --area do not apply to a gain-map JPEG's radiance", src)
        else:
            rad = reconstruct(args, reconstructor(), read_input(args, src).rgb, tiles).to_array()
        peak = float(rad.max()) if rad.size else 0.0
        if not args.float and peak > 65504.0 and outs[0].suffix.lower() == ".exr":
            log.warning("radiance peaks at %.4g, above the half-float range; use --float", peak)
        write_hdr(outs[0], rad, half=not args.float, force=args.force, inputs=inputs)
        report(args, f"wrote {outs[0]} (relative radiance, 1.0 = clip level of the input; peak {peak:.3g})")

    return run_batch(args, plan, work)


def _cmd_sweep(args: argparse.Namespace) -> int:
    check_common(args)
    ev_from = check_ev(args.ev_from, "--from")
    ev_to = check_ev(args.ev_to, "--to")
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= 600):
        raise UsageError(f"--seconds must be within (0, 600], got {args.seconds:g}")
    if args.fps is not None and not (math.isfinite(args.fps) and 1 <= args.fps <= 120):
        raise UsageError(f"--fps must be within 1-120, got {args.fps:g}")
    if args.size < 0 or 0 < args.size < 16:
        raise UsageError(f"--size must be 0 (full resolution) or at least 16, got {args.size}")
    inputs, plan = plan_inputs(args, lambda p: [f"{p.stem}_sweep.{args.format}"], VIDEO_EXTS)
    if not plan:
        return 0
    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        rmap = reconstruct(args, rec, read_input(args, src).rgb, tiles)
        fps = args.fps or video.default_fps(outs[0])
        n = video.write_sweep(outs[0], rmap, ev_from, ev_to, seconds=args.seconds, fps=fps,
                              max_size=args.size, force=args.force)
        report(args, f"wrote {outs[0]} ({n} frames, EV {ev_from:+g} to {ev_to:+g}, {fps:g} fps)")

    return run_batch(args, plan, work)


def _cmd_compare(args: argparse.Namespace) -> int:
    check_common(args)
    ev = check_ev(args.ev)
    if not 64 <= args.width <= 4096:
        raise UsageError(f"--width must be within 64-4096, got {args.width}")
    inputs, plan = plan_inputs(args, lambda p: [f"{p.stem}_compare.jpg"], WRITE_EXTS)
    if not plan:
        return 0

    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        rmap = reconstruct(args, rec, read_input(args, src).rgb, tiles)
        sheet = compare.compare_image(rmap, ev, panel_width=args.width, title=src.name)
        write_photo(outs[0], sheet, quality=args.quality, force=args.force, inputs=inputs)
        report(args, f"wrote {outs[0]}")

    return run_batch(args, plan, work)


def _add_expose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "expose", help="re-expose photos (the default command)", formatter_class=Formatter,
        description="Re-expose photos by EV stops, reconstructing clipped highlights first. "
                    "Writes <stem>_ev<EV>.<ext> per photo and EV (same format as the input, JPEG "
                    "for formats that are read but not written, e.g. HEIC); JPEG output keeps the "
                    "input's EXIF and ICC profile. 16-bit inputs are processed and written as 8-bit.",
        epilog=f"""\
examples:
  {PROG} photo.jpg --ev -2                   -> ./photo_ev-2.jpg
  {PROG} expose photo.jpg --ev -2            the same, with the explicit command name
  {PROG} photo.jpg --ev -1 --ev -2 -o out/   -> out/photo_ev-1.jpg, out/photo_ev-2.jpg
  {PROG} photo.jpg --ev -2 -o dark.png       one output: -o may name the file
  {PROG} a.jpg b.heic shots/ --ev -1 -o out/ --skip-existing --threads 2
  {PROG} photo.jpg --ev -2 --area 812,430=0.3   calm the blown area at pixel 812,430 (a bright
                                               wall taken for a lamp); the other areas keep theirs

When a folder is given, its photos are processed ({', '.join(PHOTO_EXTS)}), except hidden files
and files named like this tool's outputs (*_ev-2.jpg, *_sweep.mp4, *_compare.jpg).
""")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files or folders")
    p.add_argument("--ev", type=float, action="append", required=True, metavar="EV",
                   help="exposure change in stops, -10..10 (repeat for several outputs)")
    p.add_argument("--format", choices=[e[1:] for e in WRITE_EXTS], default=None,
                   help="output format (default: like the input)")
    add_output_options(p)
    add_model_options(p)
    add_log_options(p)
    p.set_defaults(func=_cmd_expose)


def _add_hdr(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hdr", help="write the reconstructed radiance map (.exr/.hdr/.pfm)", formatter_class=Formatter,
        description="Write the reconstructed linear relative radiance (1.0 = the input's clip level) "
                    "as OpenEXR (half float by default), Radiance .hdr or PFM. A gain-map JPEG "
                    "(Ultra HDR, e.g. from 'reexpose ultrahdr') is not reconstructed: the radiance "
                    "it holds is written.",
        epilog=f"""\
examples:
  {PROG} hdr photo.jpg -o photo.exr
  {PROG} hdr photo.jpg -o photo.hdr
  {PROG} hdr photos/ -o radiance/ --format pfm
""")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files or folders")
    p.add_argument("--format", choices=[e[1:] for e in HDR_EXTS], default="exr",
                   help="output format when -o is a folder (default exr)")
    p.add_argument("--float", action="store_true", help="32-bit float EXR instead of half")
    add_output_options(p, quality=False)
    add_model_options(p)
    add_log_options(p)
    p.set_defaults(func=_cmd_hdr)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="exposure-sweep video (.mp4 H.264 or .gif)", formatter_class=Formatter,
        description="Render the photo at exposures going linearly from --from to --to EV and "
                    "encode them as an H.264 MP4 (yuv420p, plays everywhere) or an animated GIF. "
                    "Frames are rendered one at a time from the radiance map.",
        epilog=f"""\
examples:
  {PROG} sweep photo.jpg -o sweep.mp4 --from -3 --to 3 --seconds 4
  {PROG} sweep photo.jpg -o sweep.gif --size 480 --fps 12
  {PROG} sweep photos/ -o videos/ --format gif
""")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files or folders")
    p.add_argument("--from", dest="ev_from", type=float, default=-3.0, metavar="EV",
                   help="first frame's EV (default -3)")
    p.add_argument("--to", dest="ev_to", type=float, default=3.0, metavar="EV",
                   help="last frame's EV (default 3)")
    p.add_argument("--seconds", type=float, default=4.0, help="duration (default 4)")
    p.add_argument("--fps", type=float, default=None,
                   help="frames per second (default 30 for MP4, 15 for GIF)")
    p.add_argument("--size", type=int, default=1280, metavar="PX",
                   help="longest side of the video in pixels, downscaled by an integer factor "
                        "(default 1280; 0 = full resolution)")
    p.add_argument("--format", choices=[e[1:] for e in VIDEO_EXTS], default="mp4",
                   help="output format when -o is a folder (default mp4)")
    add_output_options(p, quality=False)
    add_model_options(p)
    add_log_options(p)
    p.set_defaults(func=_cmd_sweep)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="labelled side by side: input | naive brightness | reconstructed",
        formatter_class=Formatter,
        description="One image with three labelled panels: the input, the naive brightness change "
                    "(the linearised photo scaled by 2^EV without reconstruction, what a brightness "
                    "slider does) and the reconstruction re-exposed by EV; below them, the same three "
                    "zoomed into the largest clipped region.",
        epilog=f"""\
examples:
  {PROG} compare photo.jpg --ev -2 -o cmp.jpg
  {PROG} compare photos/ --ev -3 -o comparisons/ --width 480
""")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files or folders")
    p.add_argument("--ev", type=float, default=-2.0, metavar="EV", help="exposure change (default -2)")
    p.add_argument("--width", type=int, default=600, metavar="PX", help="width of each panel (default 600)")
    add_output_options(p)
    add_model_options(p)
    add_log_options(p)
    p.set_defaults(func=_cmd_compare)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``expose``, ``hdr``, ``sweep`` and ``compare`` to the subcommands."""
    _add_expose(sub)
    _add_hdr(sub)
    _add_sweep(sub)
    _add_compare(sub)
