"""The radiance preview the web page renders itself: a downscaled radiance map in a compact
half-float encoding (:func:`encode_preview` / :func:`decode_preview`), and the map of its clipped
areas that lets the page give one of them its own strength (:func:`make_area_map` /
:func:`encode_area_map` / :func:`decode_area_map`).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...core import camera
from ...core.infer import RadianceMap
from ...core.model.blend import radiance_at
from ...core.strength import check_strength, near_clip_areas

#: largest finite half float
F16_MAX = 65504.0

__all__ = ["PREVIEW_MAGIC", "PREVIEW_SCALE", "Preview", "decode_preview", "encode_preview", "make_preview",
           "preview_size", "AREAS_MAGIC", "AreaMap", "make_area_map", "encode_area_map", "decode_area_map"]


PREVIEW_MAGIC = b"RXP2"
AREAS_MAGIC = b"RXA1"

#: radiance is stored times this factor so the darkest 8-bit code stays a normal float16; the
#: largest storable radiance (65504 / 256 = 256x the clip level) is still white at EV -4.
PREVIEW_SCALE = 256.0


@dataclass
class Preview:
    """Downscaled radiance for the browser: ``naive`` and ``ours`` HxWx3 float32 relative radiance
    (``naive`` is the linearised photo, 1.0 = clip level), ``mask`` HxW float32 in [0, 1] (the
    saturation mask, box-averaged) and ``guide`` HxWx3 the radiance at strength 0 (what the photo's
    unclipped channels and colour imply, without the network's brightness; ``None``: ``ours``).
    The page renders any :attr:`~reexposure.core.infer.RadianceMap.strength` ``s`` from the last
    two: ``guide * (ours / guide) ** s``, exact before the downscaling (the network's brightness is
    one factor on all three channels, ``exp(w * b)``, and strength scales its logarithm)."""

    naive: np.ndarray
    ours: np.ndarray
    mask: np.ndarray
    guide: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.naive.shape[0], self.naive.shape[1]


def preview_size(h: int, w: int, max_side: int, max_pixels: int) -> tuple[int, int]:
    """(height, width) of the preview of an HxW photo: the photo scaled down (never up) so its long
    side is at most ``max_side`` and its area at most ``max_pixels``."""
    s = min(1.0, max_side / max(h, w), math.sqrt(max_pixels / (h * w)))
    return max(1, int(h * s)), max(1, int(w * s))


def _box_reduce(t: torch.Tensor, k: int) -> torch.Tensor:
    """Average k x k blocks of (1,C,h,w); rows/columns beyond a multiple of k are averaged over what
    exists (no padding bias)."""
    if k == 1:
        return t
    return F.avg_pool2d(t, k, stride=k, ceil_mode=True, count_include_pad=False)


def make_preview(rm: RadianceMap, max_side: int = 2048, max_pixels: int = 2_100_000) -> Preview:
    """Downscale a :class:`RadianceMap` to a preview in linear light (area averaging), strip by
    strip: peak memory is about 4x the preview, whatever the photo size."""
    h, w = rm.shape
    ph, pw = preview_size(h, w, max_side, max_pixels)
    k = max(1, min(h // ph, w // pw))  # integer pre-reduction; the rest is done by resampling
    rows = k * max(1, 256 // k)
    photo_t = torch.from_numpy(rm.photo)
    strength = check_strength(rm.strength)
    ours_parts, naive_parts, mask_parts, guide_parts = [], [], [], []
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        lin = rm.lin(y0, y1)
        guide, log_gain = rm.radiance_parts(y0, y1)  # one blend for both strengths
        ours = radiance_at(guide, log_gain, strength)
        a, z = max(0, y0 - 1), min(h, y1 + 1)  # the 1-pixel dilation sees the neighbouring rows
        ldr = photo_t[a:z].permute(2, 0, 1)[None].float() / 255.0
        mask = camera.saturation_mask(ldr, dilate=1)[:, :, y0 - a:y0 - a + (y1 - y0)]
        naive_parts.append(_box_reduce(lin, k))
        ours_parts.append(_box_reduce(ours, k))
        guide_parts.append(_box_reduce(guide, k))
        mask_parts.append(_box_reduce(mask, k))
    naive_t, ours_t, mask_t, guide_t = (torch.cat(p, dim=2)
                                        for p in (naive_parts, ours_parts, mask_parts, guide_parts))
    if naive_t.shape[2:] != (ph, pw):
        def resize(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, size=(ph, pw), mode="bilinear", antialias=True, align_corners=False)
        naive_t, ours_t, guide_t = resize(naive_t), resize(ours_t), resize(guide_t)
        mask_t = resize(mask_t).clamp(0, 1)
        # bilinear with antialias has a small negative lobe-free kernel, but keep radiance >= 0
        naive_t, ours_t, guide_t = naive_t.clamp_min(0), ours_t.clamp_min(0), guide_t.clamp_min(0)

    def hwc(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t[0].permute(1, 2, 0).numpy(), dtype=np.float32)

    return Preview(hwc(naive_t), hwc(ours_t), np.ascontiguousarray(mask_t[0, 0].numpy(), dtype=np.float32),
                   hwc(guide_t))


def encode_preview(p: Preview) -> bytes:
    """The binary preview the browser renders (all little-endian)::

        0   4  magic b"RXP2"
        4   4  uint32 width W
        8   4  uint32 height H
        12  4  float32 scale S (stored values are radiance * S)
        16  6WH  naive: float16 RGB, row-major from the top row, radiance * S
        ..  6WH  delta: float16 RGB, (ours - naive) * S (exactly 0 where the model changed nothing)
        ..  6WH  guide delta: float16 RGB, (guide - naive) * S (the radiance at strength 0)
        ..  WH   mask: uint8, saturation mask * 255

    Values are clamped to the float16 range (radiance up to 65504 / S, far above anything the
    EV -4 .. +4 slider can show below white). Sending the difference instead of ``ours`` keeps
    the payload small after gzip: it is zero outside the clipped regions."""
    h, w = p.shape
    naive16 = np.clip(p.naive * PREVIEW_SCALE, 0, F16_MAX).astype("<f2")
    ours16 = np.clip(p.ours * PREVIEW_SCALE, 0, F16_MAX).astype("<f2")
    # difference of the rounded values: exactly 0 wherever ours == naive
    guide16 = ours16 if p.guide is None else np.clip(p.guide * PREVIEW_SCALE, 0, F16_MAX).astype("<f2")

    def minus_naive(v16: np.ndarray) -> np.ndarray:
        return np.clip(v16.astype(np.float32) - naive16.astype(np.float32), -F16_MAX, F16_MAX).astype("<f2")

    mask8 = np.clip(p.mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    header = struct.pack("<4sIIf", PREVIEW_MAGIC, w, h, PREVIEW_SCALE)
    return b"".join([header, naive16.tobytes(), minus_naive(ours16).tobytes(), minus_naive(guide16).tobytes(),
                     mask8.tobytes()])


def decode_preview(data: bytes) -> Preview:
    """Inverse of :func:`encode_preview` (up to float16 rounding)."""
    magic, w, h, scale = struct.unpack_from("<4sIIf", data, 0)
    if magic != PREVIEW_MAGIC:
        raise ValueError("not a reexposure preview")
    n = w * h
    off = 16
    naive16 = np.frombuffer(data, "<f2", 3 * n, off).astype(np.float32).reshape(h, w, 3)
    off += 6 * n
    delta16 = np.frombuffer(data, "<f2", 3 * n, off).astype(np.float32).reshape(h, w, 3)
    off += 6 * n
    gdelta16 = np.frombuffer(data, "<f2", 3 * n, off).astype(np.float32).reshape(h, w, 3)
    off += 6 * n
    mask = np.frombuffer(data, np.uint8, n, off).astype(np.float32).reshape(h, w) / 255.0
    return Preview(naive16 / scale, (naive16 + delta16) / scale, mask, (naive16 + gdelta16) / scale)


@dataclass
class AreaMap:
    """The photo's clipped areas (:func:`~reexposure.core.strength.near_clip_areas`) at the preview's
    size: ``labels`` (h,w) uint32, 0 = none, else the area's number (of a preview pixel that covers
    several areas of the photo, the largest number: the page gives that pixel, a mix of both, the
    strength of that one; the downloads, at full size, are exact); ``points``
    (n,2) int32, for area ``i`` in row ``i - 1``, a pixel (x, y) of the photo inside it (its first
    in raster order), which names it to :meth:`~reexposure.core.infer.RadianceMap.with_areas`."""

    labels: np.ndarray
    points: np.ndarray


def make_area_map(rm: RadianceMap, shape: tuple[int, int]) -> AreaMap:
    """The :class:`AreaMap` of ``rm``'s photo at the preview size ``shape`` (h, w)."""
    from scipy import ndimage

    labels = near_clip_areas(rm.photo)
    n = int(labels.max())
    points = np.zeros((n, 2), dtype=np.int32)
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is not None:
            first_row = labels[box[0].start, box[1]]
            points[i - 1] = (box[1].start + int(np.argmax(first_row == i)), box[0].start)
    exact = torch.float32 if n < 2**24 else torch.float64  # every label exact in the float type
    pooled = F.adaptive_max_pool2d(torch.from_numpy(labels).to(exact)[None, None], shape)
    return AreaMap(pooled[0, 0].numpy().astype(np.uint32), points)


def encode_area_map(a: AreaMap) -> bytes:
    """The binary area map the browser reads (all little-endian)::

        0   4   magic b"RXA1"
        4   4   uint32 width W (the preview's)
        8   4   uint32 height H
        12  4   uint32 number of areas N
        16  8N  int32 x, y: a pixel of the photo inside area 1, 2, ... N
        ..  4WH uint32 labels, row-major from the top row (0 = no clipped area)"""
    h, w = a.labels.shape
    header = struct.pack("<4sIII", AREAS_MAGIC, w, h, len(a.points))
    return b"".join([header, a.points.astype("<i4").tobytes(), a.labels.astype("<u4").tobytes()])


def decode_area_map(data: bytes) -> AreaMap:
    """Inverse of :func:`encode_area_map`."""
    magic, w, h, n = struct.unpack_from("<4sIII", data, 0)
    if magic != AREAS_MAGIC:
        raise ValueError("not a reexposure area map")
    points = np.frombuffer(data, "<i4", 2 * n, 16).reshape(n, 2).astype(np.int32)
    labels = np.frombuffer(data, "<u4", w * h, 16 + 8 * n).reshape(h, w).astype(np.uint32)
    return AreaMap(labels, points)
