"""Strength for the photo or one clipped area: known values of the pure functions of
``reexposure.core.strength`` (the maps that use them: tests/core/test_infer.py)."""

from __future__ import annotations

import numpy as np
import pytest

from reexposure.core.strength import (
    AREA_SNAP,
    AreaStrength,
    check_strength,
    near_clip_areas,
    nearest_area,
    strength_field,
)


def test_parse_area_strengths():
    assert AreaStrength.parse("1387,503=0.3") == AreaStrength(1387, 503, 0.3)
    assert AreaStrength.parse(" 0 , 7 = 2 ") == AreaStrength(0, 7, 2.0)
    assert AreaStrength.parse("4,5=.5").strength == 0.5 and AreaStrength.parse("4,5=1e0").strength == 1.0
    for bad in ("1387x503", "1,2", "-1,2=1", "1,2=-0.5", "1,2=nan", "1,2=inf", "", "1,2,3=1", "1,2=1;3,4=1"):
        with pytest.raises(ValueError, match="expected X,Y=S|strength must be within"):
            AreaStrength.parse(bad)
    with pytest.raises(ValueError, match="strength must be within 0-3, got 3.5"):
        AreaStrength.parse("1,2=3.5")
    assert check_strength(3) == 3.0


def test_near_clip_areas_known_values():
    """Areas are 8-connected pixels with a channel above code 244 (where the blend's mask is > 0)."""
    photo = np.full((6, 8, 3), 100, np.uint8)
    photo[1, 1, 0] = 245          # one channel just above the mask's threshold: an area
    photo[2, 2] = 255             # diagonal neighbour: the same area
    photo[1, 5] = 244             # at the threshold: not near the clip
    photo[4, 5:8, 2] = 250        # a second area
    labels = near_clip_areas(photo)
    assert labels.dtype == np.int32 and labels.shape == (6, 8)
    assert labels[1, 1] == labels[2, 2] > 0 and labels[1, 5] == 0
    assert labels[4, 5] == labels[4, 7] > 0 and labels[4, 5] != labels[1, 1]
    assert (labels > 0).sum() == 5


def test_nearest_area_snaps_within_the_radius_and_names_the_nearest_beyond_it():
    labels = np.zeros((100, 200), np.int32)
    labels[10:20, 10:20] = 1
    labels[50:60, 150:160] = 2
    assert nearest_area(labels, 15, 15) == 1                      # inside
    assert nearest_area(labels, 19 + AREA_SNAP, 15) == 1          # exactly AREA_SNAP px to the right
    assert nearest_area(labels, 140, 55) == 2
    with pytest.raises(ValueError, match=f"within {AREA_SNAP} px of \\(20, 37\\); the nearest is 18 px away, "
                                         "at \\(19, 19\\)"):
        nearest_area(labels, 20, 37)  # 18 px from area 1's corner pixel (19, 19)
    with pytest.raises(ValueError, match="outside the 200x100 photo"):
        nearest_area(labels, 200, 0)
    with pytest.raises(ValueError, match="the photo has none"):
        nearest_area(np.zeros((30, 40), np.int32), 5, 5)


def test_strength_field_puts_each_areas_strength_on_its_pixels():
    labels = np.array([[0, 1, 1, 2], [3, 1, 0, 2]], np.int32)
    areas = [AreaStrength(1, 0, 0.0), AreaStrength(3, 0, 2.0), AreaStrength(2, 0, 0.5)]  # area 1 twice: the last wins
    field = strength_field(labels, 1.25, areas, [1, 2, 1])
    np.testing.assert_array_equal(field, np.array([[1.25, 0.5, 0.5, 2.0], [1.25, 0.5, 1.25, 2.0]], np.float32))
    with pytest.raises(ValueError, match="strength must be within"):
        strength_field(labels, 3.5, [], [])
