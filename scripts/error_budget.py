"""Where the model's remaining error is: held-out clipped-region scores of the model against
what-ifs, scored by `reexpose eval`'s own code (``evaluate_case``) on the same cases.

    python scripts/error_budget.py --data ../shared/data/hdr
    python scripts/error_budget.py --data ../shared/data/hdr --format jpeg --convex 0.5,0.7 --convex 1,1
    python scripts/error_budget.py --data ../shared/data/hdr --format jpeg --png-mask --luma-weight 249,254
    python scripts/error_budget.py --data ../shared/data/hdr --interior close:16 --interior profile

Methods, each scored as in `reexpose eval` (the held-out scenes x 2/8/20% clipped, square-root CRF,
long side ``--side``): ``naive``; ``ours`` (``--weights``, default the shipped model); ``ours + true
lights``: ours with the pixels whose true radiance is at least ``--light`` times the clip level
(default 4: still white at EV -2) and their 8 neighbours replaced by the truth, i.e. what a model
that got only the light sources right would score; ``ours, convex A,T`` (per ``--convex``): the log
boost ``b`` remapped to ``b + A * max(b - T, 0)``, a post-hoc push of the boosts the model already
believes are large; ``ours, true level per area`` (``--area-levels``): ours with the brightness of
each fully clipped area (8-connected pixels whose three channels clipped) scaled by one factor, the
ratio of the truth's median to the model's there (never below naive), i.e. what a perfect decision
per clipped area (lamp or wall, how bright) would add to the model's pattern inside it;
``ours, the PNG rendition's mask`` (``--png-mask``, for ``--format jpeg``): the network's output
for the JPEG blended with the per-channel saturation mask of the same case rendered as PNG, i.e.
how much of the JPEG inputs' deficit is the mask the blend sees (JPEG's ringing and 4:2:0 chroma
pull one channel of small clipped lamps below the clip); ``ours, luma weight LO-HI`` (per
``--luma-weight LO,HI``): an all-clipped weight that also counts pixels whose luma (which 4:2:0
keeps at full resolution) reaches codes LO to HI;
``ours, interior close:R`` / ``ours, interior profile`` (per ``--interior``): the network's log
brightness inside each fully clipped area changed before the blend, by a grey-scale closing of
radius R px within the area (dips narrower than the square filled, peaks kept) or by its mean per
band of depth into the area (the pattern across the area dropped), i.e. what the network's pattern
inside clipped areas is worth (MODEL_CARD.md "Twelfth session");
``ours, two-scale`` (``--two-scale``): the mean of the log boost of the photo
and that of the photo upsampled 2x (bilinear; its boost area-averaged back), a test-time
average over two scales (the network sees objects twice as large, as in most training crops);
``ours at Fx`` (per ``--upscale F``): the model run on the photo resized by F alone; ``ours + W``
(per ``--ensemble W[,W...]``): the mean log boost of the model and the listed weights, an
output-space ensemble.

``--camera SEED`` renders the cases as `reexpose eval --camera SEED` does (the training's
camera-like JPEG engine; closer to real photos than ``--format jpeg``'s plain 4:2:0 q90 JPEG, on
which a JPEG-specific what-if can look better than it does on real brackets: MODEL_CARD.md,
"Eighth session").

Prints the means over cases of the clipped-region PSNR gain over naive at EV -2 and -3, the
texture ratio at EV -2 and lights kept (``reexpose eval``'s), and the number of cases worse than
naive by more than 0.5 dB at EV -2 or -3 (markdown). With ``--crops N``, also how bright the model
makes the clipped pixels of N training crops (the training scenes, default pair settings) per band of their true
radiance: a model that tells a lamp from a white wall predicts more where the truth is brighter.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from reexposure.core import camera
from reexposure.core.arrays import uint8_to_ldr
from reexposure.core.camera import CRF, DEFAULT_CRF
from reexposure.core.infer import RadianceMap, Reconstructor
from reexposure.core.model.blend import _max_square, all_clipped_weight, blend_parts, radiance_at
from reexposure.core.weights import ModelError, load_generator
from reexposure.eval.baselines import Method, Naive, Ours
from reexposure.eval.run import evaluate_case
from reexposure.formats.scenes import holdout_scenes
from reexposure.training.data import DataConfig, DataError, HDRPairs, find_hdr_files
from reexposure.training.trainer import TrainConfig, validation_scenes


def _log_boost(radiance: torch.Tensor, lin: torch.Tensor) -> torch.Tensor:
    """``log(radiance / lin)`` where the naive radiance ``lin`` is above 0, else 0."""
    return torch.where(lin > 0, torch.log(radiance.clamp_min(1e-12) / lin.clamp_min(1e-12)), torch.zeros_like(lin))


class TrueLights(Method):
    """``base``'s radiance with the truth pasted where the truth is at least ``level`` (max over
    channels, 1-pixel dilation): a what-if, it needs the ground truth of the case."""

    def __init__(self, base: Method, truth: torch.Tensor, level: float) -> None:
        self.base, self.name = base, "ours + true lights"
        bright = truth.amax(1, keepdim=True) >= level
        self.where = F.max_pool2d(bright.float(), 3, stride=1, padding=1) > 0
        self.truth = truth

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        return torch.where(self.where, self.truth, self.base.radiance(photo, crf))


def clipped_areas(photo: np.ndarray) -> np.ndarray:
    """Labels (H,W) int of the 8-connected areas of an HxWx3 uint8 photo whose three channels
    clipped (per-channel saturation mask >= 0.5, codes of about 250 and up); 0 elsewhere."""
    from scipy import ndimage

    full = camera.saturation_mask(uint8_to_ldr(photo), dilate=0, per_channel=True)[0].amin(0).numpy() >= 0.5
    return ndimage.label(full, structure=np.ones((3, 3)))[0]


def scale_areas(est: torch.Tensor, lin: torch.Tensor, labels: np.ndarray,
                log_factors: dict[int, float]) -> torch.Tensor:
    """``est`` (1,3,H,W) with each area ``i`` of ``labels`` (H,W) in ``log_factors`` multiplied by
    ``exp(log_factors[i])``, never below the naive radiance ``lin`` there; every other pixel is
    ``est``'s exactly."""
    gain = np.zeros(labels.shape, np.float32)
    touched = np.zeros(labels.shape, bool)
    for i, c in log_factors.items():
        area = labels == i
        gain[area], touched[area] = c, True
    scaled = torch.maximum(est * torch.exp(torch.from_numpy(gain)), lin)
    return torch.where(torch.from_numpy(touched), scaled, est)


class TrueAreaLevels(Method):
    """``base``'s radiance with each fully clipped area (8-connected pixels whose three channels are
    at or above the clip, per-channel mask >= 0.5) scaled by ``exp(median log t - median log e)``
    (``t``, ``e``: the truth's and ``base``'s max channel over the area), never below the naive
    radiance: a what-if, it needs the ground truth of the case."""

    def __init__(self, base: Method, truth: torch.Tensor) -> None:
        self.base, self.truth, self.name = base, truth, "ours, true level per area"

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        labels = clipped_areas(photo)
        est = self.base.radiance(photo, crf)
        log_est = torch.log(est[0].amax(0).clamp_min(1e-6))
        log_truth = torch.log(self.truth[0].amax(0).clamp_min(1e-6))
        factors: dict[int, float] = {}
        for i in range(1, int(labels.max()) + 1):
            area = torch.from_numpy(labels == i)
            factors[i] = float(log_truth[area].median() - log_est[area].median())
        return scale_areas(est, crf.inverse(uint8_to_ldr(photo)), labels, factors)


class Convex(Method):
    """``base``'s log boost ``b = log(radiance / naive)`` remapped to ``b + a * max(b - t, 0)``."""

    def __init__(self, base: Method, a: float, t: float) -> None:
        self.base, self.a, self.t, self.name = base, a, t, f"ours, convex {a:g},{t:g}"

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        lin = Naive().radiance(photo, crf)
        est = self.base.radiance(photo, crf)
        b = _log_boost(est, lin)
        return lin * torch.exp(b + self.a * torch.relu(b - self.t))


def network_boost(rec: Reconstructor, photo: np.ndarray, crf: CRF, factor: float = 1.0) -> torch.Tensor:
    """The network's log boost ``o`` (before the mask) for ``photo`` resized by ``factor``
    (bilinear), brought back to the photo's grid (area-averaged when enlarged), (1,3,H,W)."""
    from PIL import Image

    h, w = photo.shape[:2]
    img = photo if factor == 1 else np.asarray(
        Image.fromarray(photo).resize((round(factor * w), round(factor * h)), Image.BILINEAR))
    rec.crf = crf
    rmap = rec(img)
    if not rmap.boosts:
        return torch.zeros(1, 2 if rec.model.config.head == "guided" else 3, h, w)
    o = rmap.network_boost()[None]
    if o.shape[-2:] != (h, w):
        o = F.interpolate(o, size=(h, w), mode="area" if o.shape[-1] > w else "bilinear")
    return o


class MeanBoost(Method):
    """The mean network boost ``o`` of several (reconstructor, resize factor) runs, composed as
    the pipeline composes one: the photo's own :class:`RadianceMap` from the first run's
    reconstructor (its surroundings' colour, share field and blend settings; float16 storage) with
    the mean in place of its network output: an output-space ensemble and/or a test-time average
    over scales. One run at factor 1 is exactly the model. Photos that the pipeline runs on a
    coarser working grid are not supported (as :class:`BlendWhatIf`)."""

    def __init__(self, runs: list[tuple[Reconstructor, float]], name: str) -> None:
        self.runs, self.name = runs, name

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        rec = self.runs[0][0]
        rec.crf = crf
        base = rec(photo)
        if not base.boosts:
            return base.to_tensor()
        if base.scale != 1:
            raise ValueError("MeanBoost needs a photo the network sees at full size")
        o = torch.stack([network_boost(r, photo, crf, f) for r, f in self.runs]).mean(0)[0]
        return dataclasses.replace(base, boosts={(0, 0): o.numpy().astype(np.float16)}).to_tensor()


def luma_clipped(photo: np.ndarray, lo: float, hi: float) -> torch.Tensor:
    """How surely a pixel's luma clipped, (1,1,H,W) in [0,1]: a ramp from 0 at ``lo`` to 1 at ``hi``
    (8-bit codes) of ``0.299 R + 0.587 G + 0.114 B`` of an HxWx3 uint8 photo (the JPEG's own luma,
    which its 4:2:0 chroma subsampling leaves at full resolution)."""
    ldr = uint8_to_ldr(photo).double() * 255.0
    y = 0.299 * ldr[:, :1] + 0.587 * ldr[:, 1:2] + 0.114 * ldr[:, 2:]
    return ((y - lo) / (hi - lo)).clamp(0.0, 1.0).float()


def _full_size_map(rec: Reconstructor, photo: np.ndarray, crf: CRF,
                   who: str) -> tuple[RadianceMap, torch.Tensor, torch.Tensor | None]:
    """The pipeline's map of ``photo`` for a what-if that re-blends it at full size: ``(map, lin,
    chroma)``, the chroma (1,3,H,W) None when nothing clipped (then ``lin`` is the answer).
    ``ValueError`` naming ``who`` for a photo on a coarser working grid or a head without colour."""
    rec.crf = crf
    rmap = rec(photo)
    lin = crf.inverse(uint8_to_ldr(photo))
    if not rmap.boosts:
        return rmap, lin, None
    if rmap.scale != 1 or rmap.chroma is None:
        raise ValueError(f"{who} needs a guided head on a photo the network sees at full size")
    return rmap, lin, torch.from_numpy(rmap.chroma.astype(np.float32))[None]


class BlendWhatIf(Method):
    """The network's output for the photo as the pipeline computes it, blended with another mask:
    ``mask_photo``'s per-channel saturation mask (the same case rendered without JPEG: how much of
    the JPEG inputs' deficit is the mask the blend sees), and/or an all-clipped weight that also
    counts pixels whose luma clipped (``luma``: ramp ``(lo, hi)`` in codes, :func:`luma_clipped`).
    Photos that the pipeline runs on a coarser working grid are not supported (``--side`` up to
    about 2,000 px)."""

    def __init__(self, rec: Reconstructor, name: str, mask_photo: np.ndarray | None = None,
                 luma: tuple[float, float] | None = None) -> None:
        self.rec, self.name, self.mask_photo, self.luma = rec, name, mask_photo, luma

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        rmap, lin, chroma = _full_size_map(self.rec, photo, crf, "BlendWhatIf")
        if chroma is None:
            return lin
        source = photo if self.mask_photo is None else self.mask_photo
        mask = camera.saturation_mask(uint8_to_ldr(source), dilate=0, per_channel=True)
        head = rmap.output()
        guide, log_gain = blend_parts(lin, mask, head, chroma, rmap.colour_max, rmap.share_radius,
                                      fill=rmap.fill_channels)
        if self.luma is not None:
            every = torch.maximum(mask.amin(1, keepdim=True), luma_clipped(source, *self.luma))
            weight = all_clipped_weight(mask, every, rmap.share_radius, fill=rmap.fill_channels)
            log_gain = weight * head[:, :1].clamp_min(0.0)
        return radiance_at(guide, log_gain)


def close_per_area(log_bright: np.ndarray, labels: np.ndarray, radius: int) -> np.ndarray:
    """``log_bright`` (H,W) with a grey-scale closing (square of side ``2 radius + 1``) inside each
    area of ``labels`` (H,W int, 0 = none) on its own: dips narrower than the square are filled up to
    their surroundings, peaks and ramps are kept, nothing falls. Pixels outside the areas are never
    read, and one area never raises another (a closing over the whole image carries a sun's level
    into every clipped area within ``radius``)."""
    from scipy import ndimage

    out = log_bright.copy()
    big = 1e4
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        inside = torch.from_numpy(labels[sl] == i)[None, None]
        x = torch.from_numpy(out[sl].astype(np.float32))[None, None]
        grown = torch.where(inside, _max_square(torch.where(inside, x, torch.full_like(x, -big)), radius),
                            torch.full_like(x, big))
        closed = -_max_square(-grown, radius)
        out[sl] = torch.where(inside, torch.maximum(x, closed), x)[0, 0].numpy()
    return out


def depth_profile(log_bright: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``log_bright`` (H,W) with each area of ``labels`` replaced by its mean per 1 px band of depth
    (distance to the nearest pixel outside the area; the image border is not an outline), smoothed
    over three bands: the network's brightness as a function of depth alone, its pattern across
    the area dropped."""
    from scipy import ndimage

    out = log_bright.copy()
    pad = 64
    depth = ndimage.distance_transform_edt(np.pad(labels > 0, pad, mode="edge"))[pad:-pad, pad:-pad]
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        inside = labels[sl] == i
        d, v = depth[sl][inside], out[sl][inside]
        band = np.floor(d).astype(int)
        count = np.bincount(band)
        mean = np.bincount(band, weights=v) / np.maximum(count, 1)
        xs = np.arange(len(mean))
        mean = np.interp(xs, xs[count > 0], mean[count > 0])
        mean = np.convolve(np.pad(mean, 1, mode="edge"), np.ones(3) / 3, mode="valid")
        area = out[sl]
        area[inside] = np.interp(d, xs, mean)
    return out


class InteriorWhatIf(Method):
    """The network's log brightness inside each fully clipped area (:func:`clipped_areas`) changed
    before the blend: ``close:R`` (:func:`close_per_area`) or ``profile`` (:func:`depth_profile`).
    Photos that the pipeline runs on a coarser working grid are not supported (as
    :class:`BlendWhatIf`)."""

    def __init__(self, rec: Reconstructor, spec: str) -> None:
        kind, _, radius = spec.partition(":")
        if kind not in ("close", "profile") or (kind == "close") != radius.isdigit():
            raise ValueError(spec)
        self.rec, self.kind, self.radius, self.name = rec, kind, int(radius or 0), f"ours, interior {spec}"

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        rmap, lin, chroma = _full_size_map(self.rec, photo, crf, "InteriorWhatIf")
        if chroma is None:
            return lin
        head = rmap.output().clone()
        labels = clipped_areas(photo)
        bright = head[0, 0].numpy()
        bright = close_per_area(bright, labels, self.radius) if self.kind == "close" else depth_profile(bright, labels)
        head[0, 0] = torch.from_numpy(bright)
        mask = camera.saturation_mask(uint8_to_ldr(photo), dilate=0, per_channel=True)
        return radiance_at(*blend_parts(lin, mask, head, chroma, rmap.colour_max, rmap.share_radius,
                                         fill=rmap.fill_channels))


class Cached(Method):
    """``base``'s radiance for one photo, computed once (the what-ifs all start from it)."""

    def __init__(self, base: Method) -> None:
        self.base, self.name, self.value = base, base.name, None

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        if self.value is None:
            self.value = self.base.radiance(photo, crf)
        return self.value


def crop_calibration(data: Path, weights: str | None, n: int, exclude: tuple[str, ...], seed: int = 11) -> None:
    """Print, per band of true radiance (x clip level, max-channel mask > 0.5), the number of
    clipped pixels of ``n`` training crops (the scenes not in ``exclude``) and the model's median
    prediction there."""
    files = find_hdr_files(data, exclude=exclude)
    if not files:
        raise DataError(f"no training scenes under {data}")
    pairs = HDRPairs(files, DataConfig(), seed=seed, length=n)
    G = load_generator(weights)[0].eval()
    preds, truths = [], []
    with torch.no_grad():
        for start in tqdm(range(0, n, 16), desc="crops"):
            items = [pairs[i] for i in range(start, min(n, start + 16))]
            ldr = torch.stack([it["ldr"] for it in items])
            target = torch.stack([it["radiance"] for it in items])
            lin, mask = DEFAULT_CRF.inverse(ldr), camera.saturation_mask(ldr, per_channel=True)
            pred = G.radiance(lin, mask)
            sel = (mask > 0.5) & (target >= 1.0)
            preds.append(pred[sel])
            truths.append(target[sel])
    p, t = torch.log2(torch.cat(preds).clamp_min(1e-6)), torch.log2(torch.cat(truths))
    print(f"\n{n} training crops: clipped pixels (mask > 0.5) by true radiance\n")
    print("| truth (x clip) | pixels | median prediction |\n|---|---:|---:|")
    for lo, hi in ((0, 1), (1, 2), (2, 3), (3, 5), (5, 7), (7, 10), (10, None)):
        s = (t >= lo) if hi is None else (t >= lo) & (t < hi)
        band = f">= {2 ** lo:g}" if hi is None else f"{2 ** lo:g}-{2 ** hi:g}"
        if s.any():
            print(f"| {band} | {int(s.sum())} | {2 ** float(p[s].median()):.2f} |")
    bright = t >= 3
    if bright.sum() > 1:
        r = float(torch.corrcoef(torch.stack([p[bright], t[bright]]))[0, 1])
        print(f"\ncorrelation of log prediction and log truth where the truth is >= 8x: {r:.3f}")


def _mean_or_dash(values: np.ndarray) -> str:
    """The mean of the finite values (3 decimals), ``-`` if there are none (no case had a light)."""
    finite = values[np.isfinite(values)]
    return f"{finite.mean():.3f}" if finite.size else "-"


def held_out_table(args: argparse.Namespace, scenes: tuple[str, ...], convex: list[tuple[float, ...]],
                   luma: list[tuple[float, ...]]) -> None:
    """Score the methods on the held-out cases and print the table (exits if none are found)."""
    config = TrainConfig(data=str(args.data), val_side=args.side, holdout=scenes)
    cases = validation_scenes(config, args.format, args.camera)
    if not cases:
        sys.exit(f"error_budget: error: none of the scenes {args.scenes} found under {args.data}")
    pngs = validation_scenes(config, "png") if args.png_mask else []
    ours = Ours(args.weights, threads=args.threads)
    others = {w: Ours(w, threads=args.threads).rec for spec in args.ensemble for w in spec.split(",")}
    scores: dict[str, list[tuple[float, ...]]] = {}
    for case in tqdm(cases, desc="cases"):
        base = Cached(ours)
        methods: dict[str, Method] = {"naive": Naive(), "ours": base}
        methods["ours + true lights"] = TrueLights(base, case["radiance"], args.light)
        if args.area_levels:
            methods["ours, true level per area"] = TrueAreaLevels(base, case["radiance"])
        if args.png_mask:
            png = next(p["photo"] for p in pngs if (p["name"], p["clip"]) == (case["name"], case["clip"]))
            methods["ours, the PNG rendition's mask"] = BlendWhatIf(ours.rec, "png mask", mask_photo=png)
        for lo, hi in luma:
            methods[f"ours, luma weight {lo:g}-{hi:g}"] = BlendWhatIf(ours.rec, "luma", luma=(lo, hi))
        for spec in args.interior:
            methods[f"ours, interior {spec}"] = InteriorWhatIf(ours.rec, spec)
        for a, t in convex:
            m = Convex(base, a, t)
            methods[m.name] = m
        if args.two_scale:
            methods["ours, two-scale"] = MeanBoost([(ours.rec, 1.0), (ours.rec, 2.0)], "ours, two-scale")
        for factor in args.upscale:
            methods[f"ours at {factor:g}x"] = MeanBoost([(ours.rec, factor)], f"ours at {factor:g}x")
        for spec in args.ensemble:
            runs = [(ours.rec, 1.0)] + [(others[w], 1.0) for w in spec.split(",")]
            methods[f"ours + {spec}"] = MeanBoost(runs, f"ours + {spec}")
        res, _ = evaluate_case(case["radiance"], case["photo"], methods, evs=(-2.0, -3.0))
        naive = res["naive"]["ev"]
        for label, r in res.items():
            if label == "naive":
                continue
            ev = r["ev"]
            scores.setdefault(label, []).append((ev["-2"]["psnr_clipped"] - naive["-2"]["psnr_clipped"],
                                                 ev["-3"]["psnr_clipped"] - naive["-3"]["psnr_clipped"],
                                                 ev["-2"]["texture_clipped"], r["lights_kept"]))
    kind = args.format if args.camera is None else f"camera-like (seed {args.camera})"
    print(f"{len(cases)} cases, {kind}, long side {args.side} px; gains over naive in dB\n")
    print("| method | clipped EV-2 | clipped EV-3 | texture EV-2 | lights kept | cases < naive - 0.5 dB |\n"
          "|---|---:|---:|---:|---:|---:|")
    for label, rows in scores.items():
        a = np.array(rows, dtype=float)
        worse = int((a[:, :2].min(1) < -0.5).sum())
        print(f"| {label} | {a[:, 0].mean():+.2f} | {a[:, 1].mean():+.2f} | {np.nanmean(a[:, 2]):.3f} | "
              f"{_mean_or_dash(a[:, 3])} | {worse} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="HDR folder holding the held-out scenes")
    ap.add_argument("--weights", default=None, help="generator weights (default: the shipped model)")
    ap.add_argument("--format", default="png", choices=("png", "jpeg"))
    ap.add_argument("--camera", type=int, default=None, metavar="SEED",
                    help="render the cases as `reexpose eval --camera SEED` does (camera-like JPEGs; "
                         "--format is then ignored)")
    ap.add_argument("--scenes", default=",".join(holdout_scenes()), help="comma-separated scene names "
                    "(default: the documented hold-out list; empty with --crops: only the crop table)")
    ap.add_argument("--side", type=int, default=512, help="long side of the scenes, px (as eval --max-side)")
    ap.add_argument("--light", type=float, default=4.0, help="true radiance (x clip level) counted as a light")
    ap.add_argument("--convex", action="append", default=[], metavar="A,T", help="add a convex remap (repeatable)")
    ap.add_argument("--area-levels", action="store_true",
                    help="add the what-if with each fully clipped area at the truth's median level")
    ap.add_argument("--png-mask", action="store_true",
                    help="add the what-if blending each case with its PNG rendition's mask (for --format jpeg)")
    ap.add_argument("--luma-weight", action="append", default=[], metavar="LO,HI",
                    help="add the what-if whose all-clipped weight also counts pixels whose luma reaches "
                         "codes LO-HI (repeatable)")
    ap.add_argument("--interior", action="append", default=[], metavar="close:R|profile",
                    help="add the what-if that changes the network's brightness inside each fully clipped "
                         "area: a closing of radius R px (fills dips), or its mean by depth alone (repeatable)")
    ap.add_argument("--two-scale", action="store_true", help="add the two-scale test-time average")
    ap.add_argument("--upscale", type=float, action="append", default=[], metavar="F",
                    help="add the model run on the photo resized by F (repeatable)")
    ap.add_argument("--ensemble", action="append", default=[], metavar="W[,W...]",
                    help="add the mean log boost of the model and these weights (repeatable)")
    ap.add_argument("--crops", type=int, default=0, help="also the calibration on N training crops")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        convex = [tuple(float(v) for v in s.split(",")) for s in args.convex]
        if any(len(c) != 2 for c in convex):
            raise ValueError
    except ValueError:
        ap.exit(2, "error_budget: error: --convex takes A,T (two numbers)\n")
    try:
        luma = [tuple(float(v) for v in s.split(",")) for s in args.luma_weight]
        if any(len(c) != 2 or not 0 <= c[0] < c[1] <= 255 for c in luma):
            raise ValueError
    except ValueError:
        ap.exit(2, "error_budget: error: --luma-weight takes LO,HI (codes, 0 <= LO < HI <= 255)\n")
    for spec in args.interior:
        kind, _, radius = spec.partition(":")
        if not (kind == "close" and radius.isdigit() and int(radius) > 0) and spec != "profile":
            ap.exit(2, f"error_budget: error: --interior takes close:R (R > 0 px) or profile, not {spec!r}\n")
    if args.png_mask and (args.format != "jpeg" or args.camera is not None):
        ap.exit(2, "error_budget: error: --png-mask compares plain JPEG cases with their PNG rendition: "
                "use it with --format jpeg and without --camera\n")
    scenes = tuple(n for n in args.scenes.split(",") if n)
    try:
        if scenes or args.crops <= 0:
            held_out_table(args, scenes, convex, luma)
        if args.crops > 0:  # never a held-out scene, whatever --scenes says
            crop_calibration(args.data, args.weights, args.crops, tuple(sorted(set(holdout_scenes()) | set(scenes))))
    except (ModelError, DataError) as exc:
        ap.exit(1, f"error_budget: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
