"""Helpers of the formats tests: colour science, ICC profiles, PNG/TIFF/EXIF built by hand (independent
code, so the codecs are checked against something other than themselves)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

# ------------------------------------------------------------------------------------------
# helpers: colour science
# ------------------------------------------------------------------------------------------

D65 = (0.3127, 0.3290)
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
ADOBE_GAMMA = 563 / 256  # 2.19921875, as stored in Adobe's profile
D50_XYZ = np.array([0.9642, 1.0, 0.8249])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def xy_to_xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz(primaries, white=D65) -> np.ndarray:
    """Linear RGB -> XYZ matrix (columns = primaries scaled so that RGB 1,1,1 is the white)."""
    prim = np.stack([xy_to_xyz(*p) for p in primaries], axis=1)
    scale = np.linalg.solve(prim, xy_to_xyz(*white))
    return prim * scale


def srgb_decode(v):
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(x):
    x = np.clip(np.asarray(x, dtype=np.float64), 0, 1)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def expected_srgb(values, primaries, decode) -> np.ndarray:
    """Encoded values in a source space -> encoded sRGB floats in [0, 1] (gamut-clipped)."""
    m = np.linalg.inv(rgb_to_xyz(SRGB_PRIMARIES)) @ rgb_to_xyz(primaries)
    return srgb_encode(decode(np.asarray(values, dtype=np.float64)) @ m.T)


# ------------------------------------------------------------------------------------------
# helpers: a minimal ICC v2 matrix/TRC profile writer
# ------------------------------------------------------------------------------------------


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def make_icc(description: str, primaries, trc: str) -> bytes:
    """ICC v2 display profile: colorants adapted D65 -> D50 with Bradford; TRC 'srgb' (1024-entry
    table) or 'adobe' (gamma 563/256)."""
    m = rgb_to_xyz(primaries)
    src, dst = BRADFORD @ xy_to_xyz(*D65), BRADFORD @ D50_XYZ
    m50 = np.linalg.inv(BRADFORD) @ np.diag(dst / src) @ BRADFORD @ m
    if trc == "srgb":
        table = np.round(srgb_decode(np.linspace(0, 1, 1024)) * 65535).astype(">u2")
        curve = b"curv\0\0\0\0" + struct.pack(">I", table.size) + table.tobytes()
    else:
        curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 563)
    text = description.encode() + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + struct.pack(">II", 0, 0) + b"\0\0\0" + b"\0" * 67

    def xyz(v) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(_s15(c) for c in v)

    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, test profile\0"),
        (b"wtpt", xyz(D50_XYZ)),
        (b"rXYZ", xyz(m50[:, 0])),
        (b"gXYZ", xyz(m50[:, 1])),
        (b"bXYZ", xyz(m50[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, blobs = b"", b""
    for sig, data in tags:
        entries += struct.pack(">4sII", sig, offset + len(blobs), len(data))
        blobs += _pad4(data)
    size = 128 + table_size + len(blobs)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
        + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
        + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + entries + blobs


def adobe_decode(v):
    return np.asarray(v, dtype=np.float64) ** ADOBE_GAMMA


# ------------------------------------------------------------------------------------------
# helpers: PNG written and read by hand (all five filter types), TIFF written by hand
# ------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def png_bytes(arr: np.ndarray, depth: int, icc: bytes | None = None, exif: bytes | None = None,
              width: int | None = None, height: int | None = None, idat: bytes | None = None) -> bytes:  # fmt: skip
    """Encode HxW[xC] uint8/uint16 as PNG, cycling filter types 0..4 over the rows."""
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w, c = arr.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = arr.astype(">u2" if depth == 16 else np.uint8)
    bpp = c * depth // 8
    out, prev = bytearray(), bytearray(w * bpp)
    for y in range(h):
        row = bytearray(np.ascontiguousarray(raw[y]).tobytes())
        ft = y % 5
        f = bytearray(len(row))
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][ft]
            f[i] = (x - pred) & 0xFF
        out += bytes([ft]) + f
        prev = row
    ihdr = struct.pack(">IIBBBBB", width or w, height or h, depth, ctype, 0, 0, 0)
    chunks = _chunk(b"IHDR", ihdr)
    if icc:
        chunks += _chunk(b"iCCP", b"test\0\0" + zlib.compress(icc))
    if exif:
        chunks += _chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    chunks += _chunk(b"IDAT", idat if idat is not None else zlib.compress(bytes(out)))
    return b"\x89PNG\r\n\x1a\n" + chunks + _chunk(b"IEND", b"")


def png_decode(data: bytes) -> tuple[np.ndarray, dict]:
    """Decode a non-interlaced PNG by hand: (HxWxC array, {chunk type: payload})."""
    pos, chunks, idat = 8, {}, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        payload = data[pos + 8 : pos + 8 + n]
        if kind == b"IDAT":
            idat += payload
        else:
            chunks[kind] = payload
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    c = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    bpp = c * depth // 8
    stride = w * bpp
    raw = zlib.decompress(idat)
    prev, rows = bytearray(stride), []
    for y in range(h):
        ft, f = raw[y * (stride + 1)], raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]
        row = bytearray(stride)
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][ft]
            row[i] = (f[i] + pred) & 0xFF
        rows.append(bytes(row))
        prev = row
    arr = np.frombuffer(b"".join(rows), ">u2" if depth == 16 else np.uint8).reshape(h, w, c)
    return arr.astype(np.uint16 if depth == 16 else np.uint8), chunks


def tiff16_be_bytes(arr: np.ndarray, orientation: int | None = None) -> bytes:
    """Uncompressed big-endian 16-bit RGB(A) TIFF, written by hand."""
    h, w, c = arr.shape
    data = np.ascontiguousarray(arr.astype(">u2")).tobytes()
    bps_off = 8 + len(data)
    ifd_off = bps_off + 2 * c + (2 * c) % 4
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, c, bps_off), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, 8), (277, 3, 1, c), (278, 4, 1, h), (279, 4, 1, len(data)), (284, 3, 1, 1)]  # fmt: skip
    if c == 4:
        entries.append((338, 3, 1, 2))
    if orientation:
        entries.append((274, 3, 1, orientation))
    ifd = struct.pack(">H", len(entries))
    for tag, typ, cnt, val in sorted(entries):
        if typ == 3 and cnt == 1:
            ifd += struct.pack(">HHIHH", tag, typ, cnt, val, 0)
        else:
            ifd += struct.pack(">HHII", tag, typ, cnt, val)
    ifd += struct.pack(">I", 0)
    bps = struct.pack(f">{c}H", *([16] * c))
    return b"MM\0*" + struct.pack(">I", ifd_off) + data + bps + b"\0" * ((2 * c) % 4) + ifd


def exif_with(orientation: int | None = None, make: str = "TestCam") -> bytes:
    ex = Image.Exif()
    ex[0x010F] = make
    if orientation is not None:
        ex[0x0112] = orientation
    return ex.tobytes()


def exif_tags(block: bytes | None) -> dict:
    ex = Image.Exif()
    if block:
        ex.load(block)
    return dict(ex)


def check_error(exc: pytest.ExceptionInfo, name) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert str(name) in msg, msg
    return msg


RNG = np.random.default_rng(1234)


def smooth_image(h: int = 24, w: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    img = np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (h + w - 2)], axis=-1)
    return np.round(img).astype(np.uint8)


def radiance(h: int = 12, w: int = 17) -> np.ndarray:
    return (np.exp(RNG.normal(0, 2, (h, w, 3))) * 0.5).astype(np.float32)

