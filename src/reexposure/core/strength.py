"""How much of the network's brightness a reconstruction uses: one strength for the whole photo, or
one per clipped area.

The blend's radiance is ``guide * exp(s * log_gain)`` (:func:`reexposure.core.model.blend.radiance_at`):
``s`` = 1 is the model's answer, 0 keeps only what the photo's unclipped channels and colour imply.
:attr:`reexposure.core.infer.RadianceMap.strength` sets ``s`` for the photo (the CLI's
``--strength``); an :class:`AreaStrength` sets it for one clipped area (the CLI's ``--area``, the
web app's "Pick a highlight"), the remedy for the model's known failure on real photos: a bright
wall or a patch of sunlit snow taken for a lamp can be calmed while the lamps keep the model's
answer (MODEL_CARD.md "Failure cases").

Areas are the connected regions of pixels near the clip (:func:`near_clip_areas`), the only pixels
the network's brightness reaches; outside them its log gain is 0 whatever the strength, so a
strength per area cannot draw a seam.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import camera

__all__ = ["MAX_STRENGTH", "AREA_SNAP", "check_strength", "AreaStrength", "near_clip_areas", "nearest_area",
           "strength_field"]

#: Largest strength, for the photo or an area.
MAX_STRENGTH = 3.0

#: How far (px of the photo) the clipped area an :class:`AreaStrength` names may lie from its point.
AREA_SNAP = 16


def check_strength(strength: float) -> float:
    """``strength`` as a float if it is finite and within [0, :data:`MAX_STRENGTH`]; else
    ``ValueError`` with a one-line message."""
    s = float(strength)
    if not (math.isfinite(s) and 0.0 <= s <= MAX_STRENGTH):
        raise ValueError(f"strength must be within 0-{MAX_STRENGTH:g}, got {strength}")
    return s


_AREA_TEXT = re.compile(r"\s*(\d{1,9})\s*,\s*(\d{1,9})\s*=\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*")


@dataclass(frozen=True)
class AreaStrength:
    """A strength for one clipped area of a photo: the area (of :func:`near_clip_areas`) that
    holds the pixel at column ``x``, row ``y`` (counted from the photo's top-left corner, as shown:
    after its EXIF orientation), or else the nearest one within :data:`AREA_SNAP` px
    (:func:`nearest_area`), gets ``strength`` (0-:data:`MAX_STRENGTH`) instead of the photo's."""

    x: int
    y: int
    strength: float

    @classmethod
    def parse(cls, text: str) -> AreaStrength:
        """``"X,Y=S"`` (the CLI's ``--area``, the web API's ``areas``) as an :class:`AreaStrength`;
        ``ValueError`` with a one-line message for anything else or a strength outside 0-3."""
        m = _AREA_TEXT.fullmatch(text)
        if m is None:
            raise ValueError(f"{text!r}: expected X,Y=S (pixel column and row, strength 0-{MAX_STRENGTH:g}), "
                             "e.g. 1387,503=0.3")
        return cls(int(m[1]), int(m[2]), check_strength(float(m[3])))


def near_clip_areas(photo: np.ndarray) -> np.ndarray:
    """The connected areas (8-neighbours) of the pixels of an HWC uint8 ``photo`` that have a
    channel above code ``floor(MASK_LOW * 255)`` (244): where the blend's saturation mask is above
    0, the only pixels the network's brightness reaches. (H,W) int32 labels 1..n, 0 elsewhere."""
    from scipy import ndimage

    thresh = int(math.floor(camera.MASK_LOW * 255))
    near = np.empty(photo.shape[:2], dtype=bool)
    for y in range(0, photo.shape[0], 256):  # banded: no full-size temporary per channel
        near[y:y + 256] = (photo[y:y + 256] > thresh).any(axis=-1)
    labels, _ = ndimage.label(near, structure=np.ones((3, 3), dtype=bool))
    return labels.astype(np.int32, copy=False)


def nearest_area(labels: np.ndarray, x: int, y: int) -> int:
    """The label in ``labels`` ((H,W) int, 0 = none: :func:`near_clip_areas`) at pixel (``x``,
    ``y``) or, failing that, of the nearest labelled pixel within :data:`AREA_SNAP` px;
    ``ValueError`` with a one-line message for a point outside the image or farther than that from
    every area (naming the nearest one, or saying there is none)."""
    h, w = labels.shape
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"area point ({x}, {y}) lies outside the {w}x{h} photo")
    r = AREA_SNAP
    while True:  # windows of growing size: the nearest area, for the message if it is too far
        y0, x0 = max(0, y - r), max(0, x - r)
        window = labels[y0:y + r + 1, x0:x + r + 1]
        ys, xs = np.nonzero(window)
        d2 = (ys + y0 - y) ** 2 + (xs + x0 - x) ** 2
        if d2.size and d2.min() <= r * r:  # nothing outside the window can be nearer
            i = int(np.argmin(d2))
            if r == AREA_SNAP:
                return int(window[ys[i], xs[i]])
            raise ValueError(f"no clipped area at or within {AREA_SNAP} px of ({x}, {y}); the nearest is "
                             f"{math.sqrt(d2[i]):.0f} px away, at ({xs[i] + x0}, {ys[i] + y0})")
        if r >= h + w:
            raise ValueError(f"no clipped area at or within {AREA_SNAP} px of ({x}, {y}); the photo has none")
        r *= 2


def strength_field(labels: np.ndarray, strength: float, areas: Sequence[AreaStrength],
                   ids: Sequence[int]) -> np.ndarray:
    """The strength of each pixel, (h,W) float32, for rows ``labels`` ((h,W) int) of the area map:
    ``areas[i].strength`` over area ``ids[i]`` (a later one winning in the same area),
    ``strength`` elsewhere; every strength checked (:func:`check_strength`)."""
    field = np.full(labels.shape, check_strength(strength), dtype=np.float32)
    for a, i in zip(areas, ids):
        field[labels == i] = check_strength(a.strength)
    return field
