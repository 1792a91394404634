"""Training data: file discovery (SingleHDR layouts), 95% normalisation, EV-paired synthesis,
unreadable files, caching."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from _train_helpers import make_hdr_folder, scene, write_exr

from reexposure.core import camera
from reexposure.training.data import DataConfig, DataError, HDRPairs, PairSynthesizer, find_hdr_files, normalize_95

PLAIN = dict(jpeg_prob=0.0, noise_prob=0.0)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_find_hdr_files_any_nesting_and_singlehdr_layouts(tmp_path: Path) -> None:
    expected = [
        _touch(tmp_path / "HDR-Synth" / "sourceA" / "0001.exr"),
        _touch(tmp_path / "HDR-Synth" / "sourceB" / "deeper" / "0002.hdr"),
        _touch(tmp_path / "HDR-Real" / "HDR_gt" / "0003.hdr"),
        _touch(tmp_path / "HDR-Real" / "train" / "HDR_gt" / "0004.HDR"),
        _touch(tmp_path / "plain" / "scene.pfm"),
    ]
    ignored = [
        _touch(tmp_path / "HDR-Real" / "LDR_in" / "0003.jpg"),
        _touch(tmp_path / "HDR-Synth" / "sourceA" / "0001.png"),
        _touch(tmp_path / ".hidden" / "x.exr"),
        _touch(tmp_path / "plain" / "._scene.exr"),  # macOS resource fork
        _touch(tmp_path / "notes.txt"),
    ]
    found = find_hdr_files(tmp_path)
    assert found == sorted(expected)
    assert not set(ignored) & set(found)
    assert find_hdr_files(tmp_path, exclude=("0003",)) == sorted(p for p in expected if p.stem != "0003")


def test_find_hdr_files_missing_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        find_hdr_files(tmp_path / "nope")
    assert "\n" not in str(err.value) and "nope" in str(err.value)


def test_normalize_95_puts_95_percent_at_or_below_one() -> None:
    rng = np.random.default_rng(1)
    hdr = np.exp(rng.normal(0.0, 2.0, (120, 160, 3))).astype(np.float32) * 37.0
    norm = normalize_95(hdr)
    peak = norm.max(axis=-1)
    share = float(np.mean(peak <= 1.0 + 1e-6))
    assert 0.95 <= share <= 0.951
    assert np.percentile(peak, 95) == pytest.approx(1.0, rel=1e-5)
    # a pure rescaling: ratios between pixels are kept
    np.testing.assert_allclose(norm / norm.max(), hdr / hdr.max(), rtol=1e-5)
    assert np.isfinite(normalize_95(np.zeros((8, 8, 3), np.float32))).all()


@pytest.mark.parametrize("seed", range(6))
def test_pair_input_is_the_target_photographed(seed: int) -> None:
    """Input and target share the same exposure: with no JPEG and no noise the input is exactly
    render_ldr(target) through the pair's CRF, for every CRF of the bank."""
    synth = PairSynthesizer(DataConfig(crop=32, **PLAIN))
    image = normalize_95(scene(seed, 64, 80))
    pair = synth.sample(image, np.random.default_rng(seed))
    assert pair.ldr.shape == pair.radiance.shape == (32, 32, 3)
    expected = camera.render_ldr(torch.from_numpy(pair.radiance), 0.0, pair.crf)
    np.testing.assert_array_equal(pair.ldr, expected.numpy())
    # and under the default CRF the square-root photo of the same target
    sqrt_synth = PairSynthesizer(DataConfig(crop=32, crf_bank=("sqrt",), **PLAIN))
    p2 = sqrt_synth.sample(image, np.random.default_rng(seed))
    np.testing.assert_array_equal(p2.ldr, camera.render_ldr(p2.radiance, 0.0))
    assert -3.0 <= p2.k <= 3.0


def test_pair_exposure_clips_the_requested_share() -> None:
    cfg = DataConfig(crop=32, clip_share=(0.1, 0.1), clip_share_prob=1.0, highlight_crop_prob=1.0,
                     ev_range=(-8.0, 8.0), crf_bank=("sqrt",), **PLAIN)
    synth = PairSynthesizer(cfg)
    rng = np.random.default_rng(0)
    image = normalize_95(np.exp(rng.normal(0, 1.5, (96, 96, 3))).astype(np.float32))
    for s in range(5):
        pair = synth.sample(image, np.random.default_rng(s))
        clipped = float(np.mean(pair.radiance.max(axis=-1) >= 1.0))
        assert 0.08 <= clipped <= 0.12
        assert float(np.mean(pair.ldr.max(axis=-1) >= 1.0)) == pytest.approx(clipped, abs=0.02)


def test_scene_exposure_scope_clips_the_share_of_the_whole_image() -> None:
    """``exposure_scope="scene"``: the exposure clips the requested share of the whole image (as
    `reexpose eval` exposes a case), whatever the crop holds; "crop" (the default) clips that share
    of each crop; the draws are the same, so crops do not change."""
    image = np.full((96, 96, 3), 0.1, np.float32)
    image[:, 76:] = 4.0  # a bright strip: about 21% of the scene
    base = dict(crop=16, clip_share=(0.1, 0.1), clip_share_prob=1.0, highlight_crop_prob=0.0, scales=(1.0, 1.0),
                ev_range=(-8.0, 8.0), crf_bank=("sqrt",), **PLAIN)
    scene = PairSynthesizer(DataConfig(exposure_scope="scene", **base))
    crop = PairSynthesizer(DataConfig(**base))
    dark = 0
    for s in range(6):
        a, b = scene.sample(image, np.random.default_rng(s)), crop.sample(image, np.random.default_rng(s))
        assert a.k == pytest.approx(-2.0)  # the scene's 90th percentile, 4.0, lands on the clip level
        np.testing.assert_allclose(a.radiance / 2.0**a.k, b.radiance / 2.0**b.k)  # the same crop
        if float(b.radiance.max()) / 2.0**b.k <= 0.1 + 1e-6:  # a dark crop: crop scope exposes it up, 10% clips
            assert b.k == pytest.approx(math.log2(10.0), abs=1e-4)
            dark += 1
    assert dark >= 2
    big = np.zeros((2048, 1024, 3), np.float32)
    assert PairSynthesizer._scene_sample(big).shape[:2] == (1024, 512)  # every 2nd: at least 2**18 pixels counted
    np.testing.assert_array_equal(PairSynthesizer._scene_sample(image), image)  # small: every pixel
    with pytest.raises(ValueError, match="exposure_scope"):
        PairSynthesizer(DataConfig(exposure_scope="frame"))


def test_barely_clipped_crops_put_the_peak_just_above_the_clip_level() -> None:
    base = dict(crop=32, clip_share=(0.1, 0.1), clip_share_prob=1.0, highlight_crop_prob=1.0,
                ev_range=(-8.0, 8.0), crf_bank=("sqrt",), **PLAIN)
    rng = np.random.default_rng(0)
    image = normalize_95(np.exp(rng.normal(0, 1.5, (96, 96, 3))).astype(np.float32))
    barely = PairSynthesizer(DataConfig(peak_prob=1.0, peak_range=(1.2, 1.5), **base))
    for s in range(5):
        pair = barely.sample(image, np.random.default_rng(s))
        assert 1.2 - 1e-4 <= float(pair.radiance.max()) <= 1.5 + 1e-4
        assert float(np.mean(pair.ldr.max(axis=-1) >= 1.0)) > 0  # something clips
    # off (the default) draws nothing more: the samples of existing configs are unchanged
    off = PairSynthesizer(DataConfig(peak_prob=0.0, peak_range=(1.2, 1.5), **base))
    plain = PairSynthesizer(DataConfig(**base))
    a, b = off.sample(image, np.random.default_rng(7)), plain.sample(image, np.random.default_rng(7))
    np.testing.assert_array_equal(a.radiance, b.radiance)


def test_light_crops_centre_on_the_brightest_pixels() -> None:
    """``light_crop_prob``: highlight crops centred on the brightest 0.1% (a small lamp) instead of
    the brightest 5% (mostly a large bright sky); off, the samples are unchanged."""
    image = np.full((200, 200, 3), 0.2, np.float32)
    image[:40] = np.linspace(1.0, 2.0, 200, dtype=np.float32)[None, :, None]  # a sky: 20% of the pixels
    image[150:157, 150:157] = 500.0  # a lamp: 49 pixels, just over 0.1% of them
    base = dict(crop=32, highlight_crop_prob=1.0, scales=(1.0, 1.0), jpeg_prob=0.0, noise_prob=0.0,
                crf_bank=("sqrt",))

    def lamp_share(cfg: DataConfig) -> float:
        synth = PairSynthesizer(cfg)
        crops = [synth.sample(image, np.random.default_rng(s)).radiance for s in range(40)]
        return float(np.mean([c.max() > 100 * c.min() for c in crops]))  # the lamp is in the crop

    assert lamp_share(DataConfig(light_crop_prob=1.0, **base)) == 1.0
    assert lamp_share(DataConfig(**base)) < 0.2
    off, plain = PairSynthesizer(DataConfig(light_crop_prob=0.0, **base)), PairSynthesizer(DataConfig(**base))
    a, b = off.sample(image, np.random.default_rng(7)), plain.sample(image, np.random.default_rng(7))
    np.testing.assert_array_equal(a.radiance, b.radiance)


def test_noise_keeps_clipped_pixels_clipped() -> None:
    synth = PairSynthesizer(DataConfig(crop=32, jpeg_prob=0.0, noise_prob=1.0, noise_sigma=(0.02, 0.02),
                                       crf_bank=("sqrt",)))
    image = normalize_95(scene(2, 64, 64))
    pair = synth.sample(image, np.random.default_rng(3))
    over = pair.radiance >= 1.0
    assert over.any()
    assert (pair.ldr[over] == 1.0).all()
    noiseless = camera.render_ldr(pair.radiance, 0.0)
    assert not np.array_equal(pair.ldr, noiseless)  # the noise is really there
    assert np.abs(pair.ldr - noiseless).mean() < 0.05


def test_jpeg_input_stays_close_to_the_clean_photo() -> None:
    synth = PairSynthesizer(DataConfig(crop=32, jpeg_prob=1.0, jpeg_quality=(70, 70), noise_prob=0.0,
                                       crf_bank=("sqrt",)))
    pair = synth.sample(normalize_95(scene(1, 64, 64)), np.random.default_rng(0))
    clean = camera.render_ldr(pair.radiance, 0.0)
    assert not np.array_equal(pair.ldr, clean)
    assert np.abs(pair.ldr - clean).mean() < 0.03


def test_emor_bank_draws_measured_like_curves(shared: Path) -> None:
    emor = shared / "data" / "crf" / "emor.txt"
    synth = PairSynthesizer(DataConfig(crop=32, crf_bank=(), emor_path=str(emor), **PLAIN))
    image = normalize_95(scene(0, 64, 64))
    pairs = [synth.sample(image, np.random.default_rng(s)) for s in range(3)]
    grid = torch.linspace(0, 1, 33)
    curves = []
    for p in pairs:
        assert isinstance(p.crf, camera.TabulatedCRF)
        np.testing.assert_array_equal(p.ldr, camera.render_ldr(p.radiance, 0.0, p.crf))
        curve = p.crf.forward(grid)
        assert curve[0] == pytest.approx(0.0, abs=1e-3) and curve[-1] == pytest.approx(1.0, abs=1e-3)
        assert (curve[1:] >= curve[:-1] - 1e-4).all()  # monotone
        curves.append(curve)
    assert not torch.allclose(curves[0], curves[1])  # random curves, not one fixed curve


def test_dataset_skips_unreadable_file_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_hdr_folder(tmp_path / "d", ("a", "b"))
    (root / "broken.exr").write_bytes(b"this is not an EXR file")
    files = find_hdr_files(root)
    assert len(files) == 3
    with caplog.at_level(logging.WARNING, logger="reexposure.training.data"):
        ds = HDRPairs(files, DataConfig(crop=32), seed=0)
    assert any("broken.exr" in r.getMessage() for r in caplog.records)
    assert ds.names == ["a", "b"]
    for n in range(6):
        item = ds[n]
        assert item["ldr"].shape == (3, 32, 32) and torch.isfinite(item["radiance"]).all()


def test_dataset_with_no_readable_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.exr"
    bad.write_bytes(b"junk")
    with pytest.raises(DataError) as err:
        HDRPairs([bad], DataConfig(crop=32))
    assert "\n" not in str(err.value)
    with pytest.raises(DataError):
        HDRPairs([], DataConfig(crop=32))


def test_each_image_once_per_epoch_and_samples_reproducible(tmp_path: Path) -> None:
    root = make_hdr_folder(tmp_path / "d", ("a", "b", "c", "d", "e"))
    ds = HDRPairs(find_hdr_files(root), DataConfig(crop=32), seed=7)
    n_img = len(ds.files)
    for epoch in range(4):
        used = [ds.image_index(epoch * n_img + i) for i in range(n_img)]
        assert sorted(used) == list(range(n_img))
    orders = {tuple(ds.image_index(e * n_img + i) for i in range(n_img)) for e in range(6)}
    assert len(orders) > 1  # reshuffled between epochs
    a, b = ds[13], ds[13]
    assert torch.equal(a["ldr"], b["ldr"]) and torch.equal(a["radiance"], b["radiance"])
    assert int(a["image"]) == ds.image_index(13)


def test_lazy_cache_gives_the_same_samples_and_survives_a_file_going_bad(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_hdr_folder(tmp_path / "d", ("a", "b", "c"))
    files = find_hdr_files(root)
    eager = HDRPairs(files, DataConfig(crop=32), seed=1)
    lazy = HDRPairs(files, DataConfig(crop=32, cache_mb=0), seed=1)
    assert len(lazy.cache) <= 1  # nothing resident; one image read to check the folder
    for n in range(6):
        assert torch.equal(eager[n]["ldr"], lazy[n]["ldr"])
    # a file that becomes unreadable mid-run is skipped with a warning, not a crash
    lazy2 = HDRPairs(files, DataConfig(crop=32, cache_mb=0), seed=1)
    victim = next(n for n in range(3) if lazy2.image_index(n) == 1)
    lazy2.cache.clear()
    files[1].write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="reexposure.training.data"):
        item = lazy2[victim]
    assert int(item["image"]) != 1
    assert any("b.exr" in r.getMessage() for r in caplog.records)


def test_hdr_and_pfm_files_train_too(tmp_path: Path) -> None:
    from reexposure.formats import io

    if not hasattr(io, "write_hdr"):
        pytest.skip("reexposure.formats.io.write_hdr (.hdr/.pfm support) has not landed yet")
    img = scene(3, 40, 56)
    io.write_hdr(tmp_path / "x.hdr", img)
    io.write_hdr(tmp_path / "y.pfm", img)
    write_exr(tmp_path / "z.exr", img)
    ds = HDRPairs(find_hdr_files(tmp_path), DataConfig(crop=32))
    assert ds.names == ["x", "y", "z"]
    ims = ds.images
    # .hdr is 8-bit mantissa RGBE (about 1% error); .pfm and .exr (float) are exact
    np.testing.assert_allclose(ims[1], ims[2], rtol=1e-6)
    np.testing.assert_allclose(ims[0], ims[2], rtol=0.02, atol=1e-3)


def _photo(path: Path, clipped_rows: int = 0, h: int = 64, w: int = 80, seed: int = 0) -> Path:
    """A textured 8-bit photo (codes 40-200) with ``clipped_rows`` rows at 255."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rgb = (40 + 160 * rng.random((h, w, 3))).astype(np.uint8)
    rgb[:clipped_rows] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def test_photo_radiance_inverts_srgb_and_counts_clipped_pixels() -> None:
    from reexposure.training.data import photo_radiance

    rgb = np.array([[[255, 128, 0], [254, 10, 10]], [[0, 0, 0], [60, 60, 60]]], dtype=np.uint8)
    lin, clipped = photo_radiance(rgb)
    assert clipped == pytest.approx(0.5)  # two of four pixels have a channel >= 254
    assert lin[0, 0] == pytest.approx([1.0, 0.21586, 0.0], abs=1e-4)  # sRGB: code 128 -> 0.2159 linear
    big = np.full((40, 100, 3), 128, np.uint8)
    small, _ = photo_radiance(big, max_side=50)
    assert small.shape == (20, 50, 3) and np.allclose(small, 0.21586, atol=1e-4)


def test_self_supervised_pairs_render_a_brighter_photo(tmp_path: Path) -> None:
    from reexposure.training.data import find_ldr_files

    hdr = make_hdr_folder(tmp_path / "hdr", names=("a", "b"))
    for i in range(2):
        _photo(tmp_path / "ldr" / f"p{i}.png", seed=i)
    _photo(tmp_path / "ldr" / "sub" / "blown.png", clipped_rows=8)  # 12.5% clipped: not used
    found = find_ldr_files(tmp_path / "ldr")
    assert [p.name for p in found] == ["p0.png", "p1.png", "blown.png"]
    cfg = DataConfig(crop=32, crf_bank=("sqrt",), jpeg_prob=0.0, noise_prob=0.0, ldr_share=0.5,
                     clip_share_prob=1.0, highlight_crop_prob=0.0)
    files = find_hdr_files(hdr)
    ds = HDRPairs(files, cfg, seed=0, photos=found)
    assert [name for name, *_ in ds.photos] == ["p0", "p1"]
    kinds = [int(ds[n]["image"]) for n in range(40)]
    assert 10 <= sum(k < 0 for k in kinds) <= 30  # about half the samples come from the photos
    n = next(n for n, k in enumerate(kinds) if k < 0)
    item = ds[n]
    radiance, ldr = item["radiance"], item["ldr"]
    # input and target move together: the input is the target photographed (sqrt CRF, 8 bits)
    assert torch.allclose(ldr, torch.round(torch.sqrt(radiance.clamp(0, 1)) * 255) / 255, atol=1e-6)
    share = float((radiance.amax(0) >= 1).float().mean())
    assert 0.01 <= share <= 0.3 and float(radiance.max()) > 1.0  # the brighter rendition clips texture
    # without photos, or with ldr_share 0, the HDR samples are exactly the same as before
    plain = HDRPairs(files, DataConfig(crop=32), seed=0)
    zero = HDRPairs(files, DataConfig(crop=32, ldr_share=0.0), seed=0, photos=found)
    for n in range(5):
        assert torch.equal(plain[n]["ldr"], zero[n]["ldr"]) and torch.equal(plain[n]["radiance"], zero[n]["radiance"])


def test_self_supervised_pairs_need_usable_photos(tmp_path: Path) -> None:
    from _train_helpers import tiny_config

    from reexposure.training.config import ConfigError
    from reexposure.training.trainer import check_config

    hdr = make_hdr_folder(tmp_path / "hdr", names=("a",))
    blown = [_photo(tmp_path / "ldr" / "blown.png", clipped_rows=20)]
    with pytest.raises(DataError, match="none of the 1 photos is usable"):
        HDRPairs(find_hdr_files(hdr), DataConfig(crop=32, ldr_share=0.3), photos=blown)
    with pytest.raises(ConfigError, match="needs pairs.ldr_data"):
        check_config(tiny_config(hdr, tmp_path / "run", **{"pairs.ldr_share": 0.3}))


def _camera(**kw) -> PairSynthesizer:
    base = dict(camera_prob=1.0, crf_bank=("sqrt",), noise_prob=0.0, sharpen=(0.0, 0.0), camera_jpeg_prob=0.0,
                desaturate=(0.0, 0.0), saturation=(0.0, 0.0), wb_gain=(1.0, 1.0))
    return PairSynthesizer(DataConfig(**{**base, **kw}))


def test_camera_shoulder_rolls_highlights_off_instead_of_clipping_at_one() -> None:
    """A grey ramp 0..3x the clip level: the hard clip reaches 255 at 1.0; the shoulder (knee 0.7)
    is linear below the knee, still below 255 at 1.0 and reaches it only near knee + 5 (1 - knee)."""
    ramp = np.repeat(np.linspace(0, 3, 301, dtype=np.float32)[None, :, None], 3, axis=2).repeat(4, 0)
    rng = np.random.default_rng(0)
    hard, _ = _camera(shoulder_prob=0.0).camera_render(ramp, rng)
    soft, _ = _camera(shoulder_prob=1.0, shoulder_knee=(0.7, 0.7)).camera_render(ramp, rng)
    x = ramp[0, :, 0]
    assert hard[0, np.searchsorted(x, 1.0), 0] == 1.0
    assert soft[0, np.searchsorted(x, 1.0), 0] < 0.97
    assert np.all(np.diff(soft[0, :, 0]) >= 0)  # monotone
    first_white = x[np.argmax(soft[0, :, 0] >= 254 / 255)]
    assert 1.6 < first_white < 2.3
    below = x < 0.69
    assert np.allclose(soft[0, below, 0], hard[0, below, 0], atol=1 / 255)  # linear below the knee


def test_camera_white_balance_makes_one_channel_clip_first() -> None:
    """A grey scene at 0.9x the clip level with a warm balance (red gain 1.25): only red clips,
    and the target radiance carries the same gains (it is what the camera's colours mean)."""
    syn = _camera(wb_gain=(1.25, 1.25), shoulder_prob=0.0)
    rng = np.random.default_rng(0)
    look = syn.camera_look(np.full((8, 8, 3), 0.9, np.float32), rng)
    assert np.allclose(look[0, 0], [0.9 * 1.25, 0.9, 0.9 * 1.25])
    ldr, _ = syn.camera_render(look, rng)
    assert ldr[0, 0, 0] == 1.0 and ldr[0, 0, 1] < 1.0


def test_camera_curves_emor_draws_every_camera_like_curve_from_emor(tmp_path: Path) -> None:
    """``camera_curves="emor"``: every camera-like photo takes a random EMoR curve (not the bank's
    power laws), the plain renders still use the bank; it needs an EMoR file; other values fail."""
    emor = tmp_path / "emor.txt"
    grid = " ".join(f"{x:.4f}" for x in np.linspace(0, 1, 11))
    bend = " ".join(f"{0.2 * x * (1 - x):.4f}" for x in np.linspace(0, 1, 11))  # five components, as EMoR.sample draws
    emor.write_text(f"E =\n{grid}\nf0 =\n{' '.join(f'{x ** 0.45:.4f}' for x in np.linspace(0, 1, 11))}\n"
                    + "".join(f"h({k})=\n{bend}\n" for k in range(1, 6)))
    syn = _camera(camera_curves="emor", emor_path=str(emor))
    ramp = np.repeat(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], 3, axis=2)
    names = {syn.camera_render(ramp, np.random.default_rng(s))[1].name for s in range(6)}
    assert names == {"emor-random"}
    bank = _camera(emor_path=str(emor))  # the default: the bank (here sqrt) plus EMoR samples
    assert {bank.camera_render(ramp, np.random.default_rng(s))[1].name for s in range(12)} == {"sqrt", "emor-random"}
    assert syn.render(ramp, np.random.default_rng(0))[1].name in ("sqrt", "emor-random")
    with pytest.raises(ValueError, match="emor_path"):
        _camera(camera_curves="emor")
    with pytest.raises(ValueError, match="camera_curves"):
        _camera(camera_curves="gamma")


def test_camera_jpeg_subsamples_chroma() -> None:
    """4:2:0: a one-pixel colour checkerboard loses its colour detail, its brightness pattern stays."""
    syn = _camera(camera_jpeg_prob=1.0, camera_jpeg_quality=(97, 97), shoulder_prob=0.0)
    yy, xx = np.mgrid[:32, :32]
    board = np.where(((yy + xx) % 2 == 0)[..., None], [0.5, 0.1, 0.1], [0.1, 0.1, 0.5]).astype(np.float32)
    ldr, _ = syn.camera_render(board, np.random.default_rng(0))
    red_minus_blue = ldr[..., 0] - ldr[..., 2]
    assert np.abs(red_minus_blue[8:24, 8:24]).mean() < 0.15  # the colours average out (input: +-0.35)


def test_camera_pairs_are_reproducible_and_off_by_default(tmp_path: Path) -> None:
    folder = make_hdr_folder(tmp_path, names=("a", "b"))
    files = find_hdr_files(folder)
    plain = HDRPairs(files, DataConfig(crop=32), seed=1)
    cam = HDRPairs(files, DataConfig(crop=32, camera_prob=1.0), seed=1)
    assert torch.equal(cam[3]["ldr"], HDRPairs(files, DataConfig(crop=32, camera_prob=1.0), seed=1)[3]["ldr"])
    assert not torch.equal(plain[3]["ldr"], cam[3]["ldr"])
