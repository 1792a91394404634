"""Image I/O: the only module that touches codecs.

Photos (8- or 16-bit, display-referred):

* :func:`read_photo` reads JPEG (baseline, progressive, CMYK/YCCK with Adobe polarity), PNG 8/16-bit,
  TIFF 8/16-bit, WebP, HEIC/HEIF (pillow-heif, registered lazily), GIF/BMP/PPM/AVIF (first frame).
  It applies the EXIF orientation, converts embedded ICC profiles (Display P3, Adobe RGB, CMYK, gray,
  anything LittleCMS understands) to sRGB, turns grayscale and palette images into RGB and splits
  off the alpha channel untouched. The result is a :class:`Photo`.
* :func:`write_photo` writes JPEG, PNG 8/16, TIFF 8/16 and WebP atomically, carrying alpha, EXIF and
  the original ICC profile over from the photo it was made from (``like``).

Radiance maps (linear, scene-referred float):

* :func:`read_hdr` / :func:`write_hdr`: OpenEXR (half or float, via the ``OpenEXR`` package),
  Radiance RGBE ``.hdr`` (run-length encoded or flat scanlines; own reader/writer) and PFM
  (colour/gray, either byte order, rows stored bottom to top).

Safety: every failure to read or write raises :class:`ImageError` whose message is one line naming
the file and the problem; image dimensions are checked against a pixel limit (:func:`get_max_pixels`)
from the header, before any pixel is decoded; outputs go through :func:`atomic_output` (temp file in
the same folder, renamed on success, removed on failure), never overwrite an input and never
clobber an existing file unless ``force``.

Tensors: :func:`to_tensor` / :func:`from_tensor` convert between HWC numpy arrays and NCHW float32.
"""

from __future__ import annotations

import contextlib
import functools
import io as _bio
import logging
import os
import re
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..core.arrays import from_tensor, to_tensor, to_uint8
from ..core.files import atomic_path

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

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

#: Default limit on width*height of any image read (header-checked before decoding).
DEFAULT_MAX_PIXELS = 200_000_000
#: Environment variable overriding :data:`DEFAULT_MAX_PIXELS` (a positive integer).
MAX_PIXELS_ENV = "REEXPOSE_MAX_PIXELS"
#: Extensions :func:`write_photo` writes (lower case).
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
#: Extensions :func:`write_hdr` writes and :func:`read_hdr` reads (lower case).
HDR_EXTENSIONS = (".exr", ".hdr", ".pfm")
#: Extensions of files :func:`read_photo` is meant for, for scanning folders (lower case).
PHOTO_INPUT_EXTENSIONS = (
    ".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif",
    ".avif", ".gif", ".bmp",
)  # fmt: skip

_PIL_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
# Formats Pillow may try when opening a photo: raster formats with a real signature only (no TGA,
# whose weak header check accepts random bytes, and nothing that shells out, like EPS).
# (MPO files open through the JPEG plugin.)
_OPEN_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "GIF", "BMP", "PPM", "JPEG2000", "HEIF", "AVIF")


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


def get_max_pixels(max_pixels: int | None = None) -> int:
    """The pixel limit in force: ``max_pixels`` if given, else :func:`set_max_pixels`'s value, else
    the ``REEXPOSE_MAX_PIXELS`` environment variable, else :data:`DEFAULT_MAX_PIXELS`."""
    if max_pixels is not None:
        if max_pixels < 4:
            raise ValueError(f"max pixels must be >= 4, got {max_pixels!r}")
        return int(max_pixels)
    if _max_pixels_override is not None:
        return _max_pixels_override
    env = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if env:
        try:
            value = int(float(env.replace("_", "")))
        except ValueError:
            raise ImageError(f"{MAX_PIXELS_ENV}={env!r} is not a number") from None
        if value < 4:
            raise ImageError(f"{MAX_PIXELS_ENV}={env!r} must be at least 4")
        return value
    return DEFAULT_MAX_PIXELS


def _check_dims(name: str, width: int, height: int, limit: int) -> None:
    """Refuse images over ``limit`` pixels or under 2x2, from header dimensions."""
    if width * height > limit:
        raise ImageError(
            f"{name}: image is too large ({width}x{height} = {width * height:,} pixels, limit {limit:,};"
            f" set {MAX_PIXELS_ENV} to raise it)"
        )
    if width < 2 or height < 2:
        raise ImageError(f"{name}: image is too small ({width}x{height}; at least 2x2 pixels needed)")


# --------------------------------------------------------------------------------------------
# Photo
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Photo:
    """A decoded photo, ready for processing.

    ``rgb``: HxWx3 C-contiguous uint8 (8-bit sources) or uint16 (16-bit PNG/TIFF), sRGB encoded,
    orientation applied. ``alpha``: HxW of the same dtype exactly as stored, or ``None``.
    ``icc``: the ORIGINAL embedded ICC profile bytes (the pixels are already converted from it to
    sRGB; :func:`write_photo` converts back and embeds it), ``None`` for sRGB/untagged.
    ``exif``: EXIF block (``b"Exif\\0\\0"`` + TIFF structure) with the orientation reset to 1, or
    ``None``. ``format``: Pillow's format name ("JPEG", "PNG", "TIFF", "WEBP", "HEIF", ...).
    ``path``: the file it was read from (``None`` for in-memory data).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    icc: bytes | None = None
    exif: bytes | None = None
    format: str = ""
    path: Path | None = None

    @property
    def bits(self) -> int:
        """Bits per channel of :attr:`rgb`: 8 or 16."""
        return 16 if self.rgb.dtype == np.uint16 else 8

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


# --------------------------------------------------------------------------------------------
# ICC helpers (LittleCMS through Pillow for 8-bit; own matrix/TRC maths for 16-bit)
# --------------------------------------------------------------------------------------------

_SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SRGB_ICC = _SRGB_PROFILE.tobytes()
_INTENT = ImageCms.Intent.PERCEPTUAL  # matrix/TRC profiles fall back to colorimetric


def _icc_colorspace(icc: bytes) -> str:
    """ICC header data colour space: "RGB", "GRAY", "CMYK", "Lab", ... ("" if not a profile)."""
    if len(icc) < 128 or icc[36:40] != b"acsp":
        return ""
    return icc[16:20].decode("latin-1").strip()


@functools.lru_cache(maxsize=16)
def _cms_profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(_bio.BytesIO(icc))


@functools.lru_cache(maxsize=32)
def _cms_transform(icc: bytes, in_mode: str, to_srgb: bool) -> ImageCms.ImageCmsTransform:
    src, dst = (_cms_profile(icc), _SRGB_PROFILE) if to_srgb else (_SRGB_PROFILE, _cms_profile(icc))
    out_mode = "RGB" if to_srgb else in_mode
    in_m = in_mode if to_srgb else "RGB"
    # NOCACHE: LittleCMS's one-pixel cache is not thread safe; transforms are shared.
    return ImageCms.buildTransform(src, dst, in_m, out_mode, _INTENT, flags=ImageCms.Flags.NOCACHE)


@functools.lru_cache(maxsize=16)
def _is_srgb(icc: bytes) -> bool:
    """True when ``icc`` is an sRGB profile (by name, or by matrix/TRC equal to sRGB's)."""
    if _icc_colorspace(icc) != "RGB":
        return False
    try:
        desc = ImageCms.getProfileDescription(_cms_profile(icc)) or ""
    except Exception:  # noqa: BLE001 - unusable profiles are simply "not sRGB"
        return False
    if "srgb" in desc.lower().replace(" ", ""):
        return True
    shaper, ref = _parse_shaper(icc), _parse_shaper(_SRGB_ICC)
    if shaper is None or ref is None or shaper.matrix is None or ref.matrix is None:
        return False
    x = np.linspace(0, 1, 64)
    return bool(
        np.allclose(shaper.matrix, ref.matrix, atol=2e-3)
        and all(np.allclose(c(x), ref.curves[0](x), atol=2e-3) for c in shaper.curves)
    )


class _Curve:
    """An ICC tone curve (``curv`` or ``para``) as a vectorised function on [0, 1]."""

    def __init__(self, kind: str, params: np.ndarray):
        self.kind, self.params = kind, params

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
        k, p = self.kind, self.params
        if k == "identity":
            return x
        if k == "gamma":
            return x ** p[0]
        if k == "table":
            return np.interp(x, np.linspace(0.0, 1.0, p.size), p)
        g, a, b, c, d, e, f = (list(p) + [0.0] * 7)[:7]
        if k == "para0":
            return x**g
        with np.errstate(invalid="ignore", divide="ignore"):
            base = np.maximum(a * x + b, 0.0) ** g
            if k == "para1":
                return np.where(x >= -b / a, base, 0.0)
            if k == "para2":
                return np.where(x >= -b / a, base + c, c)
            if k == "para3":
                return np.where(x >= d, base, c * x)
            return np.where(x >= d, base + e, c * x + f)  # para4

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Numerical inverse on [0, 1] (monotone interpolation of a dense table)."""
        xs = np.linspace(0.0, 1.0, 65536)
        ys = np.maximum.accumulate(self(xs))
        return np.interp(np.clip(y, 0.0, 1.0), ys, xs)


@dataclass(frozen=True)
class _Shaper:
    colorspace: str  # "RGB" or "GRAY"
    matrix: np.ndarray | None  # 3x3, device-linear RGB -> PCS XYZ (D50); None for gray
    curves: tuple[_Curve, ...]


def _parse_curve(data: bytes) -> _Curve | None:
    sig = data[:4]
    if sig == b"curv":
        n = struct.unpack(">I", data[8:12])[0]
        if n == 0:
            return _Curve("identity", np.zeros(0))
        if n == 1:
            return _Curve("gamma", np.array([struct.unpack(">H", data[12:14])[0] / 256.0]))
        table = np.frombuffer(data, ">u2", n, 12).astype(np.float64) / 65535.0
        return _Curve("table", table)
    if sig == b"para":
        ftype = struct.unpack(">H", data[8:10])[0]
        nparams = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(ftype)
        if nparams is None:
            return None
        params = np.frombuffer(data, ">i4", nparams, 12).astype(np.float64) / 65536.0
        return _Curve(f"para{ftype}", params)
    return None


@functools.lru_cache(maxsize=16)
def _parse_shaper(icc: bytes) -> _Shaper | None:
    """Parse a matrix/TRC (RGB) or TRC-only (gray) ICC profile; ``None`` for LUT-based ones."""
    try:
        if len(icc) < 132 or icc[20:24] != b"XYZ ":
            return None
        count = struct.unpack(">I", icc[128:132])[0]
        tags = {}
        for i in range(min(count, 1000)):
            sig, off, size = struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i])
            tags[sig] = icc[off : off + size]
        if any(t in tags for t in (b"A2B0", b"A2B1", b"A2B2")):
            return None  # LittleCMS would use the LUT; stay consistent by not using the matrix
        cs = _icc_colorspace(icc)
        if cs == "GRAY" and b"kTRC" in tags:
            curve = _parse_curve(tags[b"kTRC"])
            return None if curve is None else _Shaper("GRAY", None, (curve,))
        if cs != "RGB":
            return None
        cols = []
        for sig in (b"rXYZ", b"gXYZ", b"bXYZ"):
            d = tags[sig]
            if d[:4] != b"XYZ ":
                return None
            cols.append(np.frombuffer(d, ">i4", 3, 8).astype(np.float64) / 65536.0)
        curves = tuple(_parse_curve(tags[s]) for s in (b"rTRC", b"gTRC", b"bTRC"))
        if any(c is None for c in curves):
            return None
        matrix = np.stack(cols, axis=1)
        if abs(np.linalg.det(matrix)) < 1e-9:
            return None
        return _Shaper("RGB", matrix, curves)  # type: ignore[arg-type]
    except (KeyError, struct.error, ValueError, IndexError):
        return None


def _srgb_encode(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)


def _srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4))


def _shaper_to_srgb16(arr: np.ndarray, shaper: _Shaper) -> np.ndarray:
    """uint16 HxWx3 (RGB profile) or HxW (gray profile) -> sRGB uint16 HxWx3, float maths."""
    grid = np.arange(65536, dtype=np.float64) / 65535.0
    if shaper.colorspace == "GRAY":
        lut = _srgb_encode(shaper.curves[0](grid))
        out = np.round(lut[arr] * 65535.0).astype(np.uint16)
        return np.repeat(out[..., None], 3, axis=-1)
    dst = _parse_shaper(_SRGB_ICC)
    assert dst is not None and dst.matrix is not None and shaper.matrix is not None
    m = (np.linalg.inv(dst.matrix) @ shaper.matrix).astype(np.float32)
    lin = np.empty(arr.shape, np.float32)
    for c in range(3):
        lin[..., c] = shaper.curves[c](grid).astype(np.float32)[arr[..., c]]
    lin = lin @ m.T
    out = _srgb_encode(lin)
    return np.round(out * 65535.0).astype(np.uint16)


def _srgb16_to_shaper(arr: np.ndarray, shaper: _Shaper) -> np.ndarray:
    """sRGB uint16 HxWx3 -> uint16 HxWx3 in the (RGB, matrix/TRC) profile ``shaper``."""
    dst = _parse_shaper(_SRGB_ICC)
    assert dst is not None and dst.matrix is not None and shaper.matrix is not None
    m = (np.linalg.inv(shaper.matrix) @ dst.matrix).astype(np.float32)
    grid = np.arange(65536, dtype=np.float64) / 65535.0
    lut = _srgb_decode(grid).astype(np.float32)
    lin = lut[arr] @ m.T
    out = np.empty(arr.shape, np.uint16)
    for c in range(3):
        out[..., c] = np.round(shaper.curves[c].inverse(lin[..., c]) * 65535.0)
    return out


# --------------------------------------------------------------------------------------------
# EXIF helpers
# --------------------------------------------------------------------------------------------

_EXIF_HEADER = b"Exif\x00\x00"
# IFD0 tags worth carrying over from a TIFF file's own directory (the rest describe its layout).
_TIFF_EXIF_TAGS = (
    0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x8298,
    0x8769, 0x8825,
)  # fmt: skip


def _exif_reset_orientation(raw: bytes) -> bytes | None:
    """Patch the IFD0 Orientation entry of an EXIF block to 1 in place (keeps maker notes intact).
    Returns the new block, or ``None`` if the structure could not be parsed."""
    try:
        tiff = bytearray(raw[len(_EXIF_HEADER) :])
        e = {b"II": "<", b"MM": ">"}[bytes(tiff[:2])]
        if struct.unpack(e + "H", tiff[2:4])[0] != 42:
            return None
        ifd = struct.unpack(e + "I", tiff[4:8])[0]
        n = struct.unpack(e + "H", tiff[ifd : ifd + 2])[0]
        for i in range(n):
            off = ifd + 2 + 12 * i
            tag, typ, cnt = struct.unpack(e + "HHI", tiff[off : off + 8])
            if tag == 0x0112:
                if typ != 3 or cnt != 1:
                    return None
                tiff[off + 8 : off + 10] = struct.pack(e + "H", 1)
        return _EXIF_HEADER + bytes(tiff)
    except (KeyError, struct.error, IndexError):
        return None


def _photo_exif(im: Image.Image, exif: Image.Exif | None, name: str, had_orientation: bool = False) -> bytes | None:
    """EXIF bytes for :attr:`Photo.exif`: original block with orientation reset to 1."""
    raw = im.info.get("exif")
    if isinstance(raw, (bytes, bytearray)) and raw and im.format != "TIFF":
        raw = bytes(raw)
        if raw[:4] in (b"II*\x00", b"MM\x00*"):
            raw = _EXIF_HEADER + raw
        if raw.startswith(_EXIF_HEADER):
            patched = _exif_reset_orientation(raw)
            if patched is not None:
                return patched
    if exif is None or len(exif) == 0:
        return None
    try:
        if im.format == "TIFF":  # the TIFF directory itself: keep descriptive tags only
            clean = Image.Exif()
            for tag in _TIFF_EXIF_TAGS:
                if tag in exif:
                    clean[tag] = exif.get_ifd(tag) if tag in (0x8769, 0x8825) else exif[tag]
            if had_orientation:
                clean[0x0112] = 1
            exif = clean
            if len(exif) == 0:
                return None
        if 0x0112 in exif:
            exif[0x0112] = 1
        return exif.tobytes()
    except Exception as exc:  # noqa: BLE001 - broken EXIF is dropped, never fatal
        _warn(f"{name}: dropped unreadable EXIF data ({_one_line(exc)})")
        return None


# --------------------------------------------------------------------------------------------
# Reading photos
# --------------------------------------------------------------------------------------------

_PIL_LOCK = threading.Lock()
_heif_registered = False
_plugins_loaded = False


def _register_heif() -> None:
    """Register pillow-heif's opener once (lazily: only when a HEIF-like file shows up)."""
    global _heif_registered
    if _heif_registered:
        return
    _heif_registered = True
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception as exc:  # noqa: BLE001 - HEIC then reads as "not an image"
        log.debug("pillow-heif unavailable: %s", exc)


Source = Union[PathLike, bytes, bytearray, memoryview, BinaryIO]


def _pil_plugins() -> tuple[str, ...]:
    """Import the Pillow plugins for :data:`_OPEN_FORMATS` (not all of Pillow's: faster, safer);
    returns the formats available."""
    global _plugins_loaded
    if not _plugins_loaded:
        import importlib

        Image.preinit()
        for mod in ("JpegImagePlugin", "PngImagePlugin", "TiffImagePlugin", "WebPImagePlugin", "GifImagePlugin",
                    "BmpImagePlugin", "PpmImagePlugin", "Jpeg2KImagePlugin", "AvifImagePlugin"):  # fmt: skip
            with contextlib.suppress(ImportError):
                importlib.import_module(f"PIL.{mod}")
        _plugins_loaded = True
    return tuple(f for f in _OPEN_FORMATS if f in Image.OPEN)


def _signature(head: bytes) -> str:
    """Format name from the first bytes of a file ("" when not a known photo format)."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[:4] == b"GIF8":
        return "GIF"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF"
    if head[:2] == b"BM":
        return "BMP"
    return ""


def _pil_open(src: str | bytes, name: str) -> Image.Image:
    """Image.open with Pillow's own bomb limit off (ours is checked right after, from the header).

    Pillow's warnings during opening are re-issued as :class:`ImageWarning` naming the file."""
    fp: str | _bio.BytesIO = src if isinstance(src, str) else _bio.BytesIO(src)
    with _PIL_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        formats = _pil_plugins()
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            im = Image.open(fp, formats=formats)
        finally:
            Image.MAX_IMAGE_PIXELS = old
    for w in caught:
        _warn(f"{name}: {_one_line(Exception(str(w.message)))}")
    return im


def _rawmode(tile: tuple) -> str | None:
    args = tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def _retile(im: Image.Image, rawmode_fn) -> None:
    tiles = []
    for t in im.tile:
        args = t[3]
        new = rawmode_fn(args if isinstance(args, str) else args[0])
        args = new if isinstance(args, str) else (new,) + tuple(args[1:])
        tiles.append(t._replace(args=args) if hasattr(t, "_replace") else (t[0], t[1], t[2], args))
    im.tile = tiles


def _swap_16(rawmode: str) -> str:
    """'RGB;16B' <-> 'RGB;16L' ('16N' = host order): the unpacker then picks the LOW bytes."""
    end = rawmode[-1]
    if end == "N":
        end = "L" if sys.byteorder == "little" else "B"
    return rawmode[:-1] + ("B" if end == "L" else "L")


_WIDE_RE = re.compile(r"^(RGB|RGBA|RGBX);16[BLN]$")


def _load(im: Image.Image, name: str) -> None:
    """Decode all pixels; truncation and corruption become :class:`ImageError`."""
    try:
        im.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError, ...
        msg = _one_line(exc)
        if "truncated" in msg.lower() or isinstance(exc, EOFError):
            raise ImageError(f"{name}: truncated image file ({msg})") from None
        raise ImageError(f"{name}: corrupt or unsupported image data ({msg})") from None


# EXIF orientation -> the transpose that shows the image upright (what ImageOps.exif_transpose does)
_ORIENT_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    if orientation in _ORIENT_TRANSPOSE:
        try:
            return ImageOps.exif_transpose(im)
        except Exception:  # noqa: BLE001 - EXIF that Pillow cannot re-serialise (found by fuzzing)
            return im.transpose(_ORIENT_TRANSPOSE[orientation])
    return im


def read_photo(path: Source, max_pixels: int | None = None, *, name: str | None = None) -> Photo:
    """Read a photo file (or in-memory bytes / binary file object) into a :class:`Photo`.

    Applies EXIF orientation; converts an embedded ICC profile to sRGB (8-bit: LittleCMS;
    16-bit matrix/TRC profiles: float maths, other profiles at 8-bit precision with a warning);
    grayscale -> RGB; palette -> RGB(A); alpha split off untouched; 16-bit PNG/TIFF stay uint16.
    Animated/multi-page files: the first frame. ``max_pixels``: refuse images with more pixels
    (default :func:`get_max_pixels`), checked from the header before decoding.
    Raises :class:`ImageError` (one line naming the file) for anything unreadable.
    """
    limit = get_max_pixels(max_pixels)
    src: str | bytes
    fpath: Path | None = None
    if isinstance(path, (bytes, bytearray, memoryview)):
        src, name = bytes(path), name or "<image data>"
    elif hasattr(path, "read"):
        name = name or str(getattr(path, "name", "<image stream>"))
        src = path.read()  # type: ignore[union-attr]
    else:
        fpath = Path(path)  # type: ignore[arg-type]
        name = name or str(fpath)
        if not fpath.exists():
            raise ImageError(f"{name}: no such file")
        if fpath.is_dir():
            raise ImageError(f"{name}: is a folder, not an image file")
        src = str(fpath)
    try:
        if isinstance(src, bytes):
            head, size = src[:16], len(src)
        else:
            with open(src, "rb") as fh:
                head = fh.read(16)
            size = os.path.getsize(src)
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or _one_line(exc)})") from None
    if size == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
    if head[4:8] == b"ftyp":
        _register_heif()

    sig = _signature(head)
    try:
        im = _pil_open(src, name)
    except UnidentifiedImageError:
        if sig:
            raise ImageError(f"{name}: corrupt or truncated {sig} file (cannot read its header)") from None
        raise ImageError(f"{name}: not an image (unrecognised file format)") from None
    except Exception as exc:  # noqa: BLE001 - broken headers raise all sorts
        raise ImageError(f"{name}: corrupt or truncated {sig or 'image'} file ({_one_line(exc)})") from None
    try:
        return _decode_photo(im, src, name, fpath, limit)
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode a {im.width}x{im.height} image") from None
    finally:
        im.close()


def _decode_photo(im: Image.Image, src: str | bytes, name: str, fpath: Path | None, limit: int) -> Photo:
    width, height = im.size
    _check_dims(name, width, height, limit)
    fmt = im.format or ""
    rawmode = _rawmode(im.tile[0]) if im.tile else None
    wide = im.mode in ("RGB", "RGBA") and rawmode is not None and bool(_WIDE_RE.match(rawmode))
    la16 = im.mode == "RGBA" and rawmode == "LA;16B"
    if la16:
        _retile(im, lambda _r: "RGBA")  # 4 bytes/pixel copied raw: L hi, L lo, A hi, A lo
    # Pillow's TIFF loader applies the orientation itself and deletes the tag: note it first.
    try:
        tiff_oriented = fmt == "TIFF" and 0x0112 in im.getexif()
    except Exception:  # noqa: BLE001
        tiff_oriented = False
    _load(im, name)

    try:
        exif: Image.Exif | None = im.getexif()
        orientation = int(exif.get(0x0112, 1) or 1)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001
        _warn(f"{name}: ignored unreadable EXIF data ({_one_line(exc)})")
        exif, orientation = None, 1
    exif_bytes = _photo_exif(im, exif, name, tiff_oriented)
    icc = im.info.get("icc_profile") or None
    if icc is not None:
        icc = bytes(icc)

    # ---- 16 bits per channel ----------------------------------------------------------------
    arr16: np.ndarray | None = None
    if wide:
        hi = np.asarray(_orient(im, orientation), dtype=np.uint16)
        try:
            im2 = _pil_open(src, name)
            try:
                _retile(im2, _swap_16)
                _load(im2, name)
                lo = np.asarray(_orient(im2, orientation), dtype=np.uint16)
            finally:
                im2.close()
            arr16 = (hi << 8) | lo
        except ImageError:
            raise
        except Exception as exc:  # noqa: BLE001 - fall back to Pillow's 8 significant bits
            _warn(f"{name}: read at 8-bit precision ({_one_line(exc)})")
            arr16 = hi * 257
    elif la16:
        b = np.asarray(_orient(im, orientation), dtype=np.uint16)
        arr16 = np.stack([(b[..., 0] << 8) | b[..., 1], (b[..., 2] << 8) | b[..., 3]], axis=-1)
    elif im.mode.startswith("I;16"):
        arr16 = np.asarray(_orient(im, orientation)).astype(np.uint16)
    elif im.mode == "I":
        a = np.asarray(_orient(im, orientation))
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ImageError(f"{name}: unsupported 32-bit integer image (values outside 0..65535)")
        arr16 = a.astype(np.uint16)
    elif im.mode == "F":
        raise ImageError(f"{name}: unsupported floating-point image (use .exr, .hdr or .pfm for HDR)")
    if arr16 is not None:
        rgb, alpha, icc = _finish16(arr16, icc, name)
        return Photo(np.ascontiguousarray(rgb), alpha, icc, exif_bytes, fmt, fpath)

    # ---- 8 bits per channel -----------------------------------------------------------------
    img = _orient(im, orientation)
    mode = img.mode
    if mode == "1":
        img = img.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info or (img.palette and img.palette.mode == "RGBA")
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("L", "RGB") and "transparency" in img.info:
        img = img.convert("LA" if mode == "L" else "RGBA")
    elif mode == "La":
        img = img.convert("LA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    elif mode in ("RGBX", "YCbCr", "HSV"):
        img = img.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "LAB"):
        img = img.convert("RGBA" if "A" in mode else "RGB")
    alpha = None
    if img.mode in ("LA", "RGBA"):
        alpha = np.array(img.getchannel("A"))
        img = img.convert(img.mode[:-1])
    img, icc = _to_srgb8(img, icc, name)
    return Photo(np.ascontiguousarray(np.array(img)), alpha, icc, exif_bytes, fmt, fpath)


def _matching_icc(icc: bytes | None, space: str, name: str) -> bytes | None:
    """``icc`` if it describes ``space`` (GRAY, RGB, CMYK, Lab); otherwise None, with a warning."""
    if icc is None:
        return None
    cs = _icc_colorspace(icc)
    if cs != space:
        _warn(f"{name}: ignored embedded ICC profile ({cs or 'not a valid profile'} for a {space} image)")
        return None
    return icc


def _to_srgb8(img: Image.Image, icc: bytes | None, name: str) -> tuple[Image.Image, bytes | None]:
    """Convert an 8-bit L/RGB/CMYK/LAB image to sRGB RGB; returns (image, profile kept)."""
    space = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK", "LAB": "Lab"}[img.mode]
    icc = _matching_icc(icc, space, name)
    if icc is not None:
        if not (space == "RGB" and _is_srgb(icc)):
            try:
                return ImageCms.applyTransform(img, _cms_transform(icc, img.mode, True)), icc
            except Exception as exc:  # noqa: BLE001
                _warn(f"{name}: ignored unusable ICC profile ({_one_line(exc)})")
                icc = None
    if img.mode == "LAB":
        lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
        return ImageCms.profileToProfile(img, lab, _SRGB_PROFILE, outputMode="RGB"), icc
    return (img if img.mode == "RGB" else img.convert("RGB")), icc


def _finish16(arr: np.ndarray, icc: bytes | None, name: str) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """uint16 HxW[xC] (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) -> (sRGB HxWx3, alpha, icc kept)."""
    if arr.ndim == 2:
        arr = arr[..., None]
    channels = arr.shape[-1]
    alpha = np.ascontiguousarray(arr[..., -1]) if channels in (2, 4) else None
    color = arr[..., :3] if channels >= 3 else arr[..., 0]
    space = "RGB" if channels >= 3 else "GRAY"
    icc = _matching_icc(icc, space, name)
    if icc is not None:
        if not (space == "RGB" and _is_srgb(icc)):
            shaper = _parse_shaper(icc)
            if shaper is not None:
                return _shaper_to_srgb16(color, shaper), alpha, icc
            try:  # LUT-based profile: LittleCMS at 8-bit precision
                mode = "RGB" if space == "RGB" else "L"
                small = Image.fromarray(((color.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8), mode)
                conv = ImageCms.applyTransform(small, _cms_transform(icc, mode, True))
                _warn(f"{name}: ICC profile applied at 8-bit precision (LUT-based profile)")
                return np.asarray(conv).astype(np.uint16) * 257, alpha, icc
            except Exception as exc:  # noqa: BLE001
                _warn(f"{name}: ignored unusable ICC profile ({_one_line(exc)})")
                icc = None
    if space == "GRAY":
        color = np.repeat(color[..., None], 3, axis=-1)
    return np.ascontiguousarray(color), alpha, icc


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
    extensions: Iterable[str] | None = PHOTO_EXTENSIONS + HDR_EXTENSIONS,
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


# --------------------------------------------------------------------------------------------
# Writing photos
# --------------------------------------------------------------------------------------------


def _as_hwc(rgb, name: str) -> np.ndarray:
    if isinstance(rgb, torch.Tensor):
        rgb = from_tensor(rgb) if rgb.ndim >= 3 else rgb.detach().cpu().numpy()
    arr = np.asarray(rgb)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"{name}: expected an HxWx3 (or HxWx4) image array, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: empty image array {arr.shape}")
    return arr


def _to_bits(arr: np.ndarray, bits: int) -> np.ndarray:
    """uint8/uint16/float[0,1] -> uint8 (bits=8) or uint16 (bits=16), rounded, C-contiguous."""
    if arr.dtype == np.uint8:
        out = arr if bits == 8 else arr.astype(np.uint16) * 257
    elif arr.dtype == np.uint16:
        out = arr if bits == 16 else ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255 if bits == 8 else arr.astype(np.uint16) * 65535
    elif np.issubdtype(arr.dtype, np.floating):
        top = 255.0 if bits == 8 else 65535.0
        f = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        out = np.round(np.clip(f, 0.0, 1.0) * top).astype(np.uint8 if bits == 8 else np.uint16)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"integer image values must be 0..255 (got dtype {arr.dtype}); use uint16 for 16 bits")
        return _to_bits(arr.astype(np.uint8), bits)
    else:
        raise ValueError(f"unsupported image dtype {arr.dtype}")
    return np.ascontiguousarray(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


_ABS_BYTE = np.minimum(np.arange(256), 256 - np.arange(256)).astype(np.uint8)  # |signed byte|


def _write_png16(fh: BinaryIO, arr: np.ndarray, icc: bytes | None, exif: bytes | None) -> None:
    """16-bit PNG (RGB or RGBA): per row the best of filters None/Sub/Up (least sum of absolute
    signed bytes), compressed in blocks of rows; iCCP and eXIf chunks before the pixels."""
    h, w, c = arr.shape
    bpp = 2 * c
    fh.write(b"\x89PNG\r\n\x1a\n")
    fh.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 6 if c == 4 else 2, 0, 0, 0)))
    if icc:
        fh.write(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        fh.write(_png_chunk(b"eXIf", exif[len(_EXIF_HEADER) :] if exif.startswith(_EXIF_HEADER) else exif))
    comp = zlib.compressobj(6)
    prev = np.zeros(w * bpp, np.uint8)
    step = max(1, (4 << 20) // (w * bpp))
    for y in range(0, h, step):
        raw = np.ascontiguousarray(arr[y : y + step].astype(">u2")).view(np.uint8).reshape(-1, w * bpp)
        sub = raw.copy()
        sub[:, bpp:] -= raw[:, :-bpp]
        up = raw.copy()
        up[0] -= prev
        up[1:] -= raw[:-1]
        prev = raw[-1].copy()
        cands = (raw, sub, up)  # filter types 0, 1, 2
        scores = np.stack([_ABS_BYTE[x].sum(axis=1, dtype=np.int64) for x in cands])
        choice = scores.argmin(axis=0)
        rows = np.empty((raw.shape[0], w * bpp + 1), np.uint8)
        rows[:, 0] = choice
        for t, cand in enumerate(cands):
            rows[choice == t, 1:] = cand[choice == t]
        data = comp.compress(rows.tobytes())
        if data:
            fh.write(_png_chunk(b"IDAT", data))
    fh.write(_png_chunk(b"IDAT", comp.flush()))
    fh.write(_png_chunk(b"IEND", b""))


def _write_tiff16(fh: BinaryIO, arr: np.ndarray, icc: bytes | None) -> None:
    """16-bit little-endian TIFF (RGB or RGBA, unassociated alpha): deflate + horizontal predictor,
    strips of about 256 KiB, ICC profile tag."""
    h, w, c = arr.shape
    pred = arr.astype(np.uint16, copy=True)
    pred[:, 1:] -= arr[:, :-1].astype(np.uint16)
    rows_per_strip = max(1, (256 * 1024) // (w * c * 2))
    strips = [
        zlib.compress(np.ascontiguousarray(pred[y : y + rows_per_strip].astype("<u2")).tobytes(), 6)
        for y in range(0, h, rows_per_strip)
    ]
    blobs = bytearray()
    pos = 8

    def add(data: bytes) -> int:
        nonlocal pos
        off = pos
        blobs.extend(data)
        pos += len(data)
        if pos % 2:
            blobs.append(0)
            pos += 1
        return off

    strip_offsets = [add(s) for s in strips]
    n = len(strips)
    offs_off = add(struct.pack(f"<{n}I", *strip_offsets))
    counts_off = add(struct.pack(f"<{n}I", *[len(s) for s in strips]))
    bps_off = add(struct.pack(f"<{c}H", *([16] * c)))
    fmt_off = add(struct.pack(f"<{c}H", *([1] * c)))
    res_off = add(struct.pack("<II", 72, 1))
    icc_off = add(icc) if icc else 0
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, 4-byte value field

    def short(tag: int, v: int) -> None:
        entries.append((tag, 3, 1, struct.pack("<HH", v, 0)))

    def long_(tag: int, typ: int, count: int, v: int) -> None:
        entries.append((tag, typ, count, struct.pack("<I", v)))

    long_(256, 4, 1, w)
    long_(257, 4, 1, h)
    long_(258, 3, c, bps_off)
    short(259, 8)  # Adobe deflate
    short(262, 2)  # RGB
    if n == 1:
        long_(273, 4, 1, strip_offsets[0])
    else:
        long_(273, 4, n, offs_off)
    short(277, c)
    long_(278, 4, 1, rows_per_strip)
    if n == 1:
        long_(279, 4, 1, len(strips[0]))
    else:
        long_(279, 4, n, counts_off)
    long_(282, 5, 1, res_off)
    long_(283, 5, 1, res_off)
    short(284, 1)
    short(296, 2)
    short(317, 2)  # horizontal differencing
    if c == 4:
        short(338, 2)  # unassociated alpha
    long_(339, 3, c, fmt_off)
    if icc:
        long_(34675, 7, len(icc), icc_off)
    entries.sort()
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", t, ty, cnt) + v for t, ty, cnt, v in entries)
    ifd += struct.pack("<I", 0)
    fh.write(b"II" + struct.pack("<HI", 42, pos) + bytes(blobs) + ifd)


def _output_icc(icc: bytes | None, name: str) -> tuple[bytes | None, bool]:
    """(profile to embed, whether pixels must be converted from sRGB into it)."""
    if not icc:
        return None, False
    if _icc_colorspace(icc) != "RGB":
        return None, False  # gray/CMYK originals: the output is RGB, written as plain sRGB
    if _is_srgb(icc):
        return icc, False
    return icc, True


def write_photo(
    path: PathLike,
    rgb: np.ndarray | torch.Tensor,
    *,
    like: Photo | None = None,
    quality: int = 95,
    force: bool = False,
    bits: int | None = None,
    inputs: Iterable[PathLike | None] = (),
) -> None:
    """Write an sRGB photo atomically as JPEG, PNG, TIFF or WebP (chosen by the extension).

    ``rgb``: HxWx3 (or HxWx4 with its own alpha, or HxW gray) uint8, uint16, or float in [0, 1]
    (clipped); a (1,3,H,W) tensor is accepted too. ``bits``: 8 or 16 for PNG/TIFF (default: 16 for
    uint16 input, else 8); JPEG/WebP are always 8-bit. ``like``: the photo this was made from:
    its EXIF is kept, its alpha re-attached (PNG/TIFF/WebP, when the size matches) and, when its ICC
    profile is an RGB profile other than sRGB, the pixels are converted from sRGB back to it and
    the profile embedded; its path is never overwritten. ``quality``: 1..100 for JPEG/WebP.
    ``force``: overwrite an existing output. ``inputs``: more paths never to overwrite.
    Raises :class:`ImageError` / :class:`OutputExistsError` (one line) on failure.
    """
    p = Path(path)
    all_inputs = [like.path if like is not None else None, *inputs]
    p = check_output_path(p, force, all_inputs, extensions=PHOTO_EXTENSIONS)
    fmt = _PIL_FORMAT[p.suffix.lower()]
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG/WebP quality must be 1..100, got {quality}")
    arr = _as_hwc(rgb, str(p))
    if bits is None:
        bits = 16 if (arr.dtype == np.uint16 and fmt in ("PNG", "TIFF")) else 8
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    if bits == 16 and fmt not in ("PNG", "TIFF"):
        raise ImageError(f"{p}: {fmt} supports 8 bits per channel only; use .png or .tif for 16 bits")
    alpha = arr[..., 3] if arr.shape[-1] == 4 else None
    color = _to_bits(arr[..., :3], bits)
    if alpha is None and like is not None and like.alpha is not None and like.alpha.shape == color.shape[:2]:
        alpha = like.alpha
    if fmt == "JPEG":
        alpha = None
    alpha8 = None if alpha is None else _to_bits(np.asarray(alpha), bits)

    icc, convert = _output_icc(like.icc if like is not None else None, str(p))
    exif = like.exif if like is not None else None
    if convert and icc is not None:
        if bits == 8:
            try:
                img = Image.fromarray(color, "RGB")
                color = np.array(ImageCms.applyTransform(img, _cms_transform(icc, "RGB", False)))
            except Exception as exc:  # noqa: BLE001
                _warn(f"{p}: wrote plain sRGB, the original ICC profile is unusable ({_one_line(exc)})")
                icc = None
        else:
            shaper = _parse_shaper(icc)
            if shaper is None:
                _warn(f"{p}: wrote plain sRGB (16-bit output into a LUT-based ICC profile is not supported)")
                icc = None
            else:
                color = _srgb16_to_shaper(color, shaper)

    with atomic_output(p, force=force, inputs=all_inputs) as tmp:
        try:
            _save_photo(tmp, fmt, color, alpha8, icc, exif, int(quality), bits, str(p))
        except ImageError:
            raise
        except OSError as exc:
            raise ImageError(f"{p}: cannot write ({exc.strerror or _one_line(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - encoder errors
            raise ImageError(f"{p}: cannot encode {fmt} ({_one_line(exc)})") from None


def _save_photo(
    tmp: Path, fmt: str, color: np.ndarray, alpha: np.ndarray | None, icc: bytes | None,
    exif: bytes | None, quality: int, bits: int, name: str,
) -> None:  # fmt: skip
    if bits == 16:
        arr = color if alpha is None else np.concatenate([color, alpha[..., None]], axis=-1)
        with open(tmp, "wb") as fh:
            if fmt == "PNG":
                _write_png16(fh, arr, icc, exif)
            else:
                _write_tiff16(fh, arr, icc)
        return
    img = Image.fromarray(color, "RGB")
    if alpha is not None:
        img.putalpha(Image.fromarray(alpha, "L"))
    kw: dict = {}
    if icc:
        kw["icc_profile"] = icc
    if exif:
        kw["exif"] = exif
    if fmt == "JPEG":
        kw.update(quality=quality, subsampling=0 if quality >= 90 else 2)
        if exif and len(exif) > 65533:
            _warn(f"{name}: EXIF block too large for JPEG ({len(exif)} bytes), dropped")
            kw.pop("exif")
    elif fmt == "PNG":
        kw.update(compress_level=6)
    elif fmt == "TIFF":
        kw.update(compression="tiff_deflate")
    elif fmt == "WEBP":
        kw.update(quality=quality, method=4, lossless=quality >= 100)
    img.save(tmp, format=fmt, **kw)


# --------------------------------------------------------------------------------------------
# HDR: OpenEXR, Radiance RGBE, PFM
# --------------------------------------------------------------------------------------------


def _sanitize(arr: np.ndarray, name: str, keep_negative: bool = False) -> np.ndarray:
    """Replace NaN/Inf (and, unless ``keep_negative``, negative) values by 0 (in place on a float32
    array), warning with the count."""
    bad = ~np.isfinite(arr)
    if not keep_negative:
        bad |= arr < 0
    n = int(np.count_nonzero(bad))
    if n:
        what = "NaN/Inf" if keep_negative else "NaN/Inf/negative"
        _warn(f"{name}: {n} {what} value{'s' if n != 1 else ''} set to 0")
        arr[bad] = 0.0
    return arr


def _hdr_source_checks(p: Path, name: str) -> bytes:
    if not p.exists():
        raise ImageError(f"{name}: no such file")
    if p.is_dir():
        raise ImageError(f"{name}: is a folder, not an image file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or _one_line(exc)})") from None
    if not head:
        raise ImageError(f"{name}: empty file (0 bytes)")
    return head


def read_hdr(path: PathLike, max_pixels: int | None = None, *, keep_negative: bool = False) -> np.ndarray:
    """Read an HDR radiance map: OpenEXR, Radiance ``.hdr`` (RGBE) or PFM, detected by content.

    Returns HxWx3 C-contiguous float32 linear RGB; NaN/Inf/negative values are set to 0 with an
    :class:`ImageWarning` naming the count (``keep_negative``: negative values are returned as they
    are, for code that repairs what a lossy codec such as DWAB left below zero). Gray files are replicated to 3 channels; EXR alpha is
    dropped. The header's size is checked against the pixel limit (:func:`get_max_pixels`)
    before pixels are read. Raises :class:`ImageError` (one line) for unreadable files.
    """
    p = Path(path)
    name = str(p)
    limit = get_max_pixels(max_pixels)
    head = _hdr_source_checks(p, name)
    try:
        if head[:4] == b"\x76\x2f\x31\x01":
            arr = _read_exr(p, name, limit)
        elif head[:2] == b"#?":
            arr = _read_rgbe(p, name, limit)
        elif head[:2] in (b"PF", b"Pf"):
            arr = _read_pfm(p, name, limit)
        else:
            raise ImageError(f"{name}: not an HDR image (expected OpenEXR, Radiance .hdr or PFM)")
        return np.ascontiguousarray(_sanitize(arr, name, keep_negative))
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to read this image") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or _one_line(exc)})") from None


def _read_exr(p: Path, name: str, limit: int) -> np.ndarray:
    import OpenEXR

    try:
        header = OpenEXR.File(str(p), header_only=True).header()
        lo, hi = header["dataWindow"]
        width, height = int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)
        names = {c.name for c in header["channels"]}
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises RuntimeError/ValueError/bare Exception
        raise ImageError(f"{name}: not a readable OpenEXR file ({_one_line(exc)})") from None
    _check_dims(name, width, height, limit)
    interleaved = {"R", "G", "B"} <= names
    try:
        chans = OpenEXR.File(str(p), separate_channels=not interleaved).channels()
        if interleaved:
            key = "RGBA" if "RGBA" in chans else "RGB"
            return np.array(chans[key].pixels[..., :3], dtype=np.float32)
        planes = {k: (v.pixels, v.xSampling, v.ySampling) for k, v in chans.items()}
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ImageError(f"{name}: truncated or corrupt OpenEXR file ({_one_line(exc)})") from None

    def plane(key: str) -> np.ndarray:
        px, xs, ys = planes[key]
        px = np.asarray(px, dtype=np.float32)
        if px.shape != (height, width):  # subsampled chroma: nearest-neighbour upsampling
            px = np.repeat(np.repeat(px, int(ys), axis=0), int(xs), axis=1)[:height, :width]
        return px

    prefixes = sorted({k[: -len(k.split(".")[-1])] for k in planes})
    for pre in prefixes:
        if all(pre + c in planes for c in "RGB"):
            return np.stack([plane(pre + c) for c in "RGB"], axis=-1)
    for pre in prefixes:
        if pre + "Y" in planes:
            y = plane(pre + "Y")
            if pre + "RY" in planes and pre + "BY" in planes:
                yw = _exr_luminance_weights(header)
                r = (plane(pre + "RY") + 1.0) * y
                b = (plane(pre + "BY") + 1.0) * y
                g = (y - r * yw[0] - b * yw[2]) / yw[1]
                return np.stack([r, g, b], axis=-1).astype(np.float32)
            return np.repeat(y[..., None], 3, axis=-1)
    found = ", ".join(sorted(planes))
    found = found if len(found) <= 80 else found[:77] + "..."  # channel names come from the file
    raise ImageError(f"{name}: OpenEXR file has no RGB or Y channels (found: {found})")


def _exr_luminance_weights(header: dict) -> np.ndarray:
    """Y row of the RGB->XYZ matrix of the file's chromaticities (default Rec.709 / sRGB)."""
    chroma = header.get("chromaticities")
    try:
        xy = np.asarray(chroma, dtype=np.float64).reshape(4, 2)
    except (TypeError, ValueError):
        return np.array([0.2126, 0.7152, 0.0722])
    prim = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in xy[:3]]).T
    wx, wy = xy[3]
    white = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
    scale = np.linalg.solve(prim, white)
    return prim[1] * scale


def _read_rgbe(p: Path, name: str, limit: int) -> np.ndarray:
    with open(p, "rb") as fh:
        lines = []
        while True:
            line = fh.readline(4096)
            if not line:
                raise ImageError(f"{name}: truncated Radiance .hdr header")
            line = line.strip()
            if not line:
                break
            lines.append(line)
        fmt = next((ln.split(b"=", 1)[1].strip() for ln in lines if ln.startswith(b"FORMAT=")), b"32-bit_rle_rgbe")
        if fmt not in (b"32-bit_rle_rgbe", b"32-bit_rle_xyze"):
            raise ImageError(f"{name}: unsupported Radiance format {fmt[:40].decode('latin-1')!r}")
        res = fh.readline(256)
        m = re.match(rb"^\s*([-+])([XY])\s+(\d+)\s+([-+])([XY])\s+(\d+)\s*$", res)
        if not m or m.group(2) == m.group(5):
            raise ImageError(f"{name}: corrupt Radiance .hdr resolution line")
        n_scan, scan_len = int(m.group(3)), int(m.group(6))
        width, height = (scan_len, n_scan) if m.group(2) == b"Y" else (n_scan, scan_len)
        _check_dims(name, width, height, limit)
        data = fh.read()
    try:
        rgbe = _decode_rgbe_scanlines(data, n_scan, scan_len)
    except (IndexError, ValueError) as exc:
        raise ImageError(f"{name}: truncated or corrupt Radiance .hdr data ({_one_line(exc)})") from None
    mant = rgbe[..., :3].astype(np.float32)
    e = rgbe[..., 3].astype(np.int32)
    f = np.where(e > 0, np.ldexp(np.float32(1.0), e - 136), 0.0).astype(np.float32)
    arr = np.where(mant > 0, (mant + 0.5) * f[..., None], 0.0).astype(np.float32)
    if fmt == b"32-bit_rle_xyze":
        arr = arr @ _XYZ_TO_LINEAR_SRGB.T.astype(np.float32)
    # orient: scanlines along the first axis of the resolution string
    if m.group(1) == b"+":
        arr = arr[::-1]
    if m.group(4) == b"-":
        arr = arr[:, ::-1]
    if m.group(2) == b"X":  # scanlines are columns
        arr = arr.transpose(1, 0, 2)
    return np.ascontiguousarray(arr)


# XYZ (Radiance's equal-energy white) to linear sRGB; used only for rare XYZE files.
_XYZ_TO_LINEAR_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)


def _decode_rgbe_scanlines(data: bytes, n_scan: int, scan_len: int) -> np.ndarray:
    """Decode new-style run-length encoded or flat RGBE scanlines -> (n_scan, scan_len, 4) uint8.

    A Python loop only walks the run codes (positions); the bytes are moved by numpy, in blocks of
    scanlines so index arrays stay small.
    """
    planar = np.empty((n_scan, 4, scan_len), np.uint8)
    src = np.frombuffer(data, np.uint8)
    size = len(data)
    pos = 0
    rle_ok = 8 <= scan_len <= 0x7FFF
    block = max(1, 500_000 // scan_len)
    for y0 in range(0, n_scan, block):
        y1 = min(n_scan, y0 + block)
        codes: list[int] = []
        flat_rows: list[tuple[int, int]] = []
        for y in range(y0, y1):
            if rle_ok and data[pos] == 2 and data[pos + 1] == 2 and not data[pos + 2] & 0x80:
                if (data[pos + 2] << 8 | data[pos + 3]) != scan_len:
                    raise ValueError(f"scanline {y} has the wrong length")
                pos += 4
                for _ in range(4):
                    x = 0
                    while x < scan_len:
                        code = data[pos]
                        codes.append(pos)
                        if code > 128:
                            x += code - 128
                            pos += 2
                        elif code:
                            x += code
                            pos += code + 1
                        else:
                            raise ValueError(f"zero-length run in scanline {y}")
                    if x != scan_len:
                        raise ValueError(f"run overflows scanline {y}")
            else:
                if pos + 4 * scan_len > size:
                    raise ValueError(f"data ends in scanline {y}")
                flat_rows.append((y, pos))
                codes.append(-1 - y)  # marker: this scanline's slot is filled separately
                pos += 4 * scan_len
        if pos > size:
            raise ValueError("data ends early")
        out = planar[y0:y1].reshape(-1)
        p = np.asarray(codes, np.int64)
        marker = p < 0
        c = src[np.where(marker, 0, p)].astype(np.int64)
        run = (c > 128) & ~marker
        length = np.where(marker, 4 * scan_len, np.where(run, c - 128, c))
        dst = np.cumsum(length) - length
        r_dst, r_len = dst[run], length[run]
        within = np.arange(int(r_len.sum())) - np.repeat(np.cumsum(r_len) - r_len, r_len)
        out[np.repeat(r_dst, r_len) + within] = np.repeat(src[p[run] + 1], r_len)
        lit = ~run & ~marker
        l_dst, l_len, l_src = dst[lit], length[lit], p[lit] + 1
        within = np.arange(int(l_len.sum())) - np.repeat(np.cumsum(l_len) - l_len, l_len)
        out[np.repeat(l_dst, l_len) + within] = src[np.repeat(l_src, l_len) + within]
        for y, fpos in flat_rows:
            planar[y] = src[fpos : fpos + 4 * scan_len].reshape(scan_len, 4).T
    return planar.transpose(0, 2, 1)


def _encode_rgbe(arr: np.ndarray) -> np.ndarray:
    """float32 HxWx3 (>= 0, finite) -> HxWx4 uint8 RGBE (max channel mantissa in 128..255)."""
    arr = np.minimum(arr, np.float32(1.7e38))
    m = np.maximum(np.maximum(arr[..., 0], arr[..., 1]), arr[..., 2])
    _, exp = np.frexp(m)
    nz = m > 1e-32
    scale = np.ldexp(np.float32(1.0), 8 - exp)
    scale[~nz] = 0.0
    out = np.empty(arr.shape[:2] + (4,), np.uint8)
    mant = arr * scale[..., None]
    np.floor(mant, out=mant)
    np.clip(mant, 0, 255, out=mant)
    out[..., :3] = mant
    out[..., 3] = np.where(nz, exp + 128, 0)
    return out


def _rle_encode(planar: np.ndarray) -> bytes:
    """Radiance new-style run-length encoding of whole scanlines, vectorised.

    ``planar``: (n, 4, w) uint8, one row per scanline and channel. Runs of >= 4 equal bytes become
    (128 + length, value) pairs of at most 127; the bytes between become literal dumps (length,
    bytes...) of at most 128. Each scanline is preceded by its header 2, 2, w >> 8, w & 255.
    """
    n, _, w = planar.shape
    flat = planar.reshape(-1)
    total = flat.size
    new_run = np.ones(total, bool)
    new_run[1:] = flat[1:] != flat[:-1]
    new_run[::w] = True  # channel rows never share runs
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, total))
    long_ = lengths >= 4
    # segments: a long run alone, or a maximal stretch of short runs within one channel row
    seg_flag = long_.copy()
    seg_flag[1:] |= long_[:-1]
    seg_flag |= starts % w == 0
    seg_start = starts[seg_flag]
    seg_len = np.diff(np.append(seg_start, total))
    seg_run = long_[seg_flag]
    # pieces of at most 127 (runs) or 128 (literals)
    cap = np.where(seg_run, 127, 128)
    n_pieces = -(-seg_len // cap)
    seg_of = np.repeat(np.arange(seg_start.size), n_pieces)
    k = np.arange(seg_of.size) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    p_start = seg_start[seg_of] + k * cap[seg_of]
    p_len = np.minimum(cap[seg_of], seg_start[seg_of] + seg_len[seg_of] - p_start)
    p_run = seg_run[seg_of]
    p_size = np.where(p_run, 2, 1 + p_len)
    p_scan = p_start // (4 * w)
    offs = np.cumsum(p_size) - p_size + 4 * (p_scan + 1)
    out = np.empty(int(p_size.sum()) + 4 * n, np.uint8)
    hdr = offs[np.searchsorted(p_scan, np.arange(n))] - 4  # before each scanline's first piece
    out[hdr] = 2
    out[hdr + 1] = 2
    out[hdr + 2] = w >> 8
    out[hdr + 3] = w & 0xFF
    out[offs] = np.where(p_run, 128 + p_len, p_len)
    out[offs[p_run] + 1] = flat[p_start[p_run]]
    lit = ~p_run
    l_start, l_len, l_off = p_start[lit], p_len[lit], offs[lit] + 1
    within = np.arange(int(l_len.sum())) - np.repeat(np.cumsum(l_len) - l_len, l_len)
    out[np.repeat(l_off, l_len) + within] = flat[np.repeat(l_start, l_len) + within]
    return out.tobytes()


def _write_rgbe(fh: BinaryIO, arr: np.ndarray, rle: bool = True) -> None:
    """Radiance RGBE: header, then scanlines top to bottom, run-length encoded when ``rle`` and
    8 <= width <= 32767 (the format's limits), else flat."""
    h, w, _ = arr.shape
    fh.write(b"#?RADIANCE\n# written by reexposure\nFORMAT=32-bit_rle_rgbe\n\n")
    fh.write(f"-Y {h} +X {w}\n".encode())
    step = max(1, 1_000_000 // w)  # scanlines per chunk: bounded memory
    for y in range(0, h, step):
        rgbe = _encode_rgbe(arr[y : y + step])
        if rle and 8 <= w <= 0x7FFF:
            fh.write(_rle_encode(np.ascontiguousarray(rgbe.transpose(0, 2, 1))))
        else:
            fh.write(rgbe.tobytes())


def _read_pfm(p: Path, name: str, limit: int) -> np.ndarray:
    with open(p, "rb") as fh:
        head = fh.read(256)
        m = re.match(rb"\A(PF|Pf)\s+(\d+)\s+(\d+)\s+([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s", head)
        if not m:
            raise ImageError(f"{name}: corrupt PFM header")
        width, height = int(m.group(2)), int(m.group(3))
        try:
            scale = float(m.group(4))
        except ValueError:
            scale = 0.0
        if scale == 0.0:
            raise ImageError(f"{name}: corrupt PFM header (scale must be non-zero)")
        _check_dims(name, width, height, limit)
        channels = 3 if m.group(1) == b"PF" else 1
        fh.seek(m.end())
        need = width * height * channels * 4
        data = fh.read(need)
    if len(data) < need:
        raise ImageError(f"{name}: truncated PFM file ({len(data)} of {need} data bytes)")
    dtype = "<f4" if scale < 0 else ">f4"
    arr = np.frombuffer(data, dtype).reshape(height, width, channels)[::-1].astype(np.float32)
    if channels == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr)


def _write_pfm(fh: BinaryIO, arr: np.ndarray) -> None:
    h, w, _ = arr.shape
    fh.write(f"PF\n{w} {h}\n-1.0\n".encode())
    fh.write(np.ascontiguousarray(arr[::-1], dtype="<f4").tobytes())


_HALF_MAX = float(np.finfo(np.float16).max)


def _write_exr(path: Path, arr: np.ndarray, half: bool) -> None:
    import OpenEXR

    data = np.minimum(arr, _HALF_MAX).astype(np.float16) if half else arr.astype(np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    # OpenEXR ignores numpy strides: the array must be C-contiguous.
    OpenEXR.File(header, {"RGB": np.ascontiguousarray(data)}).write(str(path))


def write_hdr(
    path: PathLike,
    rgb: np.ndarray | torch.Tensor,
    *,
    half: bool = True,
    force: bool = False,
    inputs: Iterable[PathLike | None] = (),
    rle: bool = True,
) -> None:
    """Write a linear radiance map atomically as OpenEXR, Radiance ``.hdr`` or PFM (by extension).

    ``rgb``: HxWx3 (or HxW gray) float array, any strides, or a (1,3,H,W)/(3,H,W) tensor.
    NaN/Inf/negative values are written as 0 (with an :class:`ImageWarning`). ``half``: EXR pixel
    type float16 (values above 65504 are clamped) or float32. ``rle``: run-length encode ``.hdr``
    scanlines (else flat). ``force``: overwrite an existing file; ``inputs`` are never overwritten.
    """
    p = check_output_path(path, force, inputs, extensions=HDR_EXTENSIONS)
    arr = _as_hwc(rgb, str(p))
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    arr = _sanitize(np.array(arr, dtype=np.float32), str(p))
    ext = p.suffix.lower()
    with atomic_output(p, force=force, inputs=inputs) as tmp:
        try:
            if ext == ".exr":
                _write_exr(tmp, arr, half)
            else:
                with open(tmp, "wb") as fh:
                    (_write_rgbe(fh, arr, rle) if ext == ".hdr" else _write_pfm(fh, arr))
        except OSError as exc:
            raise ImageError(f"{p}: cannot write ({exc.strerror or _one_line(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - OpenEXR errors
            raise ImageError(f"{p}: cannot encode {ext} ({_one_line(exc)})") from None
