"""Output paths and atomic writes: checks before work, no clobbering, nothing left on failure.

Fixtures are generated in tmp_path; helpers in io_helpers.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from io_helpers import check_error, radiance, smooth_image
from PIL import Image

from reexposure.formats import io as rio
from reexposure.formats.io import ImageError, OutputExistsError

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


