"""Photos: formats and round trips, channels and alpha, the Photo type.

Fixtures are generated in tmp_path; helpers in io_helpers.py."""

from __future__ import annotations

import io as bio
from pathlib import Path

import numpy as np
import pytest
import torch
from io_helpers import RNG, png_bytes, png_decode, smooth_image, tiff16_be_bytes
from PIL import Image

from reexposure.formats import io as rio
from reexposure.formats.io import ImageError, Photo

# ------------------------------------------------------------------------------------------
# photos: formats and round trips
# ------------------------------------------------------------------------------------------


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
