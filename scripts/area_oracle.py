"""Real brackets: what a strength per clipped area could do, an oracle. For every scored pair, each
clipped area of the bright frame (reexposure.core.strength.near_clip_areas, the areas of --area)
gets the strength from a grid that renders it closest to the darker frame (render error over its
pixels, the same measure as reexpose eval --brackets); the pair is then scored as that command
scores it, against naive, the model (strength 1) and the best single strength for the whole photo.
An upper bound on what a per-area decision (a user's, or a future model's) is worth on real photos;
it also says which way each area is wrong (strengths below 1: too bright).

    python scripts/area_oracle.py --brackets ../shared/data/brackets [--weights W] [--strengths 0,0.25,...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reexposure.core import camera
from reexposure.core.infer import RadianceMap, Reconstructor
from reexposure.core.model.blend import radiance_at
from reexposure.core.strength import near_clip_areas
from reexposure.eval.brackets import CLIP_CODE, REF_MAX_CODE, bracket_frames, bracket_scores

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
MEASURES = ("render_error", "spearman", "colour_median", "too_bright", "lights")


def _cell(measure: str, value: float) -> str:
    return f"{value:.1f}" if measure == "render_error" else f"{value:.3f}"


def oracle(rmap: RadianceMap, bright: np.ndarray, dark: np.ndarray, ev_diff: float,
           strengths: tuple[float, ...] = STRENGTHS) -> dict[str, Any]:
    """The per-area oracle for one pair: ``bright``/``dark`` HxWx3 uint8 of one size, ``rmap`` the
    model's map of ``bright``. Returns ``preds`` (HxWx3 float64 relative radiance: ``naive``,
    ``ours``, ``best single`` and ``per area``), ``chosen`` ((area, pixels scored, strength) per
    area with scored pixels) and ``single`` (the best strength for the whole photo). The scored
    pixels are :func:`~reexposure.eval.brackets.bracket_scores`'s: clipped in the bright frame,
    unclipped in the darker one; an area without such pixels keeps strength 1."""
    labels = near_clip_areas(bright)
    valid = np.any(bright >= CLIP_CODE, -1) & np.all(dark < REF_MAX_CODE, -1)
    n = int(labels.max()) + 1
    lab_v = labels[valid]
    count = np.bincount(lab_v, minlength=n)
    dark_v = dark[valid].astype(np.float64)
    guide, log_gain = rmap.radiance_parts()  # the blend once; a strength only scales log_gain

    def at(strength: np.ndarray | float) -> np.ndarray:
        """HxWx3 float64 radiance at ``strength`` (a float, or (H,W) per pixel)."""
        s = torch.from_numpy(np.asarray(strength, dtype=np.float32))
        return radiance_at(guide, log_gain * s)[0].permute(1, 2, 0).numpy().astype(np.float64)

    per_area_err, total_err = [], []
    for s in strengths:
        darker = np.asarray(camera.render_ldr(at(s)[valid].astype(np.float32), -float(ev_diff), rmap.crf, None))
        err = np.abs(darker * 255.0 - dark_v).mean(-1)
        per_area_err.append(np.bincount(lab_v, weights=err, minlength=n))
        total_err.append(err.mean() if err.size else np.inf)
    best = np.argmin(np.stack(per_area_err), axis=0)  # per area (a sum over the same pixels: the mean's argmin)
    per_label = np.ones(n, dtype=np.float32)  # label 0 (no area) and areas without scored pixels: 1
    chosen = []
    for a in np.nonzero(count)[0]:
        if a:
            chosen.append((int(a), int(count[a]), strengths[int(best[a])]))
            per_label[a] = chosen[-1][2]
    single = strengths[int(np.argmin(total_err))]
    naive = rmap.lin()[0].permute(1, 2, 0).numpy().astype(np.float64)
    return {"preds": {"naive": naive, "ours": at(1.0), "best single": at(single), "per area": at(per_label[labels])},
            "chosen": chosen, "single": single}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--brackets", required=True, type=Path, help="bracket sets (as reexpose eval --brackets)")
    ap.add_argument("--weights", default=None, help="generator weights (default: shipped)")
    ap.add_argument("--strengths", default=",".join(f"{s:g}" for s in STRENGTHS),
                    help="the grid each area's strength is chosen from (comma-separated, 0-3)")
    ap.add_argument("--set", action="append", default=[], help="only these sets (folder names; repeatable)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    try:
        grid = tuple(sorted({float(s) for s in args.strengths.split(",")} | {1.0}))
        rec = Reconstructor(args.weights, threads=args.threads)
        labels = ("naive", "ours", "best single", "per area")
        print("| pair | " + " | ".join(f"{m}: {' / '.join(labels)}" for m in MEASURES)
              + " | best single | per-area strengths (share of scored pixels) |")
        print("|---|" + "---:|" * len(MEASURES) + "---:|---|")
        totals: dict[str, dict[str, list[float]]] = {m: {k: [] for k in labels} for m in MEASURES}
        for pair, bright, dark, ev_diff in bracket_frames(args.brackets, sets=args.set):
            res = oracle(rec(bright), bright, dark, ev_diff, grid)
            scores = bracket_scores(bright, dark, ev_diff, res["preds"])
            px = sum(c for _, c, _ in res["chosen"]) or 1
            share = {s: sum(c for _, c, t in res["chosen"] if t == s) / px for s in grid}
            cells = []
            for m in MEASURES:
                vals = [scores[m].get(k, float("nan")) for k in labels]
                for k, v in zip(labels, vals):
                    totals[m][k].append(v)
                cells.append(" / ".join(_cell(m, v) for v in vals))
            dist = ", ".join(f"{s:g}: {share[s]:.2f}" for s in grid if share[s] >= 0.01)
            print(f"| {pair} | " + " | ".join(cells) + f" | {res['single']:g} | {dist} |", flush=True)
        cells = [" / ".join(_cell(m, float(np.nanmean(totals[m][k]))) for k in labels) for m in MEASURES]
        print("| all pairs (mean) | " + " | ".join(cells) + " | | |")
    except (OSError, ValueError) as exc:  # ModelError and EvalError are ValueErrors
        print(f"area_oracle: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
