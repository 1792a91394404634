"""EXIF: orientation applied on read, descriptive tags kept, orientation reset on write.

Fixtures are generated in tmp_path; helpers in io_helpers.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_helpers import exif_tags, exif_with, png_bytes, tiff16_be_bytes
from PIL import Image

from reexposure.formats import io as rio

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


