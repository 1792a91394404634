"""``reexpose eval --photos DIR``: colour fidelity of highlight reconstruction on ordinary photos.

There is no ground truth for a photo, so these measures ask whether the reconstruction is
*plausible*: a clipped lamp or sky should keep the colour of the unclipped light around it (or
stay neutral), without stripes or colour blotches. Every number is given for ``ours`` (the model
through :class:`reexposure.core.infer.Reconstructor`) and for ``naive`` (the photo linearised with the
inverse camera curve, clipped pixels left at the clip level), so a method score can be read
against the do-nothing answer.

The colour score and the banding share use exactly the definitions of the project's stand-alone
checker ``../shared/tools/photo_colour_check.py`` (so the two report the same numbers on the same
pixels):

- **clipped**: a pixel with any channel at code >= 254 (:data:`CLIP_CODE`).
- **regions**: connected components (4-connectivity) of the clipped mask after a binary closing
  with 2 iterations (``scipy.ndimage.binary_closing(mask, iterations=2)``), kept when they have at
  least ``min_px`` pixels (default 400, :data:`MIN_PX`).
- **ring**: the unclipped pixels 3 to 12 px outside a region (the region dilated 12 times minus
  dilated 3 times, 4-connected structuring element, i.e. city-block distance 4..12, minus the
  clipped mask); a region whose ring has fewer than 20 pixels is skipped (no reference colour).
- **colour score** (degrees): per pixel of the region, the angle between the reconstructed linear
  RGB and the ring's mean linear RGB; the region's score is the 95th percentile of those angles;
  the photo's score is the area-weighted mean over its regions. A colour cast (a lavender lamp, a
  cyan blob in a grey sky) shows as a score far above naive's.
- **banding**: the share of the neighbouring pixel pairs inside the clipped mask (both pixels
  clipped, rows and columns) whose luminance step (mean of the three channels of the radiance,
  after the checker's global scale fit on well-exposed pixels) exceeds ``3 x median step + 0.05``:
  stripes and tile edges. Over the whole clipped mask (not only the kept regions).

One measure is our own:

- **blotch** (share, 0..1): colour blotches inside a region, i.e. colour that varies on a scale
  of a few pixels where a real highlight's colour varies smoothly. The chromaticity
  ``rgb / (r+g+b)`` of the reconstruction is smoothed inside the kept regions only (normalised
  Gaussian convolution with sigma :data:`BLOTCH_SIGMA` = 6 px over the union of the kept regions, so
  the surroundings do not leak in); a region pixel is *blotchy* when the angle between its RGB and
  its smoothed chromaticity exceeds :data:`BLOTCH_DEG` = 3 degrees. The region's blotch share is the
  share of its pixels that are blotchy; the photo's is the area-weighted mean (= the share of all
  region pixels). A smooth reconstruction scores near 0; naive scores only on the partly clipped
  rim where its colour changes quickly.

Photos are read with :func:`reexposure.formats.io.read_photo` (EXIF orientation applied, ICC converted to
sRGB), downscaled to ``--max-side`` (default 1600, Pillow ``thumbnail`` with Lanczos, as the
checker does), and reconstructed with the public API. Outputs in ``--out``: ``summary.json``,
``summary.md`` and ``sheets/<photo>.jpg`` (input | naive EV -2 | ours EV -2 | naive EV -3 | ours
EV -3, and nearest-neighbour zooms of the three largest regions in every column).
"""

from __future__ import annotations

import io as _io
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from ..core import camera
from ..core.arrays import to_uint8
from ..core.camera import CRF
from ..core.infer import Reconstructor
from ..formats.io import read_photo
from ..formats.viz import _font
from .run import EvalError, _jsonable, _write, photo_files

__all__ = ["CLIP_CODE", "MIN_PX", "RING_INNER", "RING_OUTER", "BLOTCH_SIGMA", "BLOTCH_DEG", "SHEET_EVS",
           "angles", "clipped_mask", "find_regions", "Region", "tool_scale", "banding_share", "blotch_map",
           "photo_scores", "PhotoEvalOptions", "prepare_photo", "evaluate_photo", "photo_sheet", "run_photos",
           "summary_line"]

CLIP_CODE = 254
MIN_PX = 400
CLOSING_ITERATIONS = 2
RING_INNER = 3
RING_OUTER = 12
RING_MIN = 20
PERCENTILE = 95
BLOTCH_SIGMA = 6.0
BLOTCH_DEG = 3.0
CAST_MARGIN = 2.0  # degrees: the checker's default --margin
SHEET_EVS = (-2.0, -3.0)
MAX_SIDE = 1600


# --------------------------------------------------------------------------- measures


def angles(px: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Angle in degrees between every RGB row of ``px`` (N,3) and ``ref``: one colour (3,), or one
    colour per row (N,3). Computed in the inputs' float precision (float32 inputs: float32, like
    the checker, whose numbers this reproduces bit for bit)."""
    px = np.asarray(px)
    ref = np.asarray(ref)
    if not np.issubdtype(px.dtype, np.floating):
        px = px.astype(np.float64)
    if not np.issubdtype(ref.dtype, np.floating):
        ref = ref.astype(np.float64)
    if ref.ndim == 1:
        n = np.linalg.norm(px, axis=-1) * np.linalg.norm(ref) + 1e-12
        dot = px @ ref
    else:
        n = np.linalg.norm(px, axis=-1) * np.linalg.norm(ref, axis=-1) + 1e-12
        dot = (px * ref).sum(-1)
    return np.degrees(np.arccos(np.clip(dot / n, -1, 1)))


def clipped_mask(u8: np.ndarray) -> np.ndarray:
    """HxW bool: any channel at code >= :data:`CLIP_CODE`."""
    return np.any(np.asarray(u8) >= CLIP_CODE, axis=-1)


@dataclass
class Region:
    """One clipped region of a photo: ``mask`` and ``ring`` are bool arrays on the crop ``box``
    (a pair of slices into the photo); ``area`` counts the region's pixels."""

    index: int
    area: int
    box: tuple[slice, slice]
    mask: np.ndarray
    ring: np.ndarray

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) of the region's pixels in photo coordinates."""
        ys, xs = np.nonzero(self.mask)
        oy, ox = self.box[0].start, self.box[1].start
        return oy + int(ys.min()), ox + int(xs.min()), oy + int(ys.max()) + 1, ox + int(xs.max()) + 1


def find_regions(u8: np.ndarray, min_px: int = MIN_PX) -> tuple[list[Region], np.ndarray]:
    """The photo's clipped regions with a usable ring (see module docstring), largest first, and
    the clipped mask. The dilations run on a crop around each region (12 px of margin, the same
    result as on the whole image, much faster)."""
    clipped = clipped_mask(u8)
    lab, n = ndimage.label(ndimage.binary_closing(clipped, iterations=CLOSING_ITERATIONS))
    regions: list[Region] = []
    if n == 0:
        return regions, clipped
    areas = ndimage.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
    h, w = clipped.shape
    m = RING_OUTER + 2
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        a = int(areas[i - 1])
        if sl is None or a < min_px:
            continue
        box = (slice(max(0, sl[0].start - m), min(h, sl[0].stop + m)),
               slice(max(0, sl[1].start - m), min(w, sl[1].stop + m)))
        reg = lab[box] == i
        outer = (ndimage.binary_dilation(reg, iterations=RING_OUTER)
                 & ~ndimage.binary_dilation(reg, iterations=RING_INNER))
        ring = outer & ~clipped[box]
        if int(ring.sum()) < RING_MIN:
            continue
        regions.append(Region(i, a, box, reg, ring))
    regions.sort(key=lambda r: -r.area)
    return regions, clipped


def tool_scale(u8: np.ndarray, pred: np.ndarray, lin: np.ndarray) -> float:
    """The checker's global scale for a prediction: median of ``lin / pred`` (channel means) over
    the well-exposed pixels (all channels in (25, 230)), 1.0 with 100 or fewer such pixels. Only
    the banding threshold depends on it (angles do not depend on scale)."""
    well = np.all((u8 > 25) & (u8 < 230), -1)
    if well.sum() <= 100:
        return 1.0
    return float(np.median(lin.mean(-1)[well] / np.maximum(pred.mean(-1)[well], 1e-8)))


def banding_share(pred: np.ndarray, clipped: np.ndarray) -> float:
    """Share of luminance steps between neighbouring clipped pixels larger than 3x the median step
    plus 0.05 (the checker's banding measure; ``pred`` already on the checker's scale)."""
    lum = pred.mean(-1)
    dy, dx = np.abs(np.diff(lum, axis=0)), np.abs(np.diff(lum, axis=1))
    inside_y, inside_x = clipped[1:] & clipped[:-1], clipped[:, 1:] & clipped[:, :-1]
    steps = np.concatenate([dy[inside_y], dx[inside_x]]) if inside_y.any() or inside_x.any() else np.zeros(1)
    med = float(np.median(steps)) + 1e-6
    return float((steps > 3 * med + 0.05).mean())


def blotch_map(pred: np.ndarray, support: np.ndarray, sigma: float = BLOTCH_SIGMA) -> np.ndarray:
    """HxW angle (degrees) between each pixel's RGB and the chromaticity smoothed inside
    ``support`` (normalised Gaussian convolution, ``sigma`` px); 0 outside ``support``."""
    out = np.zeros(support.shape, dtype=np.float64)
    if not support.any():
        return out
    ys, xs = np.nonzero(support)
    m = int(math.ceil(4 * sigma)) + 1
    y0, y1 = max(0, ys.min() - m), min(support.shape[0], ys.max() + 1 + m)
    x0, x1 = max(0, xs.min() - m), min(support.shape[1], xs.max() + 1 + m)
    p = np.asarray(pred[y0:y1, x0:x1], dtype=np.float64)
    s = support[y0:y1, x0:x1]
    chroma = p / np.maximum(p.sum(-1, keepdims=True), 1e-12)
    wgt = ndimage.gaussian_filter(s.astype(np.float64), sigma, mode="constant")
    smooth = np.stack([ndimage.gaussian_filter(chroma[..., c] * s, sigma, mode="constant") for c in range(3)], -1)
    smooth = smooth / np.maximum(wgt, 1e-12)[..., None]
    ang = np.zeros(s.shape)
    ang[s] = angles(p[s], smooth[s])
    out[y0:y1, x0:x1] = ang
    return out


def photo_scores(u8: np.ndarray, preds: dict[str, np.ndarray], min_px: int = MIN_PX,
                 crf: CRF = camera.DEFAULT_CRF) -> dict[str, Any]:
    """All measures of one photo for several predictions.

    ``u8``: HxWx3 uint8 photo; ``preds[label]``: HxWx3 float linear radiance (any scale; the
    naive answer is ``crf.inverse(u8 / 255)``). Returns ``{"n_regions", "clipped_share",
    "region_share", "regions": [{"index", "area", "bbox", "colour": {label: deg},
    "blotch": {label: share}}], "colour": {label: deg}, "banding": {label: share},
    "blotch": {label: share}, "scale": {label: checker scale}}``; photo colour/blotch are NaN when
    no region qualifies."""
    u8 = np.asarray(u8)
    lin = crf.inverse(torch.from_numpy(u8.astype(np.float32) / 255.0)).numpy()
    regions, clipped = find_regions(u8, min_px)
    support = np.zeros(clipped.shape, dtype=bool)
    for r in regions:
        support[r.box] |= r.mask
    res: dict[str, Any] = {"n_regions": len(regions), "clipped_share": float(clipped.mean()),
                           "region_share": float(support.mean()), "regions": [], "colour": {}, "banding": {},
                           "blotch": {}, "scale": {}}
    area = sum(r.area for r in regions)
    rows: list[dict[str, Any]] = [{"index": r.index, "area": r.area, "bbox": list(r.bbox), "colour": {}, "blotch": {}}
                                  for r in regions]
    for label, pred in preds.items():
        pred = np.asarray(pred, dtype=np.float32)
        s = tool_scale(u8, pred, lin)
        res["scale"][label] = s
        pred = pred * s  # as the checker does (angles do not depend on it, their float32 rounding does)
        res["banding"][label] = banding_share(pred, clipped)
        bmap = blotch_map(pred, support)
        so = sb = 0.0
        for r, row in zip(regions, rows):
            p = pred[r.box]
            ref = lin[r.box][r.ring].mean(0)
            c = float(np.percentile(angles(p[r.mask], ref), PERCENTILE))
            b = float((bmap[r.box][r.mask] > BLOTCH_DEG).mean())
            row["colour"][label], row["blotch"][label] = c, b
            so += r.area * c
            sb += r.area * b
        res["colour"][label] = so / area if area else float("nan")
        res["blotch"][label] = sb / area if area else float("nan")
    res["regions"] = rows
    return res


# --------------------------------------------------------------------------- one photo


def prepare_photo(path: str | Path, max_side: int | None = MAX_SIDE) -> np.ndarray:
    """A photo as evaluated: :func:`reexposure.formats.io.read_photo` (orientation, ICC -> sRGB), 8 bits,
    shrunk with Pillow's ``thumbnail`` (Lanczos) to at most ``max_side`` px on its long side."""
    from PIL import Image

    u8 = read_photo(path).rgb8
    if max_side and max(u8.shape[:2]) > max_side:
        im = Image.fromarray(u8)
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        u8 = np.array(im, dtype=np.uint8)
    return u8


def _render(rad: torch.Tensor, ev: float, crf: CRF) -> np.ndarray:
    return to_uint8(camera.render_ldr(rad, ev, crf, None))


def evaluate_photo(u8: np.ndarray, reconstructor: Any, min_px: int = MIN_PX,
                   evs: Sequence[float] = SHEET_EVS) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reconstruct ``u8`` with ``reconstructor`` (a :class:`reexposure.core.infer.Reconstructor`) and
    score ours and naive (:func:`photo_scores`). Returns ``(scores, extras)``; ``extras`` holds
    ``renders[(label, ev)]`` (HWC uint8) and ``regions`` (for the sheet)."""
    crf = reconstructor.crf
    rmap = reconstructor(u8)
    ours = rmap.to_tensor()
    naive = rmap.lin()
    hwc = {"ours": ours[0].permute(1, 2, 0).numpy(), "naive": naive[0].permute(1, 2, 0).numpy()}
    scores = photo_scores(u8, {"ours": hwc["ours"], "naive": hwc["naive"]}, min_px, crf)
    scores["peak"] = {k: float(v.max()) for k, v in hwc.items()}
    renders = {}
    for ev in evs:
        renders[("naive", ev)] = _render(naive, ev, crf)
        renders[("ours", ev)] = rmap.reexpose(ev)
    regions, _ = find_regions(u8, min_px)
    return scores, {"renders": renders, "regions": regions}


def _fmt(x: Any, spec: str = ".2f") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def summary_line(name: str, s: dict[str, Any]) -> str:
    """One line per photo: regions, clipped %, colour score ours/naive, banding, blotch."""
    if s.get("skipped"):
        return f"{name:42s} skipped: {s['skipped']}"
    c, b, bl = s["colour"], s["banding"], s["blotch"]
    flag = "  CAST" if _is_cast(s) else ""
    return (f"{name:42s} regions {s['n_regions']:3d}  clipped {100 * s['clipped_share']:5.2f}%  "
            f"colour p95 ours {_fmt(c.get('ours')):>6s} naive {_fmt(c.get('naive')):>6s} deg  "
            f"banding ours {_fmt(b.get('ours'), '.4f')} naive {_fmt(b.get('naive'), '.4f')}  "
            f"blotch ours {_fmt(bl.get('ours'), '.4f')} naive {_fmt(bl.get('naive'), '.4f')}{flag}")


def _is_cast(s: dict[str, Any], margin: float = CAST_MARGIN) -> bool:
    o, n = s["colour"].get("ours"), s["colour"].get("naive")
    return o is not None and n is not None and math.isfinite(o) and math.isfinite(n) and o > n + margin


# --------------------------------------------------------------------------- contact sheet


ZOOM_COLOURS = ((255, 80, 80), (80, 220, 80), (90, 160, 255))


def _zoom_box(region: Region, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(y0, x0, side, zoom) of a square crop on ``region``: side = bbox + 24 px, clamped to
    [96, 160] and to the photo; zoom 3x for sides up to 106 px, else 2x. Centred on the region pixel
    nearest to its centroid (a non-convex region's centroid can lie outside it)."""
    h, w = shape
    y0b, x0b, y1b, x1b = region.bbox
    side = int(min(max(max(y1b - y0b, x1b - x0b) + 24, 96), 160, h, w))
    ys, xs = np.nonzero(region.mask)
    cy, cx = ys.mean(), xs.mean()
    k = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
    py, px = region.box[0].start + int(ys[k]), region.box[1].start + int(xs[k])
    y0 = int(min(max(0, py - side // 2), h - side))
    x0 = int(min(max(0, px - side // 2), w - side))
    zoom = 3 if side <= 106 else 2
    return y0, x0, side, zoom


def photo_sheet(name: str, u8: np.ndarray, scores: dict[str, Any], extras: dict[str, Any],
                col_width: int = 320, max_zooms: int = 3) -> Any:
    """One photo's contact sheet (PIL image): a title with the summary numbers; a row input |
    naive EV -2 | ours EV -2 | naive EV -3 | ours EV -3; then, for each of the largest
    ``max_zooms`` regions, the same crop of every column enlarged (nearest neighbour, 2-3x), with
    the crop marked on the input."""
    from PIL import Image, ImageDraw

    renders = extras["renders"]
    evs = sorted({ev for _, ev in renders}, reverse=True)
    cols = [("input", u8)]
    for ev in evs:
        cols += [(f"naive EV{ev:+g}", renders[("naive", ev)]), (f"ours EV{ev:+g}", renders[("ours", ev)])]
    h, w = u8.shape[:2]
    f = col_width / w
    top_h = max(1, round(h * f))
    regions = extras["regions"][:max_zooms]
    boxes = [_zoom_box(r, (h, w)) for r in regions]
    pad, title_h, label_h, zlabel_h = 6, 44, 20, 20
    zoom_hs = [side * zoom for _, _, side, zoom in boxes]
    W = pad + len(cols) * (col_width + pad)
    H = title_h + label_h + top_h + pad + sum(zlabel_h + zh + pad for zh in zoom_hs) + pad
    sheet = Image.new("RGB", (W, H), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font, small = _font(15), _font(13)
    line = summary_line(name, scores)
    draw.text((pad, 4), name, fill=(245, 245, 245), font=font)
    draw.text((pad, 24), " ".join(line[len(name):].split()), fill=(200, 200, 200), font=small)
    y = title_h
    for i, (label, _) in enumerate(cols):
        draw.text((pad + i * (col_width + pad) + 2, y + 2), label, fill=(235, 235, 235), font=font)
    y += label_h
    for i, (_, img) in enumerate(cols):
        x = pad + i * (col_width + pad)
        sheet.paste(Image.fromarray(img).resize((col_width, top_h), Image.Resampling.LANCZOS), (x, y))
    for j, (y0, x0, side, _) in enumerate(boxes):  # crops marked on the input
        c = ZOOM_COLOURS[j % len(ZOOM_COLOURS)]
        r = [pad + x0 * f, y + y0 * f, pad + (x0 + side) * f - 1, y + (y0 + side) * f - 1]
        draw.rectangle(r, outline=c, width=2)
        draw.text((r[0] + 3, r[1] + 1), str(j + 1), fill=c, font=small)
    y += top_h + pad
    for j, ((y0, x0, side, zoom), reg) in enumerate(zip(boxes, scores["regions"][:max_zooms])):
        c = ZOOM_COLOURS[j % len(ZOOM_COLOURS)]
        txt = (f"{j + 1}: region of {reg['area']} px, colour p95 ours {_fmt(reg['colour'].get('ours'), '.1f')} "
               f"naive {_fmt(reg['colour'].get('naive'), '.1f')} deg, blotch ours "
               f"{_fmt(reg['blotch'].get('ours'), '.3f')} naive {_fmt(reg['blotch'].get('naive'), '.3f')}; "
               f"zoom {zoom}x")
        draw.text((pad, y + 3), txt, fill=c, font=small)
        y += zlabel_h
        for i, (_, img) in enumerate(cols):
            crop = Image.fromarray(np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side]))
            crop = crop.resize((side * zoom, side * zoom), Image.Resampling.NEAREST)
            x = pad + i * (col_width + pad) + (col_width - side * zoom) // 2
            sheet.paste(crop, (x, y))
        y += side * zoom + pad
    return sheet


# --------------------------------------------------------------------------- run


@dataclass
class PhotoEvalOptions:
    """``reexpose eval --photos``: what one run needs."""

    photos: Path
    out: Path
    model: str | None = None
    max_side: int | None = MAX_SIDE
    min_px: int = MIN_PX
    crf: str = "sqrt"
    threads: int | None = None
    limit: int | None = None
    force: bool = False
    progress: bool = True
    sheets: bool = True
    model_object: Any = field(default=None, repr=False)  # a GatedUNet in memory (tests, API)

    def command(self) -> str:
        parts = ["reexpose", "eval", "--photos", str(self.photos)]
        if self.model:
            parts += ["--model", str(self.model)]
        if self.max_side != MAX_SIDE:
            parts += ["--max-side", str(self.max_side)]
        if self.min_px != MIN_PX:
            parts += ["--min-px", str(self.min_px)]
        if self.limit:
            parts += ["--limit", str(self.limit)]
        return " ".join(parts + ["--out", str(self.out)])


def check_out(out: Path, data: Path, force: bool, names: Sequence[str]) -> None:
    """Refuse to write into ``data`` or over earlier results without ``force`` (``EvalError``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EvalError(f"output {out} exists and is not a folder")
    if out.resolve() == Path(data).resolve():
        raise EvalError("--out must not be the data folder (results would mix with the inputs)")
    if not force:
        for n in names:
            if (out / n).exists():
                raise EvalError(f"{out / n} already exists; pass --force to replace the results in {out}")


def finite_mean(vals: Sequence[float]) -> float:
    """Mean of the finite values (``None`` and NaN skipped); NaN when none is left."""
    v = [x for x in vals if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def aggregate(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Means over scored photos (equal weight per photo) and the photos with a cast (ours' colour
    score above naive's by more than :data:`CAST_MARGIN` degrees, the checker's ``--margin``)."""
    scored = {k: s for k, s in rows.items() if not s.get("skipped")}
    out: dict[str, Any] = {"photos": len(scored), "skipped": len(rows) - len(scored)}
    for key in ("colour", "banding", "blotch"):
        out[key] = {m: finite_mean([s[key][m] for s in scored.values()]) for m in ("ours", "naive")}
    out["casts"] = [k for k, s in scored.items() if _is_cast(s)]
    out["ours_better_colour"] = sum(1 for s in scored.values()
                                    if math.isfinite(s["colour"]["ours"])
                                    and s["colour"]["ours"] < s["colour"]["naive"])
    return out


def total_line(agg: dict[str, Any]) -> str:
    c, b, bl = agg["colour"], agg["banding"], agg["blotch"]
    return (f"photos: {agg['photos']} scored ({agg['skipped']} skipped), mean colour p95 ours {_fmt(c['ours'])} "
            f"naive {_fmt(c['naive'])} deg, banding ours {_fmt(b['ours'], '.4f')} naive {_fmt(b['naive'], '.4f')}, "
            f"blotch ours {_fmt(bl['ours'], '.4f')} naive {_fmt(bl['naive'], '.4f')}; casts (ours > naive + "
            f"{CAST_MARGIN:g} deg): {len(agg['casts'])} {' '.join(agg['casts'])}".rstrip())


def _markdown(opts: PhotoEvalOptions, rows: dict[str, dict[str, Any]], agg: dict[str, Any], info: dict[str, Any],
              seconds: float, sheets: dict[str, str]) -> str:
    lines = ["# Colour fidelity on photos without ground truth", "",
             f"- Command: `{opts.command()}`",
             f"- Model: {info.get('path', '?')}"
             + (f" ({info['description'][:120]})" if info.get("description") else ""),
             f"- {len(rows)} photos from {opts.photos}; long side <= {opts.max_side} px; regions >= {opts.min_px} px; "
             f"wall time {seconds:.0f} s",
             "- colour: 95th percentile of the per-pixel angle (degrees) between the reconstruction and the mean "
             f"colour of the unclipped ring {RING_INNER}-{RING_OUTER} px outside each clipped region (area-weighted "
             "over regions; lower = closer to the surrounding light). banding: share of luminance steps inside the "
             "clipped area above 3x the median step + 0.05. blotch: share of region pixels whose colour is more than "
             f"{BLOTCH_DEG:g} deg from the region's chromaticity smoothed with sigma {BLOTCH_SIGMA:g} px. "
             "Definitions: `reexposure.eval.photos`; colour and banding match ../shared/tools/photo_colour_check.py.",
             "", "| photo | regions | clipped % | colour ours | colour naive | banding ours | banding naive "
             "| blotch ours | blotch naive |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in rows.items():
        if s.get("skipped"):
            lines.append(f"| {name} | skipped: {s['skipped']} | | | | | | | |")
            continue
        lines.append(f"| {name} | {s['n_regions']} | {100 * s['clipped_share']:.2f} | {_fmt(s['colour']['ours'])} "
                     f"| {_fmt(s['colour']['naive'])} | {_fmt(s['banding']['ours'], '.4f')} "
                     f"| {_fmt(s['banding']['naive'], '.4f')} | {_fmt(s['blotch']['ours'], '.4f')} "
                     f"| {_fmt(s['blotch']['naive'], '.4f')} |")
    c, b, bl = agg["colour"], agg["banding"], agg["blotch"]
    lines.append(f"| **mean** ({agg['photos']}) | | | **{_fmt(c['ours'])}** | **{_fmt(c['naive'])}** "
                 f"| {_fmt(b['ours'], '.4f')} | {_fmt(b['naive'], '.4f')} | {_fmt(bl['ours'], '.4f')} "
                 f"| {_fmt(bl['naive'], '.4f')} |")
    lines += ["", total_line(agg), ""]
    if sheets:
        lines += ["## Sheets", "", "input | naive EV-2 | ours EV-2 | naive EV-3 | ours EV-3; below, the three "
                  "largest regions enlarged (nearest neighbour).", ""]
        lines += [f"- [{n}]({p})" for n, p in sheets.items()]
    return "\n".join(lines) + "\n"


def run_photos(opts: PhotoEvalOptions, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every photo of ``opts.photos`` (see module docstring); writes ``summary.json``,
    ``summary.md`` and the sheets in ``opts.out``; returns the summary dict. ``echo`` receives one
    line per photo and the total line."""
    from tqdm import tqdm

    folder = Path(opts.photos)
    if not folder.is_dir():
        raise EvalError(f"photo folder {folder} does not exist or is not a folder")
    files = photo_files(folder)
    if opts.limit:
        files = files[: opts.limit]
    if not files:
        raise EvalError(f"no photos (JPEG/PNG/TIFF/WebP/HEIC) found in {folder}")
    if opts.max_side is not None and opts.max_side < 16:
        raise EvalError(f"--max-side must be at least 16, got {opts.max_side}")
    check_out(opts.out, folder, opts.force, ["summary.json", "summary.md"])
    crf = camera.crf_from_name(opts.crf)
    rec = Reconstructor(opts.model_object if opts.model_object is not None else opts.model, crf=crf,
                        threads=opts.threads)
    info = {k: str(v) for k, v in rec.info.items() if k != "config" and len(str(v)) < 300}
    out = Path(opts.out)
    start = time.time()
    rows: dict[str, dict[str, Any]] = {}
    sheets: dict[str, str] = {}
    used: set[str] = set()
    say = echo or (lambda s: None)
    bar = tqdm(files, desc="photos", unit="photo", disable=not opts.progress, file=sys.stderr)
    for path in bar:
        name = path.stem if path.stem not in used else path.name
        used.add(name)
        bar.set_postfix_str(name[:30])
        u8 = prepare_photo(path, opts.max_side)
        if not clipped_mask(u8).any():
            s: dict[str, Any] = {"file": str(path), "size": [u8.shape[1], u8.shape[0]],
                                 "skipped": "no clipped pixel (code >= 254)"}
        else:
            s, extras = evaluate_photo(u8, rec, opts.min_px)
            s = {"file": str(path), "size": [u8.shape[1], u8.shape[0]], **s}
            if s["n_regions"] == 0:
                s["skipped"] = f"no clipped region of >= {opts.min_px} px with a ring"
            if opts.sheets:
                rel = f"sheets/{name}.jpg"
                buf = _io.BytesIO()
                photo_sheet(name, u8, s, extras).save(buf, format="JPEG", quality=90)
                _write(out / rel, buf.getvalue())
                sheets[name] = rel
                s["sheet"] = rel
        rows[name] = s
        line = summary_line(name, s)
        say(line)
    bar.close()
    agg = aggregate(rows)
    seconds = time.time() - start
    doc = {"command": opts.command(), "mode": "photos", "data": str(folder), "max_side": opts.max_side,
           "min_px": opts.min_px, "crf": opts.crf, "model": info, "seconds": seconds,
           "definitions": {"clip_code": CLIP_CODE, "closing_iterations": CLOSING_ITERATIONS,
                           "ring_px": [RING_INNER, RING_OUTER], "ring_min_px": RING_MIN, "percentile": PERCENTILE,
                           "blotch_sigma_px": BLOTCH_SIGMA, "blotch_deg": BLOTCH_DEG, "cast_margin_deg": CAST_MARGIN},
           "photos": rows, "means": agg}
    _write(out / "summary.json", json.dumps(_jsonable(doc), indent=1).encode())
    _write(out / "summary.md", _markdown(opts, rows, agg, info, seconds, sheets).encode())
    say(total_line(agg))
    return doc
