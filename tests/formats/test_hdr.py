"""Radiance maps: EXR, Radiance .hdr and PFM round trips, layouts, bad values.

Fixtures are generated in tmp_path; helpers in io_helpers.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from io_helpers import radiance

from reexposure.formats import io as rio
from reexposure.formats.io import ImageWarning

# ------------------------------------------------------------------------------------------
# HDR: EXR, Radiance .hdr, PFM
# ------------------------------------------------------------------------------------------


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


