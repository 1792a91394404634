"""ICC profiles: conversion to sRGB (8- and 16-bit), the original profile written back.

Fixtures are generated in tmp_path; helpers in io_helpers.py."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from io_helpers import (
    ADOBE_PRIMARIES,
    D50_XYZ,
    P3_PRIMARIES,
    RNG,
    SRGB_PRIMARIES,
    _pad4,
    _s15,
    adobe_decode,
    expected_srgb,
    make_icc,
    png_bytes,
    png_decode,
    srgb_decode,
    srgb_encode,
)
from PIL import Image, ImageCms

from reexposure.formats import io as rio
from reexposure.formats.io import ImageWarning

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


