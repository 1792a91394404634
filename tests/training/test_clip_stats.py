"""reexposure.training.clip_stats: known values on tiny images."""

from __future__ import annotations

import numpy as np
import pytest

from reexposure.training.clip_stats import clip_statistics


def test_channel_counts_and_ring_colour() -> None:
    img = np.full((40, 40, 3), 100, np.uint8)
    img[5:10, 5:10] = 255  # 25 pixels, all three channels
    img[20:25, 20:30] = (255, 120, 60)  # 50 pixels, red only
    s = clip_statistics([img])
    assert s["clipped"] == 75 / 1600
    assert (s["one"], s["two"], s["three"]) == (50 / 75, 0.0, 25 / 75)
    assert (s["single_r"], s["single_g"], s["single_b"]) == (1.0, 0.0, 0.0)
    assert s["ring_sat"] == 0.0 and abs(s["ring_level"] - 100 / 255) < 1e-9  # a grey ring at code 100
    # one fully clipped area of 25 px: equivalent diameter 2 sqrt(25 / pi)
    assert abs(s["area_d50"] - 2 * np.sqrt(25 / np.pi)) < 1e-9 and s["area_ge64"] == 0.0


def test_area_sizes_are_weighted_by_area() -> None:
    img = np.full((200, 200, 3), 100, np.uint8)
    img[10:90, 10:90] = 255  # 6,400 px: 90 px wide
    for y in range(100, 200, 10):  # ten areas of 9 px (3 px wide), 90 px in all
        img[y:y + 3, 100:103] = 255
    s = clip_statistics([img])
    assert abs(s["area_d50"] - 2 * np.sqrt(6400 / np.pi)) < 1e-9  # most fully clipped pixels lie in the big one
    assert s["area_ge64"] == 6400 / 6490


def test_no_clipped_pixel_gives_nan_ring() -> None:
    s = clip_statistics([np.zeros((8, 8, 3), np.uint8)])
    assert s["clipped"] == 0.0 and np.isnan(s["ring_sat"]) and np.isnan(s["area_d50"])


def _bracket(forward, ev: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A bright and a darker frame (``ev`` stops) of a smooth ramp of radiance 0.02-1.2 x the clip
    level through the camera ``forward`` (linear in [0,1] -> [0,1], hard clip)."""
    radiance = np.repeat(np.linspace(0.02, 1.2, 4096)[None, :, None], 3, 2)
    frames = [np.round(forward(np.clip(radiance * 2.0**-e, 0, 1)) * 255).astype(np.uint8) for e in (0.0, ev)]
    return frames[0], frames[1]


def test_tone_ratios_are_flat_for_power_laws_and_rise_for_a_shoulder() -> None:
    from reexposure.training.clip_stats import TONE_BANDS, tone_ratios

    for gamma in (2.0, 2.2):  # any power law keeps the ratio between exposures at every code
        r = tone_ratios(*_bracket(lambda x, g=gamma: x ** (1 / g)), 2.0)
        assert r.shape == (len(TONE_BANDS) - 1,)
        np.testing.assert_allclose(r, 1.0, atol=0.04)

    def shoulder(x: np.ndarray) -> np.ndarray:  # the square root of a signal linear to 0.5, then rolled off
        knee = 0.5
        y = np.where(x <= knee, x, knee + (1 - knee) * (1 - np.exp(-(x - knee) / (1 - knee))))
        return np.sqrt(y / (knee + (1 - knee) * (1 - np.exp(-1))))

    r = tone_ratios(*_bracket(shoulder), 2.0)
    np.testing.assert_allclose(r[:3], 1.0, atol=0.04)  # below the knee: the square law
    assert r[-1] > 1.15 and r[-1] > r[-2] > r[-3] > r[-4] > 1.0  # compressed highlights: the top bands rise
    # a band without enough values is NaN
    b, d = _bracket(lambda x: np.sqrt(x))
    assert np.isnan(tone_ratios(b[:, :100], d[:, :100], 2.0)).all()


def test_saturation_ratios_keep_colour_for_power_laws_and_fall_where_the_camera_whitens() -> None:
    from reexposure.training.clip_stats import saturation_ratios

    radiance = np.tile(np.linspace(0.02, 1.2, 4096)[None, :, None], (4, 1, 1)) * np.array([1.0, 0.6, 0.4])  # orange

    def frames(forward) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        return tuple(np.round(forward(np.clip(radiance * 2.0**-e, 0, 1)) * 255).astype(np.uint8) for e in (0.0, 2.0))

    r = saturation_ratios(*frames(lambda x: x ** (1 / 2.2)))
    assert np.nanmax(np.abs(r - 1.0)) < 0.05 and np.isfinite(r[2:]).all()

    def whitening(x: np.ndarray) -> np.ndarray:  # pulled toward the largest channel above 0.8, as camera_render does
        peak = x.max(-1, keepdims=True)
        t = np.clip((peak - 0.8) / 0.2, 0.0, 1.0)
        return np.sqrt(x + 0.8 * t * t * (3 - 2 * t) * (peak - x))

    r = saturation_ratios(*frames(whitening))
    assert abs(r[2] - 1.0) < 0.05  # mid-tones keep their colour
    assert r[-1] < 0.6 and r[-1] < r[-2] <= r[-3] + 1e-9  # near the clip it fades toward white


def test_tone_and_saturation_ratios_are_flat_when_read_through_the_cameras_own_curve() -> None:
    from reexposure.core.camera import TabulatedCRF
    from reexposure.training.clip_stats import saturation_ratios, tone_ratios

    def shoulder(x: np.ndarray) -> np.ndarray:  # linear to 0.7, then rolled off: compresses the highlights
        return np.where(x <= 0.7, x / 0.7 * 0.8, 0.8 + 0.2 * np.sin((x - 0.7) / 0.3 * np.pi / 2))

    grid = np.linspace(0.0, 1.0, 2049)
    curve = TabulatedCRF(tuple(grid), tuple(shoulder(grid)), "shoulder")
    b, d = _bracket(shoulder)
    assert tone_ratios(b, d, 2.0)[-1] > 1.1  # the square law misreads the shoulder
    np.testing.assert_allclose(np.nan_to_num(tone_ratios(b, d, 2.0, curve), nan=1.0), 1.0, atol=0.05)
    radiance = np.tile(np.linspace(0.02, 1.2, 4096)[None, :, None], (4, 1, 1)) * np.array([1.0, 0.6, 0.4])
    frames = [np.round(shoulder(np.clip(radiance * 2.0**-e, 0, 1)) * 255).astype(np.uint8) for e in (0.0, 2.0)]
    own = saturation_ratios(*frames, curve)
    np.testing.assert_allclose(own[2:], 1.0, atol=0.005)  # from code 128 up (8-bit rounding below)
    assert saturation_ratios(*frames)[-1] < own[-1] - 0.02  # read with the square law the shoulder looks paler


def test_measured_ev_is_the_exposure_difference_when_read_through_the_cameras_curve() -> None:
    from reexposure.core.camera import crf_from_name
    from reexposure.training.clip_stats import measured_ev

    srgb = crf_from_name("srgb")
    ramp = np.repeat(np.linspace(0.02, 1.2, 4096)[None, :, None], 3, 2).astype(np.float32)
    b, d = (np.round(np.asarray(srgb(np.clip(ramp * 2.0**-e, 0, 1))) * 255).astype(np.uint8) for e in (0.0, 2.0))
    assert measured_ev(b, d, srgb) == pytest.approx(2.0, abs=0.05)
    assert measured_ev(b, d) < 1.9  # the square law misreads an sRGB camera's mid-tones
    assert np.isnan(measured_ev(b[:, :10], d[:, :10]))


def test_desaturate_from_moves_where_camera_like_photos_whiten() -> None:
    import dataclasses

    from reexposure.training.data import DataConfig, PairSynthesizer

    orange = np.tile(np.linspace(0.3, 0.98, 256, dtype=np.float32)[None, :, None], (8, 1, 1)) * np.array(
        [1.0, 0.6, 0.3], np.float32)
    base = dataclasses.replace(DataConfig(), noise_prob=0.0, shoulder_prob=0.0, desaturate=(1.0, 1.0),
                               sharpen=(0.0, 0.0), camera_jpeg_prob=0.0, crf_bank=("sqrt",))

    def saturation(config: DataConfig) -> np.ndarray:
        ldr, _ = PairSynthesizer(config).camera_render(orange, np.random.default_rng(0))
        lin = ldr.astype(np.float64) ** 2
        return 1 - lin.min(-1) / lin.max(-1)

    late, early = saturation(base), saturation(dataclasses.replace(base, desaturate_from=0.5))
    mid = orange[..., 0] < 0.5  # below both starts: untouched
    np.testing.assert_allclose(late[mid], early[mid], atol=0.02)
    band = (orange[..., 0] > 0.65) & (orange[..., 0] < 0.78)  # whitened from 0.5 only
    assert np.allclose(late[band], 0.7, atol=0.02)  # the colour's own saturation, 1 - 0.3
    assert (early[band] < late[band] - 0.1).all()
    with pytest.raises(ValueError, match="desaturate_from"):
        PairSynthesizer(dataclasses.replace(base, desaturate_from=1.0))
