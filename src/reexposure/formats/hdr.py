"""Radiance maps (linear, scene-referred float): OpenEXR (half or float, via the ``OpenEXR``
package), Radiance RGBE ``.hdr`` (run-length encoded or flat scanlines; own reader and writer) and
PFM (colour or gray, either byte order, rows stored bottom to top)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from .common import ImageError, PathLike, _check_dims, _one_line, _warn, get_max_pixels
from .extensions import HDR_EXTENSIONS
from .paths import atomic_output, check_output_path
from .photo import _as_hwc

__all__ = ["read_hdr", "write_hdr"]


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
    are, for code that repairs what a lossy codec such as DWAB left below zero). Gray files are
    replicated to 3 channels; EXR alpha is dropped. The header's size is checked against the pixel
    limit (:func:`get_max_pixels`) before pixels are read. Raises :class:`ImageError` (one line) for unreadable files.
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
