"""Image I/O: formats, EXIF orientation, ICC, alpha, HDR round trips, bad input, safe writes.

All fixtures are generated in tmp_path. ICC profiles (Display P3, Adobe RGB) are built here from
their published primaries, and 16-bit PNGs are encoded/decoded by small pure-Python helpers, so the
module is checked against independent code, not against itself.
"""

from __future__ import annotations

import io as bio
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from reexposure.formats import io as rio
from reexposure.formats.io import ImageError, ImageWarning, OutputExistsError, Photo

RNG = np.random.default_rng(1234)

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


@pytest.fixture(scope="module")
def p3_icc() -> bytes:
    return make_icc("Display P3 (test)", P3_PRIMARIES, "srgb")


@pytest.fixture(scope="module")
def adobe_icc() -> bytes:
    return make_icc("Adobe RGB (1998) (test)", ADOBE_PRIMARIES, "adobe")


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


# ------------------------------------------------------------------------------------------
# photos: formats and round trips
# ------------------------------------------------------------------------------------------


def smooth_image(h: int = 24, w: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    img = np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (h + w - 2)], axis=-1)
    return np.round(img).astype(np.uint8)


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff", ".webp", ".jpg", ".jpeg"])
def test_photo_roundtrip_8bit(tmp_path: Path, ext: str) -> None:
    img = smooth_image()
    out = tmp_path / f"a{ext}"
    rio.write_photo(out, img, quality=100)
    photo = rio.read_photo(out)
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == img.shape
    assert photo.rgb.flags["C_CONTIGUOUS"] and photo.alpha is None and photo.path == out
    err = np.abs(photo.rgb.astype(int) - img).max()
    assert err <= (4 if ext in (".jpg", ".jpeg") else 0)
    assert photo.format == {".png": "PNG", ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(ext, "TIFF")


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_photo_roundtrip_16bit(tmp_path: Path, ext: str) -> None:
    img = RNG.integers(0, 65536, (9, 13, 3), dtype=np.uint16)
    img[0, 0] = (1, 256, 65535)  # low byte and high byte both matter
    out = tmp_path / f"a{ext}"
    rio.write_photo(out, img)
    photo = rio.read_photo(out)
    assert photo.rgb.dtype == np.uint16 and photo.bits == 16
    np.testing.assert_array_equal(photo.rgb, img)
    if ext == ".png":  # our writer's output decodes by hand to the same values
        raw, _ = png_decode(out.read_bytes())
        np.testing.assert_array_equal(raw, img)


def test_16bit_writers_in_several_blocks(tmp_path: Path) -> None:
    # 701 rows of 1000 px: the PNG writer filters/compresses about 700 rows at a time, the TIFF
    # writer uses strips of 43 rows; Pillow/libtiff decode them independently of our code.
    img = (np.linspace(0, 60000, 1000)[None, :, None] + RNG.integers(0, 5000, (701, 1000, 3))).astype(np.uint16)
    for ext in (".png", ".tif"):
        rio.write_photo(tmp_path / f"big{ext}", img)
        np.testing.assert_array_equal(rio.read_photo(tmp_path / f"big{ext}").rgb, img)


def test_read_16bit_png_all_filters(tmp_path: Path) -> None:
    img = RNG.integers(0, 65536, (10, 7, 3), dtype=np.uint16)
    p = tmp_path / "f.png"
    p.write_bytes(png_bytes(img, 16))
    np.testing.assert_array_equal(rio.read_photo(p).rgb, img)


def test_read_16bit_tiff_big_endian(tmp_path: Path) -> None:
    img = RNG.integers(0, 65536, (6, 9, 4), dtype=np.uint16)
    p = tmp_path / "be.tif"
    p.write_bytes(tiff16_be_bytes(img))
    photo = rio.read_photo(p)
    np.testing.assert_array_equal(photo.rgb, img[..., :3])
    np.testing.assert_array_equal(photo.alpha, img[..., 3])


def test_16bit_float_input_and_bits(tmp_path: Path) -> None:
    f = np.linspace(0, 1, 4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    rio.write_photo(tmp_path / "f16.png", f, bits=16)
    np.testing.assert_array_equal(rio.read_photo(tmp_path / "f16.png").rgb, np.round(f * 65535).astype(np.uint16))
    rio.write_photo(tmp_path / "f8.png", f)
    np.testing.assert_array_equal(rio.read_photo(tmp_path / "f8.png").rgb, np.round(f * 255).astype(np.uint8))
    with pytest.raises(ImageError, match="8 bits"):
        rio.write_photo(tmp_path / "x.jpg", f, bits=16)


def test_progressive_jpeg(tmp_path: Path) -> None:
    img = smooth_image(40, 48)
    p = tmp_path / "prog.jpg"
    Image.fromarray(img).save(p, quality=95, progressive=True)
    assert Image.open(p).info.get("progressive") or Image.open(p).info.get("progression")
    photo = rio.read_photo(p)
    np.testing.assert_array_equal(photo.rgb, np.asarray(Image.open(p).convert("RGB")))
    assert np.abs(photo.rgb.astype(int) - img).mean() < 2


def test_cmyk_jpeg_adobe_polarity(tmp_path: Path) -> None:
    # Pillow writes CMYK JPEGs the Adobe way (inverted data + APP14 marker), like Photoshop.
    patches = {(255, 0, 0, 0): (0, 255, 255), (0, 255, 0, 0): (255, 0, 255), (0, 0, 255, 0): (255, 255, 0),
               (0, 0, 0, 255): (0, 0, 0), (0, 0, 0, 0): (255, 255, 255)}  # fmt: skip
    cmyk = np.concatenate([np.full((16, 16, 4), k, np.uint8) for k in patches], axis=1)
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(cmyk, "CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK" and "adobe" in Image.open(p).info
    photo = rio.read_photo(p)
    assert photo.rgb.shape == (16, 80, 3)
    for i, rgb in enumerate(patches.values()):
        centre = photo.rgb[4:12, 16 * i + 4 : 16 * i + 12].reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(centre, rgb, atol=8)


def test_webp_lossy_and_lossless(tmp_path: Path) -> None:
    img = smooth_image()
    rio.write_photo(tmp_path / "l.webp", img, quality=100)
    np.testing.assert_array_equal(rio.read_photo(tmp_path / "l.webp").rgb, img)
    rio.write_photo(tmp_path / "q.webp", img, quality=80)
    assert np.abs(rio.read_photo(tmp_path / "q.webp").rgb.astype(int) - img).mean() < 4


def test_heic(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif has no HEVC encoder here")
    pillow_heif.register_heif_opener()
    img = smooth_image(64, 64)
    p = tmp_path / "a.heic"
    Image.fromarray(img).save(p, quality=95)
    photo = rio.read_photo(p)
    assert photo.format == "HEIF" and photo.rgb.shape == img.shape and photo.rgb.dtype == np.uint8
    assert np.abs(photo.rgb.astype(int) - img).mean() < 4


def test_read_from_bytes_and_stream(tmp_path: Path) -> None:
    img = smooth_image()
    buf = bio.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    np.testing.assert_array_equal(rio.read_photo(buf.getvalue()).rgb, img)
    buf.seek(0)
    np.testing.assert_array_equal(rio.read_photo(buf).rgb, img)
    with pytest.raises(ImageError, match="upload.png"):
        rio.read_photo(b"not an image at all", name="upload.png")


# ------------------------------------------------------------------------------------------
# grayscale, palette, alpha, animation
# ------------------------------------------------------------------------------------------


def test_grayscale_8_and_16(tmp_path: Path) -> None:
    g8 = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    Image.fromarray(g8, "L").save(tmp_path / "g.png")
    photo = rio.read_photo(tmp_path / "g.png")
    np.testing.assert_array_equal(photo.rgb, np.repeat(g8[..., None], 3, axis=-1))
    g16 = RNG.integers(0, 65536, (5, 7), dtype=np.uint16)
    (tmp_path / "g16.png").write_bytes(png_bytes(g16, 16))
    photo = rio.read_photo(tmp_path / "g16.png")
    assert photo.rgb.dtype == np.uint16
    np.testing.assert_array_equal(photo.rgb, np.repeat(g16[..., None], 3, axis=-1))
    one_bit = Image.fromarray(g8 > 128)
    one_bit.save(tmp_path / "b.png")
    np.testing.assert_array_equal(rio.read_photo(tmp_path / "b.png").rgb[..., 0], np.where(g8 > 128, 255, 0))


def test_gray_alpha_8_and_16(tmp_path: Path) -> None:
    la = RNG.integers(0, 256, (6, 5, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    photo = rio.read_photo(tmp_path / "la.png")
    np.testing.assert_array_equal(photo.alpha, la[..., 1])
    np.testing.assert_array_equal(photo.rgb[..., 2], la[..., 0])
    la16 = RNG.integers(0, 65536, (6, 5, 2), dtype=np.uint16)
    (tmp_path / "la16.png").write_bytes(png_bytes(la16, 16))
    photo = rio.read_photo(tmp_path / "la16.png")
    assert photo.alpha.dtype == np.uint16
    np.testing.assert_array_equal(photo.alpha, la16[..., 1])
    np.testing.assert_array_equal(photo.rgb[..., 1], la16[..., 0])


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    idx = RNG.integers(0, 4, (6, 8), dtype=np.uint8)
    pal = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    im = Image.fromarray(idx, "P")
    im.putpalette(pal)
    im.save(tmp_path / "p.png")
    photo = rio.read_photo(tmp_path / "p.png")
    np.testing.assert_array_equal(photo.rgb, np.array(pal).reshape(4, 3)[idx])
    assert photo.alpha is None
    im.save(tmp_path / "pt.png", transparency=3)
    photo = rio.read_photo(tmp_path / "pt.png")
    np.testing.assert_array_equal(photo.alpha, np.where(idx == 3, 0, 255))


def test_rgba_alpha_untouched_and_reattached(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    photo = rio.read_photo(tmp_path / "a.png")
    assert photo.alpha.tobytes() == rgba[..., 3].tobytes()
    np.testing.assert_array_equal(photo.rgb, rgba[..., :3])  # straight alpha: colour not touched
    for ext in (".png", ".tif", ".webp"):
        out = tmp_path / f"out{ext}"
        rio.write_photo(out, photo.rgb, like=photo, quality=100)
        back = rio.read_photo(out)
        assert back.alpha is not None and back.alpha.tobytes() == rgba[..., 3].tobytes(), ext
    rio.write_photo(tmp_path / "out.jpg", photo.rgb, like=photo)  # JPEG: alpha dropped, no error
    assert rio.read_photo(tmp_path / "out.jpg").alpha is None
    rio.write_photo(tmp_path / "small.png", photo.rgb[:5], like=photo)  # size differs: no alpha
    assert rio.read_photo(tmp_path / "small.png").alpha is None


def test_rgba16_alpha_untouched(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 65536, (7, 6, 4), dtype=np.uint16)
    (tmp_path / "a16.png").write_bytes(png_bytes(rgba, 16))
    photo = rio.read_photo(tmp_path / "a16.png")
    assert photo.alpha.dtype == np.uint16 and photo.alpha.tobytes() == rgba[..., 3].tobytes()
    rio.write_photo(tmp_path / "o16.png", photo.rgb, like=photo)
    raw, _ = png_decode((tmp_path / "o16.png").read_bytes())
    np.testing.assert_array_equal(raw, rgba)
    rio.write_photo(tmp_path / "o16.tif", photo.rgb, like=photo)
    np.testing.assert_array_equal(rio.read_photo(tmp_path / "o16.tif").alpha, rgba[..., 3])


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 6), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(tmp_path / "anim.gif").n_frames == 3
    photo = rio.read_photo(tmp_path / "anim.gif")
    assert photo.rgb.shape == (6, 8, 3)
    np.testing.assert_array_equal(photo.rgb.reshape(-1, 3).mean(axis=0), [255, 0, 0])


# ------------------------------------------------------------------------------------------
# EXIF orientation
# ------------------------------------------------------------------------------------------

# The EXIF spec defines orientation by where the stored row 0 / column 0 belong in the displayed
# picture; these map STORED pixels to the DISPLAYED picture, written from the spec (not Pillow).
DISPLAY_FROM_STORED = {
    1: lambda s: s,
    2: lambda s: s[:, ::-1],  # row 0 top, column 0 right
    3: lambda s: s[::-1, ::-1],  # row 0 bottom, column 0 right
    4: lambda s: s[::-1, :],  # row 0 bottom, column 0 left
    5: lambda s: s.transpose(1, 0, 2),  # row 0 left, column 0 top
    6: lambda s: np.rot90(s, -1),  # row 0 right, column 0 top (rotate 90 deg clockwise)
    7: lambda s: s[::-1, ::-1].transpose(1, 0, 2),  # row 0 right, column 0 bottom
    8: lambda s: np.rot90(s, 1),  # row 0 left, column 0 bottom (rotate 90 deg counter-clockwise)
}
STORED_FROM_DISPLAY = {**DISPLAY_FROM_STORED, 6: DISPLAY_FROM_STORED[8], 8: DISPLAY_FROM_STORED[6]}


def block_picture(scale: int = 8) -> np.ndarray:
    """3 x 4 blocks of distinct colours (so all 8 orientations differ), each scale x scale."""
    colours = np.array([[(i * 80) % 256, (j * 70 + 30) % 256, ((i + 2 * j) * 37) % 256] for i in range(3)
                        for j in range(4)], np.uint8).reshape(3, 4, 3)  # fmt: skip
    return np.repeat(np.repeat(colours, scale, axis=0), scale, axis=1)


def test_orientation_helpers_are_inverse() -> None:
    d = block_picture(2)
    for o in range(1, 9):
        np.testing.assert_array_equal(DISPLAY_FROM_STORED[o](STORED_FROM_DISPLAY[o](d)), d)
    assert len({STORED_FROM_DISPLAY[o](d).tobytes() + bytes(STORED_FROM_DISPLAY[o](d).shape) for o in range(1, 9)}) == 8


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ["jpeg", "png", "png16", "tiff", "tiff16"])
def test_exif_orientation(tmp_path: Path, orientation: int, kind: str) -> None:
    display = block_picture()
    stored = np.ascontiguousarray(STORED_FROM_DISPLAY[orientation](display))
    exif = exif_with(orientation)
    if kind == "png16":
        p = tmp_path / "o.png"
        p.write_bytes(png_bytes(stored.astype(np.uint16) * 257, 16, exif=exif))
    elif kind == "tiff16":
        p = tmp_path / "o.tif"
        p.write_bytes(tiff16_be_bytes(stored.astype(np.uint16) * 257, orientation))
    elif kind == "tiff":  # deflate: Pillow decodes it through libtiff
        p = tmp_path / "o.tif"
        Image.fromarray(stored).save(p, exif=exif, compression="tiff_deflate")
    else:
        p = tmp_path / ("o.jpg" if kind == "jpeg" else "o.png")
        Image.fromarray(stored).save(p, exif=exif, quality=100, subsampling=0)
    photo = rio.read_photo(p)
    expected = display.astype(np.uint16) * 257 if kind.endswith("16") else display
    assert photo.rgb.shape == expected.shape
    assert photo.rgb.flags["C_CONTIGUOUS"]
    tol = 6 if kind == "jpeg" else 0
    assert np.abs(photo.rgb.astype(int) - expected).max() <= tol
    tags = exif_tags(photo.exif)
    assert tags.get(0x0112) == 1
    assert kind == "tiff16" or tags.get(0x010F) == "TestCam"


def test_tiff_exif_keeps_descriptive_tags_only(tmp_path: Path) -> None:
    p = tmp_path / "in.tif"
    stored = np.ascontiguousarray(STORED_FROM_DISPLAY[6](block_picture()))
    Image.fromarray(stored).save(p, exif=exif_with(6, "TiffCam"))
    photo = rio.read_photo(p)
    np.testing.assert_array_equal(photo.rgb, block_picture())
    tags = exif_tags(photo.exif)
    assert tags.get(0x010F) == "TiffCam" and tags.get(0x0112) == 1
    assert not {256, 257, 273, 279} & set(tags)  # the TIFF's own layout tags are not EXIF


def test_exif_kept_on_write(tmp_path: Path) -> None:
    p = tmp_path / "in.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(block_picture(), 1))).save(p, exif=exif_with(6, "KeepMe"))
    photo = rio.read_photo(p)
    for ext in (".jpg", ".png", ".webp", ".tif"):
        out = tmp_path / f"out{ext}"
        rio.write_photo(out, photo.rgb, like=photo)
        ex = Image.open(out).getexif()
        assert ex.get(0x010F) == "KeepMe", ext
        assert ex.get(0x0112, 1) == 1, ext  # pixels are upright now: viewers must not rotate again
        assert rio.read_photo(out).rgb.shape == photo.rgb.shape


# ------------------------------------------------------------------------------------------
# ICC profiles
# ------------------------------------------------------------------------------------------

def profile_case(which: str, p3_icc: bytes, adobe_icc: bytes):
    """(profile bytes, primaries, decoding curve) for "p3" or "adobe"."""
    if which == "p3":
        return p3_icc, P3_PRIMARIES, srgb_decode
    return adobe_icc, ADOBE_PRIMARIES, adobe_decode


SATURATED = np.array([[230, 60, 40], [40, 200, 70], [60, 80, 220], [250, 240, 20]], dtype=np.uint8)


@pytest.mark.parametrize("which", ["p3", "adobe"])
def test_icc_converted_to_srgb(tmp_path: Path, which: str, p3_icc: bytes, adobe_icc: bytes) -> None:
    icc, prim, dec = profile_case(which, p3_icc, adobe_icc)
    src = np.repeat(SATURATED[None], 4, axis=0)  # 4x4 image, one colour per column
    p = tmp_path / "wide.png"
    Image.fromarray(src).save(p, icc_profile=icc)
    photo = rio.read_photo(p)
    expected = np.round(expected_srgb(SATURATED / 255.0, prim, dec) * 255)
    got = photo.rgb[0].astype(int)
    assert np.abs(got - expected).max() <= 2, (got, expected)
    assert np.abs(SATURATED.astype(int) - expected).max() > 10  # the test means something
    assert photo.icc == icc


@pytest.mark.parametrize("which", ["p3", "adobe"])
def test_icc_16bit_matches_float_maths(tmp_path: Path, which: str, p3_icc: bytes, adobe_icc: bytes) -> None:
    icc, prim, dec = profile_case(which, p3_icc, adobe_icc)
    src = RNG.integers(0, 65536, (6, 8, 3), dtype=np.uint16)
    p = tmp_path / "wide16.png"
    p.write_bytes(png_bytes(src, 16, icc=icc))
    photo = rio.read_photo(p)
    assert photo.rgb.dtype == np.uint16 and photo.icc == icc
    expected = expected_srgb(src / 65535.0, prim, dec) * 65535
    assert np.abs(photo.rgb - expected).max() <= 0.001 * 65535


def test_icc_original_profile_embedded_on_write(tmp_path: Path, p3_icc: bytes) -> None:
    src = RNG.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    p = tmp_path / "p3.png"
    Image.fromarray(src).save(p, icc_profile=p3_icc)
    photo = rio.read_photo(p)
    rio.write_photo(tmp_path / "o.png", photo.rgb, like=photo)
    back = Image.open(tmp_path / "o.png")
    assert back.info["icc_profile"] == p3_icc
    # converted back into P3: the stored values are close to the original P3 values (only
    # out-of-sRGB-gamut colours are clipped; these random colours are mostly in gamut)
    in_gamut = np.all((expected_srgb(src / 255.0, P3_PRIMARIES, srgb_decode) > 0.01)
                      & (expected_srgb(src / 255.0, P3_PRIMARIES, srgb_decode) < 0.99), axis=-1)  # fmt: skip
    diff = np.abs(np.asarray(back.convert("RGB")).astype(int) - src)[in_gamut]
    assert in_gamut.sum() > 10 and diff.max() <= 2
    rio.write_photo(tmp_path / "o.jpg", photo.rgb, like=photo)
    assert Image.open(tmp_path / "o.jpg").info["icc_profile"] == p3_icc
    rio.write_photo(tmp_path / "plain.png", photo.rgb)  # no `like`: plain sRGB, no profile
    assert "icc_profile" not in Image.open(tmp_path / "plain.png").info


def test_icc_16bit_written_back(tmp_path: Path, adobe_icc: bytes) -> None:
    src = RNG.integers(8000, 56000, (5, 6, 3), dtype=np.uint16)
    p = tmp_path / "a16.png"
    p.write_bytes(png_bytes(src, 16, icc=adobe_icc))
    photo = rio.read_photo(p)
    rio.write_photo(tmp_path / "o16.png", photo.rgb, like=photo)
    raw, chunks = png_decode((tmp_path / "o16.png").read_bytes())
    assert zlib.decompress(chunks[b"iCCP"].split(b"\0", 1)[1][1:]) == adobe_icc
    in_gamut = np.all((photo.rgb > 100) & (photo.rgb < 65400), axis=-1)
    assert np.abs(raw.astype(int) - src)[in_gamut].max() <= 40


def make_gray_icc() -> bytes:
    """ICC v2 gray display profile with a linear tone curve (gamma 1.0)."""
    rgb = make_icc("linear gray (test)", SRGB_PRIMARIES, "adobe")
    text = b"linear gray\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67
    tags = [(b"desc", desc), (b"wtpt", b"XYZ \0\0\0\0" + b"".join(_s15(c) for c in D50_XYZ)),
            (b"kTRC", b"curv\0\0\0\0" + struct.pack(">IH", 1, 256))]  # fmt: skip
    offset, entries, blobs = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        entries += struct.pack(">4sII", sig, offset + len(blobs), len(data))
        blobs += _pad4(data)
    size = offset + len(blobs)
    header = struct.pack(">I", size) + rgb[4:16] + b"GRAY" + rgb[20:128]
    return header + struct.pack(">I", len(tags)) + entries + blobs


def test_gray_icc_profile_8_and_16(tmp_path: Path) -> None:
    icc = make_gray_icc()
    g = np.array([[0, 32, 128, 255]] * 2, np.uint8)
    Image.fromarray(g, "L").save(tmp_path / "g.png", icc_profile=icc)
    photo = rio.read_photo(tmp_path / "g.png")
    expected = np.round(srgb_encode(g / 255.0) * 255)
    assert np.abs(photo.rgb[..., 0] - expected).max() <= 2 and (photo.rgb[..., 0] == photo.rgb[..., 2]).all()
    assert photo.icc == icc
    g16 = g.astype(np.uint16) * 257
    (tmp_path / "g16.png").write_bytes(png_bytes(g16, 16, icc=icc))
    photo = rio.read_photo(tmp_path / "g16.png")
    assert np.abs(photo.rgb[..., 1] - srgb_encode(g16 / 65535.0) * 65535).max() <= 1


def test_srgb_profile_not_converted(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(src).save(tmp_path / "s.png", icc_profile=srgb)
    photo = rio.read_photo(tmp_path / "s.png")
    np.testing.assert_array_equal(photo.rgb, src)
    assert photo.icc == srgb


def test_broken_icc_profile_ignored_with_warning(tmp_path: Path) -> None:
    src = RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(src).save(tmp_path / "b.png", icc_profile=b"garbage" * 30)
    with pytest.warns(ImageWarning, match="ICC"):
        photo = rio.read_photo(tmp_path / "b.png")
    np.testing.assert_array_equal(photo.rgb, src)
    assert photo.icc is None


# ------------------------------------------------------------------------------------------
# HDR: EXR, Radiance .hdr, PFM
# ------------------------------------------------------------------------------------------


def radiance(h: int = 12, w: int = 17) -> np.ndarray:
    return (np.exp(RNG.normal(0, 2, (h, w, 3))) * 0.5).astype(np.float32)


@pytest.mark.parametrize("half", [True, False])
def test_exr_roundtrip(tmp_path: Path, half: bool) -> None:
    import OpenEXR

    x = radiance()
    p = tmp_path / "r.exr"
    rio.write_hdr(p, x, half=half)
    chans = OpenEXR.File(str(p), header_only=True).header()["channels"]
    assert {c.name for c in chans} == {"R", "G", "B"}
    y = rio.read_hdr(p)
    assert y.dtype == np.float32 and y.shape == x.shape and y.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(y, x, rtol=1e-3 if half else 0, atol=0)
    assert (y != x).any() == half  # half really is half


def test_exr_non_contiguous_and_tensor_input(tmp_path: Path) -> None:
    x = radiance(10, 14)
    chw = np.ascontiguousarray(x.transpose(2, 0, 1))
    view = chw.transpose(1, 2, 0)  # HWC view with channel-first strides
    assert not view.flags["C_CONTIGUOUS"]
    rio.write_hdr(tmp_path / "v.exr", view, half=False)
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "v.exr"), x)
    rio.write_hdr(tmp_path / "t.exr", torch.from_numpy(chw)[None], half=False)  # (1,3,H,W) tensor
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "t.exr"), x)
    rio.write_hdr(tmp_path / "v.pfm", view)
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "v.pfm"), x)


def test_exr_channel_layouts(tmp_path: Path) -> None:
    import OpenEXR

    x = radiance(6, 9)
    OpenEXR.File({}, {k: np.ascontiguousarray(x[..., i]) for i, k in enumerate("RGB")}).write(str(tmp_path / "s.exr"))
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "s.exr"), x)
    OpenEXR.File({}, {"Y": np.ascontiguousarray(x[..., 1])}).write(str(tmp_path / "y.exr"))
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "y.exr"), np.repeat(x[..., 1:2], 3, axis=-1))
    layered = {f"beauty.{k}": np.ascontiguousarray(x[..., i]) for i, k in enumerate("RGB")}
    OpenEXR.File({}, layered).write(str(tmp_path / "l.exr"))
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "l.exr"), x)
    # luminance/chroma (OpenEXR's RgbaYca convention), Rec.709 weights
    w = np.array([0.2126, 0.7152, 0.0722])
    y = x @ w
    yc = {"Y": y, "RY": x[..., 0] / y - 1, "BY": x[..., 2] / y - 1}
    yc = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in yc.items()}
    OpenEXR.File({}, yc).write(str(tmp_path / "yc.exr"))
    np.testing.assert_allclose(rio.read_hdr(tmp_path / "yc.exr"), x, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rle", [True, False])
def test_radiance_hdr_roundtrip(tmp_path: Path, rle: bool) -> None:
    x = radiance(11, 40)
    x[3, 5:30] = 2.0  # a long run
    x[4] = 0.0
    p = tmp_path / "r.hdr"
    rio.write_hdr(p, x, rle=rle)
    data = p.read_bytes()
    assert data.startswith(b"#?RADIANCE") and b"-Y 11 +X 40\n" in data
    assert (len(data) < 11 * 40 * 4) == rle
    y = rio.read_hdr(p)
    assert y.shape == x.shape and y.dtype == np.float32
    peak = x.max(axis=-1, keepdims=True)
    # RGBE: 8-bit mantissas sharing the brightest channel's exponent; a mantissa of 0 reads as 0
    assert (np.abs(y - x) <= peak / 128 + 1e-30).all()
    assert (np.abs(y - x)[x > peak / 128] <= peak.repeat(3, -1)[x > peak / 128] / 256 + 1e-30).all()
    assert (y[4] == 0).all()


def test_radiance_rle_bytes_by_hand(tmp_path: Path) -> None:
    w = 8
    scan = bytes([2, 2, 0, w])
    scan += bytes([128 + 8, 100])  # R: a run of 8
    scan += bytes([8, 1, 2, 3, 4, 5, 6, 7, 8])  # G: 8 literals
    scan += bytes([128 + 5, 7, 3, 9, 9, 10])  # B: run of 5, then 3 literals
    scan += bytes([128 + 8, 129])  # E: exponent 129 -> scale 2**(129-136)
    p = tmp_path / "hand.hdr"
    p.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 8\n" + scan + scan)
    y = rio.read_hdr(p)
    f = 2.0 ** (129 - 136)
    np.testing.assert_allclose(y[0, :, 0], (100 + 0.5) * f)
    np.testing.assert_allclose(y[1, :, 1], (np.arange(1, 9) + 0.5) * f)
    np.testing.assert_allclose(y[0, :, 2], (np.array([7, 7, 7, 7, 7, 9, 9, 10]) + 0.5) * f)
    # and our encoder writes exactly these codes for the same RGBE bytes
    planar = np.array([[[100] * 8, list(range(1, 9)), [7] * 5 + [9, 9, 10], [129] * 8]], np.uint8)
    from reexposure.formats import hdr as rhdr

    assert rhdr._rle_encode(planar) == scan


def test_radiance_flat_bottom_up(tmp_path: Path) -> None:
    rgbe = np.zeros((2, 3, 4), np.uint8)
    rgbe[..., 3] = 129
    rgbe[0, :, 0] = 200  # first stored scanline is red
    rgbe[1, :, 2] = 200  # second is blue
    for res, red_row in ((b"-Y 2 +X 3", 0), (b"+Y 2 +X 3", 1)):
        p = tmp_path / "flat.hdr"
        p.write_bytes(b"#?RGBE\n\n" + res + b"\n" + rgbe.tobytes())
        y = rio.read_hdr(p)
        assert y.shape == (2, 3, 3)
        assert (y[red_row, :, 0] > 0).all() and (y[red_row, :, 2] == 0).all()


def test_pfm_roundtrip_and_conventions(tmp_path: Path) -> None:
    x = radiance(5, 7)
    rio.write_hdr(tmp_path / "r.pfm", x)
    data = (tmp_path / "r.pfm").read_bytes()
    assert data.startswith(b"PF\n7 5\n-1")
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "r.pfm"), x)
    # big-endian grayscale, rows bottom to top, written by hand
    g = np.arange(6, dtype=np.float32).reshape(2, 3)  # displayed top row 0,1,2
    (tmp_path / "g.pfm").write_bytes(b"Pf\n3 2\n1.0\n" + g[::-1].astype(">f4").tobytes())
    np.testing.assert_array_equal(rio.read_hdr(tmp_path / "g.pfm"), np.repeat(g[..., None], 3, axis=-1))


def test_nan_inf_negative_sanitised_on_read(tmp_path: Path) -> None:
    import OpenEXR

    x = radiance(4, 5)
    x[0, 0, 0], x[1, 1, 1], x[2, 2, 2], x[3, 3, 0] = np.nan, np.inf, -1.0, -np.inf
    OpenEXR.File({}, {"RGB": np.ascontiguousarray(x)}).write(str(tmp_path / "bad.exr"))
    with pytest.warns(ImageWarning, match="4 NaN/Inf/negative values"):
        y = rio.read_hdr(tmp_path / "bad.exr")
    assert np.isfinite(y).all() and (y >= 0).all()
    assert y[0, 0, 0] == y[1, 1, 1] == y[2, 2, 2] == y[3, 3, 0] == 0
    np.testing.assert_array_equal(y[4:], x[4:])
    (tmp_path / "bad.pfm").write_bytes(b"PF\n5 4\n-1.0\n" + x[::-1].astype("<f4").tobytes())
    with pytest.warns(ImageWarning, match="4 NaN"):
        assert (rio.read_hdr(tmp_path / "bad.pfm") >= 0).all()
    with pytest.warns(ImageWarning, match="3 NaN/Inf values"):  # keep_negative: only NaN/Inf become 0
        z = rio.read_hdr(tmp_path / "bad.exr", keep_negative=True)
    assert z[2, 2, 2] == -1.0 and z[0, 0, 0] == z[1, 1, 1] == z[3, 3, 0] == 0


def test_nan_sanitised_on_write(tmp_path: Path) -> None:
    x = radiance(4, 5)
    x[1, 2] = np.nan
    with pytest.warns(ImageWarning, match="3 NaN"):
        rio.write_hdr(tmp_path / "w.exr", x)
    assert (rio.read_hdr(tmp_path / "w.exr")[1, 2] == 0).all()


def test_read_shared_exr_unchanged(shared_hdr: Path) -> None:
    import OpenEXR

    path = next(iter(sorted(shared_hdr.rglob("*.exr"))))
    direct = np.asarray(OpenEXR.File(str(path)).channels()["RGB"].pixels, dtype=np.float32)
    np.testing.assert_array_equal(rio.read_hdr(path), np.nan_to_num(direct, nan=0, posinf=0, neginf=0).clip(0))


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def write_small(path: Path, fmt: str) -> bytes:
    img = RNG.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    Image.fromarray(img).save(path, format=fmt)
    return path.read_bytes()


def test_missing_folder_empty_and_garbage(tmp_path: Path) -> None:
    for reader in (rio.read_photo, rio.read_hdr):
        with pytest.raises(ImageError, match="no such file") as e:
            reader(tmp_path / "nope.jpg")
        check_error(e, tmp_path / "nope.jpg")
        with pytest.raises(ImageError, match="folder") as e:
            reader(tmp_path)
        check_error(e, tmp_path)
        (tmp_path / "empty.png").write_bytes(b"")
        with pytest.raises(ImageError, match="empty") as e:
            reader(tmp_path / "empty.png")
        check_error(e, tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("hello, I am not a picture\n" * 20)
    with pytest.raises(ImageError, match="not an image") as e:
        rio.read_photo(tmp_path / "text.jpg")
    check_error(e, tmp_path / "text.jpg")
    with pytest.raises(ImageError, match="not an HDR image") as e:
        rio.read_hdr(tmp_path / "text.jpg")
    check_error(e, tmp_path / "text.jpg")


@pytest.mark.parametrize(
    "fmt,ext", [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif"), ("HEIF", ".heic")]
)
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_photo(tmp_path: Path, fmt: str, ext: str, keep: float) -> None:
    full = tmp_path / f"full{ext}"
    data = write_small(full, fmt)
    rio.read_photo(full)  # the complete file is fine
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageError) as e:
        rio.read_photo(cut)
    msg = check_error(e, cut)
    assert "truncated" in msg or "corrupt" in msg


def test_truncated_16bit_png(tmp_path: Path) -> None:
    data = png_bytes(RNG.integers(0, 65536, (20, 20, 3), dtype=np.uint16), 16)
    idat = data.index(b"IDAT")
    (tmp_path / "cut.png").write_bytes(data[: idat + 200])
    with pytest.raises(ImageError, match="truncated|corrupt") as e:
        rio.read_photo(tmp_path / "cut.png")
    check_error(e, tmp_path / "cut.png")


def test_truncated_hdr_files(tmp_path: Path) -> None:
    x = radiance(16, 20)
    for ext in (".exr", ".hdr", ".pfm"):
        full = tmp_path / f"full{ext}"
        rio.write_hdr(full, x)
        cut = tmp_path / f"cut{ext}"
        data = full.read_bytes()
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(ImageError, match="truncated|corrupt|not a readable") as e:
            rio.read_hdr(cut)
        check_error(e, cut)


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (9, 1)])
def test_too_small(tmp_path: Path, size: tuple[int, int]) -> None:
    p = tmp_path / "tiny.png"
    Image.new("RGB", size).save(p)
    with pytest.raises(ImageError, match="too small") as e:
        rio.read_photo(p)
    check_error(e, p)
    q = tmp_path / "tiny.pfm"
    w, h = size
    q.write_bytes(f"PF\n{w} {h}\n-1\n".encode() + np.zeros((h, w, 3), "<f4").tobytes())
    with pytest.raises(ImageError, match="too small"):
        rio.read_hdr(q)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring a huge image, followed by a few bytes of compressed zeros."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + idat + _chunk(b"IEND", b"")


def test_decompression_bomb_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    from PIL import ImageFile

    p = tmp_path / "bomb.png"
    p.write_bytes(bomb_png())

    def no_decoding(self, *a, **k):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError, match="too large") as e:
        rio.read_photo(p)
    msg = check_error(e, p)
    assert "100000x100000" in msg and "REEXPOSE_MAX_PIXELS" in msg


def test_pixel_limit_is_configurable(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "img.png"
    Image.fromarray(smooth_image(20, 30)).save(p)  # 600 pixels
    assert rio.get_max_pixels() == rio.DEFAULT_MAX_PIXELS == 200_000_000
    rio.read_photo(p)
    with pytest.raises(ImageError, match="too large"):
        rio.read_photo(p, max_pixels=599)
    rio.read_photo(p, max_pixels=600)
    monkeypatch.setenv("REEXPOSE_MAX_PIXELS", "500")
    with pytest.raises(ImageError, match="limit 500"):
        rio.read_photo(p)
    rio.read_photo(p, max_pixels=10_000)  # the argument wins over the environment
    monkeypatch.setenv("REEXPOSE_MAX_PIXELS", "lots")
    with pytest.raises(ImageError, match="REEXPOSE_MAX_PIXELS"):
        rio.read_photo(p)
    monkeypatch.delenv("REEXPOSE_MAX_PIXELS")
    try:
        rio.set_max_pixels(100)
        with pytest.raises(ImageError, match="limit 100"):
            rio.read_photo(p)
    finally:
        rio.set_max_pixels(None)
    rio.read_photo(p)
    # Pillow's own (lower) bomb limit does not get in the way of a higher one of ours
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    rio.read_photo(p)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_hdr_headers_checked_before_reading(tmp_path: Path) -> None:
    (tmp_path / "bomb.pfm").write_bytes(b"PF\n100000 100000\n-1.0\n" + b"\0" * 64)
    with pytest.raises(ImageError, match="too large") as e:
        rio.read_hdr(tmp_path / "bomb.pfm")
    check_error(e, tmp_path / "bomb.pfm")
    (tmp_path / "bomb.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 100000 +X 100000\n" + b"\0" * 64)
    with pytest.raises(ImageError, match="too large"):
        rio.read_hdr(tmp_path / "bomb.hdr")
    rio.write_hdr(tmp_path / "ok.exr", radiance(20, 30))
    with pytest.raises(ImageError, match="too large"):
        rio.read_hdr(tmp_path / "ok.exr", max_pixels=500)


# ------------------------------------------------------------------------------------------
# writing safely
# ------------------------------------------------------------------------------------------


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".tmp" in p.name]


def test_unknown_extension_and_bad_folders(tmp_path: Path) -> None:
    img = smooth_image()
    with pytest.raises(ImageError, match=r"unknown output extension '\.bmp'.*\.png") as e:
        rio.write_photo(tmp_path / "x.bmp", img)
    check_error(e, tmp_path / "x.bmp")
    with pytest.raises(ImageError, match=r"\.exr, \.hdr, \.pfm"):
        rio.write_hdr(tmp_path / "x.png", radiance())
    with pytest.raises(ImageError, match="does not exist") as e:
        rio.write_photo(tmp_path / "missing" / "x.png", img)
    check_error(e, tmp_path / "missing" / "x.png")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ImageError, match="not a folder"):
        rio.write_photo(tmp_path / "file" / "x.png", img)
    assert not list((tmp_path).glob("x.*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_unwritable_folder_even_as_root() -> None:
    with pytest.raises(ImageError, match="cannot write|not writable") as e:
        rio.write_photo("/proc/reexpose-test.png", smooth_image())
    check_error(e, "/proc/reexpose-test.png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_permissions(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ImageError, match="not writable"):
            rio.write_photo(ro / "x.png", smooth_image())
    finally:
        ro.chmod(0o700)


def test_refuses_to_clobber_without_force(tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    rio.write_photo(out, smooth_image())
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="--force") as e:
        rio.write_photo(out, smooth_image()[::-1])
    check_error(e, out)
    assert out.read_bytes() == before
    rio.write_photo(out, np.ascontiguousarray(smooth_image()[::-1]), force=True)
    np.testing.assert_array_equal(rio.read_photo(out).rgb, smooth_image()[::-1])
    hdr = tmp_path / "o.exr"
    rio.write_hdr(hdr, radiance())
    with pytest.raises(OutputExistsError, match="--force"):
        rio.write_hdr(hdr, radiance())
    rio.write_hdr(hdr, radiance(), force=True)


def test_never_overwrites_the_input(tmp_path: Path) -> None:
    p = tmp_path / "in.png"
    Image.fromarray(smooth_image()).save(p)
    before = p.read_bytes()
    photo = rio.read_photo(p)
    for force in (False, True):
        with pytest.raises(ImageError, match="input") as e:
            rio.write_photo(p, photo.rgb, like=photo, force=force)
        assert not isinstance(e.value, OutputExistsError)
    with pytest.raises(ImageError, match="input"):
        rio.write_photo(tmp_path / "." / "in.png", photo.rgb, like=photo, force=True)
    with pytest.raises(ImageError, match="input"):
        rio.write_hdr(tmp_path / "r.exr", radiance(), inputs=[tmp_path / "r.exr"], force=True)
    assert p.read_bytes() == before


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path, monkeypatch) -> None:
    def broken_save(self, fp, *a, **k):
        Path(fp).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    out = tmp_path / "o.jpg"
    with pytest.raises(ImageError, match="No space left") as e:
        rio.write_photo(out, smooth_image())
    check_error(e, out)
    assert not out.exists() and no_temp_files(tmp_path)
    # a failed forced write keeps the old file intact
    out.write_bytes(b"old contents")
    with pytest.raises(ImageError):
        rio.write_photo(out, smooth_image(), force=True)
    assert out.read_bytes() == b"old contents" and no_temp_files(tmp_path)
    monkeypatch.undo()

    def broken_pfm(fh, arr):
        fh.write(b"PF\n")
        raise RuntimeError("encoder exploded")

    from reexposure.formats import hdr as rhdr

    monkeypatch.setattr(rhdr, "_write_pfm", broken_pfm)
    with pytest.raises(ImageError, match="encoder exploded"):
        rio.write_hdr(tmp_path / "r.pfm", radiance())
    assert not (tmp_path / "r.pfm").exists() and no_temp_files(tmp_path)


def test_atomic_output_context(tmp_path: Path) -> None:
    out = tmp_path / "video.mp4"
    with rio.atomic_output(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".mp4"
        assert not out.exists()
        tmp.write_bytes(b"data")
    assert out.read_bytes() == b"data" and no_temp_files(tmp_path)
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # normal permissions, not mkstemp's
    with pytest.raises(OutputExistsError):
        with rio.atomic_output(out):
            pass
    with pytest.raises(KeyError):
        with rio.atomic_output(out, force=True) as tmp:
            tmp.write_bytes(b"new")
            raise KeyError("boom")
    assert out.read_bytes() == b"data" and no_temp_files(tmp_path)


def test_check_output_path(tmp_path: Path) -> None:
    assert rio.check_output_path(tmp_path / "a.PNG") == tmp_path / "a.PNG"  # case-insensitive
    assert rio.check_output_path(tmp_path / "a.gif", extensions=(".gif", ".mp4")) == tmp_path / "a.gif"
    with pytest.raises(ImageError, match="supported: .gif, .mp4"):
        rio.check_output_path(tmp_path / "a.png", extensions=(".gif", ".mp4"))
    with pytest.raises(ImageError, match="is a folder"):
        (tmp_path / "d.png").mkdir()
        rio.check_output_path(tmp_path / "d.png", force=True)


def test_write_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        rio.write_photo(tmp_path / "a.png", np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="quality"):
        rio.write_photo(tmp_path / "a.jpg", np.zeros((4, 4, 3), np.uint8), quality=0)
    assert not list(tmp_path.iterdir())


def test_tensor_helpers() -> None:
    x = RNG.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    t = rio.to_tensor(x)
    assert t.shape == (1, 3, 5, 6) and t.dtype == torch.float32
    np.testing.assert_allclose(rio.from_tensor(t) * 255, x, atol=1e-4)
    assert rio.to_tensor(x.astype(np.uint16) * 257).max() <= 1.0


def test_photo_dataclass() -> None:
    p = Photo(np.zeros((3, 4, 3), np.uint16))
    assert (p.bits, p.height, p.width) == (16, 3, 4)
    api = {"read_photo", "write_photo", "read_hdr", "write_hdr", "Photo", "ImageError", "OutputExistsError",
           "atomic_output", "check_output_path", "set_max_pixels"}  # fmt: skip
    assert set(rio.__all__) >= api


def test_to_uint8_known_values() -> None:
    from reexposure.formats.io import to_uint8

    u8 = np.array([[[0, 128, 255]]], dtype=np.uint8)
    assert np.array_equal(to_uint8(u8), u8) and to_uint8(u8).dtype == np.uint8
    u16 = np.array([[[0, 128, 129, 65535]]], dtype=np.uint16)  # 128/257 rounds to 0, 129/257 to 1
    assert to_uint8(u16).tolist() == [[[0, 0, 1, 255]]] and to_uint8(u16).dtype == np.uint8
    f = np.array([[[-0.5, 0.5, 0.501, 2.0]]], dtype=np.float32)
    assert to_uint8(f).tolist() == [[[0, 128, 128, 255]]]
