"""Do the training photos clip like real camera photos? Statistics of clipped pixels and of the
colour around them, for folders of real photos and for rendered training pairs.

For a set of 8-bit RGB images, over all pixels with any channel at 254 or 255 (clipped):

- ``one`` / ``two`` / ``three``: share of clipped pixels with exactly 1, 2 or 3 channels clipped
  (a per-channel square-root render of a white-balanced HDR image clips mostly all three at once;
  cameras clip saturated colours in one or two);
- ``single_r`` / ``single_g`` / ``single_b``: which channel it is, among one-channel clips;
- ``ring_sat``: mean saturation ``(max - min) / max`` (8-bit values) of the ring 2-6 px outside
  the clipped areas (cameras roll highlights off toward white: a pale ring);
- ``ring_level``: mean largest channel of that ring, in [0, 1] (how bright the border is: a hard
  clip of a smooth highlight has a bright ring, a camera's shoulder brighter still);
- ``clipped``: share of clipped pixels overall (weights nothing, for context);
- ``area_d50``: how large the fully clipped areas are (connected pixels with all three channels
  clipped, 8-neighbours): the median of their equivalent diameter ``2 sqrt(area / pi)`` in pixels,
  weighted by area (half the fully clipped pixels lie in areas at least this wide); ``area_ge64``:
  the share of fully clipped pixels in areas at least 64 px wide. A training crop bounds it (a
  128 px crop holds no area wider than about 145 px), a photo does not (a lamp photographed close).

Statistics are pooled over the set's clipped pixels (so large photos weigh more). Photos are
area-reduced to at most ``max_side`` pixels first, about the scale of the training crops.

And how the camera's curve compresses highlights, from brackets (:func:`tone_ratios`): two frames of
one scene ``ev`` stops apart, both read with the square-law inverse (the model's input curve; any
other curve can be given, and :func:`measured_ev` says which one reads a camera's mid-tones). For
a pixel of the bright frame at code ``c``, ``dark_lin * 2**ev / bright_lin`` is 1 for a camera whose
curve is any power law (the square root, gamma 2.2: a power law keeps ratios) and grows with ``c``
where the curve compresses the highlights more than the mid-tones (an S-shaped tone curve, a
shoulder): a code near the clip then stands for more light than the square law reads in it. The
median per band of codes, divided by that of the band 128-159 (so an error in ``ev`` cancels), is
the measure; real brackets (``../shared/data/brackets``, read by
:func:`reexposure.eval.brackets.bracket_frames`) against training pairs rendered the same way
(:func:`rendered_brackets`). Its colour counterpart,
:func:`saturation_ratios`: how much of a colour's saturation the bright frame keeps per band of
its largest channel (1 for a power-law camera; cameras desaturate toward white near the clip).

Run: ``python scripts/clip_stats.py --photos DIR [DIR ...] --pairs CONFIG [--n 300] [--brackets DIR]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ..core import camera
from ..core.camera import CRF
from ..eval.run import exposure_for_share, load_scene
from ..formats.io import read_photo
from ..formats.scenes import find_hdr_files, find_ldr_files
from .data import HDRPairs, PairSynthesizer
from .trainer import load_train_config

__all__ = ["KEYS", "TONE_BANDS", "clip_statistics", "photo_set", "pair_set", "tone_ratios", "saturation_ratios",
           "measured_ev", "rendered_brackets"]

KEYS = ("clipped", "one", "two", "three", "single_r", "single_g", "single_b", "ring_sat", "ring_level",
        "area_d50", "area_ge64")


def clip_statistics(images: Iterable[np.ndarray]) -> dict[str, float]:
    """Pooled statistics (see the module docstring) of HxWx3 uint8 images; NaN where undefined."""
    counts = np.zeros(3)
    single = np.zeros(3)
    total = clipped_px = 0
    sat_sum = level_sum = ring_n = 0.0
    areas = []  # pixels of each fully clipped area
    for u8 in images:
        top = u8 >= 254
        n_ch = top.sum(-1)
        any_clip = n_ch > 0
        total += n_ch.size
        clipped_px += int(any_clip.sum())
        for k in range(3):
            counts[k] += int((n_ch == k + 1).sum())
        one = n_ch == 1
        single += top[one].sum(0)
        if any_clip.any():
            ring = ndimage.binary_dilation(any_clip, iterations=6) & ~ndimage.binary_dilation(any_clip, iterations=2)
            px = u8[ring].astype(np.float64)
            if len(px):
                mx = px.max(-1)
                sat_sum += float(((mx - px.min(-1)) / np.maximum(mx, 1.0)).sum())
                level_sum += float((mx / 255.0).sum())
                ring_n += len(px)
        labels, n_areas = ndimage.label(n_ch == 3, structure=np.ones((3, 3)))
        if n_areas:
            areas.append(np.bincount(labels.ravel())[1:])
    d50 = ge64 = float("nan")
    if areas:
        a = np.sort(np.concatenate(areas)).astype(np.float64)
        d = 2.0 * np.sqrt(a / np.pi)  # equivalent diameters, ascending with the areas
        d50 = float(d[np.searchsorted(np.cumsum(a), 0.5 * a.sum())])
        ge64 = float(a[d >= 64].sum() / a.sum())
    n = max(1, int(counts.sum()))
    s = max(1.0, float(single.sum()))
    return {"clipped": clipped_px / max(1, total), "one": counts[0] / n, "two": counts[1] / n,
            "three": counts[2] / n, "single_r": single[0] / s, "single_g": single[1] / s,
            "single_b": single[2] / s, "ring_sat": sat_sum / ring_n if ring_n else float("nan"),
            "ring_level": level_sum / ring_n if ring_n else float("nan"), "area_d50": d50, "area_ge64": ge64}


def photo_set(folders: Sequence[str | Path], max_side: int = 1024) -> list[np.ndarray]:
    """The photos under ``folders`` (any nesting) with at least one clipped pixel, as uint8
    arrays area-reduced to at most ``max_side`` on the long side (EXIF orientation applied)."""
    out = []
    for folder in folders:
        for path in find_ldr_files(folder):
            u8 = read_photo(path).rgb8
            if u8.max() < 254:
                continue
            h, w = u8.shape[:2]
            f = max_side / max(h, w)
            if f < 1:
                u8 = np.asarray(Image.fromarray(u8).reduce(max(1, round(1 / f))))
            out.append(u8)
    return out


def pair_set(config_path: str | Path, n: int = 300, camera_prob: float | None = None,
             seed: int = 0) -> list[np.ndarray]:
    """``n`` training input photos (uint8) rendered by the pair settings of a training config
    (``camera_prob`` overrides ``pairs.camera_prob``: 0 = the plain camera, 1 = camera-like)."""
    cfg = load_train_config(str(config_path), [])
    pairs = cfg.pairs if camera_prob is None else dataclasses.replace(cfg.pairs, camera_prob=camera_prob)
    files = [p for p in find_hdr_files(cfg.data) if p.stem not in set(cfg.holdout) | set(cfg.exclude)]
    ds = HDRPairs(files, pairs, seed=seed)
    return [np.round(ds[i]["ldr"].permute(1, 2, 0).numpy() * 255).astype(np.uint8) for i in range(n)]


#: Bands of the bright frame's code for :func:`tone_ratios`: ``[TONE_BANDS[i], TONE_BANDS[i + 1])``.
TONE_BANDS = (64, 96, 128, 160, 192, 216, 232, 244, 250, 254)  # 254 and 255 count as clipped
_TONE_REF = 2  # the band 128-159: the ratios are divided by its value
_TONE_MIN_PX = 200  # channel values a band needs (else NaN)


def _band_medians(code: np.ndarray, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per band of :data:`TONE_BANDS` of ``code`` (8-bit values), the median of ``values`` where
    ``ok`` (arrays of one shape); NaN where a band has fewer than ``_TONE_MIN_PX`` of them."""
    out = np.full(len(TONE_BANDS) - 1, np.nan)
    for i, (lo, hi) in enumerate(zip(TONE_BANDS[:-1], TONE_BANDS[1:])):
        sel = ok & (code >= lo) & (code < hi)
        if sel.sum() >= _TONE_MIN_PX:
            out[i] = float(np.median(values[sel]))
    return out


def _read(u8: np.ndarray, crf: CRF) -> np.ndarray:
    """8-bit values read through the inverse of ``crf`` (float64, 1.0 = code 255)."""
    return crf.inverse_table().numpy().astype(np.float64)[u8]


def tone_ratios(bright: np.ndarray, dark: np.ndarray, ev: float, crf: CRF = camera.DEFAULT_CRF) -> np.ndarray:
    """How much more light a code of the bright frame holds than the curve ``crf`` (default the
    square law, the model's input curve) reads in it, relative to the mid-tones (module
    docstring). ``bright``, ``dark``: HxWx3 uint8 of one scene, the darker frame ``ev`` stops
    darker. Over every channel value of the bright frame whose darker value lies in 9-249 (neither
    black nor clipped): per band of :data:`TONE_BANDS`, the median of ``read(dark) * 2**ev /
    read(bright)``, divided by the band 128-159's. Returns (len(TONE_BANDS) - 1,) floats, NaN where
    a band has fewer than 200 values or the reference band has none; 1.0 everywhere when ``crf`` is
    the camera's curve (for the square law: any power-law camera)."""
    ok = (dark > 8) & (dark < 250) & (bright > 0)
    out = _band_medians(bright, _read(dark, crf) * 2.0 ** float(ev) / np.maximum(_read(bright, crf), 1e-12), ok)
    return out / out[_TONE_REF]


def saturation_ratios(bright: np.ndarray, dark: np.ndarray, crf: CRF = camera.DEFAULT_CRF) -> np.ndarray:
    """How much of a colour's saturation the bright frame keeps near the clip (cameras roll
    highlights off toward white). ``bright``, ``dark``: HxWx3 uint8 of one scene, the darker frame
    some stops darker. Saturation ``1 - min / max`` of both frames read through ``crf`` (default
    the square law; it gives both frames of any power-law camera the same value); over the pixels
    whose darker frame is neither dark nor clipped (largest channel 31-249) and has a colour
    (saturation >= 0.15), and whose bright frame is unclipped (largest channel < 254): per band of
    :data:`TONE_BANDS` of the bright frame's largest channel, the median of its saturation over the
    darker frame's. 1 = kept; NaN where a band has fewer than 200 pixels."""
    def sat(u8: np.ndarray) -> np.ndarray:
        lin = _read(u8, crf)
        return 1.0 - lin.min(-1) / np.maximum(lin.max(-1), 1e-6)

    top, ref = bright.max(-1), dark.max(-1)
    s_dark = sat(dark)
    ok = (ref > 30) & (ref < 250) & (s_dark >= 0.15) & (top < 254)
    return _band_medians(top, sat(bright) / np.maximum(s_dark, 1e-6), ok)


def measured_ev(bright: np.ndarray, dark: np.ndarray, crf: CRF = camera.DEFAULT_CRF) -> float:
    """How many stops apart two frames of one scene are, as ``crf`` reads their mid-tones: log2 of
    the median of ``read(bright) / read(dark)`` over the channel values at codes 100-200 in the
    bright frame and at least 20 in the darker one (HxWx3 uint8). Equal to the true difference
    when ``crf`` is the camera's curve; so against a bracket's recorded ``ev_diff`` it tells
    which curve a camera is near. NaN with fewer than 200 such values."""
    ok = (bright >= 100) & (bright <= 200) & (dark >= 20)
    if ok.sum() < _TONE_MIN_PX:
        return float("nan")
    return float(np.log2(np.median(_read(bright, crf)[ok] / _read(dark, crf)[ok])))


def rendered_brackets(config_path: str | Path, camera_prob: float, n: int = 30, ev: float = 2.0,
                      side: int = 512) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """Brackets rendered by a training config's camera, as :func:`~reexposure.eval.brackets.bracket_frames` returns real
    ones: for ``n`` training scenes (evenly spread over the list, ``side`` px), the exposure that
    clips 8% of the scene, then the photo (``pairs.camera_prob`` replaced by ``camera_prob``: 0 =
    the plain camera, 1 = camera-like) rendered at that exposure and ``ev`` stops darker, both
    frames by the same camera (one seed per scene: same curve, shoulder, white balance, JPEG
    quality)."""
    cfg = load_train_config(str(config_path), [])
    synth = PairSynthesizer(dataclasses.replace(cfg.pairs, camera_prob=camera_prob))
    files = [p for p in find_hdr_files(cfg.data) if p.stem not in set(cfg.holdout) | set(cfg.exclude)]
    files = files[:: max(1, len(files) // n)][:n]
    rows = []
    for i, path in enumerate(files):
        image, _ = load_scene(path, side)
        scene = image.astype(np.float32) * np.float32(exposure_for_share(image, 0.08))
        frames = []
        for gain in (1.0, 2.0 ** -ev):
            rng = np.random.default_rng([i, 7])
            if rng.random() < camera_prob:
                ldr, _ = synth.camera_render(synth.camera_look(scene, rng) * np.float32(gain), rng)
            else:
                ldr, _ = synth.render(scene * np.float32(gain), rng)
            frames.append(np.round(ldr * 255).astype(np.uint8))
        rows.append((path.stem, frames[0], frames[1], ev))
    return rows
