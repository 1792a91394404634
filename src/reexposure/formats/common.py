"""Errors, warnings and the pixel limit shared by every codec of :mod:`reexposure.formats`."""

from __future__ import annotations

import os
import warnings
from typing import Union

import numpy as np

__all__ = ["ImageError", "OutputExistsError", "ImageWarning", "set_max_pixels", "get_max_pixels",
           "DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "PathLike"]


#: a file path argument
PathLike = Union[str, "os.PathLike[str]"]

#: Default limit on width*height of any image read (header-checked before decoding).
DEFAULT_MAX_PIXELS = 200_000_000
#: Environment variable overriding :data:`DEFAULT_MAX_PIXELS` (a positive integer).
MAX_PIXELS_ENV = "REEXPOSE_MAX_PIXELS"


class ImageError(ValueError):
    """A file that cannot be read or written as an image; the message is one line for the user."""


class OutputExistsError(ImageError):
    """The output file exists and overwriting was not allowed (``force=False`` / no ``--force``)."""


class ImageWarning(UserWarning):
    """Something was repaired or dropped while reading or writing (bad values, unusable metadata)."""


def _warn(msg: str) -> None:
    warnings.warn(msg, ImageWarning, stacklevel=3)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------------------------
# Pixel limit
# --------------------------------------------------------------------------------------------

_max_pixels_override: int | None = None


def set_max_pixels(n: int | None) -> None:
    """Set the process-wide pixel limit (width*height) for reading; ``None`` restores the default
    (``REEXPOSE_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`)."""
    global _max_pixels_override
    if n is not None and (not isinstance(n, (int, np.integer)) or n < 4):
        raise ValueError(f"max pixels must be an integer >= 4, got {n!r}")
    _max_pixels_override = None if n is None else int(n)


class PixelLimit(int):
    """A pixel limit (an ``int``) that also says how to raise it, for the "too large" message:
    the advice depends on where the limit came from (argument, :func:`set_max_pixels`, environment)."""

    hint: str

    def __new__(cls, value: int, hint: str) -> PixelLimit:
        obj = super().__new__(cls, value)
        obj.hint = hint
        return obj


def get_max_pixels(max_pixels: int | None = None) -> int:
    """The pixel limit in force: ``max_pixels`` if given, else :func:`set_max_pixels`'s value, else
    the ``REEXPOSE_MAX_PIXELS`` environment variable, else :data:`DEFAULT_MAX_PIXELS`. Returned as a
    :class:`PixelLimit` (an ``int``)."""
    if max_pixels is not None:
        if max_pixels < 4:
            raise ValueError(f"max pixels must be >= 4, got {max_pixels!r}")
        return PixelLimit(int(max_pixels), "give a larger --max-pixels (max_pixels) to raise it")
    if _max_pixels_override is not None:
        return PixelLimit(_max_pixels_override, "raise it with set_max_pixels()")
    env = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if env:
        try:
            value = int(float(env.replace("_", "")))
        except ValueError:
            raise ImageError(f"{MAX_PIXELS_ENV}={env!r} is not a number") from None
        if value < 4:
            raise ImageError(f"{MAX_PIXELS_ENV}={env!r} must be at least 4")
        return PixelLimit(value, f"set {MAX_PIXELS_ENV} higher to raise it")
    return PixelLimit(DEFAULT_MAX_PIXELS, f"raise it with --max-pixels or {MAX_PIXELS_ENV}")


def _check_dims(name: str, width: int, height: int, limit: int) -> None:
    """Refuse images over ``limit`` pixels or under 2x2, from header dimensions."""
    if width * height > limit:
        raise ImageError(
            f"{name}: image is too large ({width}x{height} = {width * height:,} pixels, limit {limit:,};"
            f" {getattr(limit, 'hint', f'set {MAX_PIXELS_ENV} to raise it')})"
        )
    if width < 2 or height < 2:
        raise ImageError(f"{name}: image is too small ({width}x{height}; at least 2x2 pixels needed)")
