"""Shared parts of the ``reexpose`` command line: the argument parser class, the common options,
input collection, output planning, the model loader and the batch runner.

Only :mod:`reexposure.apps.cli` uses argparse; every command handler turns parsed arguments into
calls of plain library functions. Errors are raised, never printed here: :func:`reexposure.apps.cli.main.main`
maps them to one line and an exit code (2 bad usage or input, 1 other failures, 130 Ctrl-C).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ...core.camera import crf_from_name
from ...core.files import stale_temp_files
from ...core.infer import RadianceMap, Reconstructor
from ...core.strength import AREA_SNAP, AreaStrength, check_strength
from ...formats.extensions import PHOTO_INPUT_EXTENSIONS, PHOTO_WRITE_EXTENSIONS
from ...formats.io import ImageError, Photo, check_output_path, get_max_pixels, read_photo

__all__ = ["UsageError", "ArgumentParser", "Formatter", "add_model_options", "add_output_options",
           "add_log_options", "collect_inputs", "plan_outputs", "load_reconstructor", "report",
           "ev_tag", "check_ev", "check_common", "run_batch", "plan_inputs", "PHOTO_EXTS", "WRITE_EXTS",
           "EV_LIMIT", "PROG"]

PROG = "reexpose"
log = logging.getLogger("reexposure")

#: photo formats read from folders (files named explicitly may be anything read_photo accepts)
PHOTO_EXTS = PHOTO_INPUT_EXTENSIONS
#: photo formats written by ``expose`` and ``compare``
WRITE_EXTS = PHOTO_WRITE_EXTENSIONS
HDR_EXTS = (".exr", ".hdr", ".pfm")
VIDEO_EXTS = (".mp4", ".gif")
EV_LIMIT = 10.0
# stems of files this tool writes; skipped when a folder is given as input
_OUTPUT_STEM = re.compile(r"_(ev(0|[+-]\d+(\.\d+)?)|sweep|compare)$")


class UsageError(ValueError):
    """Bad command-line usage (one-line message); exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting, so that
    every error is one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Formatter(argparse.RawDescriptionHelpFormatter):
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
    g.add_argument("--strength", metavar="S", type=float, default=1.0,
                   help="how much of the model's highlight brightness to use, 0-3 (default 1; 0: "
                        "colour only, no brightness above the clip where nothing is known; lower it "
                        "when a bright wall or sky comes out blotchy, raise it for lamps that stay grey)")
    g.add_argument("--area", metavar="X,Y=S", action="append", default=[], type=parse_area,
                   help="strength S (0-3) for one clipped area only: the one at pixel X,Y (column, "
                        f"row from the top-left corner, or within {AREA_SNAP} px of it); repeatable, "
                        "e.g. --area 1387,503=0.3 to calm a patch of sunlit snow taken for a lamp")


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
    tqdm.write(message, file=sys.stdout)
    sys.stdout.flush()


def error_line(message: str) -> None:
    tqdm.write(f"{PROG}: error: {one_line(message)}", file=sys.stderr)


def one_line(message: object) -> str:
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


def check_common(args: argparse.Namespace) -> None:
    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
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


def plan_inputs(args: argparse.Namespace, names: Callable[[Path], list[str]],
                allowed: Sequence[str]) -> tuple[list[Path], list[tuple[Path, list[Path]]]]:
    """:func:`collect_inputs` of ``args.photos`` and :func:`plan_outputs` for them: returns (all
    inputs, which outputs never overwrite; the plan). Reports "nothing to do" when every output
    exists already (``--skip-existing``): an empty plan means the command is done."""
    inputs = collect_inputs(args.photos)
    plan = plan_outputs(args, inputs, names, allowed)
    if not plan:
        report(args, "nothing to do")
    return inputs, plan


def _remove_stale_temp_files(out: Path) -> None:
    """Delete the hidden temp files that :func:`reexposure.formats.io.atomic_output` leaves for ``out``
    when a run is killed (SIGKILL, power loss) in the middle of writing it:
    ``.<stem>.<8 random characters>.tmp<suffix>`` in the same folder."""
    for stale in stale_temp_files(out):
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


def parse_area(text: str) -> AreaStrength:
    """``--area X,Y=S`` as an :class:`~reexposure.core.strength.AreaStrength` (argparse type)."""
    try:
        return AreaStrength.parse(text)
    except ValueError as exc:
        msg = str(exc)
        raise argparse.ArgumentTypeError(msg if msg.startswith(repr(text)) else f"{text!r}: {msg}") from None


def reconstruct(args: argparse.Namespace, rec: Reconstructor, rgb: np.ndarray, progress: bool) -> RadianceMap:
    """``rec``'s map of one photo (HWC uint8) with ``--area`` applied (``ValueError``, one line, for
    a point that names no clipped area of this photo)."""
    rmap = rec(rgb, progress=progress)
    areas = getattr(args, "area", None)
    return rmap.with_areas(areas) if areas else rmap


def load_reconstructor(args: argparse.Namespace) -> Reconstructor:
    """The generator named by ``--model`` (default: shipped), with ``--crf``, ``--threads`` and
    ``--strength``; reports which model it is."""
    crf = crf_from_name(args.crf)
    strength = getattr(args, "strength", 1.0)
    try:
        check_strength(strength)
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    rec = Reconstructor(args.model, crf=crf, threads=args.threads, strength=strength)
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
            error_line(str(_with_path(src, exc)))
    bar.close()
    if failures:
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


def check_pixels(args: argparse.Namespace, src: Path) -> None:
    """Refuse a file above the pixel limit from its header alone (for readers other than read_photo)."""
    limit = get_max_pixels(args.max_pixels)
    with Image.open(src) as im:
        w, h = im.size
    if w * h > limit:
        raise ImageError(f"{src}: image is too large ({w}x{h} = {w * h:,} pixels, limit {limit:,})")


def read_input(args: argparse.Namespace, src: Path) -> Photo:
    """Read one input photo with ``--max-pixels``."""
    return read_photo(src, max_pixels=args.max_pixels)


