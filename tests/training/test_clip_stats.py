"""reexposure.training.clip_stats: known values on tiny images."""

from __future__ import annotations

import numpy as np

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
