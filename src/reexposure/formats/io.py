"""Image I/O: the public face of the photo and radiance codecs (one import for callers).

Photos (8- or 16-bit, display-referred): :func:`read_photo` / :func:`write_photo` and
:class:`Photo` (:mod:`.photo`, with colour management in :mod:`.colour` and EXIF in :mod:`.exif`).
Radiance maps (linear, scene-referred float): :func:`read_hdr` / :func:`write_hdr` (:mod:`.hdr`:
OpenEXR, Radiance ``.hdr``, PFM).

Safety: every failure to read or write raises :class:`ImageError` whose message is one line naming
the file and the problem; image dimensions are checked against a pixel limit (:func:`get_max_pixels`)
from the header, before any pixel is decoded; outputs go through :func:`atomic_output` (:mod:`.paths`:
temp file in the same folder, renamed on success, removed on failure), never overwrite an input and
never clobber an existing file unless ``force``.

Tensors: :func:`to_tensor` / :func:`from_tensor` / :func:`to_uint8` (from :mod:`reexposure.core.arrays`).
"""

from __future__ import annotations

from ..core.arrays import from_tensor, to_tensor, to_uint8
from .common import (
                     DEFAULT_MAX_PIXELS,
                     MAX_PIXELS_ENV,
                     ImageError,
                     ImageWarning,
                     OutputExistsError,
                     get_max_pixels,
                     set_max_pixels,
)
from .extensions import HDR_EXTENSIONS, PHOTO_INPUT_EXTENSIONS
from .extensions import PHOTO_WRITE_EXTENSIONS as PHOTO_EXTENSIONS
from .hdr import read_hdr, write_hdr
from .paths import atomic_output, check_output_path
from .photo import Photo, read_photo, write_photo

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HDR_EXTENSIONS",
    "PHOTO_EXTENSIONS",
    "PHOTO_INPUT_EXTENSIONS",
    "ImageError",
    "ImageWarning",
    "MAX_PIXELS_ENV",
    "OutputExistsError",
    "Photo",
    "atomic_output",
    "check_output_path",
    "from_tensor",
    "to_uint8",
    "get_max_pixels",
    "read_hdr",
    "read_photo",
    "set_max_pixels",
    "to_tensor",
    "write_hdr",
    "write_photo",
]
