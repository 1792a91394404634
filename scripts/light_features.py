"""Can simple features of a clipped area tell a lamp from a bright wall? A check of the claim that
the photo, at the evaluation's scale, hardly shows how bright a clipped light source is.

    python scripts/light_features.py --data ../shared/data/hdr      # needs scikit-learn: pip install -e '.[analysis]'

For every clipped pixel (max-channel mask > 0.5) of the evaluation's cases (scenes normalised, long
side ``--side``, exposed so that 2/8/20% clips, square-root CRF, PNG), the features a hand-made
estimator could use: the model's own prediction (log2, x clip level), the distance to the edge of
its clipped area and that area's size and depth, the mean brightness of the ring just outside it,
the local mean brightness (31 and 95 px boxes), the scene's mean brightness, clipped share and
number of clipped areas. A gradient-boosted regressor of log2 true radiance on them is fitted on the
training scenes (at most ``--per-case`` pixels per case) and scored on the held-out scenes: per band
of true radiance, the median prediction of the model and of the regressor, and their correlation
with the truth where it is 8x the clip level or more. A regressor that found the cue would keep
rising above 4x.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from tqdm import tqdm

from reexposure.core import camera
from reexposure.core.camera import DEFAULT_CRF
from reexposure.core.infer import Reconstructor
from reexposure.core.weights import ModelError
from reexposure.formats.scenes import holdout_scenes
from reexposure.training.data import DataError, find_hdr_files
from reexposure.training.trainer import TrainConfig, validation_scenes

FEATURES = ("model prediction", "distance to edge", "area size", "relative depth", "area depth", "ring brightness",
            "local mean 31 px", "local mean 95 px", "scene mean", "scene clipped share", "clipped areas")
BANDS = ((0, 1), (1, 2), (2, 3), (3, 5), (5, 7), (7, 20))  # log2 of the true radiance


def case_features(photo: np.ndarray, truth: torch.Tensor, rec: Reconstructor) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, 11), log2 true radiance (N,)) of the clipped pixels of one case (see module)."""
    ldr = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255.0
    lum = DEFAULT_CRF.inverse(ldr)[0].mean(0).numpy()
    clipped = camera.saturation_mask(ldr, per_channel=True)[0].amax(0).numpy() > 0.5
    labels, n = ndimage.label(clipped)
    if n == 0:
        return np.zeros((0, len(FEATURES))), np.zeros(0)
    pred = rec(photo).to_tensor()[0].amax(0).numpy()
    dist = ndimage.distance_transform_edt(clipped)
    idx = np.arange(1, n + 1)
    area, depth = ndimage.sum(clipped, labels, idx), ndimage.maximum(dist, labels, idx)
    ring_labels = ndimage.grey_dilation(labels, size=7)
    ring_labels[~(ndimage.binary_dilation(clipped, iterations=3) & ~clipped)] = 0
    ring = np.nan_to_num(np.asarray(ndimage.mean(lum, ring_labels, idx)), nan=1.0)
    ys, xs = np.nonzero(clipped)
    lab = labels[ys, xs] - 1
    const = np.ones(len(ys))
    x = np.stack([np.log2(np.maximum(pred[ys, xs], 1e-3)), np.log2(dist[ys, xs] + 0.5), np.log2(area[lab]),
                  dist[ys, xs] / (depth[lab] + 1e-6), np.log2(depth[lab] + 0.5), np.log2(ring[lab] + 1e-4),
                  np.log2(ndimage.uniform_filter(lum, 31)[ys, xs] + 1e-4),
                  np.log2(ndimage.uniform_filter(lum, 95)[ys, xs] + 1e-4),
                  const * np.log2(lum.mean() + 1e-4), const * np.log2(clipped.mean()), const * np.log2(n)], 1)
    return x, np.log2(np.maximum(truth[0].amax(0).numpy()[ys, xs], 1e-3))


def collect(cases: list[dict], rec: Reconstructor, per_case: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of every case (``validation_scenes`` items; ``per_case`` > 0: a random
    subset of each case's pixels)."""
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for case in tqdm(cases, desc=what):
        x, y = case_features(case["photo"], case["radiance"], rec)
        if per_case and len(y) > per_case:
            keep = rng.choice(len(y), per_case, replace=False)
            x, y = x[keep], y[keep]
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="HDR folder (training and held-out scenes)")
    ap.add_argument("--weights", default=None, help="generator weights (default: the shipped model)")
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--per-case", type=int, default=4000, help="training pixels kept per case")
    ap.add_argument("--holdout", default=",".join(holdout_scenes()), help="comma-separated held-out scene names "
                    "(default: the documented hold-out list)")
    args = ap.parse_args()
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        ap.exit(1, "light_features: error: needs scikit-learn (pip install -e '.[analysis]')\n")
    torch.set_num_threads(1)
    try:
        rec = Reconstructor(args.weights, threads=1)
        holdout = tuple(n for n in args.holdout.split(",") if n)
        training = tuple(f.stem for f in find_hdr_files(args.data, exclude=holdout))
        # the evaluation's cases (eval.run.load_scene + case_photo), as error_budget scores them
        train_cases = validation_scenes(TrainConfig(data=str(args.data), val_side=args.side, holdout=training))
        held_cases = validation_scenes(TrainConfig(data=str(args.data), val_side=args.side, holdout=holdout))
        if not train_cases or not held_cases:
            raise DataError(f"need training and held-out scenes under {args.data}")
    except (ModelError, DataError) as exc:
        ap.exit(1, f"light_features: error: {exc}\n")
    x_train, y_train = collect(train_cases, rec, args.per_case, "training cases")
    x_held, y_held = collect(held_cases, rec, 0, "held-out cases")
    fits = {"model alone": x_held[:, 0]}
    for label, cols in (("regressor on the model's prediction", [0]),
                        ("regressor on the area features", list(range(5))),
                        ("regressor on all features", list(range(len(FEATURES))))):
        reg = HistGradientBoostingRegressor(max_iter=200, max_leaf_nodes=31, min_samples_leaf=200, random_state=0)
        fits[label] = reg.fit(x_train[:, cols], y_train).predict(x_held[:, cols])
    print(f"\n{len(y_train)} training pixels, {len(y_held)} held-out clipped pixels; median prediction "
          "(x clip level) per band of true radiance\n")
    head = [f"{2 ** lo:g}-{2 ** hi:g}" if hi < 20 else f">= {2 ** lo:g}" for lo, hi in BANDS]
    print("| predictor | " + " | ".join(head) + " | corr. where truth >= 8x |")
    print("|---|" + "---:|" * (len(BANDS) + 1))
    bright = y_held >= 3
    for label, pred in fits.items():
        meds = [2 ** float(np.median(pred[(y_held >= lo) & (y_held < hi)])) if ((y_held >= lo) & (y_held < hi)).any()
                else float("nan") for lo, hi in BANDS]
        corr = float(np.corrcoef(pred[bright], y_held[bright])[0, 1]) if bright.sum() > 1 else float("nan")
        print(f"| {label} | " + " | ".join(f"{m:.2f}" for m in meds) + f" | {corr:.3f} |")
    print("\npixels per band (held out): " + ", ".join(
        f"{h} {int(((y_held >= lo) & (y_held < hi)).sum())}" for h, (lo, hi) in zip(head, BANDS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
