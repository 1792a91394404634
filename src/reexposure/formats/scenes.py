"""Collections of HDR scenes and photos on disk: discovery, normalisation and the named splits.

The hold-out split (scenes never used for training; validation, ``reexpose eval --scenes holdout``
and the model card use them) is data, in ``splits/holdout.txt`` beside this module: one scene name
(file stem) per line, ``#`` comments allowed.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from .extensions import HDR_EXTENSIONS, PHOTO_INPUT_EXTENSIONS

__all__ = ["HDR_EXTENSIONS", "DataError", "find_hdr_files", "find_ldr_files", "normalize_95", "split_scenes",
           "holdout_scenes"]


class DataError(ValueError):
    """A data folder that cannot be trained on (one-line message)."""


def find_hdr_files(root: str | Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """All HDR files (``.exr``, ``.hdr``, ``.pfm``, any case) under ``root``, any nesting,
    sorted; names (stems) in ``exclude`` and hidden files or folders (``.name``) skipped.

    Recognised layouts, used as they are:

    - any tree of HDR files (``../shared/data/hdr``: ``<source>/<scene>.exr``);
    - SingleHDR (Liu et al., CVPR 2020) **HDR-Synth**: ``HDR-Synth/<source>/.../<name>.exr|.hdr``
      (the ground-truth HDR images in nested folders);
    - SingleHDR **HDR-Real**: ``HDR-Real/HDR_gt/<name>.hdr`` with ``HDR-Real/LDR_in/<name>.jpg``
      beside it. Only ``HDR_gt`` is used: LDR folders (``LDR_in``, any ``.jpg``/``.png``) are
      ignored, because training renders its own inputs from the HDR (they may also be nested one
      level deeper, e.g. ``HDR-Real/train/HDR_gt``).

    Raises :class:`DataError` if ``root`` is not a folder."""
    return _find_files(root, HDR_EXTENSIONS, exclude, "data folder")


def _find_files(root: str | Path, extensions: tuple[str, ...], exclude: tuple[str, ...], what: str) -> list[Path]:
    """Files under ``root`` (any nesting) whose suffix (any case) is in ``extensions``, sorted;
    stems in ``exclude`` and hidden files or folders skipped."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{what} {root} does not exist or is not a folder")
    files = []
    for p in root.rglob("*"):
        if p.suffix.lower() not in extensions:
            continue
        if any(part.startswith(".") for part in p.relative_to(root).parts) or not p.is_file():
            continue
        files.append(p)
    return sorted(p for p in files if p.stem not in exclude)


def find_ldr_files(root: str | Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """All ordinary photos (:data:`~reexposure.formats.extensions.PHOTO_INPUT_EXTENSIONS`, any case) under ``root``, any
    nesting, sorted; stems in ``exclude`` and hidden files or folders skipped. Raises
    :class:`DataError` if ``root`` is not a folder."""
    return _find_files(root, PHOTO_INPUT_EXTENSIONS, exclude, "photo folder")


def normalize_95(radiance: np.ndarray, percentile: float = 95.0) -> np.ndarray:
    """Scale HWC radiance so that ``percentile`` % of pixels (max over channels) are <= 1."""
    peak = radiance.max(axis=-1)
    q = float(np.percentile(peak, percentile))
    if not math.isfinite(q) or q <= 0:
        positive = peak[peak > 0]
        q = float(positive.max()) if positive.size else 1.0
    return (radiance / q).astype(np.float32)


@cache
def split_scenes(name: str) -> tuple[str, ...]:
    """The scene names (file stems) of the split ``name`` (``splits/<name>.txt``), in file order.
    Raises :class:`DataError` for an unknown split."""
    if not name.isidentifier():
        raise DataError(f"bad split name {name!r}")
    res = resources.files("reexposure.formats") / "splits" / f"{name}.txt"
    if not res.is_file():
        raise DataError(f"no split named {name!r} (no {name}.txt in reexposure/formats/splits)")
    scenes = []
    for line in res.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            scenes.append(line)
    return tuple(scenes)


def holdout_scenes() -> tuple[str, ...]:
    """Scenes of ``../shared/data/hdr`` never used for training (validation, evaluation, model card)."""
    return split_scenes("holdout")
