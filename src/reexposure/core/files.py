"""Atomic file writes, written once: every file the package writes (photos, radiance maps, videos,
weights, checkpoints, reports) goes through :func:`atomic_path` or :func:`atomic_write_bytes`.

A temporary file in the same folder (hidden, same suffix: ``.<stem>.<8 random>.tmp<suffix>``) is
written, flushed to disk, given the normal permissions (``0o666`` minus the umask) and then moved
onto the target, so that a crash leaves either the old file or the new one, never a torn one. On any
exception the temporary file is deleted and the error re-raised.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "file_mode", "stale_temp_files"]


def file_mode() -> int:
    """Permissions of a new file: ``0o666`` minus the process umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True, sync_folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller to write; on success move it onto ``path``.

    ``overwrite=False`` commits with a hard link, which raises :class:`FileExistsError` rather than
    clobber a file that appeared meanwhile (file systems without hard links fall back to a rename
    after an existence check). ``sync_folder`` also fsyncs the folder, so that the rename itself
    survives a power loss. Raises ``OSError`` when the folder is not writable."""
    p = Path(path)
    fd, tmpname = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=f".tmp{p.suffix}", dir=p.parent)
    os.close(fd)
    tmp = Path(tmpname)
    try:
        yield tmp
        os.chmod(tmp, file_mode())  # mkstemp makes 0600
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, p)
        else:
            try:
                os.link(tmp, p)
            except FileExistsError:
                raise
            except OSError:  # file system without hard links
                if p.exists():
                    raise FileExistsError(f"{p} exists") from None
                os.replace(tmp, p)
        if sync_folder:
            with contextlib.suppress(OSError):
                dfd = os.open(p.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def stale_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files of :func:`atomic_path` for ``path`` that a killed process (SIGKILL, power
    loss) left behind in its folder."""
    import glob

    p = Path(path)
    return sorted(p.parent.glob(f".{glob.escape(p.stem)}.{'?' * 8}.tmp{glob.escape(p.suffix)}"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, sync_folder: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); replaces an existing file."""
    with atomic_path(path, sync_folder=sync_folder) as tmp:
        tmp.write_bytes(data)
