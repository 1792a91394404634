"""Photos (8- or 16-bit, display-referred).

* :func:`read_photo` reads JPEG (baseline, progressive, CMYK/YCCK with Adobe polarity), PNG 8/16-bit,
  TIFF 8/16-bit, WebP, HEIC/HEIF (pillow-heif, registered lazily), GIF/BMP/PPM/AVIF (first frame).
  It applies the EXIF orientation, converts embedded ICC profiles (Display P3, Adobe RGB, CMYK, gray,
  anything LittleCMS understands) to sRGB, turns grayscale and palette images into RGB and splits
  off the alpha channel untouched. The result is a :class:`Photo`.
* :func:`write_photo` writes JPEG, PNG 8/16, TIFF 8/16 and WebP atomically, carrying alpha, EXIF and
  the original ICC profile over from the photo it was made from (``like``).
"""

from __future__ import annotations

import contextlib
import io as _bio
import logging
import os
import re
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..core.arrays import from_tensor, to_uint8
from .colour import (
    _SRGB_PROFILE,
    _cms_transform,
    _icc_colorspace,
    _is_srgb,
    _parse_shaper,
    _shaper_to_srgb16,
    _srgb16_to_shaper,
)
from .common import ImageError, PathLike, _check_dims, _one_line, _warn, get_max_pixels
from .exif import EXIF_HEADER, UPRIGHT_TRANSPOSE, _photo_exif
from .extensions import PHOTO_WRITE_EXTENSIONS
from .paths import atomic_output, check_output_path

__all__ = ["Photo", "read_photo", "write_photo"]

log = logging.getLogger("reexposure.formats.io")

_PIL_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
# Formats Pillow may try when opening a photo: raster formats with a real signature only (no TGA,
# whose weak header check accepts random bytes, and nothing that shells out, like EPS).
# (MPO files open through the JPEG plugin.)
_OPEN_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "GIF", "BMP", "PPM", "JPEG2000", "HEIF", "AVIF")


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
    def rgb8(self) -> np.ndarray:
        """:attr:`rgb` as HxWx3 C-contiguous uint8 (16-bit values rounded; 8-bit ones as they are)."""
        return to_uint8(self.rgb)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


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


def _retile(im: Any, rawmode_fn: Callable[[str], str]) -> None:
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


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    if orientation in UPRIGHT_TRANSPOSE:
        try:
            return ImageOps.exif_transpose(im)
        except Exception:  # noqa: BLE001 - EXIF that Pillow cannot re-serialise (found by fuzzing)
            return im.transpose(UPRIGHT_TRANSPOSE[orientation])
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
        src = path.read()
    else:
        fpath = Path(path)
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


def _decode_photo(im: Any, src: str | bytes, name: str, fpath: Path | None, limit: int) -> Photo:
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
                converted = ImageCms.applyTransform(img, _cms_transform(icc, img.mode, True))
                assert converted is not None  # inPlace=False returns the new image
                return converted, icc
            except Exception as exc:  # noqa: BLE001
                _warn(f"{name}: ignored unusable ICC profile ({_one_line(exc)})")
                icc = None
    if img.mode == "LAB":
        lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
        converted = ImageCms.profileToProfile(img, lab, _SRGB_PROFILE, outputMode="RGB")
        assert converted is not None  # inPlace=False returns the new image
        return converted, icc
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
        fh.write(_png_chunk(b"eXIf", exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif))
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
    p = check_output_path(p, force, all_inputs, extensions=PHOTO_WRITE_EXTENSIONS)
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
