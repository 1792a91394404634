"""Inference: photo -> relative radiance, in overlapping tiles with bounded memory.

The generator's output ``o`` (log boosts, or log brightness and colour strength) becomes radiance
through the one blend, :func:`reexposure.core.model.compose_radiance`, which leaves every pixel that is
not clipped exactly as the photo recorded it. So a :class:`RadianceMap` keeps the 8-bit photo plus
``o`` of the tiles that had clipped pixels (float16) and, for the guided head, the colour of the
surroundings (:func:`reexposure.core.model.ring_chroma`, computed once on the whole working grid so
that tiles agree), and renders radiance or re-exposed photos strip by strip. A photo with no
highlights costs only the linearisation; peak memory is a few bytes per pixel plus one tile's
activations, whatever the image size.

Large photos: the network costs ~0.1 GFLOP per pixel, so it runs on a working grid reduced by an
integer factor (photos above ``TileOptions.max_work_pixels``, 1.2 MP, to about
``work_pixels``, 0.8 MP; the training data are 1k-wide panoramas and photos, so this is about
their scale), and ``o`` is up-sampled bilinearly and applied with the full-resolution per-channel mask.

Tiling: evenly spaced windows of ``tile`` pixels overlap by at least ``2*context + feather``
pixels. Each window ignores its outer ``context`` pixels on sides that have a neighbour (weight 0:
they only give the network context) and cross-fades linearly over the next ``feather`` pixels
(feathered blending; the weights are normalised to sum to exactly 1). Window origins are multiples of
``2**depth`` so the strided convolutions see the same pixel grid as in one pass; with ``context``
at least the network's receptive radius, tiled output equals one-pass output.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, cast

import numpy as np
import torch
import torch.nn.functional as F

from . import camera
from .arrays import to_uint8, uint8_to_ldr
from .camera import CRF, DEFAULT_CRF
from .model import GatedUNet, GeneratorConfig, ring_chroma
from .model.blend import BLEND_RADIUS, blend_parts, radiance_at, share_field
from .strength import MAX_STRENGTH, AreaStrength, check_strength, near_clip_areas, nearest_area, strength_field
from .weights import load_generator

__all__ = ["TileOptions", "RadianceMap", "Reconstructor", "receptive_radius", "pad_to_multiple", "check_strength",
           "MAX_STRENGTH"]

PhotoLike = Union[np.ndarray, torch.Tensor]


def receptive_radius(config: GeneratorConfig) -> int:
    """Theoretical receptive radius (pixels) of :class:`GatedUNet` plus the mask dilation, plus
    ``2 * interior_smooth`` for a guided head's :func:`~reexposure.core.model.blend.settle_interior`
    (its two boxes of that radius; its weight reaches ``interior_smooth`` px), plus one coarse pixel
    per level for ``upsample: bilinear`` (each 2x interpolation reads its coarse neighbours)."""
    d = config.depth
    down = sum(2**i + 2 ** (i + 1) for i in range(d))
    bottleneck = 2 * 2**d + 2**d + sum(config.context_dilations) * 2**d
    up = sum(3 * 2**i for i in range(d))
    if config.upsample == "bilinear":
        up += sum(2 ** (i + 1) for i in range(d))
    settle = 2 * config.interior_smooth if config.head == "guided" else 0
    return 2 + down + bottleneck + up + 1 + settle


@dataclass(frozen=True)
class TileOptions:
    """How large photos are cut. ``tile`` and the overlap are rounded to multiples of 2**depth."""

    tile: int = 1024  # window size, pixels (of the working grid)
    context: int | None = None  # ignored border of each window; None = the receptive radius
    feather: int = 32  # cross-fade width
    one_pass_pixels: int = 1_300_000  # working images up to this many (padded) pixels run in one pass
    # The network runs on a grid reduced by an integer factor so that it has at most this many
    # pixels (0 = always full resolution); the boost is up-sampled bilinearly and applied with the
    # full-resolution mask. Bounds the cost: the network costs ~0.1 GFLOP per pixel.
    max_work_pixels: int = 1_200_000
    # Larger photos are reduced so that the working grid holds about this many pixels: the same
    # network memory for a 12 MP and a 48 MP photo (4x and 8x reduction: 1000x750 both).
    work_pixels: int = 800_000
    # Mirror this many pixels (rounded up to a multiple of 2**depth) around each window before the
    # network: a lamp cut by the image border then continues past it instead of ending at the
    # convolutions' zero padding, which drew a frame of bands inside it.
    border_pad: int = 32


def _as_uint8_hwc(photo: PhotoLike) -> np.ndarray:
    if isinstance(photo, torch.Tensor):
        t = photo.detach().float().cpu()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise ValueError("reconstruct takes one photo at a time (batch of 1)")
            t = t[0]
        if t.ndim != 3 or t.shape[0] != 3:
            raise ValueError(f"expected an ldr tensor (1,3,H,W) in [0,1], got shape {tuple(photo.shape)}")
        return to_uint8(t)
    arr = np.asarray(photo)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB photo HxWx3, got shape {arr.shape}")
    u8 = to_uint8(arr)
    return u8 if u8.flags.writeable else u8.copy()  # np.asarray(PIL image) is read-only; torch warns on those


def pad_to_multiple(multiple: int, *images: torch.Tensor) -> list[torch.Tensor]:
    """Pad (B,C,H,W) tensors at the bottom and right to multiples of ``multiple`` (reflect, or
    replicate when the image is smaller than the pad); crop results back with ``[..., :H, :W]``."""
    h, w = images[0].shape[2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return list(images)
    mode = "reflect" if h > ph and w > pw else "replicate"
    return [F.pad(t, (0, pw, 0, ph), mode=mode) for t in images]


def _positions(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Window starts along one axis: evenly spaced multiples of ``multiple`` covering [0, length),
    consecutive windows overlapping by at least ``overlap``."""
    if length <= tile:
        return [0]
    stride = max(multiple, tile - overlap)
    n = math.ceil((length - tile) / stride) + 1
    last = math.ceil((length - tile) / multiple) * multiple
    return sorted({int(round(i * last / (n - 1) / multiple)) * multiple for i in range(n)})


def _axis_weights(starts: list[int], tile: int, length: int, context: int, feather: int) -> list[np.ndarray]:
    """1-D blend weights of each window along one axis, normalised to sum to 1 at every pixel.

    Before normalising, a window weighs 1 inside, 0 in the outer ``context`` pixels of each side
    that has a neighbour (those pixels only give the network context), with a linear ramp of
    ``feather`` pixels in between; sides at the image border keep weight 1."""
    raw = []
    total = np.zeros(length, dtype=np.float64)
    for i, s in enumerate(starts):
        n = min(length, s + tile) - s
        x = np.arange(n, dtype=np.float64) + 0.5
        w = np.ones(n)
        if i > 0:
            w *= np.clip((x - context) / max(feather, 1), 0.0, 1.0)
        if i + 1 < len(starts):
            w *= np.clip((n - context - x) / max(feather, 1), 0.0, 1.0)
        raw.append(w)
        total[s:s + n] += w
    if (total <= 0).any():
        raise RuntimeError("tile layout leaves pixels uncovered (tile too small for its overlap)")
    return [(w / total[s:s + len(w)]).astype(np.float32) for s, w in zip(starts, raw)]


#: Pixels per row band when building the working grid or rendering: the temporaries of a band
#: (indices, floats, masks) are what peak memory grows with, so bands hold a constant pixel count.
_BAND_PIXELS = 1 << 20


_LIBC: Any = None  # the C library once looked up by _trim_heap (False: none with malloc_trim)


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    The banded loops free a few tens of MB of temporaries per band; glibc keeps such chunks in
    its arenas, and on a 48 MP photo the process then peaked anywhere between 0.8 and 1.5 GB from
    one run to the next (docs/benchmarks.md). Trimming after each band keeps the peak at what is
    really live."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC = lib if hasattr(lib, "malloc_trim") else False
        except OSError:
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


def _mask_rows(photo: np.ndarray, y0: int, y1: int, dilate: int = 1) -> torch.Tensor:
    """Per-channel saturation mask of rows [y0, y1) of an HWC uint8 photo, (1,3,h,W); the
    dilation sees the rows just outside the range, so strips agree with the whole image."""
    h = photo.shape[0]
    a, z = max(0, y0 - dilate), min(h, y1 + dilate)
    ldr = uint8_to_ldr(photo[a:z])
    return camera.saturation_mask(ldr, per_channel=True, dilate=dilate)[:, :, y0 - a:y0 - a + (y1 - y0)]


def _clip_shares(photo: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """On the working grid of scale ``k``: the share of each k x k block's pixels that clipped in all
    three channels (the blend's undilated per-channel mask, its minimum over channels) and the share
    that clipped in none (its maximum below 0.5), each (1,1,Hw,Ww); what
    :func:`~reexposure.core.model.blend.share_field` takes. Built in row bands (no full-resolution
    float image is held); the border blocks average over the pixels that exist."""
    h, w = photo.shape[:2]
    band = k * max(1, _BAND_PIXELS // (w * k))
    every, unclipped = [], []
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        mask = _mask_rows(photo, y0, y1, dilate=0)
        pair = torch.cat([mask.amin(1, keepdim=True), (mask.amax(1, keepdim=True) < 0.5).float()], dim=1)
        if k > 1:
            pair = F.avg_pool2d(pair, k, ceil_mode=True)  # partial border blocks: the pixels that exist
        every.append(pair[:, :1])
        unclipped.append(pair[:, 1:])
    return torch.cat(every, dim=2), torch.cat(unclipped, dim=2)


def _linear_taps(n_out: int, n_in: int, k: int, start: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bilinear up-sampling taps from a grid ``k`` times coarser (pixel centres aligned):
    indices i0, i1 into the coarse grid and weight f of i1, for output pixels start..start+n_out."""
    src = (torch.arange(start, start + n_out, dtype=torch.float64) + 0.5) / k - 0.5
    src = src.clamp(0.0, n_in - 1)
    i0 = src.floor().long()
    i1 = (i0 + 1).clamp(max=n_in - 1)
    return i0, i1, (src - i0).float()


@dataclass
class RadianceMap:
    """Relative radiance of one photo, ``compose_radiance(lin, mask, o, chroma)``, stored compactly.

    ``photo`` is the HWC uint8 input and ``crf`` the curve it is linearised with. The network's
    output ``o`` lives on a working grid ``scale`` times coarser than the photo (``scale = 1`` for
    photos up to :attr:`TileOptions.max_work_pixels`): ``boosts`` holds, for each processed window
    of that grid, ``weight * o`` (float16, CHW, 3 or 2 channels by the head) keyed by its (y0, x0)
    origin; ``chroma`` (float16, 3 x working grid, guided head only) the surroundings' colour. At
    full resolution both are up-sampled bilinearly and blended with the photo's own per-channel
    mask (undilated, ``blend_dilate``), so well-exposed pixels (and unclipped channels) stay exact.
    Use :meth:`to_tensor` for the full
    float32 radiance, :meth:`reexpose` for an 8-bit rendition, :meth:`strips` to stream.
    """

    photo: np.ndarray
    crf: CRF = DEFAULT_CRF
    boosts: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    model_info: dict[str, str] = field(default_factory=dict)
    scale: int = 1
    work_shape: tuple[int, int] = (0, 0)
    # The network sees the dilated mask (as in training), but the boost is applied only where
    # the photo itself is near the clip: boosting the valid pixels next to a clipped area cost
    # 12 dB at EV +1 and 0.4 dB at EV -2 on the held-out scenes (docs/benchmarks.md).
    blend_dilate: int = 0
    chroma: np.ndarray | None = None
    #: How much of the network's brightness to use, in [0, MAX_STRENGTH]: its log brightness (log
    #: boosts for an ``rgb`` head) is multiplied by this before the blend. 1 = the model's answer;
    #: 0 = no brightness above what the photo's unclipped channels and colour imply (clipped areas
    #: stay at the clip level where nothing is known); 1.5 = half as much again in log terms (a
    #: pixel boosted 4x becomes 8x). A rendering choice: changing it re-renders without the network.
    strength: float = 1.0
    #: The upper end of a guided head's colour strength (the model's ``GeneratorConfig.colour_max``).
    colour_max: float = 1.0
    #: The radius of the all-clipped weight's share inside large clipped areas, px of the working
    #: grid (the model's ``GeneratorConfig.share_radius``; ``blend.all_clipped_weight``) ...
    share_radius: int = 0
    #: ... and that field (float32, 2 x working grid: ``blend.share_field`` of the grid's shares of
    #: fully clipped and of unclipped pixels), up-sampled like the network's output; None when 0.
    #: The blend of a strip uses this field only: a share computed inside a strip would not see the
    #: rows around it.
    share: np.ndarray | None = None
    #: Whether the blend counts a channel a few codes below the clip, inside an area whose three
    #: channels clipped, as clipped (the model's ``GeneratorConfig.fill_channels``;
    #: ``blend.fill_channels``).
    fill_channels: bool = False
    #: Strengths of single clipped areas, in place of :attr:`strength` there (a later one wins where
    #: two name the same area); set with :meth:`with_areas`, which checks that each names an area.
    areas: tuple[AreaStrength, ...] = ()
    _labels: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _area_ids: tuple[tuple[AreaStrength, ...], tuple[int, ...]] | None = field(default=None, init=False, repr=False,
                                                                              compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.photo.shape[0], self.photo.shape[1]

    def _lut(self) -> torch.Tensor:
        return self.crf.inverse_table()

    def lin(self, y0: int = 0, y1: int | None = None) -> torch.Tensor:
        """Linearised photo rows [y0, y1) as (1,3,h,W) float32."""
        rows = torch.from_numpy(self.photo[y0:y1])
        return self._lut()[rows.long()].permute(2, 0, 1)[None].contiguous()

    def _channels(self) -> int:
        return next(iter(self.boosts.values())).shape[0] if self.boosts else 3

    def _work_rows(self, r0: int, r1: int) -> torch.Tensor:
        """The network output o on working-grid rows [r0, r1), (C, r1-r0, Ww) float32."""
        out = torch.zeros(self._channels(), r1 - r0, self.work_shape[1])
        for (ty, tx), b in self.boosts.items():
            th, tw = b.shape[1:]
            a, z = max(ty, r0), min(ty + th, r1)
            if a < z:
                out[:, a - r0:z - r0, tx:tx + tw] += torch.from_numpy(b[:, a - ty:z - ty].astype(np.float32))
        return out

    def network_boost(self) -> torch.Tensor:
        """The network's output ``o`` on the whole working grid, (C, Hw, Ww) float32 (C = 3 log
        boosts, or 2: log brightness and colour strength), before the blend (0 in windows that
        had no clipped pixel; ``scale`` times coarser than the photo)."""
        return self._work_rows(0, self.work_shape[0]) if self.boosts else torch.zeros(3, *self.work_shape)

    def _upsample_rows(self, rows_of: Callable[[int, int], torch.Tensor], y0: int, y1: int) -> torch.Tensor:
        """Rows [y0, y1) at full resolution of a working-grid field (``rows_of(r0, r1)`` gives
        its rows, (C, r1-r0, Ww)), bilinearly up-sampled: (C, y1-y0, W)."""
        k = self.scale
        if k == 1:
            return rows_of(y0, y1)
        hw, ww = self.work_shape
        i0, i1, fy = _linear_taps(y1 - y0, hw, k, y0)
        r0, r1 = int(i0.min()), int(i1.max()) + 1
        block = rows_of(r0, r1)
        rows = block[:, i0 - r0] * (1 - fy)[None, :, None] + block[:, i1 - r0] * fy[None, :, None]
        j0, j1, fx = _linear_taps(self.shape[1], ww, k)
        return rows[:, :, j0] * (1 - fx) + rows[:, :, j1] * fx

    def output(self, y0: int = 0, y1: int | None = None) -> torch.Tensor:
        """The network output ``o`` for rows [y0, y1) at full resolution, (1,C,h,W) float32."""
        h, w = self.shape
        y1 = h if y1 is None else y1
        if not self.boosts:
            return torch.zeros(1, 3, y1 - y0, w)
        return self._upsample_rows(self._work_rows, y0, y1)[None]

    def radiance_parts(self, y0: int = 0, y1: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows [y0, y1) of the blend in two parts, ``(guide, log_gain)``: (1,3,h,W) the radiance at
        strength 0 and (1,C,h,W) >= 0 the log gain the network adds (C = 1, or 3 for an ``rgb``
        head), so that ``radiance`` at strength ``s`` is ``guide * exp(s * log_gain)``
        (:func:`~reexposure.core.model.blend.blend_parts`). The blend sees
        :data:`~reexposure.core.model.blend.BLEND_RADIUS` rows around the strip, so that strips agree
        with the whole image."""
        h = self.shape[0]
        y1 = h if y1 is None else y1
        if not self.boosts:
            lin = self.lin(y0, y1)
            return lin, torch.zeros_like(lin[:, :1])
        a, z = max(0, y0 - BLEND_RADIUS), min(h, y1 + BLEND_RADIUS)
        chroma = None
        if self.chroma is not None:
            field = self.chroma
            chroma = self._upsample_rows(
                lambda r0, r1: torch.from_numpy(field[:, r0:r1].astype(np.float32)), a, z)[None]
        share = None
        if self.share is not None:
            grid = self.share
            share = self._upsample_rows(lambda r0, r1: torch.from_numpy(grid[:, r0:r1]), a, z)[None]
        mask = _mask_rows(self.photo, a, z, self.blend_dilate)
        guide, log_gain = blend_parts(self.lin(a, z), mask, self.output(a, z), chroma, self.colour_max,
                                      share=share, fill=self.fill_channels)
        return guide[:, :, y0 - a:y1 - a].contiguous(), log_gain[:, :, y0 - a:y1 - a].contiguous()

    def radiance(self, y0: int = 0, y1: int | None = None) -> torch.Tensor:
        """Relative radiance rows [y0, y1) at :attr:`strength` (and each of :attr:`areas` at its
        own), (1,3,h,W) float32 >= 0 (1.0 = clip level of the input):
        :func:`~reexposure.core.model.blend.compose_radiance` of the strip, from
        :meth:`radiance_parts`."""
        strength = check_strength(self.strength)
        if not self.boosts:
            return self.lin(y0, y1)
        guide, log_gain = self.radiance_parts(y0, y1)
        if not self.areas:
            return radiance_at(guide, log_gain, strength)
        return radiance_at(guide, log_gain * self._strength_rows(y0, y0 + guide.shape[2]))

    def _copy(self, **changes: Any) -> RadianceMap:
        """A shallow copy with ``changes`` that keeps the area labels computed so far."""
        new = dataclasses.replace(self, **changes)
        new._labels, new._area_ids = self._labels, self._area_ids  # the ids are checked against the areas
        return new

    def with_strength(self, strength: float) -> RadianceMap:
        """This map at another :attr:`strength`: ``self`` when it is the same, else a shallow copy
        that shares the photo and the network's output (no network run; a caller rendering several
        strengths at once, e.g. concurrent web downloads, never changes a shared map). Its
        :attr:`areas` keep their own strengths."""
        strength = check_strength(strength)
        return self if strength == self.strength else self._copy(strength=strength)

    def area_labels(self) -> np.ndarray:
        """The photo's clipped areas, :func:`near_clip_areas` ((H,W) int32, 0 = none), computed on
        first use and shared by the copies of this map."""
        if self._labels is None:
            self._labels = near_clip_areas(self.photo)
        return self._labels

    def area_at(self, x: int, y: int) -> int:
        """The label (:meth:`area_labels`) of the clipped area that holds pixel (``x``, ``y``) or,
        failing that, of the nearest one within :data:`~reexposure.core.strength.AREA_SNAP` px
        (:func:`~reexposure.core.strength.nearest_area`); ``ValueError`` with a one-line message
        for a point outside the photo or far from every clipped area."""
        return nearest_area(self.area_labels(), x, y)

    def with_areas(self, areas: Iterable[AreaStrength]) -> RadianceMap:
        """This map with :attr:`areas` replaced (a shallow copy, as :meth:`with_strength`); checks
        every strength and that every point names a clipped area (:meth:`area_at`), else
        ``ValueError`` with a one-line message."""
        areas = tuple(areas)
        for a in areas:
            check_strength(a.strength)
        new = self._copy(areas=areas)
        new._area_labels_of_points()
        return new

    def _area_labels_of_points(self) -> tuple[int, ...]:
        """The area label of each of :attr:`areas` (:meth:`area_at`), remembered for these areas."""
        if self._area_ids is None or self._area_ids[0] != self.areas:
            self._area_ids = (self.areas, tuple(self.area_at(a.x, a.y) for a in self.areas))
        return self._area_ids[1]

    def _strength_rows(self, y0: int, y1: int) -> torch.Tensor:
        """The strength of each pixel of rows [y0, y1), (1,1,h,W) float32: each of :attr:`areas`
        over its area, :attr:`strength` elsewhere."""
        field = strength_field(self.area_labels()[y0:y1], self.strength, self.areas, self._area_labels_of_points())
        return torch.from_numpy(field)[None, None]

    def to_tensor(self) -> torch.Tensor:
        """The whole radiance map, (1,3,H,W) float32."""
        return self.radiance()

    def to_array(self) -> np.ndarray:
        """The whole radiance map as HxWx3 float32, filled strip by strip (no full-size temporaries
        besides the result): what the radiance writers take."""
        h, w = self.shape
        out = np.empty((h, w, 3), dtype=np.float32)
        for y0, rad in self.strips():
            out[y0:y0 + rad.shape[2]] = rad[0].permute(1, 2, 0).numpy()
        return out

    def strips(self, rows: int = 256) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(y0, radiance rows)`` strips of at most ``rows`` rows."""
        h = self.shape[0]
        for y0 in range(0, h, rows):
            yield y0, self.radiance(y0, min(h, y0 + rows))

    def reexpose(self, ev: float, crf: CRF | None = None, rows: int | None = None) -> np.ndarray:
        """The photo re-exposed by ``ev`` stops as HWC uint8, rendered strip by strip with ``crf``
        (default: the curve the photo was linearised with, so EV 0 gives back the input).
        Strips with no boost go through a 256-entry look-up table."""
        crf = crf or self.crf
        out = np.empty_like(self.photo)
        h, w = self.shape
        rows = rows or max(8, _BAND_PIXELS // w)  # strips of a constant pixel count bound the temporaries
        table = to_uint8(camera.render_ldr(self._lut().view(1, 1, 1, 256).expand(1, 3, 1, 256), ev, crf, None))[0, :, 0]
        k = self.scale
        covered = np.zeros(h + 1, dtype=bool)
        for (ty, _), b in self.boosts.items():
            covered[max(0, (ty - 1) * k):min(h, (ty + b.shape[1] + 1) * k)] = True
        for i, y0 in enumerate(range(0, h, rows)):
            y1 = min(h, y0 + rows)
            if covered[y0:y1].any():
                out[y0:y1] = to_uint8(camera.render_ldr(self.radiance(y0, y1), ev, crf, None))
                if i % 8 == 7:  # every few strips: trimming costs a heap walk
                    _trim_heap()
            else:
                out[y0:y1] = table[self.photo[y0:y1]]
        return out

    def clipped_fraction(self) -> float:
        """Share of pixels at the clip level (:func:`reexposure.core.camera.clipped_share`)."""
        return camera.clipped_share(self.photo)


class Reconstructor:
    """Photo -> :class:`RadianceMap` with a generator, tiled. Deterministic for a fixed thread count.

    ``model`` is a :class:`GatedUNet`, a weights path, or ``None`` for the shipped default;
    ``strength`` the :attr:`RadianceMap.strength` its results start with."""

    def __init__(self, model: GatedUNet | str | Path | None = None, crf: CRF = DEFAULT_CRF,
                 tiles: TileOptions | None = None, threads: int | None = None, strength: float = 1.0) -> None:
        self.strength = check_strength(strength)
        if isinstance(model, GatedUNet):
            self.model, self.info = model.eval(), {"path": "<in memory>"}
        else:
            loaded, self.info = load_generator(model)
            self.model = cast(GatedUNet, loaded)  # the tiling assumes a gated U-Net's receptive field
        self.crf = crf
        self.tiles = tiles or TileOptions()
        self.threads = threads
        cfg = self.model.config
        self.multiple = cfg.multiple
        ctx = self.tiles.context if self.tiles.context is not None else receptive_radius(cfg)
        self.context = int(math.ceil(ctx / self.multiple) * self.multiple)
        self.overlap = 2 * self.context + int(math.ceil(self.tiles.feather / self.multiple) * self.multiple)
        self.tile = max(int(math.ceil(self.tiles.tile / self.multiple) * self.multiple), 2 * self.overlap)
        self.border_pad = int(math.ceil(self.tiles.border_pad / self.multiple) * self.multiple)

    def _run(self, lin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Network on one window, ``lin`` (1,3,h,w) and per-channel ``mask`` -> its output ``o``
        (1,C,h,w). Pads to the network's multiple. (The blend clamps log boosts at 0.)"""
        h, w = lin.shape[2:]
        p = self.border_pad
        if p:
            mode = "reflect" if min(h, w) > p else "replicate"
            lin, mask = F.pad(lin, (p, p, p, p), mode=mode), F.pad(mask, (p, p, p, p), mode=mode)
        lin, mask = pad_to_multiple(self.multiple, lin, mask)
        return self.model(lin, mask)[:, :, p:p + h, p:p + w]

    def work_scale(self, h: int, w: int) -> int:
        """Integer factor by which the photo is reduced for the network (1 up to max_work_pixels)."""
        limit = self.tiles.max_work_pixels
        if not limit or h * w <= limit:
            return 1
        return int(math.ceil(math.sqrt(h * w / min(limit, max(1, self.tiles.work_pixels)))))

    def _work_inputs(self, u8: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's inputs on the working grid: ``lin`` averaged over k x k blocks (light
        integrates) and the per-channel mask max-pooled (a block with a clipped pixel is clipped).
        Built in row bands, so no full-resolution float image is ever held."""
        h, w = u8.shape[:2]
        lut = self.crf.inverse_table()
        if k == 1:
            t = torch.from_numpy(u8).permute(2, 0, 1)[None]
            return lut[t.long()], camera.saturation_mask(t.float() / 255.0, per_channel=True)
        band = k * max(1, _BAND_PIXELS // (w * k))  # constant pixels per band, whatever the width
        lins, masks = [], []
        for y0 in range(0, h, band):
            y1 = min(h, y0 + band)
            rows = torch.from_numpy(u8[y0:y1]).permute(2, 0, 1)[None]
            lin = lut[rows.long()]
            mask = _mask_rows(u8, y0, y1)
            pad = (0, (-w) % k, 0, (-(y1 - y0)) % k)
            if any(pad):
                lin, mask = F.pad(lin, pad, mode="replicate"), F.pad(mask, pad, mode="replicate")
            lins.append(F.avg_pool2d(lin, k))
            masks.append(F.max_pool2d(mask, k))
            del rows, lin, mask
            _trim_heap()
        return torch.cat(lins, dim=2), torch.cat(masks, dim=2)

    def _window_starts(self, hw: int, ww: int) -> tuple[list[int], list[int]] | None:
        """Window origins along y and x on a working grid of hw x ww (windows: every pair), or None
        for one pass over all of it."""
        ph = math.ceil(hw / self.multiple) * self.multiple
        pw = math.ceil(ww / self.multiple) * self.multiple
        if ph * pw <= self.tiles.one_pass_pixels or (hw <= self.tile and ww <= self.tile):
            return None
        return (_positions(hw, self.tile, self.overlap, self.multiple),
                _positions(ww, self.tile, self.overlap, self.multiple))

    def window_count(self, h: int, w: int) -> int:
        """Upper bound on the network passes for an h x w photo (windows without a clipped pixel
        are skipped, so fewer may run; a photo with no clipped pixel runs none)."""
        k = self.work_scale(h, w)
        starts = self._window_starts(math.ceil(h / k), math.ceil(w / k))
        return 1 if starts is None else len(starts[0]) * len(starts[1])

    @torch.inference_mode()
    def __call__(self, photo: PhotoLike, progress: bool = False,
                 on_window: Callable[[int], None] | None = None) -> RadianceMap:
        """Reconstruct the radiance of ``photo`` (HWC uint8/uint16/float array, or ldr tensor
        (1,3,H,W) in [0,1]).

        ``on_window(done)`` is called before each network pass with the number of passes done so
        far (at most :meth:`window_count`); an exception it raises stops the reconstruction."""
        u8 = _as_uint8_hwc(photo)
        h, w = u8.shape[:2]
        if h < 2 or w < 2:
            raise ValueError(f"photo too small ({w}x{h}); need at least 2x2 pixels")
        old_threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            result = RadianceMap(u8, self.crf, model_info=dict(self.info), strength=self.strength,
                                 colour_max=float(getattr(self.model.config, "colour_max", 1.0)),
                                 share_radius=int(getattr(self.model.config, "share_radius", 0)),
                                 fill_channels=bool(getattr(self.model.config, "fill_channels", False)))
            thresh = int(math.floor(camera.MASK_LOW * 255))  # codes at or below: mask exactly 0
            if not any((u8[y:y + 256] > thresh).any() for y in range(0, h, 256)):  # banded: no full-size temporary
                return result
            k = self.work_scale(h, w)
            lin, mask = self._work_inputs(u8, k)
            hw, ww = lin.shape[2:]
            result.scale, result.work_shape = k, (hw, ww)
            if getattr(self.model.config, "head", "rgb") == "guided":
                result.chroma = ring_chroma(lin, mask)[0].numpy().astype(np.float16)
                if result.share_radius > 0:
                    every, unclipped = _clip_shares(u8, k)
                    result.share = share_field(every, unclipped, result.share_radius)[0].numpy()
            starts = self._window_starts(hw, ww)
            if starts is None:
                if on_window:
                    on_window(0)
                result.boosts[(0, 0)] = self._run(lin, mask)[0].numpy().astype(np.float16)
                return result
            ys, xs = starts
            feather = self.overlap - 2 * self.context
            wys = _axis_weights(ys, self.tile, hw, self.context, feather)
            wxs = _axis_weights(xs, self.tile, ww, self.context, feather)
            windows = [(iy, ix) for iy in range(len(ys)) for ix in range(len(xs))]
            it = windows
            if progress:
                from tqdm import tqdm
                it = tqdm(windows, desc="tiles", unit="tile", leave=False)
            done = 0
            for iy, ix in it:
                y0, x0 = ys[iy], xs[ix]
                y1, x1 = min(hw, y0 + self.tile), min(ww, x0 + self.tile)
                weight = torch.from_numpy(wys[iy][:, None] * wxs[ix][None, :])
                # a window with no masked pixel where it has weight contributes nothing
                if not bool((mask[0, :, y0:y1, x0:x1].amax(dim=0) * weight > 0).any()):
                    continue
                if on_window:
                    on_window(done)
                o = self._run(lin[:, :, y0:y1, x0:x1], mask[:, :, y0:y1, x0:x1])[0] * weight
                done += 1
                result.boosts[(y0, x0)] = o.numpy().astype(np.float16)
            return result
        finally:
            torch.set_num_threads(old_threads)
