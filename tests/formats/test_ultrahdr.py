"""Gain-map JPEG (Ultra HDR / Adobe gain map) writer and reader.

What is checked, and against what:

* Round trip: the radiance read back from a written file matches the radiance it was made from,
  pixel by pixel, within the gain map's quantisation error. The bound is derived, not tuned: a map
  code is the log gain quantised to 8 bits over [GainMapMin, GainMapMax] (half a code), plus the
  JPEG coding error of the map, which is measured per pixel by decoding the map from the file
  (located with Pillow's own MPF parser, not ours).
* Container: Pillow reads our MPF index (offsets and sizes) and the primary image is the input
  JPEG's bytes plus two metadata segments, pixel-identical when decoded, EXIF and ICC kept.
* Independent decoders: @monogrid/gainmap-js (container and XMP parsing) with jpeg-js (JPEG
  decoding) under Node.js; and, where Chromium and Playwright are installed, gainmap-js's real WebGL
  decoder (HDRJPGLoader) in headless Chromium, plus Chromium's <img> showing the base image.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from reexposure.core.camera import DEFAULT_CRF, SRGBCRF, saturation_mask
from reexposure.formats import ultrahdr as U
from reexposure.formats.ultrahdr import container as UC
from reexposure.formats.ultrahdr import gainmap as UG
from reexposure.formats.ultrahdr import metadata as UM

JS_DIR = Path(__file__).resolve().parent / "js"
K = U.OFFSET


# --------------------------------------------------------------------------- helpers


def _photo(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """Textured background (codes <= 225) with two clipped discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = 70 + 40 * np.sin(xx / 7.0)[..., None] + 25 * np.cos(yy / 5.0)[..., None]
    img = np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 225).astype(np.uint8)
    img[(yy - h // 2) ** 2 + (xx - w // 3) ** 2 < (h // 4) ** 2] = 255
    img[(yy - h // 4) ** 2 + (xx - 3 * w // 4) ** 2 < (h // 6) ** 2] = 255
    return img


def _save_jpeg(path: Path, arr: np.ndarray, quality: int = 92, **kwargs) -> Path:
    Image.fromarray(arr).save(path, "JPEG", quality=quality, **kwargs)
    return path


def _lut(crf) -> np.ndarray:
    return crf.inverse(torch.arange(256, dtype=torch.float32) / 255.0).numpy()


SRGB = _lut(SRGBCRF())


def _synthetic_radiance(rgb: np.ndarray, crf=DEFAULT_CRF, strength: float = 2.0) -> np.ndarray:
    """Radiance like the network's: lin * exp(mask * o), o a smooth colourful field up to
    ``strength`` (natural log units) inside clipped areas. HxWx3 float32."""
    h, w = rgb.shape[:2]
    lin = _lut(crf)[rgb]
    mask = saturation_mask(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0)[0, 0].numpy()
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    o = np.stack([strength * (0.6 + 0.4 * np.sin(6 * xx + c) * np.cos(5 * yy)) for c in range(3)], -1)
    return (lin * np.exp(mask[..., None] * o)).astype(np.float32)


def _pillow_gain_map(data: bytes) -> np.ndarray:
    """The second image of the file, located with Pillow's MPF parser (not ours)."""
    with Image.open(io.BytesIO(data)) as im:
        mp = im._getmp()
        assert mp is not None and mp[0xB001] == 2
        entries = mp[0xB002]
        start = entries[1]["DataOffset"] + im.info["mpoffset"]
        size = entries[1]["Size"]
    gm = data[start:start + size]
    assert gm[:2] == b"\xff\xd8" and gm[-2:] == b"\xff\xd9"
    return np.asarray(Image.open(io.BytesIO(gm)))


def _expected_codes(rgb_u8: np.ndarray, rad: np.ndarray, **kw) -> tuple[np.ndarray, U.GainMapMetadata]:
    return U.compute_gain_map(rad, rgb_u8, **kw)


def _check_within_quantisation(rad: np.ndarray, back: np.ndarray, rgb: np.ndarray,
                               codes: np.ndarray, read_codes: np.ndarray, meta: U.GainMapMetadata,
                               crf=DEFAULT_CRF) -> float:
    """Per pixel and channel: the log gain implied by ``back`` lies within the code interval of the
    true log gain widened by half a code (8-bit rounding) plus the measured JPEG error of that code.
    Returns the largest relative radiance error (for reporting)."""
    assert codes.shape == read_codes.shape
    s = SRGB[rgb].astype(np.float64)
    lin = _lut(crf)[rgb].astype(np.float64)
    ok = lin > 0
    h_true = np.where(ok, s * rad / np.where(ok, lin, 1), s)
    h_back = np.where(ok, s * back / np.where(ok, lin, 1), s)
    g_true = np.log2((h_true + K) / (s + K))
    g_back = np.log2((h_back + K) / (s + K))
    lo, hi, gam = meta.gain_map_min[0], meta.gain_map_max[0], meta.gamma[0]
    assert g_true.max() <= hi + 1e-6, "content exceeds the cap: the bound below would not apply"
    e = np.abs(read_codes.astype(np.int32) - codes.astype(np.int32))
    if e.ndim == 2:
        e = e[..., None]
    t = 255.0 * np.clip((g_true - lo) / (hi - lo), 0, 1) ** gam
    t_lo = np.clip(t - 0.5 - e, 0, 255) / 255.0
    t_hi = np.clip(t + 0.5 + e, 0, 255) / 255.0
    g_lo = lo + t_lo ** (1 / gam) * (hi - lo)
    g_hi = lo + t_hi ** (1 / gam) * (hi - lo)
    eps = 2e-5 * (1 + np.abs(g_true))  # float32 arithmetic in the reader
    bad = (g_back < g_lo - eps) | (g_back > g_hi + eps)
    assert not bad.any(), (f"{bad.sum()} values outside the quantisation bound; worst excess "
                           f"{max((g_lo - g_back).max(), (g_back - g_hi).max()):.3g} stops")
    return float((np.abs(back - rad) / np.maximum(rad, 1e-3)).max())


@pytest.fixture()
def jpeg_photo(tmp_path):
    """A JPEG with EXIF, an sRGB ICC profile and its Photo as read_photo gives it."""
    from reexposure.formats.io import read_photo

    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = _save_jpeg(tmp_path / "photo.jpg", _photo(), exif=exif.tobytes(), icc_profile=icc)
    return path, read_photo(path)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("channels", [3, 1])
def test_round_trip_within_quantisation(jpeg_photo, channels):
    path, photo = jpeg_photo
    rgb = photo.rgb
    rad = _synthetic_radiance(rgb)
    data = U.ultrahdr_bytes(photo, rad, headroom=6, quality=100, channels=channels)
    codes, meta = _expected_codes(rgb, rad, headroom=6, channels=channels)
    read_codes = _pillow_gain_map(data)
    assert read_codes.shape == codes.shape
    # JPEG at quality 100 moves codes by a few units at most (measured; the bound uses it per pixel)
    err = np.abs(read_codes.astype(int) - codes.astype(int))
    assert err.max() <= 4 and err.mean() < 0.5
    back = U.radiance_from_ultrahdr(data)  # curve recorded in the file
    assert back.shape == rad.shape and back.dtype == np.float32
    if channels == 3:
        _check_within_quantisation(rad, back, rgb, codes, read_codes, meta)
    else:
        # one channel: the map carries the luminance ratio, so each channel is the base times it
        s = SRGB[rgb].astype(np.float64)
        y_true = (s * rad / np.maximum(_lut(DEFAULT_CRF)[rgb], 1e-12)) @ UG._LUMA
        lum_rad = y_true[..., None] * np.ones(3) / np.maximum(s @ UG._LUMA, 1e-12)[..., None]
        lum_rad = lum_rad * _lut(DEFAULT_CRF)[rgb]
        ratio_true = (y_true + K) / (s @ UG._LUMA + K)
        ratio_back = ((s * back / np.maximum(_lut(DEFAULT_CRF)[rgb], 1e-12)) + K) / (s + K)
        step = (meta.gain_map_max[0] - meta.gain_map_min[0]) / 255
        bound = (0.5 + err) * step + 1e-4
        gap = np.abs(np.log2(ratio_back) - np.log2(ratio_true)[..., None])
        assert (gap <= bound[..., None]).all()
        del lum_rad
    # metadata chosen from the content: no negative gains here, max below the cap
    assert meta.gain_map_min[0] == 0.0 and 0 < meta.gain_map_max[0] < 6
    assert meta.hdr_capacity_max == meta.gain_map_max[0] and meta.hdr_capacity_min == 0.0


def test_unclipped_pixels_are_exactly_the_base(jpeg_photo):
    path, photo = jpeg_photo
    rad = _synthetic_radiance(photo.rgb)
    data = U.ultrahdr_bytes(photo, rad, headroom=6, quality=95)
    base, hdr, meta = U.read_ultrahdr(data)
    lin = _lut(DEFAULT_CRF)[photo.rgb]
    # pixels whose 8x8 JPEG block of the gain map holds no boosted pixel (a boosted neighbour in
    # the same block may ring into them)
    h, w = lin.shape[:2]
    boosted = np.abs(rad - lin).max(axis=2) > 0
    padded = np.zeros((-(-h // 8) * 8, -(-w // 8) * 8), bool)
    padded[:h, :w] = boosted
    blocks = padded.reshape(padded.shape[0] // 8, 8, padded.shape[1] // 8, 8).any(axis=(1, 3))
    far = ~np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)[:h, :w]
    assert far.mean() > 0.5
    np.testing.assert_allclose(hdr[far], SRGB[base][far], rtol=1e-6, atol=1e-8)
    back = U.radiance_from_ultrahdr(data)
    np.testing.assert_allclose(back[far], lin[far], rtol=1e-6, atol=1e-7)


def test_round_trip_gamma_and_downscaled_map(tmp_path):
    """A smooth log-gain ramp: block means + centre-aligned bilinear upsampling reproduce a linear
    function, so the only errors left are quantisation (with gamma 2) and JPEG coding."""
    h, w = 64, 96
    rgb = np.full((h, w, 3), 255, np.uint8)  # all clipped: S = L = 1
    xx = (np.arange(w) + 0.5)[None, :, None] * np.ones((h, 1, 3))
    rad = (2.0 ** (0.03 * xx)).astype(np.float32)  # log2 gain ~ linear in x, 0..2.9 stops
    path = _save_jpeg(tmp_path / "white.jpg", rgb, quality=100)
    from reexposure.formats.io import read_photo

    photo = read_photo(path)
    assert (photo.rgb == 255).all()
    data = U.ultrahdr_bytes(photo, rad, headroom=6, quality=100, scale=2, gamma=2.0)
    base, hdr, meta = U.read_ultrahdr(data)
    assert meta.gamma == (2.0, 2.0, 2.0) and meta.extra["gain_map_size"] == (w // 2, h // 2)
    g_true = np.log2((rad + K) / (1 + K))
    g_back = np.log2((hdr + K) / (1 + K))
    # exact code interval of the true gain under gamma 2, widened by 0.5 + 1 codes (JPEG q100 on a
    # smooth map), plus the curvature of log2(2^g + k) over two pixels (< 1e-4 stop)
    lo, hi = meta.gain_map_min[0], meta.gain_map_max[0]
    t = 255 * ((g_true - lo) / (hi - lo)) ** 2
    g_lo = lo + (np.clip(t - 1.5, 0, 255) / 255) ** 0.5 * (hi - lo)
    g_hi = lo + (np.clip(t + 1.5, 0, 255) / 255) ** 0.5 * (hi - lo)
    inner = (slice(2, -2), slice(2, -2))  # the outer pixel pair sees a clamped (flat) edge texel
    assert ((g_back[inner] >= g_lo[inner] - 1e-4) & (g_back[inner] <= g_hi[inner] + 1e-4)).all()
    # a map shifted by one base pixel would be off by 0.03 stops, far outside a 1.5-code interval
    # (here at most (2.9 / 255) * 1.5 / (2 * sqrt(t / 255)) ~ 0.01 stops where t is large)
    assert np.abs(g_back - g_true)[inner][:, 20:].max() < 0.02


def test_headroom_caps_the_boost_and_no_highlights_means_no_boost(jpeg_photo, tmp_path):
    path, photo = jpeg_photo
    rad = _synthetic_radiance(photo.rgb, strength=5.0)  # up to e^5 = 148x
    data = U.ultrahdr_bytes(photo, rad, headroom=2.0)
    base, hdr, meta = U.read_ultrahdr(data)
    assert meta.gain_map_max[0] == 2.0 and meta.hdr_capacity_max == 2.0
    assert hdr.max() <= (1 + K) * 4 - K + 1e-4
    assert hdr.max() > 3.5  # the cap is reached

    dark = (_photo() // 2).astype(np.uint8)  # nothing clipped: R = L everywhere
    p2 = _save_jpeg(tmp_path / "dark.jpg", dark)
    from reexposure.formats.io import read_photo

    photo2 = read_photo(p2)
    lin = _lut(DEFAULT_CRF)[photo2.rgb]
    data2 = U.ultrahdr_bytes(photo2, lin, headroom=3.0)
    base2, hdr2, meta2 = U.read_ultrahdr(data2)
    assert meta2.gain_map_max[0] == U.MIN_GAIN_MAX and meta2.gain_map_min[0] == 0
    assert (_pillow_gain_map(data2) == 0).all()
    np.testing.assert_allclose(hdr2, SRGB[base2], rtol=1e-6, atol=1e-8)  # float32 (S+k)*1-k
    # display headroom: half the capacity applies half the log boost
    _, hdr_half, _ = U.read_ultrahdr(data, display_headroom=1.0)
    _, hdr_none, _ = U.read_ultrahdr(data, display_headroom=0.0)
    np.testing.assert_allclose(hdr_none, SRGB[base], atol=1e-6)
    s = SRGB[base]
    np.testing.assert_allclose((hdr_half + K) / (s + K), np.sqrt((hdr + K) / (s + K)), rtol=1e-4)


def test_radiance_map_from_tiny_model(tmp_path, tiny_model):
    """The RadianceMap path (network boost field) round-trips like a plain tensor."""
    from reexposure.core.infer import Reconstructor
    from reexposure.formats.io import read_photo

    path = _save_jpeg(tmp_path / "p.jpg", _photo(seed=3))
    photo = read_photo(path)
    rmap = Reconstructor(tiny_model)(photo.rgb)
    rad = rmap.to_tensor()[0].permute(1, 2, 0).numpy()
    assert np.abs(rad - _lut(DEFAULT_CRF)[photo.rgb]).max() > 1e-3  # the network did something
    out = tmp_path / "p_hdr.jpg"
    U.write_ultrahdr(out, photo, rmap, headroom=6, quality=100)
    data = out.read_bytes()
    codes, meta = _expected_codes(photo.rgb, rmap, headroom=6)
    back = U.radiance_from_ultrahdr(out)
    _check_within_quantisation(rad, back, photo.rgb, codes, _pillow_gain_map(data), meta)
    # the API hook for the web app gives the same bytes
    assert U.ultrahdr_bytes(photo, rmap, 6, quality=100) == data


# --------------------------------------------------------------------------- container


def test_base_is_the_input_jpeg_byte_for_byte(jpeg_photo):
    path, photo = jpeg_photo
    original = path.read_bytes()
    data = U.ultrahdr_bytes(photo, _synthetic_radiance(photo.rgb))
    # everything of the original is there, in order, with only our two segments inserted
    segs, end = UC._jpeg_segments(data)
    ours = [s for s in segs if (s.marker == 0xE1 and s.payload(data).startswith(U.XMP_SIG))
            or (s.marker == 0xE2 and s.payload(data).startswith(U.MPF_SIG))]
    assert len(ours) == 2
    a, b = ours[0].start, ours[-1].end
    assert ours[0].end == ours[1].start
    assert data[:a] + data[b:end] == original
    # Pillow opens it as an ordinary JPEG and shows the base, pixel-identical
    with Image.open(io.BytesIO(data)) as im, Image.open(path) as orig:
        assert im.format == "JPEG" and im.size == orig.size
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), np.asarray(orig.convert("RGB")))
        assert im.info.get("icc_profile") == orig.info.get("icc_profile") is not None
        assert im.getexif().get(0x010F) == "TestCam"
        mp = im._getmp()
        primary_size = mp[0xB002][0]["Size"]
        gain_size = mp[0xB002][1]["Size"]
    assert primary_size == end and primary_size + gain_size == len(data)
    # GContainer directory: the gain map item's length is the secondary image's size
    rdf = UM._parse_xmp(ours[0].payload(data)[len(U.XMP_SIG):])
    assert UC._gain_map_length_from_container(rdf) == gain_size
    semantics = [i.get(f"{{{U.ITEM_NS}}}Semantic") for i in rdf.iter(f"{{{U.CONTAINER_NS}}}Item")]
    assert semantics == ["Primary", "GainMap"]
    # the secondary's XMP has the hdrgm metadata as attributes of the first rdf:Description
    gm = data[primary_size:]
    gsegs, _ = UC._jpeg_segments(gm, header_only=True)
    xmp = next(s.payload(gm) for s in gsegs if s.marker == 0xE1)
    desc = UM._parse_xmp(xmp[len(U.XMP_SIG):]).find(f"{{{U.RDF_NS}}}Description")
    attrs = {k.split("}")[1]: v for k, v in desc.attrib.items() if k.startswith(f"{{{U.HDRGM_NS}}}")}
    assert set(attrs) == {"Version", "GainMapMin", "GainMapMax", "Gamma", "OffsetSDR", "OffsetHDR",
                          "HDRCapacityMin", "HDRCapacityMax", "BaseRenditionIsHDR"}
    assert attrs["Version"] == "1.0" and attrs["BaseRenditionIsHDR"] == "False"
    assert float(attrs["OffsetSDR"]) == float(attrs["OffsetHDR"]) == 1 / 64


@pytest.mark.parametrize("options", [{"progressive": True}, {"restart_marker_blocks": 3},
                                     {"progressive": True, "restart_marker_blocks": 1}])
def test_progressive_and_restart_marker_jpegs_are_kept(tmp_path, options):
    """Several scans and RST markers in the entropy-coded data: the primary still ends at its EOI."""
    from reexposure.formats.io import read_photo

    path = _save_jpeg(tmp_path / "p.jpg", _photo(), **options)
    original = path.read_bytes()
    assert original.count(b"\xff\xda") > 1 or original.count(b"\xff\xd0") > 0
    photo = read_photo(path)
    data = U.ultrahdr_bytes(photo, _synthetic_radiance(photo.rgb), headroom=6, quality=100)
    with Image.open(io.BytesIO(data)) as im:
        primary_size = im._getmp()[0xB002][0]["Size"]
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), photo.rgb)
    segs, _ = UC._jpeg_segments(data, header_only=True)
    inserted = sum(sg.end - sg.start for sg in segs if sg.marker in (0xE1, 0xE2)
                   and sg.payload(data).startswith((U.XMP_SIG, U.MPF_SIG)))
    assert primary_size == len(original) + inserted
    assert data[primary_size - 2:primary_size] == b"\xff\xd9" and data[primary_size:][:2] == b"\xff\xd8"
    base, hdr, meta = U.read_ultrahdr(data)
    np.testing.assert_array_equal(base, photo.rgb)


def test_rewriting_a_gain_map_jpeg_replaces_its_map_and_keeps_other_xmp(tmp_path):
    from reexposure.formats.io import read_photo

    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
           b'22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
           b' dc:format="image/jpeg"/></rdf:RDF></x:xmpmeta>')
    path = _save_jpeg(tmp_path / "x.jpg", _photo(), xmp=xmp)
    photo = read_photo(path)
    first = tmp_path / "x_hdr.jpg"
    U.write_ultrahdr(first, photo, _synthetic_radiance(photo.rgb))
    text = first.read_bytes()
    assert b'dc:format="image/jpeg"' in text and U.is_ultrahdr(first)
    again = read_photo(first)
    np.testing.assert_array_equal(again.rgb, photo.rgb)
    second = U.ultrahdr_bytes(again, _synthetic_radiance(photo.rgb, strength=1.0))
    assert second.count(U.MPF_SIG) == 1 and second.count(b"hdrgm:GainMapMax") == 1
    _, _, m1 = U.read_ultrahdr(first)
    _, _, m2 = U.read_ultrahdr(second)
    assert m2.gain_map_max[0] < m1.gain_map_max[0]  # the new map, not the old one
    assert b'dc:format="image/jpeg"' in second


def test_exif_orientation_keeps_bytes_and_stores_the_map_unrotated(tmp_path):
    from reexposure.formats.io import read_photo

    upright = _photo(h=64, w=96)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # orientation 6 displays it rotated back
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save_jpeg(tmp_path / "rot.jpg", stored, exif=exif.tobytes(), quality=95)
    photo = read_photo(path)
    assert photo.rgb.shape == (64, 96, 3)  # read_photo applies the orientation
    rad = _synthetic_radiance(photo.rgb)
    data = U.ultrahdr_bytes(photo, rad, headroom=6, quality=100)
    assert _pillow_gain_map(data).shape[:2] == stored.shape[:2]  # stored orientation
    base, hdr, meta = U.read_ultrahdr(data)
    assert meta.extra["orientation"] == 6 and base.shape == photo.rgb.shape
    np.testing.assert_array_equal(base, photo.rgb)
    codes, _ = _expected_codes(photo.rgb, rad, headroom=6)
    read_codes = UC._apply_orientation(_pillow_gain_map(data), 6)
    _check_within_quantisation(rad, U.radiance_from_ultrahdr(data), photo.rgb, codes, read_codes, meta)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_helpers_are_inverse_and_match_pillow(orientation):
    from PIL import ImageOps

    a = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", exif=exif.tobytes())
    shown = np.asarray(ImageOps.exif_transpose(Image.open(buf)))
    np.testing.assert_array_equal(UC._apply_orientation(a, orientation), shown)
    np.testing.assert_array_equal(UC._undo_orientation(shown, orientation), a)


def test_non_jpeg_input_is_encoded_as_the_base(tmp_path):
    from reexposure.formats.io import read_photo

    rgb = _photo()
    exif = Image.Exif()
    exif[0x010F] = "PngCam"
    path = tmp_path / "p.png"
    Image.fromarray(rgb).save(path, exif=exif.tobytes())
    photo = read_photo(path)
    rad = _synthetic_radiance(photo.rgb)
    out = U.write_ultrahdr(tmp_path / "p.jpg", photo, rad, headroom=6, quality=100)
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.getexif().get(0x010F) == "PngCam"
        base = np.asarray(im.convert("RGB"))
    mse = np.mean((base.astype(float) - rgb) ** 2)
    assert 10 * np.log10(255**2 / mse) > 35  # q95 4:4:4 of the photo
    # the HDR rendition is the base times the boost the network predicted for the photo
    b2, hdr, meta = U.read_ultrahdr(out)
    np.testing.assert_array_equal(b2, base)
    codes, _ = U.compute_gain_map(rad, base, ref_rgb=photo.rgb, headroom=6)
    lin_p = _lut(DEFAULT_CRF)[photo.rgb]
    lin_b = _lut(DEFAULT_CRF)[base]
    # radiance relative to the base's own pixels (the photo's coding error is in the base)
    expected = np.where(lin_p > 0, rad / np.maximum(lin_p, 1e-12), 1) * lin_b
    _check_within_quantisation(expected, U.radiance_from_ultrahdr(out), base, codes,
                               _pillow_gain_map(out.read_bytes()), meta)


# --------------------------------------------------------------------------- errors


def test_reader_rejects_what_it_cannot_read(tmp_path):
    plain = _save_jpeg(tmp_path / "plain.jpg", _photo())
    assert not U.is_ultrahdr(plain)
    with pytest.raises(U.UltraHDRError, match="no gain map"):
        U.read_ultrahdr(plain)
    png = tmp_path / "x.png"
    Image.fromarray(_photo()).save(png)
    assert not U.is_ultrahdr(png) and not U.is_ultrahdr(tmp_path / "missing.jpg")
    with pytest.raises(U.UltraHDRError, match="no such file"):
        U.read_ultrahdr(tmp_path / "missing.jpg")
    with pytest.raises(U.UltraHDRError, match="not a JPEG"):
        U.read_ultrahdr(png)
    rgb = _photo()
    good = U.ultrahdr_bytes(rgb, _synthetic_radiance(rgb))
    assert U.is_ultrahdr(good)
    with pytest.raises(U.UltraHDRError):
        U.read_ultrahdr(good[: len(good) // 3])
    bad = good.replace(b'hdrgm:BaseRenditionIsHDR="False"', b'hdrgm:BaseRenditionIsHDR="True" ')
    with pytest.raises(U.UltraHDRError, match="BaseRenditionIsHDR"):
        U.read_ultrahdr(bad)
    bad = re.sub(rb'hdrgm:GainMapMax="([^"]*)"', lambda m: b'hdrgm:GainMapMax="' + b"x" * len(m[1]) + b'"',
                 good)
    assert len(bad) == len(good)
    with pytest.raises(U.UltraHDRError, match="GainMapMax"):
        U.read_ultrahdr(bad)
    for e in (U.UltraHDRError("x"),):
        assert "\n" not in str(e)


def test_writer_validates_and_refuses_to_clobber(tmp_path, jpeg_photo):
    from reexposure.formats.io import ImageError

    path, photo = jpeg_photo
    rad = _synthetic_radiance(photo.rgb)
    with pytest.raises(ImageError, match=".jpg"):
        U.write_ultrahdr(tmp_path / "out.png", photo, rad)
    with pytest.raises(ImageError):
        U.write_ultrahdr(path, photo, rad, force=True)  # never the input
    out = U.write_ultrahdr(tmp_path / "out.jpg", photo, rad)
    with pytest.raises(ImageError):
        U.write_ultrahdr(out, photo, rad)
    U.write_ultrahdr(out, photo, rad, force=True)
    with pytest.raises(ValueError, match="headroom"):
        U.ultrahdr_bytes(photo, rad, headroom=0)
    with pytest.raises(ValueError, match="scale"):
        U.ultrahdr_bytes(photo, rad, scale=3)
    with pytest.raises(ValueError, match="differ|radiance"):
        U.ultrahdr_bytes(photo, rad[:10])
    with pytest.raises(ValueError, match="NaN"):
        U.ultrahdr_bytes(photo, np.full_like(rad, np.nan))


# --------------------------------------------------------------------------- command line


def test_cli_writes_a_gain_map_jpeg(tmp_path, tiny_model, capsys):
    from reexposure.apps import cli
    from reexposure.core.weights import save_weights

    model = tmp_path / "tiny.safetensors"
    save_weights(tiny_model, model, description="tiny")
    src = _save_jpeg(tmp_path / "photo.jpg", _photo(seed=5))
    out = tmp_path / "photo_hdr.jpg"
    rc = cli.main(["ultrahdr", str(src), "-o", str(out), "--model", str(model), "--headroom", "2.5"])
    assert rc == 0, capsys.readouterr().err
    assert U.is_ultrahdr(out)
    _, _, meta = U.read_ultrahdr(out)
    assert 0 < meta.hdr_capacity_max <= 2.5 and meta.extra["crf"] == "sqrt"
    assert "wrote" in capsys.readouterr().out
    rc = cli.main(["ultrahdr", str(src), "-o", str(out), "--model", str(model)])
    assert rc == 2 and "exists" in capsys.readouterr().err  # no clobbering without --force
    rc = cli.main(["ultrahdr", str(src), "-o", str(out), "--model", str(model), "--headroom", "-1",
                   "--force"])
    err = capsys.readouterr().err
    assert rc == 2 and "headroom" in err and err.count("\n") == 1


def test_reexpose_hdr_reads_the_radiance_back(tmp_path, tiny_model, jpeg_photo, capsys):
    """``reexpose hdr out.jpg -o out.exr`` recovers the radiance the file was made from."""
    import inspect

    from reexposure.apps import cli
    from reexposure.apps.cli import photo as photo_cli
    from reexposure.core.weights import save_weights
    from reexposure.formats.io import read_hdr

    if "ultrahdr" not in inspect.getsource(photo_cli._cmd_hdr):
        pytest.skip("reexpose hdr has no gain-map hook yet (photo_cli._cmd_hdr must call "
                    "ultrahdr.is_ultrahdr / hdr_from_ultrahdr)")
    path, photo = jpeg_photo
    rad = _synthetic_radiance(photo.rgb)
    out = U.write_ultrahdr(tmp_path / "u.jpg", photo, rad, headroom=6, quality=100)
    model = tmp_path / "tiny.safetensors"
    save_weights(tiny_model, model, description="tiny")
    exr = tmp_path / "u.exr"
    rc = cli.main(["hdr", str(out), "-o", str(exr), "--model", str(model), "--float"])
    assert rc == 0, capsys.readouterr().err
    back = read_hdr(exr)
    np.testing.assert_allclose(back, U.radiance_from_ultrahdr(out), rtol=1e-6, atol=1e-7)
    # and that is the radiance it was made from, within the gain map's quantisation
    codes, meta = _expected_codes(photo.rgb, rad, headroom=6)
    _check_within_quantisation(rad, back, photo.rgb, codes, _pillow_gain_map(out.read_bytes()), meta)
    # the file's radiance is not reconstructed, so --strength and --area cannot change it: said, not ignored
    rc = cli.main(["hdr", str(out), "-o", str(exr), "--model", str(model), "--float", "--force",
                   "--area", "1,1=0.5"])
    assert rc == 0 and "do not apply to a gain-map JPEG" in capsys.readouterr().err
    np.testing.assert_array_equal(read_hdr(exr), back)


# --------------------------------------------------------------------------- independent decoders


def _node_ready() -> Path:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (needed for the @monogrid/gainmap-js check)")
    if not (JS_DIR / "node_modules" / "@monogrid" / "gainmap-js").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed and tests/formats/js/node_modules is missing")
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS_DIR)],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.skip(f"npm ci failed in tests/formats/js (offline?): {proc.stderr.strip()[-300:]}")
    return Path(node)


def _run_node_decoder(node: Path, path: Path, tmp_path: Path) -> dict:
    prefix = tmp_path / "js"
    proc = subprocess.run([str(node), str(JS_DIR / "decode.mjs"), str(path), str(prefix)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(Path(f"{prefix}.json").read_text())
    h, w = info["height"], info["width"]
    info["hdr"] = np.fromfile(f"{prefix}.f32", dtype="<f4").reshape(h, w, 3)
    info["base"] = np.fromfile(f"{prefix}.base.u8", dtype=np.uint8).reshape(h, w, 3)
    info["gain"] = np.fromfile(f"{prefix}.gain.u8", dtype=np.uint8).reshape(
        info["gainMapHeight"], info["gainMapWidth"], 3)
    return info


@pytest.mark.parametrize("channels,scale", [(3, 1), (1, 2)])
def test_gainmap_js_under_node_agrees_with_our_reader(tmp_path, jpeg_photo, channels, scale):
    node = _node_ready()
    path, photo = jpeg_photo
    out = U.write_ultrahdr(tmp_path / "u.jpg", photo, _synthetic_radiance(photo.rgb), headroom=4,
                           channels=channels, scale=scale)
    js = _run_node_decoder(node, out, tmp_path)
    base, hdr, meta = U.read_ultrahdr(out, orient=False)
    m = js["metadata"]
    for ours, theirs in [(meta.gain_map_min, m["gainMapMin"]), (meta.gain_map_max, m["gainMapMax"]),
                         (meta.gamma, m["gamma"]), (meta.offset_sdr, m["offsetSdr"]),
                         (meta.offset_hdr, m["offsetHdr"])]:
        np.testing.assert_allclose(theirs, ours, rtol=1e-6)
    assert m["hdrCapacityMax"] == pytest.approx(meta.hdr_capacity_max)
    assert m["hdrCapacityMin"] == pytest.approx(meta.hdr_capacity_min)
    # gainmap-js found the same two images through the MPF index
    data = out.read_bytes()
    parsed = UC._parse_container(data)
    # (gainmap-js slices one byte past each image's end; the last one is clamped by the file end)
    assert js["sdrBytes"] in (len(parsed.primary), len(parsed.primary) + 1)
    assert js["gainMapBytes"] == len(parsed.gain_map)
    assert (js["gainMapWidth"], js["gainMapHeight"]) == meta.extra["gain_map_size"]
    # jpeg-js and libjpeg-turbo differ by a few codes (IDCT, chroma upsampling); nothing more
    ours_gain = np.asarray(Image.open(io.BytesIO(parsed.gain_map)).convert("RGB"))
    for theirs, ours in [(js["base"], base), (js["gain"], ours_gain)]:
        diff = np.abs(theirs.astype(int) - ours)
        assert diff.max() <= 8 and diff.mean() < 0.5, (diff.max(), diff.mean())
    # on the same decoded pixels, our gain-map math equals theirs to float precision
    same = U.apply_gain_map(js["base"], js["gain"][..., 0] if channels == 1 else js["gain"], meta)
    np.testing.assert_allclose(same, js["hdr"], rtol=2e-5, atol=2e-6)
    # end to end, the decoders differ only as much as those pixel differences explain: per pixel,
    # the base difference in log2(S + k) plus the largest gain-code difference times the code step
    gap = np.abs(np.log2((js["hdr"] + K) / (hdr + K)))
    base_part = np.abs(np.log2((SRGB[js["base"]] + K) / (SRGB[base] + K)))
    step = (meta.gain_map_max[0] - meta.gain_map_min[0]) / 255
    gain_part = np.abs(js["gain"].astype(int) - ours_gain).max() * step
    assert (gap <= base_part + gain_part + 1e-4).all()
    assert np.median(gap) < 0.01


def test_our_reader_reads_a_file_assembled_by_gainmap_js(tmp_path):
    """gainmap-js's port of libultrahdr's container writer makes the file; we read it."""
    node = _node_ready()
    rgb = _photo()
    sdr = _save_jpeg(tmp_path / "sdr.jpg", rgb)
    yy, xx = np.mgrid[:48, :64]
    codes = np.stack([(xx * 4) % 256, (yy * 5) % 256, (xx + yy) * 2 % 256], -1).astype(np.uint8)
    gain = _save_jpeg(tmp_path / "gain.jpg", codes, quality=100, subsampling=0)
    meta = {"gainMapMin": [-0.5] * 3, "gainMapMax": [2.25] * 3, "gamma": [1.5] * 3,
            "offsetSdr": [0.01] * 3, "offsetHdr": [0.02] * 3, "hdrCapacityMin": 0.25,
            "hdrCapacityMax": 2.25, "width": 128, "height": 96, "gainMapWidth": 64, "gainMapHeight": 48}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "theirs.jpg"
    proc = subprocess.run([str(node), str(JS_DIR / "encode.mjs"), str(sdr), str(gain),
                           str(tmp_path / "meta.json"), str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert U.is_ultrahdr(out)
    base, hdr, m = U.read_ultrahdr(out)
    assert m.gain_map_min == (-0.5,) * 3 and m.gain_map_max == (2.25,) * 3 and m.gamma == (1.5,) * 3
    assert m.offset_sdr == (0.01,) * 3 and m.offset_hdr == (0.02,) * 3
    assert (m.hdr_capacity_min, m.hdr_capacity_max) == (0.25, 2.25) and m.extra["crf"] is None
    np.testing.assert_array_equal(base, np.asarray(Image.open(sdr).convert("RGB")))
    g = np.asarray(Image.open(gain).convert("RGB")).astype(np.float64) / 255
    # the formula written out independently of apply_gain_map (bilinear x2, centre-aligned)
    up = torch.nn.functional.interpolate(torch.from_numpy(g).permute(2, 0, 1)[None], scale_factor=2,
                                         mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    log_boost = -0.5 + up ** (1 / 1.5) * 2.75
    expected = (SRGB[base].astype(np.float64) + 0.01) * 2.0 ** log_boost - 0.02
    np.testing.assert_allclose(hdr, expected, rtol=1e-5, atol=1e-6)
    # a foreign file has no camera curve: reexpose hdr writes its HDR rendition
    rendition, what = U.hdr_from_ultrahdr(out)
    np.testing.assert_array_equal(rendition, hdr)
    assert "SDR white" in what
    with pytest.raises(U.UltraHDRError, match="no camera curve"):
        U.radiance_from_ultrahdr(out)


_PAGE = """<!doctype html><html><body>
<script type="importmap">{"imports": {"three": "/node_modules/three/build/three.module.js",
  "@monogrid/gainmap-js": "/node_modules/@monogrid/gainmap-js/dist/decode.js"}}</script>
<script type="module">
import { HDRJPGLoader } from '@monogrid/gainmap-js'
import { WebGLRenderer } from 'three'
window.decodeGainMap = async (url) => {
  const renderer = new WebGLRenderer()
  const result = await new HDRJPGLoader(renderer).loadAsync(url)  // full weight: 2^HDRCapacityMax
  const arr = result.toArray()  // half floats, RGBA, bottom row first
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000))
  return { width: result.width, height: result.height, data: btoa(s) }
}
window.showImage = (url) => new Promise((resolve, reject) => {
  const img = new Image()
  img.onload = () => {
    const c = document.createElement('canvas')
    c.width = img.naturalWidth; c.height = img.naturalHeight
    const ctx = c.getContext('2d')
    ctx.drawImage(img, 0, 0)
    const px = ctx.getImageData(0, 0, c.width, c.height).data
    let s = ''
    for (let i = 0; i < px.length; i += 0x8000) s += String.fromCharCode.apply(null, px.subarray(i, i + 0x8000))
    resolve({ width: img.naturalWidth, height: img.naturalHeight, data: btoa(s) })
  }
  img.onerror = () => reject(new Error('image failed to load'))
  img.src = url
})
window.ready = true
</script></body></html>"""


def test_chromium_shows_the_base_and_gainmap_js_webgl_decodes_it(tmp_path, jpeg_photo):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    _node_ready()  # installs tests/formats/js/node_modules (three, gainmap-js) if needed
    path, photo = jpeg_photo
    data = U.ultrahdr_bytes(photo, _synthetic_radiance(photo.rgb), headroom=4)
    base, hdr, meta = U.read_ultrahdr(data)

    def serve(route):
        rel = route.request.url.split("://", 1)[1].split("/", 1)[1]
        if rel == "index.html":
            return route.fulfill(status=200, body=_PAGE, content_type="text/html")
        if rel == "photo.jpg":
            return route.fulfill(status=200, body=data, content_type="image/jpeg")
        f = (JS_DIR / rel).resolve()
        if f.is_file() and JS_DIR in f.parents:
            return route.fulfill(status=200, body=f.read_bytes(), content_type="text/javascript")
        return route.fulfill(status=404, body="")

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            page = browser.new_page()
            page.route("http://gainmap.test/**", serve)
            page.goto("http://gainmap.test/index.html")
            page.wait_for_function("window.ready === true", timeout=30000)
            shown = page.evaluate("window.showImage('/photo.jpg')")
            decoded = page.evaluate("window.decodeGainMap('/photo.jpg')")
        finally:
            browser.close()
    # <img>: natural size of the base; an SDR screen shows the base pixels
    assert (shown["width"], shown["height"]) == (base.shape[1], base.shape[0])
    px = np.frombuffer(base64.b64decode(shown["data"]), np.uint8).reshape(base.shape[0], base.shape[1], 4)
    assert np.abs(px[..., :3].astype(int) - base).max() <= 3
    # gainmap-js's WebGL decoder (half-float render target) agrees with our reader
    out = np.frombuffer(base64.b64decode(decoded["data"]), np.float16).reshape(
        decoded["height"], decoded["width"], 4)[::-1, :, :3].astype(np.float32)
    gap = np.abs(np.log2((out + K) / (hdr + K)))
    assert gap.mean() < 0.002 and gap.max() < 0.05, (gap.mean(), gap.max())
