"""``reexpose ultrahdr``: write gain-map JPEGs (Ultra HDR) with :func:`reexposure.formats.ultrahdr.ultrahdr_bytes`."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ...formats.io import atomic_output
from ...formats.ultrahdr import DEFAULT_HEADROOM, MAX_HEADROOM, metadata_of, ultrahdr_bytes
from .common import (
    UsageError,
    add_log_options,
    add_model_options,
    add_output_options,
    check_common,
    load_reconstructor,
    plan_inputs,
    read_input,
    reconstruct,
    report,
    run_batch,
)

__all__ = ["register"]

_EPILOG = """\
examples:
  reexpose ultrahdr photo.jpg -o photo_hdr.jpg
  reexpose ultrahdr photo.jpg -o photo_hdr.jpg --headroom 2       # at most 4x SDR white
  reexpose ultrahdr photos/ -o hdr/ --gain-map-scale 2             # one file per photo
  reexpose hdr photo_hdr.jpg -o photo.exr                          # radiance back from the file

The output is an ordinary JPEG (the input's own bytes when it is a JPEG) plus a gain map in the
Ultra HDR / Adobe gain map format: on an HDR screen, viewers that read it (Chrome, Android) show
the reconstructed highlights; every other viewer shows the photo unchanged. --headroom caps how many
stops above SDR white the highlights may go; the file records the smaller of that and what the
reconstruction needs.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reexpose ultrahdr``."""
    p = subparsers.add_parser(
        "ultrahdr", help="write an HDR gain-map JPEG (Ultra HDR) that glows on HDR screens",
        description="Reconstruct the clipped highlights of photos and write each as a gain-map JPEG "
                    "(Ultra HDR / Adobe gain map): the photo untouched plus a gain map that HDR "
                    "displays use to show the highlights brighter.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files or folders")
    p.add_argument("--headroom", metavar="STOPS", type=float, default=DEFAULT_HEADROOM,
                   help=f"most stops above SDR white the HDR rendition may reach (default "
                        f"{DEFAULT_HEADROOM:g}, i.e. {2 ** DEFAULT_HEADROOM:g}x)")
    p.add_argument("--gain-map-scale", metavar="N", type=int, default=1, choices=(1, 2, 4, 8),
                   help="store the gain map at 1/N resolution (1, 2, 4, 8; default 1: sharp edges)")
    p.add_argument("--gain-map-channels", metavar="C", type=int, default=3, choices=(1, 3),
                   help="3: a colour gain map (default), 1: luminance only (smaller)")
    p.add_argument("--gain-map-quality", metavar="Q", type=int, default=95,
                   help="JPEG quality of the gain map, 1-100 (default 95)")
    add_model_options(p)
    add_output_options(p, quality=True)
    for action in p._actions:
        if action.dest == "quality":
            action.help = ("JPEG quality of the base image when the input is not a JPEG, 1-100 "
                           "(default 95; a JPEG input is kept as it is)")
    add_log_options(p)
    p.set_defaults(func=_cmd_ultrahdr)


def _cmd_ultrahdr(args: argparse.Namespace) -> int:
    check_common(args)
    if not (math.isfinite(args.headroom) and 0 < args.headroom <= MAX_HEADROOM):
        raise UsageError(f"--headroom must be within (0, {MAX_HEADROOM:g}] stops, got {args.headroom:g}")
    if not 1 <= args.gain_map_quality <= 100:
        raise UsageError(f"--gain-map-quality must be within 1-100, got {args.gain_map_quality}")
    inputs, plan = plan_inputs(args, lambda p: [f"{p.stem}_ultrahdr.jpg"], (".jpg", ".jpeg"))
    if not plan:
        return 0
    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        photo = read_input(args, src)
        rmap = reconstruct(args, rec, photo.rgb, tiles)
        data = ultrahdr_bytes(photo, rmap, args.headroom, scale=args.gain_map_scale,
                              channels=args.gain_map_channels, quality=args.gain_map_quality,
                              base_quality=args.quality)
        with atomic_output(outs[0], force=args.force, inputs=[src]) as tmp:
            Path(tmp).write_bytes(data)
        meta = metadata_of(data)
        report(args, f"wrote {outs[0]} (gain map up to {2 ** meta.gain_map_max[0]:.3g}x SDR white, "
                     f"headroom {meta.hdr_capacity_max:.3g} stops)")

    return run_batch(args, plan, work)


