"""Can a decision per clipped area (a lamp or a wall, and how bright) be learned from the photo?
The region-level idea of the light-source issue, measured before paying for a network that makes it.

    python scripts/area_levels.py --data ../shared/data/hdr      # needs scikit-learn: pip install -e '.[analysis]'
    python scripts/area_levels.py --data ../shared/data/hdr --network-features --format jpeg
    python scripts/area_levels.py --data ../shared/data/hdr --config configs/cpu-v04.yaml   # the training split

Areas: 8-connected pixels whose three channels clipped (per-channel saturation mask >= 0.5, codes
of about 250 and up), at least 4 px. For each, the target is the log factor that would give the
model's brightness there the truth's level: ``median log t - median log e`` over the area (``t``,
``e``: the truth's and the model's max channel). Features (:data:`FEATURES`): the area's size,
shape and height in the frame, the model's own level in it (median, 90th percentile, maximum), the
brightness of its surroundings in three rings (1-2, 3-6 and 7-16 px out), the share of those near
the clip, their colour's saturation, the photo's mean brightness and clipped shares; with
``--network-features`` also the network's own features pooled over the area and around it (the
decoder's last layer inside and in the 3-6 px ring, the bottleneck inside and within 32 px).

Training: the evaluation's cases of the training scenes (long side ``--side``, exposed so that each
share of ``--clips`` clips, square-root CRF, PNG and JPEG q90). Fitted: gradient-boosted regressors
of the log factor (weight: the square root of the area), its mean and its ``--lo`` and ``--hi``
quantiles. Printed: the scene-grouped 5-fold cross-validated R^2 of the mean (weighted by the
square root of the area, by the area, and per area), then the held-out cases scored as
`reexpose eval` scores them (``evaluate_case``, as ``error_budget.py``): the model; the model with
each area scaled by the fitted mean factor, and by half of it; the conservative rule (raised by the
``--lo`` quantile where that is above 0, lowered by the ``--hi`` quantile where that is below 0,
else unchanged); and the true factor (``error_budget.py --area-levels``), the ceiling of any such rule;
then the cases each puts below naive.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from tqdm import tqdm

from reexposure.core import camera
from reexposure.core.arrays import uint8_to_ldr
from reexposure.core.camera import CRF, DEFAULT_CRF
from reexposure.core.infer import pad_to_multiple
from reexposure.core.model import GatedUNet
from reexposure.core.weights import ModelError
from reexposure.eval.baselines import Method, Naive, Ours
from reexposure.eval.run import EvalError, case_photo, evaluate_case, load_scene
from reexposure.formats.scenes import holdout_scenes
from reexposure.training.config import ConfigError
from reexposure.training.config import load as load_config
from reexposure.training.data import DataError, find_hdr_files
from reexposure.training.trainer import TrainConfig, validation_scenes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from error_budget import Cached, TrueAreaLevels, _mean_or_dash, clipped_areas, scale_areas  # noqa: E402

FEATURES = ("log area", "model median", "model p90", "model max", "ring 1-2 px", "ring 3-6 px", "ring 7-16 px",
            "near clip 1-2 px", "near clip 3-6 px", "near clip 7-16 px", "ring saturation", "fill of its box",
            "outline / sqrt area", "height in frame", "photo mean", "photo fully clipped", "photo partly clipped",
            "log width / long side")
RINGS = ((0, 2), (2, 6), (6, 16))
MIN_AREA = 4


def area_features(photo: np.ndarray, labels: np.ndarray, model: torch.Tensor,
                  crf: CRF = DEFAULT_CRF) -> list[tuple[int, np.ndarray]]:
    """``(label, features)`` of each area of ``labels`` with at least :data:`MIN_AREA` px;
    ``model``: the model's radiance (1,3,H,W); features as :data:`FEATURES` (float64)."""
    lin = crf.inverse(uint8_to_ldr(photo))[0].permute(1, 2, 0).numpy().astype(np.float64)  # (H,W,3)
    peak, log_model = lin.max(-1), np.log(np.maximum(model[0].amax(0).numpy(), 1e-6))
    near = photo.max(-1) >= 250
    h, w = labels.shape
    lum = lin @ np.array([0.2126, 0.7152, 0.0722])
    scene = [np.log(lum.mean() + 1e-4), np.log((labels > 0).mean() + 1e-5), np.log(near.mean() + 1e-5)]
    out = []
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        y0, y1 = max(0, box[0].start - 16), min(h, box[0].stop + 16)
        x0, x1 = max(0, box[1].start - 16), min(w, box[1].stop + 16)
        lab = labels[y0:y1, x0:x1]
        area = lab == i
        size = int(area.sum())
        if size < MIN_AREA:
            continue
        dist = ndimage.distance_transform_edt(~area)
        rings = [(dist > lo) & (dist <= hi) & (lab == 0) for lo, hi in RINGS]
        pk, nr = peak[y0:y1, x0:x1], near[y0:y1, x0:x1]
        level = [pk[r].mean() if r.any() else 1.0 for r in rings]
        share = [nr[r].mean() if r.any() else 1.0 for r in rings]
        around = next((r for r in rings[1:] + rings[:1] if r.any()), None)
        colour = lin[y0:y1, x0:x1][around].mean(0) if around is not None else np.ones(3)
        ys, xs = np.nonzero(area)
        box_px = (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        outline = area & ~ndimage.binary_erosion(area, structure=np.ones((3, 3)), border_value=1)
        em = log_model[y0:y1, x0:x1][area]
        out.append((i, np.array([np.log(size), np.median(em), np.quantile(em, 0.9), em.max(), *level, *share,
                                 1.0 - colour.min() / max(colour.max(), 1e-6), size / box_px,
                                 outline.sum() / np.sqrt(size), (ys.mean() + y0) / h, *scene,
                                 np.log(2 * np.sqrt(size / np.pi) / max(h, w))])))
    return out


def network_features(net: GatedUNet, photo: np.ndarray, labels: np.ndarray, ids: list[int],
                     crf: CRF = DEFAULT_CRF) -> list[np.ndarray]:
    """The network's features pooled per area: its decoder's last layer (the head's input) inside
    the area and in the 3-6 px ring, its bottleneck inside and within 32 px."""
    ldr = uint8_to_ldr(photo)
    lin, mask = pad_to_multiple(net.config.multiple, crf.inverse(ldr), camera.saturation_mask(ldr))
    got: dict[str, torch.Tensor] = {}
    hooks = [net.context.register_forward_hook(lambda m, i, o: got.__setitem__("bottleneck", o[0])),
             net.head.register_forward_hook(lambda m, i, o: got.__setitem__("decoder", i[0][0]))]
    with torch.no_grad():
        net(lin, mask)
    for hook in hooks:
        hook.remove()
    h, w = labels.shape
    step = net.config.multiple
    pad = (0, lin.shape[-1] - w, 0, lin.shape[-2] - h)

    def pooled(where: np.ndarray) -> torch.Tensor:  # share of each bottleneck cell
        return F.avg_pool2d(F.pad(torch.from_numpy(where).float()[None, None], pad), step)[0, 0]

    dec, bott = got["decoder"][:, :h, :w], got["bottleneck"]
    out = []
    for i in ids:
        area = labels == i
        dist = ndimage.distance_transform_edt(~area)
        ring = torch.from_numpy((dist > 2) & (dist <= 6) & (labels == 0))
        inside = dec[:, torch.from_numpy(area)].mean(1)
        cell_in = pooled(area)
        cell_out = (pooled(dist <= 32) - cell_in).clamp_min(0.0)
        out.append(torch.cat([inside, dec[:, ring].mean(1) if ring.any() else inside,
                              (bott * cell_in).sum((1, 2)) / cell_in.sum().clamp_min(1e-6),
                              (bott * cell_out).sum((1, 2)) / cell_out.sum().clamp_min(1e-6)]).numpy())
    return out


class Features:
    """Features of every area of a photo, the model's radiance given (see :func:`area_features`)."""

    def __init__(self, ours: Ours, with_network: bool) -> None:
        self.ours, self.with_network = ours, with_network
        self.last: tuple[np.ndarray, torch.Tensor, tuple[np.ndarray, list[int], np.ndarray]] | None = None

    def __call__(self, photo: np.ndarray, model: torch.Tensor) -> tuple[np.ndarray, list[int], np.ndarray]:
        """Labels (H,W), the ids of the areas described and their features (N, F); the last photo's
        are kept, so the rules scored on one case (the same photo and cached radiance) share them."""
        if self.last is not None and self.last[0] is photo and self.last[1] is model:
            return self.last[2]
        self.last = (photo, model, self._compute(photo, model))
        return self.last[2]

    def _compute(self, photo: np.ndarray, model: torch.Tensor) -> tuple[np.ndarray, list[int], np.ndarray]:
        labels = clipped_areas(photo)
        rows = area_features(photo, labels, model)
        ids = [i for i, _ in rows]
        x = np.array([v for _, v in rows]).reshape(len(rows), len(FEATURES))
        if self.with_network and rows:
            x = np.hstack([x, np.array(network_features(self.ours.rec.model, photo, labels, ids))])
        return labels, ids, x


class AreaFactor(Method):
    """``base``'s radiance with each area of the photo scaled by ``exp(rule(features))``, never below
    naive (inside the areas; elsewhere ``base``'s exactly)."""

    def __init__(self, base: Method, features: Features, rule: Callable[[np.ndarray], np.ndarray], name: str) -> None:
        self.base, self.features, self.rule, self.name = base, features, rule, name

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        est = self.base.radiance(photo, crf)
        labels, ids, x = self.features(photo, est)
        if not ids:
            return est
        factors = {i: float(c) for i, c in zip(ids, self.rule(x)) if c != 0}  # 0: the area as the model has it
        return scale_areas(est, crf.inverse(uint8_to_ldr(photo)), labels, factors)


def training_areas(files: list[Path], side: int, clips: list[float], features: Features
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(features, log factor, area px, scene index)`` of every area of the training cases."""
    xs, ys, sizes, groups = [], [], [], []
    for k, path in enumerate(tqdm(files, desc="training scenes")):
        try:
            image, radiance = load_scene(path, side)
        except (ValueError, OSError):
            continue
        for clip in clips:
            for fmt in ("png", "jpeg"):
                try:
                    _, truth, photo = case_photo(image, radiance, clip, DEFAULT_CRF, fmt)
                except EvalError:
                    continue
                est = features.ours.radiance(photo, DEFAULT_CRF)
                labels, ids, x = features(photo, est)
                log_t = np.log(np.maximum(truth[0].amax(0).numpy(), 1e-6))
                for i, row in zip(ids, x):
                    area = labels == i
                    xs.append(row)
                    ys.append(np.median(log_t[area]) - row[1])
                    sizes.append(area.sum())
                    groups.append(k)
    if not xs:
        raise DataError("no clipped areas in the training cases")
    return np.array(xs), np.array(ys), np.array(sizes, float), np.array(groups)


def _r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> float:
    return float(1.0 - np.sum(w * (y - pred) ** 2) / np.sum(w * (y - np.average(y, weights=w)) ** 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="HDR folder (training and held-out scenes)")
    ap.add_argument("--weights", default=None, help="generator weights (default: the shipped model)")
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--clips", default="0.01,0.02,0.04,0.08,0.15,0.25", help="clipped shares of the training cases")
    ap.add_argument("--format", default="png", choices=("png", "jpeg"), help="held-out photos")
    ap.add_argument("--network-features", action="store_true", help="add the network's pooled features")
    ap.add_argument("--lo", type=float, default=0.25, help="quantile that must be above 0 to raise an area")
    ap.add_argument("--hi", type=float, default=0.75, help="quantile that must be below 0 to lower an area")
    ap.add_argument("--holdout", default=",".join(holdout_scenes()), help="comma-separated held-out scene names")
    ap.add_argument("--config", type=Path, default=None, help="take the held-out and the excluded scenes from this "
                    "training config instead (configs/cpu-v04.yaml leaves out the nine edited 'puresky' panoramas)")
    args = ap.parse_args()
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.model_selection import GroupKFold
    except ImportError:
        ap.exit(1, "area_levels: error: needs scikit-learn (pip install -e '.[analysis]')\n")
    torch.set_num_threads(1)
    try:
        clips = [float(c) for c in args.clips.split(",")]
    except ValueError:
        ap.exit(2, f"area_levels: error: --clips takes comma-separated shares, got {args.clips!r}\n")
    if not 0.0 < args.lo < args.hi < 1.0:
        ap.exit(2, f"area_levels: error: need 0 < --lo < --hi < 1, got {args.lo:g} and {args.hi:g}\n")
    try:
        ours = Ours(args.weights, threads=1)
        holdout, exclude = tuple(n for n in args.holdout.split(",") if n), ()
        if args.config is not None:
            config = load_config(TrainConfig, args.config)
            holdout, exclude = tuple(config.holdout), tuple(config.exclude)
        files = find_hdr_files(args.data, exclude=holdout + exclude)
        held = validation_scenes(TrainConfig(data=str(args.data), val_side=args.side, holdout=holdout), args.format)
        if not files or not held:
            raise DataError(f"need training and held-out scenes under {args.data}")
        features = Features(ours, args.network_features)
        x, y, size, group = training_areas(files, args.side, clips, features)
    except (ModelError, DataError, ConfigError, OSError) as exc:
        ap.exit(1, f"area_levels: error: {exc}\n")

    def fit(rows: np.ndarray, quantile: float | None = None) -> HistGradientBoostingRegressor:
        kw = {"loss": "quantile", "quantile": quantile} if quantile is not None else {}
        reg = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                                            random_state=0, **kw)
        return reg.fit(x[rows], y[rows], sample_weight=np.sqrt(size[rows]))

    print(f"\n{len(y)} training areas of {len(set(group))} scenes, {x.shape[1]} features")
    folds = min(5, len(set(group)))
    if folds >= 2:
        pred = np.zeros_like(y)
        for tr, te in GroupKFold(folds).split(x, y, group):
            pred[te] = fit(tr).predict(x[te])
        print(f"scene-grouped {folds}-fold R^2 of the log factor: {_r2(y, pred, np.sqrt(size)):+.3f} "
              f"(weight sqrt area), {_r2(y, pred, size):+.3f} (area), {_r2(y, pred, np.ones_like(y)):+.3f} (per area)")
    every = np.arange(len(y))
    mean, lo, hi = fit(every), fit(every, args.lo), fit(every, args.hi)

    def conservative(f: np.ndarray) -> np.ndarray:
        a, b = lo.predict(f), hi.predict(f)
        return np.where(a > 0, a, np.where(b < 0, b, 0.0))

    rules: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "ours x fitted factor": mean.predict, "ours x half the fitted factor": lambda f: 0.5 * mean.predict(f),
        f"ours, conservative ({args.lo:g}-{args.hi:g})": conservative}
    scores: dict[str, list[tuple[float, ...]]] = {}
    worse: dict[str, list[str]] = {}
    for case in tqdm(held, desc="held-out cases"):
        base = Cached(ours)
        methods: dict[str, Method] = {"naive": Naive(), "ours": base}
        methods.update({name: AreaFactor(base, features, rule, name) for name, rule in rules.items()})
        methods["ours, true level per area"] = TrueAreaLevels(base, case["radiance"])
        res, _ = evaluate_case(case["radiance"], case["photo"], methods, evs=(-2.0, -3.0))
        naive = res.pop("naive")["ev"]
        for label, r in res.items():
            ev = r["ev"]
            row = (ev["-2"]["psnr_clipped"] - naive["-2"]["psnr_clipped"],
                   ev["-3"]["psnr_clipped"] - naive["-3"]["psnr_clipped"],
                   ev["-2"]["texture_clipped"], r["lights_kept"])
            scores.setdefault(label, []).append(row)
            if min(row[:2]) < -0.5:
                worse.setdefault(label, []).append(f"{case['name']} at {case['clip']:g} ({min(row[:2]):+.1f} dB)")
    print(f"\n{len(held)} held-out cases, {args.format}, long side {args.side} px; gains over naive in dB\n")
    print("| method | clipped EV-2 | clipped EV-3 | texture EV-2 | lights kept | cases < naive - 0.5 dB |\n"
          "|---|---:|---:|---:|---:|---:|")
    for label, rows in scores.items():
        a = np.array(rows, dtype=float)
        print(f"| {label} | {a[:, 0].mean():+.2f} | {a[:, 1].mean():+.2f} | {np.nanmean(a[:, 2]):.3f} | "
              f"{_mean_or_dash(a[:, 3])} | "
              f"{int((a[:, :2].min(1) < -0.5).sum())} |")
    for label, cases in worse.items():
        print(f"\n{label}: worse than naive by more than 0.5 dB at EV -2 or -3 in {', '.join(cases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
