"""The ``reexpose`` command line (also ``python -m reexposure``).

Subcommands: ``expose`` (the default: ``reexpose PHOTO --ev -2``), ``hdr``, ``sweep``,
``compare`` and ``bench``; ``train``, ``eval``, ``serve`` and ``ultrahdr`` are registered lazily from
their modules (``add_cli(subparsers)``) and are skipped when those modules are not installed.

Conventions: the report (which model was used, which files were written) goes to stdout; warnings,
errors and progress bars go to stderr. Any failure prints one line ``reexpose: error: <message>``
to stderr and exits with 2 (bad usage or input), 1 (other failures) or 130 (Ctrl-C); ``-v`` adds
the traceback. Outputs are written atomically, inputs are never overwritten, and an existing output
is kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import re
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

if TYPE_CHECKING:  # heavy imports (torch) stay out of `reexpose --help`
    import numpy as np

    from ..core.infer import RadianceMap, Reconstructor

__all__ = ["main", "build_parser", "UsageError", "add_model_options", "add_output_options",
           "add_log_options", "collect_inputs", "plan_outputs", "load_reconstructor", "report",
           "ev_tag", "PHOTO_EXTS", "EV_LIMIT"]

PROG = "reexpose"
log = logging.getLogger("reexposure")

#: photo formats read from folders (files named explicitly may be anything read_photo accepts)
PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif")
#: photo formats written by ``expose`` and ``compare``
WRITE_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
HDR_EXTS = (".exr", ".hdr", ".pfm")
VIDEO_EXTS = (".mp4", ".gif")
EV_LIMIT = 10.0
#: subcommands owned by other modules, imported only when needed
LAZY_COMMANDS = (("train", "reexposure.training.trainer"), ("eval", "reexposure.eval.run"),
                 ("serve", "reexposure.apps.web.app"), ("ultrahdr", "reexposure.formats.ultrahdr"))
BUILTIN_COMMANDS = ("expose", "hdr", "sweep", "compare", "bench")
# stems of files this tool writes; skipped when a folder is given as input
_OUTPUT_STEM = re.compile(r"_(ev(0|[+-]\d+(\.\d+)?)|sweep|compare)$")


class UsageError(ValueError):
    """Bad command-line usage (one-line message); exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting, so that
    every error is one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


# --------------------------------------------------------------------------- shared options


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--crf``, ``--threads`` (for commands that run the generator)."""
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="PATH", default=None,
                   help="generator weights (.safetensors); default: the model shipped with the package")
    g.add_argument("--crf", metavar="SPEC", default="sqrt",
                   help="camera response used to linearise the photo: sqrt (default), srgb, gammaG "
                        "(e.g. gamma2.2), linear, or emor:PATH (mean curve of an EMoR file)")
    g.add_argument("--threads", metavar="N", type=int, default=None,
                   help="CPU threads for torch (default: all cores)")


def add_output_options(p: argparse.ArgumentParser, quality: bool = True) -> None:
    """``--force``, ``--skip-existing``, ``--max-pixels`` and (optionally) ``--quality``."""
    g = p.add_argument_group("input and output")
    g.add_argument("-o", "--output", metavar="OUT", default=None,
                   help="output file (one input) or folder (created if missing; default: the current "
                        "folder). A path ending in '/' or without an extension is a folder")
    g.add_argument("--force", action="store_true", help="overwrite existing outputs (never an input)")
    g.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose outputs all exist already")
    g.add_argument("--max-pixels", metavar="N", type=int, default=None,
                   help="refuse photos with more pixels than this (decompression-bomb guard; "
                        "default 200 million)")
    if quality:
        g.add_argument("--quality", metavar="Q", type=int, default=95,
                       help="JPEG/WebP quality 1-100 (default 95)")


def add_log_options(p: argparse.ArgumentParser) -> None:
    """``-v/--verbose``, ``-q/--quiet``, ``--progress/--no-progress``."""
    g = p.add_argument_group("messages")
    g.add_argument("-v", "--verbose", action="store_true", help="more messages; tracebacks on errors")
    g.add_argument("-q", "--quiet", action="store_true", help="only errors (no report, no progress bar)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when several photos are given and stderr "
                        "is a terminal)")


# --------------------------------------------------------------------------- helpers


def report(args: argparse.Namespace, message: str) -> None:
    """Print one line of the report to stdout (unless ``--quiet``), without breaking a progress bar."""
    if getattr(args, "quiet", False):
        return
    from tqdm import tqdm

    tqdm.write(message, file=sys.stdout)
    sys.stdout.flush()


def _error_line(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def _one_line(message: object) -> str:
    text = re.sub(r"\s*\n\s*", " ", str(message)).strip()
    return text or "unknown error"


def ev_tag(ev: float) -> str:
    """File-name tag of an EV: ``-2``, ``+1.5``, ``0``."""
    return "0" if ev == 0 else f"{ev:+g}"


def check_ev(ev: float, what: str = "EV") -> float:
    """Validate one exposure value (stops); raises :class:`UsageError` outside [-10, 10]."""
    if not math.isfinite(ev) or not -EV_LIMIT <= ev <= EV_LIMIT:
        raise UsageError(f"{what} {ev:g} is outside [-{EV_LIMIT:g}, {EV_LIMIT:g}]")
    return float(ev)


def _check_common(args: argparse.Namespace) -> None:
    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    max_pixels = getattr(args, "max_pixels", None)
    if max_pixels is not None and max_pixels < 4:
        raise UsageError(f"--max-pixels must be at least 4, got {max_pixels}")
    quality = getattr(args, "quality", None)
    if quality is not None and not 1 <= quality <= 100:
        raise UsageError(f"--quality must be within 1-100, got {quality}")


def collect_inputs(items: Sequence[str]) -> list[Path]:
    """Expand the positional inputs: files as given, folders to their photos (sorted, not
    recursive, hidden files and this tool's own outputs skipped). Raises ImageError for a missing
    path or a folder without photos."""
    from ..formats.io import ImageError

    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            photos = sorted(q for q in p.iterdir()
                            if q.is_file() and q.suffix.lower() in PHOTO_EXTS and not q.name.startswith(".")
                            and not _OUTPUT_STEM.search(q.stem))
            if not photos:
                raise ImageError(f"{p}: no photos in this folder (looked for {', '.join(PHOTO_EXTS)})")
            found.extend(photos)
        elif not p.exists():
            raise ImageError(f"{p}: no such file")
        else:
            found.append(p)
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _is_file_target(output: str) -> bool:
    p = Path(output)
    return not (output.endswith(("/", "\\")) or p.is_dir() or p.suffix == "")


def _make_folder(folder: Path) -> None:
    from ..formats.io import ImageError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(f"cannot create output folder {folder}: {exc.strerror or exc}") from None


def plan_outputs(args: argparse.Namespace, inputs: list[Path], names: Callable[[Path], list[str]],
                 allowed: Sequence[str]) -> list[tuple[Path, list[Path]]]:
    """Decide every output path before any work is done.

    ``names(input)`` gives the output file names of one input (written into the ``-o`` folder, or
    the current folder); ``-o FILE`` is allowed when there is exactly one output in all. Checks the
    extensions against ``allowed``, duplicates, inputs that would be overwritten and existing outputs
    (``--force``, ``--skip-existing``). Returns ``[(input, [outputs])]`` of the inputs to process."""
    from ..formats.io import ImageError, check_output_path

    output = getattr(args, "output", None)
    if output and _is_file_target(output):
        count = sum(len(names(p)) for p in inputs)
        if count != 1:
            raise UsageError(f"-o {output} names one file but {count} outputs would be written; "
                             "give a folder instead (e.g. -o out/)")
        plan = [(inputs[0], [Path(output)])]
    else:
        folder = Path(output) if output else Path(".")
        plan = [(p, [folder / n for n in names(p)]) for p in inputs]
    seen: dict[Path, Path] = {}
    for src, outs in plan:
        for out in outs:
            if out.suffix.lower() not in allowed:
                raise ImageError(f"{out}: unknown output extension {out.suffix or '(none)'!r} "
                                 f"(use {', '.join(allowed)})")
            key = out.resolve()
            if key in seen and seen[key] != src:
                raise UsageError(f"{seen[key]} and {src} would both be written to {out}; "
                                 "process them separately")
            seen[key] = src
    if getattr(args, "skip_existing", False):
        kept = [(src, outs) for src, outs in plan if not all(o.exists() for o in outs)]
        for src, outs in plan:
            if (src, outs) not in kept:
                log.info("skipping %s: its outputs exist", src)
        if len(kept) < len(plan):
            report(args, f"skipped {len(plan) - len(kept)} of {len(plan)} input(s) whose outputs exist")
        plan = kept
    folders = {out.parent for _, outs in plan for out in outs}
    for folder in sorted(folders):
        _make_folder(folder)
    for _, outs in plan:
        for out in outs:
            _remove_stale_temp_files(out)
    all_inputs = list(inputs)
    force = getattr(args, "force", False)
    skip = getattr(args, "skip_existing", False)
    for _, outs in plan:
        for out in outs:
            if skip and out.exists():
                continue  # kept: written (atomically) by an earlier, interrupted run
            check_output_path(out, force, inputs=all_inputs, extensions=None)  # extensions checked above
    return plan


def _remove_stale_temp_files(out: Path) -> None:
    """Delete the hidden temp files that :func:`reexposure.formats.io.atomic_output` leaves for ``out``
    when a run is killed (SIGKILL, power loss) in the middle of writing it:
    ``.<stem>.<8 random characters>.tmp<suffix>`` in the same folder."""
    import glob

    pattern = f".{glob.escape(out.stem)}.{'?' * 8}.tmp{glob.escape(out.suffix)}"
    for stale in out.parent.glob(pattern):
        try:
            stale.unlink()
            log.info("removed %s, left by an interrupted run", stale)
        except OSError:
            pass


def describe_model(info: dict[str, str]) -> str:
    """One line saying which model is used: path, description and training steps."""
    path = info.get("path", "?")
    desc = info.get("description") or "no description in the file"
    steps = info.get("trained_steps")
    extra = f"; trained_steps={steps}" if steps else ""
    return f"model: {path} ({desc}{extra})"


def load_reconstructor(args: argparse.Namespace) -> "Reconstructor":
    """The generator named by ``--model`` (default: shipped), with ``--crf`` and ``--threads``;
    reports which model it is."""
    from ..core.camera import crf_from_name
    from ..core.infer import Reconstructor

    crf = crf_from_name(args.crf)
    rec = Reconstructor(args.model, crf=crf, threads=args.threads)
    report(args, describe_model(rec.info))
    return rec


def _show_progress(args: argparse.Namespace, n: int) -> bool:
    if getattr(args, "quiet", False):
        return False
    if getattr(args, "progress", None) is not None:
        return bool(args.progress)
    return n > 1 and sys.stderr.isatty()


def run_batch(args: argparse.Namespace, plan: list[tuple[Path, list[Path]]],
              work: Callable[[Path, list[Path], bool], None], what: str = "photo") -> int:
    """Run ``work(input, outputs, tile_progress)`` over the plan with a progress bar.

    With one input, errors propagate (main prints them). With several, a bad input (ImageError,
    ValueError) is reported on its own line and the rest still run; the exit code is then 2."""
    from tqdm import tqdm

    if not plan:
        report(args, "nothing to do")
        return 0
    show = _show_progress(args, len(plan))
    # one photo: no photo bar, but a tile bar for a large photo when progress is wanted
    tiles = len(plan) == 1 and _show_progress(args, 2)
    failures = 0
    bar = tqdm(plan, desc=f"{what}s", unit=what, disable=not show, file=sys.stderr, dynamic_ncols=True)
    for src, outs in bar:
        try:
            work(src, outs, tiles)
        except ValueError as exc:  # ImageError is a ValueError: bad input, go on with the others
            if len(plan) == 1:
                raise _with_path(src, exc) from None
            failures += 1
            _error_line(str(_with_path(src, exc)))
    bar.close()
    if failures:
        from ..formats.io import ImageError

        raise ImageError(f"{failures} of {len(plan)} {what}s failed (see the lines above); "
                         "the others were written")
    return 0


def _with_path(src: Path, exc: Exception) -> Exception:
    msg = str(exc)
    if str(src) in msg or src.name in msg:
        return exc
    try:
        return type(exc)(f"{src}: {msg}")
    except Exception:
        return ValueError(f"{src}: {msg}")


def _check_pixels(args: argparse.Namespace, src: Path) -> None:
    """Refuse a file above the pixel limit from its header alone (for readers other than read_photo)."""
    from PIL import Image

    from ..formats.io import ImageError, get_max_pixels

    limit = get_max_pixels(args.max_pixels)
    with Image.open(src) as im:
        w, h = im.size
    if w * h > limit:
        raise ImageError(f"{src}: image is too large ({w}x{h} = {w * h:,} pixels, limit {limit:,})")


def _read(args: argparse.Namespace, src: Path):
    from ..formats.io import read_photo

    return read_photo(src, max_pixels=args.max_pixels)


# --------------------------------------------------------------------------- commands


def _cmd_expose(args: argparse.Namespace) -> int:
    _check_common(args)
    evs = [check_ev(ev) for ev in args.ev]
    if len(set(evs)) != len(evs):
        raise UsageError("the same --ev is given twice")
    if args.format and f".{args.format}" not in WRITE_EXTS:
        raise UsageError(f"--format {args.format}: use one of {', '.join(e[1:] for e in WRITE_EXTS)}")
    inputs = collect_inputs(args.photos)

    def suffix(p: Path) -> str:
        if args.format:
            return f".{args.format}"
        return p.suffix.lower() if p.suffix.lower() in WRITE_EXTS else ".jpg"

    plan = plan_outputs(args, inputs, lambda p: [f"{p.stem}_ev{ev_tag(ev)}{suffix(p)}" for ev in evs],
                        WRITE_EXTS)
    if not plan:
        report(args, "nothing to do")
        return 0
    from ..formats.io import write_photo

    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        photo = _read(args, src)
        rmap = rec(photo.rgb, progress=tiles)
        for ev, out in zip(evs, outs):
            if args.skip_existing and out.exists():
                continue  # --skip-existing resuming a photo interrupted between its EVs
            write_photo(out, rmap.reexpose(ev), like=photo, quality=args.quality, force=args.force,
                        inputs=inputs)
            report(args, f"wrote {out}")

    return run_batch(args, plan, work)


def radiance_array(rmap: "RadianceMap") -> "np.ndarray":
    """The whole radiance map as HxWx3 float32 (filled strip by strip, no full-size temporaries)."""
    import numpy as np

    h, w = rmap.shape
    out = np.empty((h, w, 3), dtype=np.float32)
    for y0, rad in rmap.strips():
        out[y0:y0 + rad.shape[2]] = rad[0].permute(1, 2, 0).numpy()
    return out


def _cmd_hdr(args: argparse.Namespace) -> int:
    _check_common(args)
    inputs = collect_inputs(args.photos)
    plan = plan_outputs(args, inputs, lambda p: [f"{p.stem}.{args.format}"], HDR_EXTS)
    if not plan:
        report(args, "nothing to do")
        return 0
    from ..formats.io import write_hdr

    try:  # gain-map JPEGs (Ultra HDR) already hold the radiance: read it instead of reconstructing
        from ..formats import ultrahdr
    except Exception:  # the module is optional
        ultrahdr = None  # type: ignore[assignment]
    loaded: list[Reconstructor] = []

    def reconstructor() -> "Reconstructor":
        if not loaded:
            loaded.append(load_reconstructor(args))
        return loaded[0]

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        if ultrahdr is not None and src.suffix.lower() in (".jpg", ".jpeg") and ultrahdr.is_ultrahdr(src):
            _check_pixels(args, src)
            rad, what = ultrahdr.hdr_from_ultrahdr(src)
            report(args, f"{src}: gain-map JPEG, no reconstruction: {what}")
        else:
            rad = radiance_array(reconstructor()(_read(args, src).rgb, progress=tiles))
        peak = float(rad.max()) if rad.size else 0.0
        if not args.float and peak > 65504.0 and outs[0].suffix.lower() == ".exr":
            log.warning("radiance peaks at %.4g, above the half-float range; use --float", peak)
        write_hdr(outs[0], rad, half=not args.float, force=args.force, inputs=inputs)
        report(args, f"wrote {outs[0]} (relative radiance, 1.0 = clip level of the input; peak {peak:.3g})")

    return run_batch(args, plan, work)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..formats import video

    _check_common(args)
    ev_from = check_ev(args.ev_from, "--from")
    ev_to = check_ev(args.ev_to, "--to")
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= 600):
        raise UsageError(f"--seconds must be within (0, 600], got {args.seconds:g}")
    if args.fps is not None and not (math.isfinite(args.fps) and 1 <= args.fps <= 120):
        raise UsageError(f"--fps must be within 1-120, got {args.fps:g}")
    if args.size < 0 or 0 < args.size < 16:
        raise UsageError(f"--size must be 0 (full resolution) or at least 16, got {args.size}")
    inputs = collect_inputs(args.photos)
    plan = plan_outputs(args, inputs, lambda p: [f"{p.stem}_sweep.{args.format}"], VIDEO_EXTS)
    if not plan:
        report(args, "nothing to do")
        return 0
    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        rmap = rec(_read(args, src).rgb, progress=tiles)
        fps = args.fps or video.default_fps(outs[0])
        n = video.write_sweep(outs[0], rmap, ev_from, ev_to, seconds=args.seconds, fps=fps,
                              max_size=args.size, force=args.force)
        report(args, f"wrote {outs[0]} ({n} frames, EV {ev_from:+g} to {ev_to:+g}, {fps:g} fps)")

    return run_batch(args, plan, work)


def _cmd_compare(args: argparse.Namespace) -> int:
    from . import compare

    _check_common(args)
    ev = check_ev(args.ev)
    if not 64 <= args.width <= 4096:
        raise UsageError(f"--width must be within 64-4096, got {args.width}")
    inputs = collect_inputs(args.photos)
    plan = plan_outputs(args, inputs, lambda p: [f"{p.stem}_compare.jpg"], WRITE_EXTS)
    if not plan:
        report(args, "nothing to do")
        return 0
    from ..formats.io import write_photo

    rec = load_reconstructor(args)

    def work(src: Path, outs: list[Path], tiles: bool) -> None:
        rmap = rec(_read(args, src).rgb, progress=tiles)
        sheet = compare.compare_image(rmap, ev, panel_width=args.width, title=src.name)
        write_photo(outs[0], sheet, quality=args.quality, force=args.force, inputs=inputs)
        report(args, f"wrote {outs[0]}")

    return run_batch(args, plan, work)


# --------------------------------------------------------------------------- parser

_MAIN_EPILOG = f"""\
examples:
  {PROG} photo.jpg --ev -2                     darker by 2 stops -> ./photo_ev-2.jpg
  {PROG} photo.jpg --ev -2 --ev -3 -o out/     two exposures into out/
  {PROG} holiday/ --ev -1.5 -o darker/         every photo of a folder, with a progress bar
  {PROG} hdr photo.jpg -o photo.exr            the reconstructed radiance map
  {PROG} sweep photo.jpg -o sweep.mp4          an exposure-sweep video (.mp4 or .gif)
  {PROG} compare photo.jpg --ev -2 -o cmp.jpg  input | naive brightness | reconstructed, with a zoom
  {PROG} bench                                 latency and memory benchmark

A first argument that is not a command name means 'expose'. Run '{PROG} COMMAND --help' for the
options of a command.
"""


def _add_expose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "expose", help="re-expose photos (the default command)", formatter_class=_Formatter,
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
        "hdr", help="write the reconstructed radiance map (.exr/.hdr/.pfm)", formatter_class=_Formatter,
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
        "sweep", help="exposure-sweep video (.mp4 H.264 or .gif)", formatter_class=_Formatter,
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
        formatter_class=_Formatter,
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


def _register_lazy(sub: argparse._SubParsersAction, names: Iterable[str]) -> dict[str, str]:
    """Import the modules of ``names`` and let them add their subcommands; returns
    ``{name: reason}`` for those that could not be loaded."""
    unavailable = {}
    for name, module in LAZY_COMMANDS:
        if name not in names:
            continue
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # a module that is missing or broken must not break the CLI
            unavailable[name] = f"{type(exc).__name__}: {exc}"
            continue
        add = getattr(mod, "add_cli", None)
        if add is None:
            unavailable[name] = f"{module} has no add_cli"
            continue
        add(sub)
    return unavailable


def build_parser(lazy: Iterable[str] = ()) -> tuple[ArgumentParser, dict[str, str]]:
    """The argument parser. ``lazy``: which of the lazily registered commands to import
    (``train``, ``eval``, ``serve``, ``ultrahdr``). Returns (parser, {unavailable command: reason})."""
    from .. import __version__

    parser = ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="Change the exposure of a photo after it was taken: clipped highlights are "
                    "reconstructed as relative radiance by a neural network, then the photo is "
                    "rendered at any exposure.",
        epilog=_MAIN_EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    _add_expose(sub)
    _add_hdr(sub)
    _add_sweep(sub)
    _add_compare(sub)
    from . import bench

    bench.add_cli(sub)
    unavailable = _register_lazy(sub, set(lazy))
    return parser, unavailable


def _normalise_argv(argv: list[str]) -> list[str]:
    names = set(BUILTIN_COMMANDS) | {n for n, _ in LAZY_COMMANDS}
    if argv and argv[0] not in names and argv[0] not in ("-h", "--help", "--version"):
        return ["expose", *argv]
    return argv


class _LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        prefix = f"{PROG}: " if record.levelno < logging.WARNING else f"{PROG}: {level}: "
        return prefix + _one_line(record.getMessage())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 bad usage/input, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    quiet = any(a in ("-q", "--quiet") for a in argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LevelFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)
    logging.captureWarnings(True)
    try:
        if not argv:
            raise UsageError(f"no photo given (usage: {PROG} PHOTO --ev EV; see '{PROG} --help')")
        argv = _normalise_argv(argv)
        lazy = [n for n, _ in LAZY_COMMANDS] if argv[0] in ("-h", "--help") else argv[:1]
        parser, unavailable = build_parser(lazy)
        if argv[0] in unavailable:
            raise RuntimeError(f"the '{argv[0]}' command is not available in this installation "
                               f"({unavailable[argv[0]]})")
        args = parser.parse_args(argv)
        args.argv = list(argv)
        func = getattr(args, "func", None)
        if func is None:
            raise UsageError(f"no command given (see '{PROG} --help')")
        return int(func(args) or 0)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        _error_line("interrupted")
        return 130
    except Exception as exc:
        from ..training.config import ConfigError
        from ..formats.io import ImageError
        from ..core.weights import ModelError

        if verbose:
            traceback.print_exc()
        if isinstance(exc, (UsageError, ImageError, ModelError, ConfigError, ValueError)):
            _error_line(str(exc))
            return 2
        if isinstance(exc, OSError):
            if exc.filename and exc.strerror:
                _error_line(f"{exc.filename}: {exc.strerror}")
            else:
                _error_line(str(exc) or type(exc).__name__)
            return 1
        if isinstance(exc, RuntimeError) and str(exc):
            _error_line(str(exc))
            return 1
        _error_line(f"unexpected {type(exc).__name__}: {exc}" + ("" if verbose else
                                                                  " (run with -v for the traceback)"))
        return 1
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.captureWarnings(False)
