"""Labelled side-by-side comparison: input | naive brightness | reconstruction, with a zoom.

*Naive brightness* is what a brightness slider does: the photo is linearised with the same camera
curve, scaled by ``2**ev`` and rendered again, without reconstructing anything, so clipped
highlights stay flat (at negative EV they turn a uniform grey). *Reconstructed* is the
:class:`~reexposure.core.infer.RadianceMap` of the generator rendered at the same EV. Below the three
panels, the same three images zoomed into the largest clipped region (8-connected component of
pixels whose brightest channel is at or above :data:`CLIP_LEVEL`), marked by a frame above.
"""

from __future__ import annotations

from typing import Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core import camera
from ..core.camera import CRF, DEFAULT_CRF
from ..core.infer import RadianceMap

__all__ = ["CLIP_LEVEL", "title_line", "naive_reexpose", "clipped_mask", "largest_clipped_box", "compare_image"]

#: 8-bit code at or above which a pixel counts as near-clipped when looking for the region to zoom
#: into (the middle of the saturation-mask ramp; the "% clipped" of the title uses camera.CLIP_CODE)
CLIP_LEVEL = int(round((camera.MASK_LOW + camera.MASK_HIGH) / 2 * 255))
Font = Union[ImageFont.ImageFont, ImageFont.FreeTypeFont]
_FRAME = (255, 48, 48)
_BG = (24, 24, 24)
_FG = (235, 235, 235)


def naive_reexpose(photo: np.ndarray, ev: float, crf: CRF = DEFAULT_CRF) -> np.ndarray:
    """The brightness-slider answer: HWC uint8 ``photo`` linearised with ``crf``, scaled by
    ``2**ev``, clipped and rendered back (HWC uint8). No reconstruction."""
    return RadianceMap(np.ascontiguousarray(photo), crf).reexpose(ev)


def clipped_mask(photo: np.ndarray, level: int = CLIP_LEVEL) -> np.ndarray:
    """HxW bool: pixels whose brightest channel is at or above ``level`` (8-bit code)."""
    return np.asarray(photo).max(axis=2) >= level


def largest_clipped_box(photo: np.ndarray, min_size: int = 48, max_fraction: float = 0.4,
                        level: int = CLIP_LEVEL) -> tuple[int, int, int, int] | None:
    """Square crop ``(y0, x0, y1, x1)`` around the largest 8-connected clipped region, or ``None``
    when nothing is clipped.

    The side is 1.3x the region's larger extent, at least ``min_size`` and at most
    ``max_fraction`` of the photo's shorter side (a huge region, e.g. a blown sky, is cropped around
    its pixel nearest to its centroid, so the zoom still shows detail). Clamped to the photo."""
    from scipy import ndimage

    mask = clipped_mask(photo, level)
    if not mask.any():
        return None
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    best = int(sizes.argmax())
    sl = ndimage.find_objects(labels, max_label=best)[best - 1]
    h, w = mask.shape
    by0, by1, bx0, bx1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
    limit = max(2, int(max_fraction * min(h, w)))
    side = int(round(1.3 * max(by1 - by0, bx1 - bx0)))
    side = min(max(side, min_size), limit, h, w)
    if max(by1 - by0, bx1 - bx0) * 1.3 > limit:
        ys, xs = np.nonzero(labels[sl] == best)
        cy, cx = ys.mean(), xs.mean()
        i = int(((ys - cy) ** 2 + (xs - cx) ** 2).argmin())
        cy, cx = by0 + ys[i], bx0 + xs[i]
    else:
        cy, cx = (by0 + by1) / 2, (bx0 + bx1) / 2
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    return y0, x0, y0 + side, x0 + side


def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def _labelled(img: Image.Image, label: str, font: Font, bar: int) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + bar), _BG)
    out.paste(img, (0, bar))
    ImageDraw.Draw(out).text((6, bar // 2), label, fill=_FG, font=font, anchor="lm")
    return out


def title_line(rmap: RadianceMap, title: str | None = None, zoom: bool = True) -> str:
    """The title line of the sheet: name, size, the share of clipped pixels (the same number as the
    web app's, :meth:`RadianceMap.clipped_fraction`) and the model."""
    h, w = rmap.shape
    head = f"{title + ': ' if title else ''}{w}x{h}, {100.0 * rmap.clipped_fraction():.1f}% clipped pixels"
    if not zoom:
        head += " (nothing clipped: no zoom)"
    model = rmap.model_info.get("description")
    if model:
        head += f"; model: {model if len(model) <= 90 else model[:87] + '...'}"
    return head


def compare_image(rmap: RadianceMap, ev: float, panel_width: int = 600, title: str | None = None) -> np.ndarray:
    """The comparison sheet as HWC uint8: a title line, then input | naive brightness | reconstructed
    at ``ev`` (each ``panel_width`` pixels wide), then the three zoomed into the largest clipped
    region (omitted when nothing is clipped)."""
    photo = rmap.photo
    h, w = photo.shape[:2]
    ours = rmap.reexpose(ev)
    naive = naive_reexpose(photo, ev, rmap.crf)
    box = largest_clipped_box(photo)
    fsize = max(12, panel_width // 32)
    font = _font(fsize)
    bar = fsize * 2
    pad = 4
    ph = max(1, int(round(h * panel_width / w)))
    labels = ["input", f"naive brightness, EV {ev:+g} (no reconstruction)", f"reconstructed, EV {ev:+g}"]
    images = [photo, naive, ours]
    top = []
    for arr, label in zip(images, labels):
        im = Image.fromarray(arr).resize((panel_width, ph), Image.Resampling.LANCZOS)
        if box is not None:
            y0, x0, y1, x1 = box
            s = panel_width / w
            ImageDraw.Draw(im).rectangle([x0 * s, y0 * s, x1 * s - 1, y1 * s - 1], outline=_FRAME,
                                         width=max(2, panel_width // 200))
        top.append(_labelled(im, label, font, bar))
    rows = [top]
    if box is not None:
        y0, x0, y1, x1 = box
        side = y1 - y0
        zoom = panel_width / side
        resample = Image.Resampling.NEAREST if zoom >= 2 else Image.Resampling.LANCZOS
        zlabel = f"zoom: largest clipped region ({side}x{side} px at {x0},{y0})"
        rows.append([_labelled(Image.fromarray(np.ascontiguousarray(arr[y0:y1, x0:x1]))
                               .resize((panel_width, panel_width), resample), zlabel if i == 0 else label, font, bar)
                     for i, (arr, label) in enumerate(zip(images, ["", "naive brightness", "reconstructed"]))])
    title_bar = bar
    width = 3 * panel_width + 4 * pad
    height = title_bar + sum(r[0].height + pad for r in rows) + pad
    sheet = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(sheet)
    head = title_line(rmap, title, zoom=box is not None)
    draw.text((pad + 2, title_bar // 2), head, fill=_FG, font=font, anchor="lm")
    y = title_bar
    for row in rows:
        x = pad
        for im in row:
            sheet.paste(im, (x, y))
            x += im.width + pad
        y += row[0].height + pad
    return np.asarray(sheet)
