"""The ``reexpose`` command line (also ``python -m reexposure``): the parser and the one place where
errors become messages and exit codes.

Subcommands: ``expose`` (the default: ``reexpose PHOTO --ev -2``), ``hdr``, ``sweep``, ``compare``
(:mod:`.photo`), ``ultrahdr`` (:mod:`.ultrahdr`), ``bench`` (:mod:`.bench`), ``train``
(:mod:`.train`), ``eval`` (:mod:`.eval`) and ``serve`` (:mod:`.serve`). Every command module defines
its parser and a handler that calls plain library functions; only this package knows argparse.

Conventions: the report (which model was used, which files were written) goes to stdout; warnings,
errors and progress bars go to stderr. Any failure prints one line ``reexpose: error: <message>``
to stderr and exits with 2 (bad usage or input), 1 (other failures) or 130 (Ctrl-C); ``-v`` adds
the traceback. Outputs are written atomically, inputs are never overwritten, and an existing output
is kept unless ``--force``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Sequence

from ... import __version__
from . import bench, eval, photo, serve, train, ultrahdr
from .common import PROG, ArgumentParser, Formatter, UsageError, error_line, one_line

__all__ = ["main", "build_parser", "exit_code", "COMMANDS"]

#: every subcommand, in the order of ``reexpose --help``
COMMANDS = ("expose", "hdr", "sweep", "compare", "ultrahdr", "bench", "train", "eval", "serve")
#: extra that provides the packages of a command that imports more than the core dependencies
_EXTRA_OF = {"fastapi": "web", "uvicorn": "web", "multipart": "web", "python_multipart": "web",
             "tensorboard": "train"}

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


def build_parser() -> ArgumentParser:
    """The argument parser of ``reexpose`` with every subcommand (argparse only: no torch import)."""
    parser = ArgumentParser(
        prog=PROG, formatter_class=Formatter,
        description="Change the exposure of a photo after it was taken: clipped highlights are "
                    "reconstructed as relative radiance by a neural network, then the photo is "
                    "rendered at any exposure.",
        epilog=_MAIN_EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    photo.register(sub)
    ultrahdr.register(sub)
    bench.register(sub)
    train.register(sub)
    eval.register(sub)
    serve.register(sub)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return ["expose", *argv]
    return argv


def exit_code(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended a command.

    2: bad usage or input (:class:`UsageError`, ``ImageError``, ``ModelError``, ``ConfigError``,
    ``DataError``, ``EvalError``: all ``ValueError``); 130: Ctrl-C; 1: anything else (``OSError`` with
    its file name, a missing optional package with the extra that provides it)."""
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        extra = _EXTRA_OF.get(top)
        hint = f"; install it with: pip install 'reexposure[{extra}]'" if extra else ""
        return 1, f"this command needs the package {top!r}, which is not installed{hint}"
    if isinstance(exc, ValueError):
        return 2, one_line(exc)
    if isinstance(exc, OSError):
        if exc.filename and exc.strerror:
            return 1, f"{exc.filename}: {exc.strerror}"
        return 1, one_line(str(exc) or type(exc).__name__)
    if isinstance(exc, RuntimeError) and str(exc):
        return 1, one_line(exc)
    return 1, f"unexpected {type(exc).__name__}: {one_line(exc)}"


def _ours_or_verbose(verbose: bool) -> Callable[[logging.LogRecord], bool]:
    """Handler filter: the package's own messages and captured Python warnings always; other
    libraries' log records only with ``-v`` (Pillow logs "More samples per pixel than can be
    decoded" at error level before raising on a corrupt TIFF; the raised error is the one line
    the user gets)."""
    def keep(record: logging.LogRecord) -> bool:
        name = record.name
        return verbose or name == "py.warnings" or name == "reexposure" or name.startswith("reexposure.")
    return keep


class _LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        prefix = f"{PROG}: " if record.levelno < logging.WARNING else f"{PROG}: {level}: "
        return prefix + one_line(record.getMessage())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 bad usage/input, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    quiet = any(a in ("-q", "--quiet") for a in argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LevelFormatter())
    handler.addFilter(_ours_or_verbose(verbose))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)
    logging.captureWarnings(True)
    try:
        if not argv:
            raise UsageError(f"no photo given (usage: {PROG} PHOTO --ev EV; see '{PROG} --help')")
        argv = _normalise_argv(argv)
        args = build_parser().parse_args(argv)
        args.argv = list(argv)
        func = getattr(args, "func", None)
        if func is None:
            raise UsageError(f"no command given (see '{PROG} --help')")
        return int(func(args) or 0)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (Exception, KeyboardInterrupt) as exc:
        if verbose and not isinstance(exc, KeyboardInterrupt):
            traceback.print_exc()
        code, message = exit_code(exc)
        if code == 1 and message.startswith("unexpected") and not verbose:
            message += " (run with -v for the traceback)"
        error_line(message)
        return code
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.captureWarnings(False)
