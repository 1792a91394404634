"""Output paths: checks before any work is done, and atomic writes with overwrite protection
(on top of :func:`reexposure.core.files.atomic_path`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..core.files import atomic_path
from .common import ImageError, OutputExistsError, PathLike, _one_line
from .extensions import HDR_EXTENSIONS, PHOTO_WRITE_EXTENSIONS

__all__ = ["check_output_path", "atomic_output"]


# --------------------------------------------------------------------------------------------
# Output paths and atomic writes
# --------------------------------------------------------------------------------------------

def _same_file(a: Path, b: PathLike) -> bool:
    b = Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(
    path: PathLike,
    force: bool = False,
    inputs: Iterable[PathLike | None] = (),
    extensions: Iterable[str] | None = PHOTO_WRITE_EXTENSIONS + HDR_EXTENSIONS,
) -> Path:
    """Validate an output path before any work is done; returns it as a :class:`Path`.

    Raises :class:`ImageError` for an unknown extension (not in ``extensions``, case-insensitive;
    ``None`` skips the check), a missing or unwritable folder, or a path that is one of ``inputs``
    (never overwritten, even with ``force``); :class:`OutputExistsError` when the file exists and
    ``force`` is false.
    """
    p = Path(path)
    if p.name in ("", ".", ".."):
        raise ImageError(f"{p}: not a file name")
    if extensions is not None:
        exts = tuple(e.lower() for e in extensions)
        if p.suffix.lower() not in exts:
            raise ImageError(
                f"{p}: unknown output extension '{p.suffix or '(none)'}' (supported: {', '.join(exts)})"
            )
    parent = p.parent
    if not parent.exists():
        raise ImageError(f"{p}: output folder {parent} does not exist")
    if not parent.is_dir():
        raise ImageError(f"{p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ImageError(f"{p}: output folder {parent} is not writable")
    for inp in inputs:
        if inp is not None and _same_file(p, inp):
            raise ImageError(f"{p}: refusing to overwrite the input file")
    if p.is_dir():
        raise ImageError(f"{p}: is a folder")
    if (p.exists() or p.is_symlink()) and not force:
        raise OutputExistsError(f"{p}: already exists (use --force to overwrite)")
    return p


@contextlib.contextmanager
def atomic_output(path: PathLike, force: bool = False, inputs: Iterable[PathLike | None] = ()) -> Iterator[Path]:
    """Context manager for writing ``path`` atomically.

    Checks the path (:func:`check_output_path`, any extension), yields a fresh temp file path in
    the same folder (hidden, same suffix, e.g. ``.out.k2j3.tmp.png``) for the caller to write, then
    moves it onto ``path``: without ``force`` via a hard link, which fails rather than clobber a file
    that appeared meanwhile. On any exception the temp file is deleted and the error re-raised.
    """
    inputs = list(inputs)
    p = check_output_path(path, force, inputs, extensions=None)
    in_body = False  # errors of the caller's own writing propagate as they are
    try:
        with atomic_path(p, overwrite=force) as tmp:
            in_body = True
            yield tmp
            in_body = False
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise ImageError(f"{p}: nothing was written")
    except FileExistsError:
        if in_body:
            raise
        raise OutputExistsError(f"{p}: already exists (use --force to overwrite)") from None
    except ImageError:
        raise
    except OSError as exc:
        if in_body:
            raise
        raise ImageError(f"{p}: cannot write in {p.parent} ({exc.strerror or _one_line(exc)})") from None
