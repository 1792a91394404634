"""Gain-map maths (Adobe gain map specification 1.0, log2 units): from radiance to the 8-bit map
and back (see :mod:`reexposure.formats.ultrahdr` for the formulas).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ...core.camera import CRF, DEFAULT_CRF, SRGBCRF
from ...core.infer import RadianceMap

if TYPE_CHECKING:
    pass
from .metadata import DEFAULT_HEADROOM, MAX_HEADROOM, MIN_GAIN_MAX, OFFSET, GainMapMetadata, _fmt

__all__ = ["apply_gain_map", "compute_gain_map"]


#: Rec. 709 luminance weights for single-channel gain maps
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


_STRIP_ROWS = 256


def _lut(crf: CRF) -> np.ndarray:
    return crf.inverse_table().numpy().astype(np.float32)


_SRGB_LUT = _lut(SRGBCRF())


def _ratio_strips(radiance_map: Any, ref: np.ndarray, crf: CRF,
                  rows: int = _STRIP_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (y0, R / L as h x W x 3 float32) strips, ``L = crf.inverse(ref)`` (1 where L = 0)."""
    h = ref.shape[0]
    lut = _lut(crf)
    rad = radiance_map
    if isinstance(rad, np.ndarray):
        rad = torch.from_numpy(np.ascontiguousarray(rad, dtype=np.float32)).permute(2, 0, 1)[None]
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        lin = torch.from_numpy(lut[ref[y0:y1]])
        if isinstance(rad, RadianceMap):
            r = rad.radiance(y0, y1)[0].permute(1, 2, 0)
        else:
            r = rad[0, :, y0:y1].permute(1, 2, 0).float()
        ratio = torch.where(lin > 0, r / lin.clamp_min(1e-12), torch.ones_like(r))
        yield y0, ratio.numpy()


def _log_gain(sdr_lin: np.ndarray, ratio: np.ndarray, channels: int) -> np.ndarray:
    """log2((S*r + k)/(S + k)), h x W x C (C = 3 or 1, luminance)."""
    hdr = sdr_lin * ratio
    if channels == 1:
        hdr = hdr @ _LUMA
        sdr_lin = sdr_lin @ _LUMA
        return np.log2((hdr + OFFSET) / (sdr_lin + OFFSET))[..., None]
    return np.log2((hdr + OFFSET) / (sdr_lin + OFFSET))


def _block_mean(a: np.ndarray, s: int) -> np.ndarray:
    """Mean over s x s blocks (partial blocks at the edges average what they have)."""
    if s == 1:
        return a
    h, w, c = a.shape
    hb, wb = -(-h // s), -(-w // s)
    pad = np.zeros((hb * s, wb * s, c), np.float64)
    cnt = np.zeros((hb * s, wb * s, 1), np.float64)
    pad[:h, :w] = a
    cnt[:h, :w] = 1
    sums = pad.reshape(hb, s, wb, s, c).sum(axis=(1, 3))
    cnts = cnt.reshape(hb, s, wb, s, 1).sum(axis=(1, 3))
    return (sums / cnts).astype(np.float32)


def compute_gain_map(radiance_map: Any, base_rgb: np.ndarray, *, ref_rgb: np.ndarray | None = None,
                     crf: CRF = DEFAULT_CRF, headroom: float | None = None, scale: int = 1,
                     channels: int = 3, gamma: float = 1.0) -> tuple[np.ndarray, GainMapMetadata]:
    """The gain map that takes an SDR base to the HDR rendition of a radiance map (displayed
    orientation).

    ``radiance_map``: a :class:`~reexposure.core.infer.RadianceMap` or relative radiance ``R`` as a
    (1,3,H,W) tensor / HxWx3 array; ``base_rgb``: the decoded base the map will be applied to (HxWx3
    uint8, sRGB); ``ref_rgb``: the 8-bit pixels ``R`` is relative to (default ``base_rgb``): the HDR
    rendition is ``S(base) * R / L(ref)`` with ``L = crf.inverse`` (ratio 1 where ``L = 0``).
    ``headroom``: cap on GainMapMax in stops (None: :data:`DEFAULT_HEADROOM`); ``scale``: 1, 2, 4 or
    8 (map resolution divisor); ``channels``: 3 (RGB) or 1 (luminance); ``gamma``: map gamma.
    Returns (codes, metadata): codes are ceil(H/scale) x ceil(W/scale) x 3 uint8, or 2-D for one
    channel."""
    if scale not in (1, 2, 4, 8):
        raise ValueError(f"gain map scale must be 1, 2, 4 or 8, got {scale}")
    if channels not in (1, 3):
        raise ValueError(f"gain map channels must be 1 or 3, got {channels}")
    if not (math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gain map gamma must be positive, got {gamma}")
    headroom = DEFAULT_HEADROOM if headroom is None else float(headroom)
    if not (math.isfinite(headroom) and 0 < headroom <= MAX_HEADROOM):
        raise ValueError(f"headroom must be within (0, {MAX_HEADROOM:g}] stops, got {headroom}")
    base = np.asarray(base_rgb)
    if base.dtype != np.uint8 or base.ndim != 3 or base.shape[2] != 3:
        raise ValueError(f"base must be HxWx3 uint8, got {base.dtype} {base.shape}")
    ref = base if ref_rgb is None else np.asarray(ref_rgb)
    if ref.shape != base.shape or ref.dtype != np.uint8:
        raise ValueError(f"reference pixels {ref.dtype} {ref.shape} do not match the base {base.shape}")
    h, w = base.shape[:2]
    shape = _radiance_shape(radiance_map)
    if shape != (h, w):
        raise ValueError(f"radiance map is {shape[1]}x{shape[0]} but the photo is {w}x{h}")

    def strips() -> Iterator[tuple[int, np.ndarray]]:
        rows = _STRIP_ROWS - _STRIP_ROWS % scale
        for y0, ratio in _ratio_strips(radiance_map, ref, crf, rows):
            lg = _log_gain(_SRGB_LUT[base[y0:y0 + ratio.shape[0]]], ratio, channels)
            yield y0, _block_mean(lg, scale)

    lo, hi = 0.0, -math.inf
    small: list[np.ndarray] = []
    for _, lg in strips():
        lo = min(lo, float(lg.min()))
        hi = max(hi, float(lg.max()))
        if scale > 1:
            small.append(lg)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("radiance map has NaN or infinite values")
    gmax = float(_fmt(max(min(hi, headroom), MIN_GAIN_MAX)))
    gmin = float(_fmt(max(lo, -headroom)))
    meta = GainMapMetadata((gmin,) * 3, (gmax,) * 3, (float(_fmt(gamma)),) * 3,
                           hdr_capacity_min=0.0, hdr_capacity_max=gmax).validate()
    hb, wb = -(-h // scale), -(-w // scale)
    codes = np.empty((hb, wb, channels), np.uint8)

    def encode(lg: np.ndarray) -> np.ndarray:
        t = np.clip((lg - gmin) / (gmax - gmin), 0.0, 1.0)
        if meta.gamma[0] != 1.0:
            t = t ** meta.gamma[0]
        return np.floor(t * 255.0 + 0.5).astype(np.uint8)

    if scale > 1:
        codes[:] = encode(np.concatenate(small, axis=0))
    else:
        for y0, lg in strips():
            codes[y0:y0 + lg.shape[0]] = encode(lg)
    return (codes[..., 0] if channels == 1 else codes), meta


def _radiance_shape(radiance_map: Any) -> tuple[int, int]:
    if isinstance(radiance_map, RadianceMap):
        return radiance_map.shape
    if isinstance(radiance_map, torch.Tensor):
        if radiance_map.ndim != 4 or radiance_map.shape[:2] != (1, 3):
            raise ValueError(f"radiance tensor must be (1,3,H,W), got {tuple(radiance_map.shape)}")
        return int(radiance_map.shape[2]), int(radiance_map.shape[3])
    arr = np.asarray(radiance_map)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"radiance array must be HxWx3, got shape {arr.shape}")
    return int(arr.shape[0]), int(arr.shape[1])


def apply_gain_map(base_rgb: np.ndarray, codes: np.ndarray, meta: GainMapMetadata,
                   display_headroom: float | None = None) -> np.ndarray:
    """The HDR rendition (HxWx3 float32, 1.0 = SDR white) of an sRGB base (HxWx3 uint8) and its
    gain map codes (h x w or h x w x 3 uint8, upsampled bilinearly with centre-aligned samples)."""
    h, w = base_rgb.shape[:2]
    t = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32) / 255.0)
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    if t.shape[2:] != (h, w):
        t = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
    rec = t[0].permute(1, 2, 0).numpy()  # h x w x C
    c = rec.shape[2]
    gmin = np.array(meta.gain_map_min, np.float32)[:c] if c == 3 else np.float32(meta.gain_map_min[0])
    gmax = np.array(meta.gain_map_max, np.float32)[:c] if c == 3 else np.float32(meta.gain_map_max[0])
    gam = np.array(meta.gamma, np.float32) if c == 3 else np.float32(meta.gamma[0])
    ksdr = np.array(meta.offset_sdr, np.float32)
    khdr = np.array(meta.offset_hdr, np.float32)
    lr = np.power(rec, 1.0 / gam) if np.any(gam != 1.0) else rec
    log_boost = gmin * (1.0 - lr) + gmax * lr
    weight = meta.weight(display_headroom)
    sdr = _SRGB_LUT[base_rgb]
    hdr = (sdr + ksdr) * np.exp2(log_boost * weight) - khdr
    return np.ascontiguousarray(hdr, dtype=np.float32)


def _radiance(base: np.ndarray, hdr: np.ndarray, crf: CRF) -> np.ndarray:
    sdr = _SRGB_LUT[base]
    lin = _lut(crf)[base]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sdr > 0, hdr / np.where(sdr > 0, sdr, 1.0), 1.0)
    return np.ascontiguousarray(np.maximum(lin * ratio, 0.0), dtype=np.float32)
