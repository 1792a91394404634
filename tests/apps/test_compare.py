"""Comparison sheet: naive brightness, largest clipped region, layout."""

from __future__ import annotations

import numpy as np
import pytest

from reexposure.apps import compare
from reexposure.core.camera import SRGBCRF
from reexposure.core.infer import Reconstructor


def test_naive_reexpose_is_a_brightness_slider():
    """Linearise with the curve, scale by 2**ev, clip, re-apply: known values for the sqrt curve."""
    photo = np.array([[[0, 64, 128], [181, 255, 200]]], dtype=np.uint8)
    out = compare.naive_reexpose(photo, -2.0)
    lin = (photo / 255.0) ** 2
    expected = np.round(np.sqrt(np.clip(lin / 4.0, 0, 1)) * 255.0).astype(np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert out[0, 1, 1] == 128  # clipped white at -2 EV is flat mid grey: nothing reconstructed
    np.testing.assert_array_equal(compare.naive_reexpose(photo, 0.0), photo)
    srgb = compare.naive_reexpose(photo, 0.0, SRGBCRF())
    assert np.abs(srgb.astype(int) - photo).max() <= 1


def test_largest_clipped_box_finds_the_biggest_region():
    img = np.full((200, 300, 3), 100, np.uint8)
    yy, xx = np.mgrid[:200, :300]
    img[(yy - 50) ** 2 + (xx - 60) ** 2 < 10**2] = 255  # small
    img[(yy - 120) ** 2 + (xx - 210) ** 2 < 30**2] = 255  # largest
    y0, x0, y1, x1 = compare.largest_clipped_box(img)
    assert y1 - y0 == x1 - x0  # square
    assert y0 <= 90 and y1 >= 150 and x0 <= 180 and x1 >= 240  # contains the big disc
    assert not (y0 <= 50 <= y1 and x0 <= 60 <= x1)  # not the small one
    assert compare.largest_clipped_box(np.full((50, 50, 3), 200, np.uint8)) is None


def test_huge_region_is_cropped_inside_it():
    img = np.full((300, 400, 3), 90, np.uint8)
    img[:180] = 255  # a blown sky: 60% of the photo
    y0, x0, y1, x1 = compare.largest_clipped_box(img, max_fraction=0.5)
    assert y1 - y0 <= 150
    assert 0 <= y0 and y1 <= 300 and 0 <= x0 and x1 <= 400
    assert img[(y0 + y1) // 2, (x0 + x1) // 2].min() == 255  # centred on the region


def test_compare_image_layout_and_content(tiny_model, highlight_photo):
    rmap = Reconstructor(tiny_model)(highlight_photo)
    sheet = compare.compare_image(rmap, -2.0, panel_width=128, title="test.png")
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.shape[1] == 3 * 128 + 4 * 4
    # two rows: 128x96 panels and 128x128 zooms, each under a label bar
    bar = 2 * max(12, 128 // 32)
    assert sheet.shape[0] == bar + (96 + bar + 4) + (128 + bar + 4) + 4
    # the zoom of "ours" differs from the naive zoom (non-trivial model), the panels are not blank
    zy = bar + 96 + bar + 4 + bar
    naive_zoom = sheet[zy:zy + 128, 4 + 132:4 + 132 + 128].astype(int)
    ours_zoom = sheet[zy:zy + 128, 4 + 264:4 + 264 + 128].astype(int)
    assert (naive_zoom != ours_zoom).any(axis=2).mean() > 0.2  # the clipped disc fills ~45% of the zoom
    assert naive_zoom.std() > 1.0


def test_compare_without_clipping_has_one_row(tiny_model):
    photo = np.full((64, 96, 3), 120, np.uint8)
    rmap = Reconstructor(tiny_model)(photo)
    sheet = compare.compare_image(rmap, 1.0, panel_width=96)
    bar = 2 * 12
    assert sheet.shape[0] == bar + (64 + bar + 4) + 4


@pytest.mark.parametrize("ev", [-2.0, 1.0])
def test_ours_equals_naive_where_nothing_is_clipped(tiny_model, highlight_photo, ev):
    rmap = Reconstructor(tiny_model)(highlight_photo)
    ours = rmap.reexpose(ev)
    naive = compare.naive_reexpose(highlight_photo, ev)
    from scipy.ndimage import maximum_filter

    far = maximum_filter(highlight_photo.max(axis=2), size=3) < 245  # outside the dilated mask ramp
    assert far.mean() > 0.5
    np.testing.assert_array_equal(ours[far], naive[far])


def test_compare_reports_the_same_clipped_share_as_the_web_app():
    """Defect: the clipped share of the same sample differed between ``reexpose compare`` (pixels from
    code 249) and the web app (code 254). Both now print RadianceMap.clipped_fraction()."""
    from reexposure.core.camera import CLIP_CODE, clipped_share
    from reexposure.core.infer import RadianceMap

    photo = np.full((40, 50, 3), 100, dtype=np.uint8)
    photo[:4, :, 0] = 250  # 10% near-clipped (counted by the old compare, not by the web app)
    photo[4:6, :, 1] = 255  # 5% clipped
    rmap = RadianceMap(photo, SRGBCRF())
    assert CLIP_CODE == 254
    assert rmap.clipped_fraction() == clipped_share(photo) == pytest.approx(0.05)
    assert "5.0% clipped pixels" in compare.title_line(rmap, "x.jpg")
