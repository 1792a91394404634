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


def test_no_clipped_pixel_gives_nan_ring() -> None:
    s = clip_statistics([np.zeros((8, 8, 3), np.uint8)])
    assert s["clipped"] == 0.0 and np.isnan(s["ring_sat"])
