"""Seed inputs and byte mutations for fuzzing reexposure's decoders.

Shared by the atheris harness (``fuzz/fuzz_decoders.py``) and the bounded property tests
(``tests/test_fuzz_decoders.py``). Everything is generated here, in memory, in well under a second:
small valid files of every format the decoders read (with the features that exercise their less
common paths: EXIF orientation, ICC profiles, alpha, palettes, 16 bits, progressive and CMYK JPEG,
animation, RLE and flat Radiance scanlines, both PFM byte orders, NaN/Inf/negative HDR values), a
few deliberately hostile ones (broken ICC/EXIF blocks, giant declared sizes), and the mutations
(truncation, bit flips, insertions, deletions, lying integers) applied to them.

Targets (what a seed is fed to): ``"photo"`` = :func:`reexposure.formats.io.read_photo`, ``"hdr"`` =
:func:`reexposure.formats.io.read_hdr`, ``"ultrahdr"`` = :func:`reexposure.formats.ultrahdr.read_ultrahdr`.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Seed", "seeds", "FORMATS", "giant_headers", "mutate", "MUTATIONS", "INTERESTING_INTS",
           "make_icc", "exif_block"]


@dataclass(frozen=True)
class Seed:
    """One seed file: ``fmt`` groups seeds for the tests (jpeg, png, ...), ``target`` says which
    decoder reads it, ``ext`` the file extension it is written with."""

    name: str
    fmt: str
    target: str
    ext: str
    data: bytes


# ------------------------------------------------------------------------- small building blocks


def _picture(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """A small uint8 RGB picture with gradients, noise and a clipped (255) patch."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    img = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx + yy) * 4 % 256], -1)
    img = np.clip(img + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
    img[h // 4 : h // 2, w // 4 : w // 2] = 255
    return img


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def make_icc(description: str = "fuzz RGB", gamma: float = 2.2,
             primaries: tuple = ((0.68, 0.32), (0.265, 0.69), (0.15, 0.06))) -> bytes:
    """A minimal matrix/TRC RGB ICC v2 display profile (Display-P3-like primaries by default)."""
    white = np.array([0.9642, 1.0, 0.8249])  # D50 PCS
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(xyz, np.array([0.9505, 1.0, 1.089]))
    cols = xyz * scale  # D65-white columns; close enough for a fuzz seed

    def xyz_tag(v) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(_s15(c) for c in v)

    desc = description.encode("ascii") + b"\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(desc)) + desc + b"\0" * 79),
        (b"wtpt", xyz_tag(white)),
        (b"rXYZ", xyz_tag(cols[:, 0])),
        (b"gXYZ", xyz_tag(cols[:, 1])),
        (b"bXYZ", xyz_tag(cols[:, 2])),
        (b"rTRC", b"curv\0\0\0\0" + struct.pack(">IH", 1, int(gamma * 256)) + b"\0\0"),
        (b"gTRC", b"curv\0\0\0\0" + struct.pack(">IH", 1, int(gamma * 256)) + b"\0\0"),
        (b"bTRC", b"curv\0\0\0\0" + struct.pack(">IH", 1, int(gamma * 256)) + b"\0\0"),
        (b"cprt", b"text\0\0\0\0" + b"CC0\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, blobs = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(blobs), len(body))
        blobs += body
    size = offset + len(blobs)
    header = struct.pack(">I4sI4s4s4s", size, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 24 + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + blobs


def exif_block(orientation: int | None = 6, make: str = "FuzzCam") -> bytes:
    """An ``Exif\\0\\0`` block with Make and (optionally) Orientation, big-endian TIFF layout."""
    from PIL import Image

    ex = Image.Exif()
    ex[0x010F] = make
    if orientation is not None:
        ex[0x0112] = orientation
    return ex.tobytes()


def _pil(arr: np.ndarray, fmt: str, mode: str | None = None, **kw) -> bytes:
    from PIL import Image

    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _frames(fmt: str, n: int = 3, **kw) -> bytes:
    from PIL import Image

    frames = [Image.fromarray(_picture(16, 20, seed=i)) for i in range(n)]
    if fmt == "GIF":
        frames = [f.convert("P") for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=50, loop=0, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png16(arr: np.ndarray) -> bytes:
    h, w, c = arr.shape
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def _hdr_values(h: int = 12, w: int = 16, bad: bool = False) -> np.ndarray:
    rng = np.random.default_rng(1)
    arr = (rng.random((h, w, 3)) ** 3 * 40).astype(np.float32)
    arr[2:5, 3:7] = 1000.0
    if bad:
        arr[0, 0] = np.nan
        arr[0, 1] = np.inf
        arr[0, 2] = -np.inf
        arr[1, :4] = -3.5
        arr[1, 4] = 1e38
    return arr


def _rgbe(arr: np.ndarray, rle: bool, res: str | None = None, fmt: bytes = b"32-bit_rle_rgbe") -> bytes:
    """Radiance .hdr bytes written here (not by reexposure.formats.io) so seeds do not depend on the writer."""
    h, w, _ = arr.shape
    m = arr.max(axis=2)
    mant, exp = np.frexp(m)
    scale = np.where(m > 1e-32, mant * 256.0 / np.where(m > 1e-32, m, 1), 0)
    rgbe = np.zeros((h, w, 4), np.uint8)
    rgbe[..., :3] = np.clip(arr * scale[..., None], 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(m > 1e-32, exp + 128, 0)
    out = bytearray(b"#?RADIANCE\n# fuzz seed\nFORMAT=" + fmt + b"\n\n")
    out += (res or f"-Y {h} +X {w}").encode() + b"\n"
    for y in range(h):
        if not rle or not 8 <= w <= 0x7FFF:  # the format allows run-length encoding only there
            out += rgbe[y].tobytes()
            continue
        out += bytes([2, 2, w >> 8, w & 255])
        for c in range(4):
            row = rgbe[y, :, c]
            x = 0
            while x < w:  # runs of equal bytes, else literal dumps of up to 128
                run = 1
                while x + run < w and run < 127 and row[x + run] == row[x]:
                    run += 1
                if run >= 4:
                    out += bytes([128 + run, row[x]])
                    x += run
                else:
                    n = min(128, w - x)
                    out += bytes([n]) + row[x : x + n].tobytes()
                    x += n
    return bytes(out)


def _pfm(arr: np.ndarray, little: bool = True, gray: bool = False) -> bytes:
    h, w, _ = arr.shape
    data = arr[..., :1] if gray else arr
    head = f"{'Pf' if gray else 'PF'}\n{w} {h}\n{-1.0 if little else 1.0}\n".encode()
    return head + np.ascontiguousarray(data[::-1], dtype="<f4" if little else ">f4").tobytes()


def _exr(channels: dict[str, np.ndarray], compression: str = "ZIP") -> bytes:
    import os
    import tempfile

    import OpenEXR

    comp = {"ZIP": OpenEXR.ZIP_COMPRESSION, "NONE": OpenEXR.NO_COMPRESSION,
            "PIZ": OpenEXR.PIZ_COMPRESSION, "RLE": OpenEXR.RLE_COMPRESSION}[compression]
    fd, tmp = tempfile.mkstemp(suffix=".exr")
    os.close(fd)
    try:
        OpenEXR.File({"compression": comp, "type": OpenEXR.scanlineimage},
                     {k: np.ascontiguousarray(v) for k, v in channels.items()}).write(tmp)
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


# ------------------------------------------------------------------------- seeds per format


def _jpeg_seeds(pic: np.ndarray, icc: bytes) -> list[Seed]:
    out = [
        ("baseline", _pil(pic, "JPEG", quality=90)),
        ("exif_icc", _pil(pic, "JPEG", quality=85, exif=exif_block(6), icc_profile=icc)),
        ("progressive", _pil(pic, "JPEG", quality=80, progressive=True, optimize=True)),
        ("cmyk", _pil(pic, "JPEG", mode="CMYK", quality=90)),
        ("gray", _pil(pic, "JPEG", mode="L", quality=90)),
        ("restart", _pil(pic, "JPEG", quality=90, restart_marker_blocks=1)),
        ("broken_icc", _pil(pic, "JPEG", quality=90, icc_profile=icc[:60] + b"\xff" * 40)),
        ("broken_exif", _pil(pic, "JPEG", quality=90, exif=b"Exif\0\0MM\0*\0\0\0\x08\xff\xff\0\0")),
        ("gray_with_rgb_icc", _pil(pic, "JPEG", mode="L", quality=90, icc_profile=icc)),
    ]
    return [Seed(f"jpeg_{n}", "jpeg", "photo", ".jpg", d) for n, d in out]


def _png_seeds(pic: np.ndarray, icc: bytes) -> list[Seed]:
    rgba = np.concatenate([pic, pic[..., :1]], -1)
    pal = _pil(pic, "PNG", mode="P")
    from PIL import Image

    buf = io.BytesIO()
    p_img = Image.fromarray(pic).convert("P")
    p_img.info["transparency"] = 0
    p_img.save(buf, format="PNG", transparency=0)
    p16 = (pic.astype(np.uint16) * 257)
    out = [
        ("rgb8", _pil(pic, "PNG")),
        ("rgba8_icc_exif", _pil(rgba, "PNG", icc_profile=icc, exif=exif_block(8))),
        ("palette", pal),
        ("palette_trns", buf.getvalue()),
        ("gray", _pil(pic, "PNG", mode="L")),
        ("rgb16", _png16(p16)),
        ("rgba16", _png16(np.concatenate([p16, p16[..., :1]], -1))),
        ("gray16", _png16(p16[..., :1])),
        ("apng", _frames("PNG")),
        ("gray_alpha", _pil(pic, "PNG", mode="LA")),
        ("broken_icc", _pil(pic, "PNG", icc_profile=b"\0\0\0\x80acsp" + b"\x01" * 200)),
    ]
    return [Seed(f"png_{n}", "png", "photo", ".png", d) for n, d in out]


def _tiff_seeds(pic: np.ndarray, icc: bytes) -> list[Seed]:
    from PIL import Image

    ex = Image.Exif()
    ex[0x0112] = 6
    buf = io.BytesIO()
    frames = [Image.fromarray(pic), Image.fromarray(pic[::-1].copy())]
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    tiff16 = _tiff16(pic.astype(np.uint16) * 257)
    out = [
        ("rgb8_raw", _pil(pic, "TIFF")),
        ("rgb8_deflate_icc", _pil(pic, "TIFF", compression="tiff_deflate", icc_profile=icc)),
        ("rgb8_lzw_orient", _pil(pic, "TIFF", compression="tiff_lzw", exif=ex)),
        ("multipage", buf.getvalue()),
        ("rgb16_le", tiff16),
        ("gray8_packbits", _pil(pic, "TIFF", mode="L", compression="packbits")),
        ("cmyk", _pil(pic, "TIFF", mode="CMYK")),
    ]
    return [Seed(f"tiff_{n}", "tiff", "photo", ".tif", d) for n, d in out]


def _tiff16(arr: np.ndarray) -> bytes:
    """Uncompressed 16-bit little-endian RGB TIFF, one strip (hand-written: Pillow cannot write it)."""
    h, w, c = arr.shape
    data = np.ascontiguousarray(arr.astype("<u2")).tobytes()
    bps_off = 8 + len(data)
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, bps_off), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(data)), (284, 3, 1, 1)]
    ifd_off = bps_off + 6
    ifd = struct.pack("<H", len(entries))
    for tag, typ, cnt, val in entries:
        v = struct.pack("<HH", val, 0) if (typ == 3 and cnt == 1) else struct.pack("<I", val)
        ifd += struct.pack("<HHI", tag, typ, cnt) + v
    ifd += struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_off) + data + struct.pack("<3H", 16, 16, 16) + ifd


def _webp_seeds(pic: np.ndarray, icc: bytes) -> list[Seed]:
    rgba = np.concatenate([pic, pic[..., :1]], -1)
    out = [
        ("lossy", _pil(pic, "WEBP", quality=80)),
        ("lossless_alpha", _pil(rgba, "WEBP", lossless=True)),
        ("icc_exif", _pil(pic, "WEBP", quality=80, icc_profile=icc, exif=exif_block(3))),
        ("animated", _frames("WEBP", quality=70)),
    ]
    return [Seed(f"webp_{n}", "webp", "photo", ".webp", d) for n, d in out]


def _gif_seeds(pic: np.ndarray) -> list[Seed]:
    return [Seed("gif_animated", "gif", "photo", ".gif", _frames("GIF")),
            Seed("bmp_rgb", "gif", "photo", ".bmp", _pil(pic, "BMP"))]


def _heic_seeds(pic: np.ndarray, icc: bytes) -> list[Seed]:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        out = [("rgb", _pil(pic, "HEIF", quality=60)),
               ("exif", _pil(pic, "HEIF", quality=60, exif=exif_block(6)))]
    except Exception:  # noqa: BLE001 - no HEIF encoder here: the format is left out
        return []
    return [Seed(f"heic_{n}", "heic", "photo", ".heic", d) for n, d in out]


def _exr_seeds() -> list[Seed]:
    arr = _hdr_values()
    bad = _hdr_values(bad=True)
    y = arr.mean(axis=2)
    out = [
        ("half_zip", _exr({"RGB": arr.astype(np.float16)})),
        ("float_none_badvalues", _exr({"RGB": bad}, "NONE")),
        ("half_piz", _exr({"RGB": arr.astype(np.float16)}, "PIZ")),
        ("rgba_rle", _exr({"RGBA": np.concatenate([arr, arr[..., :1]], -1).astype(np.float16)}, "RLE")),
        ("y_only", _exr({"Y": y.astype(np.float32)}, "NONE")),
        ("separate", _exr({"R": arr[..., 0], "G": arr[..., 1], "B": bad[..., 2]}, "NONE")),
    ]
    return [Seed(f"exr_{n}", "exr", "hdr", ".exr", d) for n, d in out]


def _rgbe_seeds() -> list[Seed]:
    arr = _hdr_values()
    out = [
        ("rle", _rgbe(arr, True)),
        ("flat", _rgbe(arr, False)),
        ("narrow_flat", _rgbe(_hdr_values(10, 4), True)),  # width < 8: RLE not allowed, flat
        ("orient_px", _rgbe(arr.transpose(1, 0, 2).copy(), True, res="+X 16 -Y 12")),
        ("xyze", _rgbe(arr, True, fmt=b"32-bit_rle_xyze")),
    ]
    return [Seed(f"hdr_{n}", "hdr", "hdr", ".hdr", d) for n, d in out]


def _pfm_seeds() -> list[Seed]:
    arr = _hdr_values()
    bad = _hdr_values(bad=True)
    out = [("le", _pfm(arr)), ("be", _pfm(arr, little=False)), ("gray", _pfm(arr, gray=True)),
           ("badvalues", _pfm(bad))]
    return [Seed(f"pfm_{n}", "pfm", "hdr", ".pfm", d) for n, d in out]


def _ultrahdr_seeds(pic: np.ndarray) -> list[Seed]:
    from reexposure.formats.ultrahdr import ultrahdr_bytes

    lin = (pic.astype(np.float32) / 255.0) ** 2
    rad = lin.copy()
    rad[pic.max(axis=2) == 255] *= 6.0
    out = [("rgb_map", ultrahdr_bytes(pic, rad, channels=3)),
           ("luma_map_scaled", ultrahdr_bytes(pic, rad, channels=1, scale=2, gamma=0.8))]
    return [Seed(f"ultrahdr_{n}", "ultrahdr", "ultrahdr", ".jpg", d) for n, d in out]


FORMATS = ("jpeg", "png", "tiff", "webp", "heic", "gif", "exr", "hdr", "pfm", "ultrahdr")


@functools.lru_cache(maxsize=1)
def seeds() -> tuple[Seed, ...]:
    """All seeds (built once per process, about 0.2 s)."""
    pic = _picture()
    icc = make_icc()
    out: list[Seed] = []
    out += _jpeg_seeds(pic, icc)
    out += _png_seeds(pic, icc)
    out += _tiff_seeds(pic, icc)
    out += _webp_seeds(pic, icc)
    out += _heic_seeds(pic, icc)
    out += _gif_seeds(pic)
    out += _exr_seeds()
    out += _rgbe_seeds()
    out += _pfm_seeds()
    out += _ultrahdr_seeds(pic)
    return tuple(out)


# ------------------------------------------------------------------------- giant declared sizes


def giant_headers(width: int = 100_000, height: int = 100_000) -> dict[str, tuple[str, str, bytes]]:
    """Tiny files whose headers declare ``width`` x ``height`` pixels (a decompression bomb's
    signature), one per format: ``{name: (target, ext, bytes)}``. The pixel data is a few bytes."""
    w, h = width, height
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + _chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _chunk(b"IEND", b""))
    # JPEG: patch the SOF0 dimensions of a small baseline JPEG
    j = bytearray(_pil(_picture(16, 16), "JPEG", quality=50))
    sof = j.find(b"\xff\xc0")
    j[sof + 5 : sof + 9] = struct.pack(">HH", min(h, 65535), min(w, 65535))
    # TIFF: patch ImageWidth / ImageLength of the hand-written 16-bit TIFF
    t = bytearray(_tiff16(np.zeros((4, 4, 3), np.uint16)))
    ifd = struct.unpack("<I", t[4:8])[0]
    for i in range(struct.unpack("<H", t[ifd : ifd + 2])[0]):
        off = ifd + 2 + 12 * i
        tag = struct.unpack("<H", t[off : off + 2])[0]
        if tag == 256:
            t[off + 8 : off + 12] = struct.pack("<I", w)
        elif tag == 257:
            t[off + 8 : off + 12] = struct.pack("<I", h)
    # WebP lossless (VP8L): patch the 14-bit width-1 / height-1 fields of a real lossless file
    wb = bytearray(_pil(_picture(16, 16), "WEBP", lossless=True))
    i = wb.find(b"VP8L") + 8
    bits = struct.unpack("<I", wb[i + 1 : i + 5])[0] & ~((1 << 28) - 1)
    bits |= (min(w, 16384) - 1) | ((min(h, 16384) - 1) << 14)
    wb[i + 1 : i + 5] = struct.pack("<I", bits)
    webp = bytes(wb)
    gif = b"GIF89a" + struct.pack("<HH", min(w, 65535), min(h, 65535)) + b"\0\0\0" + b"," + struct.pack(
        "<HHHH", 0, 0, min(w, 65535), min(h, 65535)) + b"\0\x08\x02\x4c\x01\0;"
    bmp_hdr = struct.pack("<2sIHHI", b"BM", 54 + 16, 0, 0, 54) + struct.pack(
        "<IiiHHIIiiII", 40, w, h, 1, 24, 0, 16, 2835, 2835, 0, 0) + b"\0" * 16
    rgbe = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {h} +X {w}\n".encode() + b"\2\2\0\x10" * 4
    pfm = f"PF\n{w} {h}\n-1.0\n".encode() + b"\0" * 64
    out = {
        "png": ("photo", ".png", png), "jpeg": ("photo", ".jpg", bytes(j)), "tiff": ("photo", ".tif", bytes(t)),
        "webp": ("photo", ".webp", webp), "gif": ("photo", ".gif", gif), "bmp": ("photo", ".bmp", bmp_hdr),
        "hdr": ("hdr", ".hdr", rgbe), "pfm": ("hdr", ".pfm", pfm), "exr": ("hdr", ".exr", _giant_exr(w, h)),
    }
    heic = _giant_heic(w, h)
    if heic is not None:
        out["heic"] = ("photo", ".heic", heic)
    uhdr = _giant_ultrahdr(min(w, 65535), min(h, 65535))
    if uhdr is not None:
        out["ultrahdr"] = ("ultrahdr", ".jpg", uhdr)
    return out


def _giant_exr(w: int, h: int) -> bytes:
    """An uncompressed EXR whose dataWindow (and displayWindow) claim w x h."""
    data = bytearray(_exr({"RGB": np.zeros((2, 2, 3), np.float16)}, "NONE"))
    for attr in (b"dataWindow\0box2i\0", b"displayWindow\0box2i\0"):
        i = data.find(attr)
        if i >= 0:
            v = i + len(attr) + 4  # after the 4-byte attribute size
            data[v : v + 16] = struct.pack("<iiii", 0, 0, w - 1, h - 1)
    return bytes(data)


def _giant_heic(w: int, h: int) -> bytes | None:
    """A small HEIC whose 'ispe' (image spatial extent) box claims w x h."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        data = bytearray(_pil(_picture(16, 16), "HEIF", quality=50))
    except Exception:  # noqa: BLE001
        return None
    i = data.find(b"ispe")
    if i < 0:
        return None
    data[i + 8 : i + 16] = struct.pack(">II", w, h)
    return bytes(data)


def _giant_ultrahdr(w: int, h: int) -> bytes | None:
    """A gain-map JPEG whose primary image's SOF claims w x h (the gain map is left as it is)."""
    try:
        from reexposure.formats.ultrahdr import ultrahdr_bytes
    except ImportError:
        return None
    pic = _picture(16, 16)
    rad = (pic.astype(np.float32) / 255.0) ** 2 * 4
    data = bytearray(ultrahdr_bytes(pic, rad))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


# ------------------------------------------------------------------------- mutations

#: integers a lying header likes to hold
INTERESTING_INTS = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 65500,
                    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 100_000, 16384, 46341)


def _truncate(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    return d[: pos]


def _flip(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    if d:
        d[pos % len(d)] ^= 1 << (arg % 8)
    return d


def _insert(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    return d[:pos] + blob + d[pos:]


def _delete(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    return d[:pos] + d[pos + 1 + arg % 64 :]


def _overwrite(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    return d[:pos] + blob + d[pos + len(blob) :]


def _lying_int(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    value = INTERESTING_INTS[arg % len(INTERESTING_INTS)]
    size = (2, 4)[(arg >> 5) & 1]
    order = ">" if (arg >> 6) & 1 else "<"
    packed = struct.pack(order + ("H" if size == 2 else "I"), value & (0xFFFF if size == 2 else 0xFFFFFFFF))
    return d[:pos] + packed + d[pos + size :]


def _duplicate(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    n = 1 + arg % 256
    return d[:pos] + d[pos : pos + n] + d[pos:]


def _zero_tail(d: bytearray, pos: int, arg: int, blob: bytes) -> bytearray:
    return d[:pos] + bytes(len(d) - pos)


#: name -> function(data, position, integer argument, random bytes) -> new data
MUTATIONS: dict[str, Callable[[bytearray, int, int, bytes], bytearray]] = {
    "truncate": _truncate, "flip": _flip, "insert": _insert, "delete": _delete, "overwrite": _overwrite,
    "lying_int": _lying_int, "duplicate": _duplicate, "zero_tail": _zero_tail,
}


def mutate(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply ``ops`` = [(mutation name, position, argument, bytes)] in order; positions are taken
    modulo the current length (+1), so any integers are valid."""
    d = bytearray(data)
    for name, pos, arg, blob in ops:
        d = bytearray(MUTATIONS[name](d, pos % (len(d) + 1), arg, blob))
    return bytes(d)
