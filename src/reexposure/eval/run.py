"""``reexpose eval``: score reconstruction methods on HDR images, or compare them on photos.

With HDR files (.exr/.hdr/.pfm) in ``--data``, for every image and every target clipped share
``p`` (``--clip``):

1. The image is normalised (:func:`reexposure.training.data.normalize_95`), optionally downscaled
   (``--max-side``, antialiased), and exposed so that a share ``p`` of its pixels (largest channel)
   reaches the clip level: the ground truth ``gt`` is the radiance divided by the ``(1-p)``
   quantile of the per-pixel maximum, so 1.0 is the clip level.
2. The 8-bit photo is rendered from ``gt`` with the CRF (:func:`reexposure.core.camera.render_ldr`),
   and optionally JPEG-compressed (``--format jpeg --quality 90``, Pillow, 4:2:0); or, with
   ``--camera SEED``, by the training's camera-like pipeline (``EvalOptions.photo_maker``:
   :func:`reexposure.training.data.camera_case_photo`), the methods still linearising with ``--crf``.
3. Each method reconstructs relative radiance from the photo; one global scale is fitted on the
   well-exposed pixels (least squares in the log domain, :func:`metrics.fit_scale` over
   :func:`metrics.fit_pixels`), and applied to the estimate.
4. Metrics (definitions in :mod:`reexposure.eval.metrics` and :mod:`reexposure.eval.pu21`):
   log-PSNR and PU21-PSNR of the radiance (the clip level shown at 100 cd/m^2); "lights kept
   bright" (:func:`metrics.lights_kept`: of the clipped pixels truly >= 8x the clip level, the share
   the method puts at >= 4x, largest channel of both) and its opposite, "false lights"
   (:func:`metrics.false_lights`: of the clipped pixels truly 1-1.5x the clip level, the share put
   at >= 3x); at every EV of
   ``--ev`` (default -1, -2, -3, -4, +1), PSNR and SSIM of the method's 8-bit rendition against the
   ground truth's, over the whole image, the clipped region (the input's saturation mask dilated
   by 4 pixels) and outside it; and the texture ratio (gradient energy of the rendition inside the
   clipped region / that of the ground truth's).

Outputs in ``--out``: ``images/<scene>.json`` (every number per clip level and method),
``summary.json`` and ``summary.md`` (means over images; the sanity check that ``naive`` beats
``brightness`` in the clipped region at EV -2), and ``sheet_clipNN.png`` contact sheets (rows:
scenes; columns: input, brightness, naive, the other methods and the ground truth at EV -2).

With only ordinary photos (JPEG/PNG/TIFF/WebP/HEIC) in ``--data``, there is no ground truth: the
harness writes ``sheet_ev-2.png`` and ``sheet_ev-3.png`` (input, brightness, naive, methods).

Two more modes score ``ours`` against ``naive`` on real photos instead of ``--data``:
``--photos DIR`` (no ground truth: colour fidelity against the unclipped ring around each clipped
region, banding and blotches, with per-photo contact sheets; :mod:`reexposure.eval.photos`) and
``--brackets DIR`` (real exposure brackets: the darker frame is the reference for the bright
frame's clipped pixels; :mod:`reexposure.eval.brackets`).
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core import camera
from ..core.arrays import from_tensor, to_tensor, to_uint8, uint8_to_ldr
from ..core.camera import CRF
from ..core.files import atomic_write_bytes
from ..formats.extensions import PHOTO_INPUT_EXTENSIONS
from ..formats.io import read_hdr, read_photo
from ..formats.scenes import find_hdr_files, holdout_scenes, normalize_95
from ..formats.viz import contact_sheet
from . import cvvdp, metrics
from .baselines import Brightness, Method, Naive, make_method
from .pu21 import NITS_AT_CLIP, pu21_psnr

__all__ = ["EvalOptions", "evaluate_case", "load_scene", "case_photo", "run_eval", "run_sheets",
           "EvalError", "DEFAULT_CLIPS", "DEFAULT_EVS", "SHEET_EV", "photo_files"]

DEFAULT_CLIPS: tuple[float, ...] = (0.02, 0.08, 0.20)
DEFAULT_EVS: tuple[float, ...] = (-1.0, -2.0, -3.0, -4.0, 1.0)
SHEET_EV = -2.0
PHOTO_SHEET_EVS = (-2.0, -3.0)
REGION_KEYS = ("all", "clipped", "outside")


class EvalError(ValueError):
    """Bad evaluation input (one-line message for the user)."""


@dataclass
class EvalOptions:
    """Everything one evaluation run needs (the CLI fills it from its arguments)."""

    data: Path
    methods: list[str]
    model: str | None = None
    out: Path = Path("eval-out")
    clips: tuple[float, ...] = DEFAULT_CLIPS
    evs: tuple[float, ...] = DEFAULT_EVS
    crf: str = "sqrt"
    format: str = "png"
    quality: int = 90
    max_side: int | None = None
    limit: int | None = None
    scenes: tuple[str, ...] = ()
    threads: int | None = None
    force: bool = False
    cvvdp: bool = False
    # How each case's photo is made instead of case_photo: f(hdr, clip share, scene name) -> (exposure
    # scale, ground truth (1,3,H,W), photo HxWx3 uint8). `reexpose eval --camera SEED` sets it to
    # reexposure.training.data.camera_case_photo (a higher layer: the CLI wires it) and `camera` to SEED.
    photo_maker: Callable[[np.ndarray, float, str], tuple[float, torch.Tensor, np.ndarray]] | None = None
    camera: int | None = None
    cell: int = 192
    progress: bool = True
    extra_methods: dict[str, Method] = field(default_factory=dict)  # label -> Method (tests, API)

    def command(self) -> str:
        """The ``reexpose eval`` command line that reproduces this run."""
        parts = ["reexpose", "eval", "--data", str(self.data), "--method", ",".join(self.methods)]
        if self.model:
            parts += ["--model", str(self.model)]
        parts += ["--clip", ",".join(f"{c:g}" for c in self.clips), "--crf", self.crf, "--format", self.format]
        if self.format == "jpeg":
            parts += ["--quality", str(self.quality)]
        if tuple(self.evs) != DEFAULT_EVS:
            parts += ["--ev=" + ",".join(f"{e:g}" for e in self.evs)]
        if self.max_side:
            parts += ["--max-side", str(self.max_side)]
        if self.scenes:
            parts += ["--scenes", ",".join(self.scenes)]
        if self.limit:
            parts += ["--limit", str(self.limit)]
        if self.threads:
            parts += ["--threads", str(self.threads)]
        if self.cvvdp:
            parts += ["--cvvdp"]
        if self.camera is not None:
            parts += ["--camera", str(self.camera)]
        parts += ["--out", str(self.out)]
        return " ".join(parts)


# --------------------------------------------------------------------------- helpers


_ldr = uint8_to_ldr
_u8 = to_uint8


def ev_key(ev: float) -> str:
    """EV as a key: ``-2``, ``+1``."""
    return f"{ev:+g}"


def encode_photo(ldr: torch.Tensor, fmt: str = "png", quality: int = 90) -> np.ndarray:
    """The 8-bit photo a camera would save: (1,3,H,W) quantised ldr -> HxWx3 uint8, through a JPEG
    encode/decode round trip (Pillow, ``quality``, default 4:2:0 subsampling) when ``fmt`` is
    ``jpeg``; PNG is lossless, so the codes are returned as they are."""
    u8 = _u8(ldr)
    if fmt == "png":
        return u8
    if fmt != "jpeg":
        raise EvalError(f"unknown photo format {fmt!r} (use png or jpeg)")
    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.array(im.convert("RGB"), dtype=np.uint8)  # a writable copy


def exposure_for_share(hdr: np.ndarray, share: float) -> float:
    """Factor that makes a share ``share`` of pixels (largest channel) reach 1.0 (the clip level):
    1 / the (1 - share) quantile of the per-pixel maximum. Raises ``EvalError`` for a black image."""
    if not 0.0 < share < 1.0:
        raise EvalError(f"clipped share must be in (0, 1), got {share}")
    q = float(np.quantile(hdr.max(axis=-1), 1.0 - share))
    if not math.isfinite(q) or q <= 0:
        raise EvalError("image too dark to clip the requested share of pixels")
    return 1.0 / q


def downscale(hdr: np.ndarray, max_side: int | None) -> np.ndarray:
    """HxWx3 float radiance -> at most ``max_side`` pixels on its long side (antialiased bilinear)."""
    h, w = hdr.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return hdr
    f = max_side / max(h, w)
    size = (max(2, round(h * f)), max(2, round(w * f)))
    t = F.interpolate(to_tensor(hdr), size=size, mode="bilinear", antialias=True, align_corners=False).clamp_min(0.0)
    return from_tensor(t)


def load_scene(path: str | Path, max_side: int | None) -> tuple[np.ndarray, torch.Tensor]:
    """An HDR file as the evaluation uses it: normalised so that 95% of pixels lie in [0, 1]
    (:func:`reexposure.formats.scenes.normalize_95`), then downscaled to ``max_side`` (:func:`downscale`). Returns the
    HxWx3 array and the same radiance as a (1,3,H,W) float32 tensor."""
    hdr = downscale(normalize_95(read_hdr(path)), max_side)
    return hdr, to_tensor(hdr)


def case_photo(hdr: np.ndarray, radiance: torch.Tensor, share: float, crf: CRF = camera.DEFAULT_CRF,
               fmt: str = "png", quality: int = 90) -> tuple[float, torch.Tensor, np.ndarray]:
    """One evaluation case of a scene (:func:`load_scene`'s pair): the scene exposed so that a
    share ``share`` of its pixels clips, and the 8-bit photo a camera with ``crf`` saves of it
    (:func:`encode_photo`). Returns ``(exposure scale, ground-truth radiance (1,3,H,W), photo HxWx3
    uint8)``; raises ``EvalError`` when the share cannot be reached (see :func:`exposure_for_share`)."""
    scale = exposure_for_share(hdr, share)
    gt = radiance * scale
    return scale, gt, encode_photo(camera.render_ldr(gt, 0.0, crf, 8), fmt, quality)


def _cell(ldr_or_u8: torch.Tensor | np.ndarray, height: int) -> np.ndarray:
    """A contact-sheet cell: HxWx3 uint8 resized to ``height`` rows (kept small in memory)."""
    from PIL import Image

    u8 = _u8(ldr_or_u8) if isinstance(ldr_or_u8, torch.Tensor) else ldr_or_u8
    h, w = u8.shape[:2]
    if h != height:
        u8 = np.asarray(Image.fromarray(u8).resize((max(1, round(w * height / h)), height), Image.Resampling.LANCZOS))
    return u8


def _finite(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return _finite(obj)
    return obj


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _write_png(path: Path, image: Any) -> None:
    buf = _io.BytesIO()
    image.save(buf, format="PNG")
    _write(path, buf.getvalue())


# --------------------------------------------------------------------------- one case


def evaluate_case(gt: torch.Tensor, photo: np.ndarray, methods: Mapping[str, Method], crf: CRF = camera.DEFAULT_CRF,
                  evs: Sequence[float] = DEFAULT_EVS, keep_ev: float | None = None,
                  cvvdp: Any = None) -> tuple[dict[str, dict[str, Any]], dict[str, torch.Tensor]]:
    """Score every method on one photo of ``gt``.

    ``gt``: ground truth relative radiance (1,3,H,W), 1.0 = clip level; ``photo``: the 8-bit photo
    (HxWx3 uint8) the methods get. Returns ``(results, kept)``: ``results[label]`` holds ``scale``
    (the fitted global factor), ``log_psnr``, ``pu21_psnr``, ``lights_kept`` (:func:`metrics.lights_kept`
    in the clipped region; NaN without a pixel >= 8x the clip level), ``false_lights``
    (:func:`metrics.false_lights` there; NaN without a pixel truly 1-1.5x) (and ``cvvdp_jod``), and ``ev[ev_key]``
    with ``psnr_{all,clipped,outside}``, ``ssim_{all,clipped,outside}``, ``texture_clipped``;
    ``kept[label]`` is the rendition at ``keep_ev`` (for contact sheets), ``kept['ground truth']``
    the ground truth's."""
    ldr_in = _ldr(photo)
    if ldr_in.shape != gt.shape:
        raise ValueError(f"photo {tuple(ldr_in.shape)} and ground truth {tuple(gt.shape)} differ in shape")
    region = metrics.clipped_region(ldr_in)
    regions = {"all": None, "clipped": region, "outside": ~region}
    select = metrics.fit_pixels(crf.inverse(ldr_in), region)
    gt_r = {ev: camera.render_ldr(gt, ev, crf, 8) for ev in evs}
    gt_stats = {ev: metrics.SSIMReference(g) for ev, g in gt_r.items()}
    kept: dict[str, torch.Tensor] = {}
    if keep_ev is not None:
        kept["ground truth"] = gt_r[keep_ev] if keep_ev in gt_r else camera.render_ldr(gt, keep_ev, crf, 8)
    results: dict[str, dict[str, Any]] = {}
    for label, method in methods.items():
        est = torch.nan_to_num(method.radiance(photo, crf).float(), nan=0.0, posinf=0.0).clamp_min(0.0)
        k = metrics.fit_scale(est, gt, select)
        est = (est.double() * k).float()  # float64 product: est*7 and est give the same renditions
        res: dict[str, Any] = {"scale": k, "log_psnr": metrics.log_psnr(est, gt), "pu21_psnr": pu21_psnr(est, gt),
                               "lights_kept": metrics.lights_kept(est, gt, region),
                               "false_lights": metrics.false_lights(est, gt, region)}
        if cvvdp is not None:
            res["cvvdp_jod"] = cvvdp(est, gt)
        res["ev"] = {}
        for ev in evs:
            r = method.render(est, ev, crf, photo)
            g = gt_r[ev]
            smap = metrics.ssim_map(r, gt_stats[ev])
            row: dict[str, float] = {}
            for name, reg in regions.items():
                row[f"psnr_{name}"] = metrics.psnr(r, g, reg)
            for name, reg in regions.items():
                if reg is None:
                    row[f"ssim_{name}"] = float(smap.mean())
                else:
                    n = int(reg.sum())
                    row[f"ssim_{name}"] = float((smap * reg).sum()) / n if n else float("nan")
            row["texture_clipped"] = metrics.texture_ratio(r, g, region)
            res["ev"][ev_key(ev)] = row
        if keep_ev is not None:
            kept[label] = method.render(est, keep_ev, crf, photo)
        results[label] = res
    return results, kept


# --------------------------------------------------------------------------- aggregation


def _flat(res: Mapping[str, Any]) -> dict[str, float]:
    out = {k: float(v) for k, v in res.items() if k != "ev" and v is not None}
    for ev, row in res.get("ev", {}).items():
        for k, v in row.items():
            if v is not None:
                out[f"{k}@{ev}"] = float(v)
    return out


def aggregate(cases: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Means over images. ``cases``: dicts with ``clip`` (target share) and ``methods`` (results of
    :func:`evaluate_case`). Returns ``{clip_key: {method: {metric: {"mean", "n"}}}}`` where
    clip_key is ``"all"`` (every clip level pooled) or e.g. ``"0.08"``; metric keys are
    ``log_psnr``, ``pu21_psnr``, ``scale`` and ``psnr_clipped@-2`` style. Non-finite values
    (empty regions) are left out of the means; ``n`` counts the values used."""
    acc: dict[str, dict[str, dict[str, list[float]]]] = {}
    for case in cases:
        for clip_key in ("all", f"{case['clip']:g}"):
            for label, res in case["methods"].items():
                slot = acc.setdefault(clip_key, {}).setdefault(label, {})
                for k, v in _flat(res).items():
                    if math.isfinite(v):
                        slot.setdefault(k, []).append(v)
    return {ck: {m: {k: {"mean": float(np.mean(v)), "n": len(v)} for k, v in ms.items()} for m, ms in cm.items()}
            for ck, cm in acc.items()}


#: A case counts as "worse than naive" when its clipped-region PSNR at EV -2 or -3 is this many dB
#: below naive's (the real-photo issue's "never worse than doing nothing").
WORSE_DB = 0.5


def worse_than_naive(cases: Sequence[dict[str, Any]], evs: Sequence[str] = ("-2", "-3"),
                     margin: float = WORSE_DB) -> list[dict[str, Any]]:
    """The cases where a method's clipped-region PSNR is more than ``margin`` dB below naive's at
    any of ``evs`` (keys as :func:`ev_key` writes them). ``cases`` as for :func:`aggregate`.
    Returns dicts ``{method, scene, clip, ev, db}`` (``db`` < -margin: the method minus naive),
    worst first; empty without a ``naive`` result."""
    found = []
    for case in cases:
        naive = case["methods"].get("naive")
        if naive is None:
            continue
        for label, res in case["methods"].items():
            if label == "naive":
                continue
            for ev in evs:
                a = res.get("ev", {}).get(ev, {}).get("psnr_clipped")
                b = naive.get("ev", {}).get(ev, {}).get("psnr_clipped")
                if a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and a - b < -margin:
                    found.append({"method": label, "scene": case["scene"], "clip": case["clip"], "ev": ev,
                                  "db": a - b})
    return sorted(found, key=lambda f: f["db"])


def _fmt(summary: Mapping, clip_key: str, method: str, key: str, digits: int = 2) -> str:
    v = summary.get(clip_key, {}).get(method, {}).get(key)
    return "–" if v is None else f"{v['mean']:.{digits}f}"


def sanity_check(summary: Mapping, clip_key: str = "all", ev: float = SHEET_EV) -> tuple[bool, float, float] | None:
    """``(holds, naive, brightness)``: mean clipped-region PSNR at ``ev`` of ``naive`` and
    ``brightness``; holds when naive's is higher. ``None`` if either method is missing."""
    key = f"psnr_clipped@{ev_key(ev)}"
    s = summary.get(clip_key, {})
    if key not in s.get("naive", {}) or key not in s.get("brightness", {}):
        return None
    n, b = s["naive"][key]["mean"], s["brightness"][key]["mean"]
    return n > b, n, b


def summary_markdown(summary: Mapping, opts: EvalOptions, labels: Sequence[str], n_images: int,
                     infos: Mapping[str, Mapping[str, str]], seconds: float,
                     worse: Sequence[Mapping[str, Any]] | None = None, n_cases: int = 0) -> str:
    """The Markdown report: settings, headline tables, every EV, the cases worse than naive
    (:func:`worse_than_naive`, when given), the sanity check."""
    evs = [ev_key(e) for e in opts.evs]
    lines = ["# Evaluation summary", "",
             f"- Command: `{opts.command()}`",
             f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"torch {torch.__version__} ({torch.get_num_threads()} threads); wall time {seconds:.0f} s",
             f"- Images: {n_images}; clip levels: {', '.join(f'{c:.0%}' for c in opts.clips)} of pixels; "
             f"CRF {opts.crf}; input {opts.format}" + (f" q{opts.quality}" if opts.format == "jpeg" else "")
             + (f"; long side <= {opts.max_side} px" if opts.max_side else ""),
             f"- PU21: relative radiance 1.0 (the clip level) shown at {NITS_AT_CLIP:g} cd/m^2; log-PSNR over "
             f"[{metrics.LOG_LO:g}, {metrics.LOG_HI:g}] x clip level. Clipped region: saturation mask "
             f"dilated by {metrics.REGION_DILATE} px. Means over images (and clip levels where pooled).",
             f"- Lights kept: of the clipped-region pixels truly >= {metrics.LIGHT_TRUE:g}x the clip level (largest "
             f"channel), the share the method puts at >= {metrics.LIGHT_PRED:g}x (largest channel, after the scale "
             "fit); mean over the cases that have such pixels (naive: 0). False lights: of the clipped-region "
             f"pixels truly above the clip level but at most {metrics.SURFACE_TRUE:g}x it, the share put at >= "
             f"{metrics.SURFACE_PRED:g}x (bright surfaces taken for lights; lower is better; naive: 0).",
             ]
    for label, info in infos.items():
        if info:
            desc = ", ".join(f"{k}={v}" for k, v in info.items() if k in ("path", "description", "trained_steps",
                                                                          "arch", "threshold", "alpha"))
            if desc:
                lines.append(f"- {label}: {desc}")
    head = ("| method | PU21-PSNR dB | log-PSNR dB | PSNR clipped EV-2 | PSNR clipped EV-3 | PSNR clipped EV-4 "
            "| lights kept | false lights | texture EV-2 | PSNR outside EV-2 | SSIM clipped EV-2 | scale k |")
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

    def headline(ck: str) -> list[str]:
        rows = [head, sep]
        for m in labels:
            rows.append(f"| {m} | {_fmt(summary, ck, m, 'pu21_psnr')} | {_fmt(summary, ck, m, 'log_psnr')} "
                        f"| {_fmt(summary, ck, m, 'psnr_clipped@-2')} | {_fmt(summary, ck, m, 'psnr_clipped@-3')} "
                        f"| {_fmt(summary, ck, m, 'psnr_clipped@-4')} | {_fmt(summary, ck, m, 'lights_kept', 3)} "
                        f"| {_fmt(summary, ck, m, 'false_lights', 3)} "
                        f"| {_fmt(summary, ck, m, 'texture_clipped@-2', 3)} "
                        f"| {_fmt(summary, ck, m, 'psnr_outside@-2')} "
                        f"| {_fmt(summary, ck, m, 'ssim_clipped@-2', 4)} | {_fmt(summary, ck, m, 'scale', 3)} |")
        return rows

    lines += ["", "## Headline (all clip levels pooled)", ""] + headline("all")
    if "naive" in labels:
        lines += ["", "Difference to `naive` (dB; positive = better than naive):", "",
                  "| method | PU21-PSNR | PSNR clipped EV-2 | PSNR clipped EV-3 | PSNR clipped EV-4 "
                  "| PSNR outside EV-2 |", "|---|---:|---:|---:|---:|---:|"]
        for m in labels:
            cells = []
            for key in ("pu21_psnr", "psnr_clipped@-2", "psnr_clipped@-3", "psnr_clipped@-4", "psnr_outside@-2"):
                a = summary.get("all", {}).get(m, {}).get(key)
                b = summary.get("all", {}).get("naive", {}).get(key)
                cells.append("–" if a is None or b is None else f"{a['mean'] - b['mean']:+.2f}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    for c in opts.clips:
        ck = f"{c:g}"
        if ck in summary:
            lines += ["", f"## Clip level {c:.0%}", ""] + headline(ck)
    lines += ["", "## Re-exposure at every EV (all clip levels pooled)", "",
              "| method | EV | PSNR all | PSNR clipped | PSNR outside | SSIM all | SSIM clipped | SSIM outside "
              "| texture clipped |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in labels:
        for ev in evs:
            lines.append(f"| {m} | {ev} | " + " | ".join(
                [_fmt(summary, "all", m, f"psnr_{r}@{ev}") for r in REGION_KEYS]
                + [_fmt(summary, "all", m, f"ssim_{r}@{ev}", 4) for r in REGION_KEYS]
                + [_fmt(summary, "all", m, f"texture_clipped@{ev}", 3)]) + " |")
    if any("cvvdp_jod" in summary.get("all", {}).get(m, {}) for m in labels):
        lines += ["", "## ColorVideoVDP (JOD, higher is better, 10 = identical)", "", "| method | JOD |", "|---|---:|"]
        lines += [f"| {m} | {_fmt(summary, 'all', m, 'cvvdp_jod')} |" for m in labels]
    if worse is not None and "naive" in labels:
        lines += ["", f"## Cases worse than naive (clipped-region PSNR more than {WORSE_DB:g} dB below naive's "
                  "at EV -2 or -3)", ""]
        for m in labels:
            if m != "naive":
                mine = [w for w in worse if w["method"] == m]
                scenes = {(w["scene"], w["clip"]) for w in mine}
                lines.append(f"- {m}: {len(scenes)} of {n_cases} cases" + (":" if mine else ""))
                lines += [f"  - {w['scene']} at {w['clip']:.0%}, EV {w['ev']}: {w['db']:+.2f} dB" for w in mine]
    check = sanity_check(summary)
    lines += ["", "## Sanity check", ""]
    if check is None:
        lines.append("Not run (needs both `naive` and `brightness` in --method).")
    else:
        holds, n, b = check
        lines.append(f"`naive` beats `brightness` on the clipped region at EV -2: **{'holds' if holds else 'FAILS'}** "
                     f"({n:.2f} dB vs {b:.2f} dB, all clip levels pooled).")
        for c in opts.clips:
            cc = sanity_check(summary, f"{c:g}")
            if cc is not None:
                lines.append(f"- clip {c:.0%}: {'holds' if cc[0] else 'FAILS'} ({cc[1]:.2f} vs {cc[2]:.2f} dB)")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- runs


def _build_methods(opts: EvalOptions, crf: CRF) -> dict[str, Method]:
    methods: dict[str, Method] = {}
    for spec in opts.methods:
        m = make_method(spec, opts.model, crf=crf, threads=opts.threads)
        label = m.name
        if label in methods:
            label = f"{m.name}:{Path(spec.partition('=')[2]).stem or len(methods)}"
        m.name = label
        methods[label] = m
    for label, m in opts.extra_methods.items():
        methods[label] = m
    return methods


def _sheet_methods(methods: Mapping[str, Method]) -> dict[str, Method]:
    """Columns of the comparison sheets: brightness, naive, then the other methods."""
    cols: dict[str, Method] = {"brightness": methods.get("brightness") or Brightness(),
                               "naive": methods.get("naive") or Naive()}
    cols.update({k: v for k, v in methods.items() if k not in cols})
    return cols


def _check_out(opts: EvalOptions, names: Sequence[str]) -> None:
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise EvalError(f"output {out} exists and is not a folder")
    if out.resolve() == Path(opts.data).resolve():
        raise EvalError("--out must not be the data folder (results would mix with the inputs)")
    if not opts.force:
        for n in names:
            if (out / n).exists():
                raise EvalError(f"{out / n} already exists; pass --force to replace the results in {out}")


def _select_files(opts: EvalOptions) -> list[Path]:
    files = find_hdr_files(opts.data)
    if opts.scenes:
        wanted: list[str] = []
        for s in opts.scenes:
            if s.lower() == "holdout":
                wanted += list(holdout_scenes())
            else:
                wanted.append(s)
        stems = {p.stem for p in files}
        missing = [s for s in wanted if s not in stems]
        if missing:
            raise EvalError(f"scenes not found in {opts.data}: {', '.join(missing)}")
        files = [p for p in files if p.stem in set(wanted)]
    if opts.limit:
        files = files[: opts.limit]
    return files


def _cvvdp_fn() -> Any:
    """The JOD function, or ``None`` with a warning on stderr when cvvdp is not installed."""
    try:
        return cvvdp.make_cvvdp()
    except cvvdp.CVVDPUnavailable as exc:
        print(f"reexpose: warning: skipping ColorVideoVDP: {exc}", file=sys.stderr)
        return None


def run_eval(opts: EvalOptions) -> dict[str, Any]:
    """Evaluate on the HDR files of ``opts.data`` (see module docstring); returns the summary
    dict (also written to ``summary.json``). Falls back to :func:`run_sheets` when the folder has
    no HDR file but has photos."""
    from tqdm import tqdm

    data = Path(opts.data)
    if not data.is_dir():
        raise EvalError(f"data folder {data} does not exist or is not a folder")
    files = _select_files(opts)
    if not files:
        if photo_files(data):
            return run_sheets(opts)
        raise EvalError(f"no HDR images (.exr/.hdr/.pfm) or photos found in {data}")
    crf = camera.crf_from_name(opts.crf)
    for c in opts.clips:
        if not 0.0 < c < 1.0:
            raise EvalError(f"clip shares must be in (0, 1), got {c:g}")
    if opts.format not in ("png", "jpeg"):
        raise EvalError(f"unknown --format {opts.format!r} (use png or jpeg)")
    if opts.camera is not None and opts.photo_maker is None:
        raise EvalError("camera needs its photo_maker (reexposure.training.data.camera_case_photo; the CLI sets it)")
    _check_out(opts, ["summary.md", "summary.json"])
    old_threads = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        methods = _build_methods(opts, crf)
        cols = _sheet_methods(methods)
        extra_cols = {k: v for k, v in cols.items() if k not in methods}
        cvvdp = _cvvdp_fn() if opts.cvvdp else None
        start = time.time()
        cases: list[dict[str, Any]] = []
        sheet_rows: dict[float, list[list[np.ndarray]]] = {c: [] for c in opts.clips}
        sheet_names: dict[float, list[str]] = {c: [] for c in opts.clips}
        used: set[str] = set()
        out = Path(opts.out)
        bar = tqdm(total=len(files) * len(opts.clips), desc="eval", unit="case", disable=not opts.progress,
                   file=sys.stderr)
        for path in files:
            name = path.stem if path.stem not in used else f"{path.parent.name}_{path.stem}"
            used.add(name)
            hdr, t = load_scene(path, opts.max_side)
            record: dict[str, Any] = {"scene": name, "file": str(path), "size": [int(hdr.shape[1]), int(hdr.shape[0])],
                                      "crf": opts.crf, "format": opts.format, "clips": []}
            if opts.format == "jpeg":
                record["quality"] = opts.quality
            for clip in opts.clips:
                bar.set_postfix_str(f"{name} {clip:.0%}")
                try:
                    if opts.photo_maker is not None:
                        scale, gt, photo = opts.photo_maker(hdr, clip, name)
                    else:
                        scale, gt, photo = case_photo(hdr, t, clip, crf, opts.format, opts.quality)
                except EvalError as exc:
                    record["clips"].append({"target_share": clip, "skipped": str(exc)})
                    bar.update(1)
                    continue
                results, kept = evaluate_case(gt, photo, methods, crf, opts.evs, keep_ev=SHEET_EV, cvvdp=cvvdp)
                for label, m in extra_cols.items():
                    est = m.radiance(photo, crf)
                    if label != "brightness":
                        est = est * metrics.fit_scale(est, gt, metrics.fit_pixels(
                            crf.inverse(_ldr(photo)), metrics.clipped_region(_ldr(photo))))
                    kept[label] = m.render(est, SHEET_EV, crf, photo)
                region = metrics.clipped_region(_ldr(photo))
                entry = {"target_share": clip, "exposure_scale": scale,
                         "clipped_share": float((photo.max(axis=2) >= 254).mean()),
                         "region_share": float(region.float().mean()), "methods": results}
                record["clips"].append(entry)
                cases.append({"scene": name, "clip": clip, "methods": results})
                sheet_rows[clip].append([_cell(photo, opts.cell)] + [_cell(kept[k], opts.cell) for k in cols]
                                        + [_cell(kept["ground truth"], opts.cell)])
                sheet_names[clip].append(name)
                bar.update(1)
            _write(out / "images" / f"{name}.json", json.dumps(_jsonable(record), indent=1).encode())
        bar.close()
        seconds = time.time() - start
        summary = aggregate(cases)
        worse = worse_than_naive(cases)
        labels = list(methods)
        infos = {k: getattr(m, "info", {}) for k, m in methods.items()}
        doc = {"command": opts.command(), "images": len(files), "cases": len(cases),
               "clips": list(opts.clips), "evs": list(opts.evs), "methods": labels, "crf": opts.crf,
               "format": opts.format, "quality": opts.quality if opts.format == "jpeg" else None,
               "max_side": opts.max_side, "seconds": seconds, "method_info": infos, "means": summary,
               "worse_than_naive": worse}
        check = sanity_check(summary)
        if check is not None:
            doc["sanity_check"] = {"naive_beats_brightness_clipped_ev-2": check[0], "naive_db": check[1],
                                   "brightness_db": check[2]}
        sheets = []
        labels_cols = ["input"] + [f"{k} EV-2" for k in cols] + ["ground truth EV-2"]
        for clip in opts.clips:
            if sheet_rows[clip]:
                img = contact_sheet([list(row) for row in sheet_rows[clip]],
                                    labels_cols, row_labels=sheet_names[clip], cell=opts.cell)
                fn = f"sheet_clip{round(clip * 100):02d}.png"
                _write_png(out / fn, img)
                sheets.append(fn)
        doc["sheets"] = sheets
        _write(out / "summary.json", json.dumps(_jsonable(doc), indent=1).encode())
        _write(out / "summary.md", summary_markdown(summary, opts, labels, len(files), infos, seconds,
                                                    worse, len(cases)).encode())
        return doc
    finally:
        torch.set_num_threads(old_threads)


def photo_files(data: Path) -> list[Path]:
    """The photos (any of the accepted photo extensions, not hidden) directly in folder ``data``, sorted."""
    return sorted(p for p in data.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_INPUT_EXTENSIONS
                  and not p.name.startswith("."))


def run_sheets(opts: EvalOptions) -> dict[str, Any]:
    """Photos without ground truth: comparison sheets at EV -2 and -3 (input, brightness, naive,
    methods) and a short ``summary.md``. Returns a dict of what was written."""
    from PIL import Image
    from tqdm import tqdm

    data = Path(opts.data)
    files = photo_files(data)
    if opts.scenes:
        files = [p for p in files if p.stem in set(opts.scenes)]
    if opts.limit:
        files = files[: opts.limit]
    if not files:
        raise EvalError(f"no photos found in {data}")
    crf = camera.crf_from_name(opts.crf)
    names = [f"sheet_ev{e:+g}.png".replace("+", "") for e in PHOTO_SHEET_EVS]
    _check_out(opts, names + ["summary.md"])
    old_threads = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        cols = _sheet_methods(_build_methods(opts, crf))
        rows: dict[float, list[list[np.ndarray]]] = {e: [] for e in PHOTO_SHEET_EVS}
        for path in tqdm(files, desc="sheets", unit="photo", disable=not opts.progress, file=sys.stderr):
            photo = read_photo(path).rgb8
            h, w = photo.shape[:2]
            if opts.max_side and max(h, w) > opts.max_side:
                f = opts.max_side / max(h, w)
                photo = np.asarray(Image.fromarray(photo).resize((max(2, round(w * f)), max(2, round(h * f))),
                                                                 Image.Resampling.LANCZOS))
            ests = {k: m.radiance(photo, crf) for k, m in cols.items()}
            for e in PHOTO_SHEET_EVS:
                rows[e].append([_cell(photo, opts.cell)] + [_cell(m.render(ests[k], e, crf, photo), opts.cell)
                                                            for k, m in cols.items()])
        out = Path(opts.out)
        for e, fn in zip(PHOTO_SHEET_EVS, names):
            img = contact_sheet([list(r) for r in rows[e]],
                                ["input"] + [f"{k} EV{e:+g}" for k in cols], row_labels=[p.stem for p in files],
                                cell=opts.cell)
            _write_png(out / fn, img)
        md = ["# Comparison sheets (no ground truth)", "", f"- Command: `{opts.command()}`",
              f"- {len(files)} photos from {data}; no HDR file found, so no metrics: sheets only.", ""]
        md += [f"![EV {e:+g}]({fn})" for e, fn in zip(PHOTO_SHEET_EVS, names)]
        _write(out / "summary.md", ("\n".join(md) + "\n").encode())
        return {"sheets": names, "photos": len(files)}
    finally:
        torch.set_num_threads(old_threads)

