"""The file extensions of every format the package reads and writes (lower case, with the dot).

The one list: the codecs (:mod:`reexposure.formats.io`), the command line's folder scan, the
training data scan and the evaluation harness all take theirs from here.
"""

from __future__ import annotations

__all__ = ["PHOTO_WRITE_EXTENSIONS", "PHOTO_INPUT_EXTENSIONS", "HDR_EXTENSIONS", "VIDEO_EXTENSIONS",
           "PHOTO_MEDIA_TYPES"]

#: Photo formats :func:`~reexposure.formats.io.write_photo` writes.
PHOTO_WRITE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
#: Photo formats :func:`~reexposure.formats.io.read_photo` is meant for (used to scan folders).
PHOTO_INPUT_EXTENSIONS = (
    ".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif",
    ".avif", ".gif", ".bmp",
)  # fmt: skip
#: Radiance formats :func:`~reexposure.formats.io.read_hdr` reads and ``write_hdr`` writes.
HDR_EXTENSIONS = (".exr", ".hdr", ".pfm")
#: Exposure-sweep video formats (:mod:`reexposure.formats.video`).
VIDEO_EXTENSIONS = (".mp4", ".gif")
#: Media type of the photo formats a browser may upload (the web app's accepted types).
PHOTO_MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
                     ".tiff": "image/tiff", ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif"}
