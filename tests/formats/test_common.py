"""Bad input and the pixel limit: one-line ImageErrors, headers checked before decoding.

Fixtures are generated in tmp_path; helpers in io_helpers.py."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from io_helpers import RNG, _chunk, check_error, png_bytes, radiance, smooth_image
from PIL import Image

from reexposure.formats import io as rio
from reexposure.formats.io import ImageError

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


