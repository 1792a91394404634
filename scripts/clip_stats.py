"""Do the training photos clip like real camera photos? One Markdown row of statistics per folder
of real photos and per kind of rendered training photo (reexposure.training.clip_stats).

    python scripts/clip_stats.py --photos ../shared/data/demo ../shared/data/ldr --pairs configs/cpu-v04.yaml

With ``--brackets DIR`` a second table: how the camera's curve compresses highlights
(reexposure.training.clip_stats.tone_ratios), per real bracket pair and their median, and with
``--pairs`` for the config's plain and camera-like renders (median and quartiles over scenes).

    python scripts/clip_stats.py --brackets ../shared/data/brackets --pairs configs/cpu-v04.yaml
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from reexposure.training.clip_stats import (
    KEYS,
    TONE_BANDS,
    bracket_tone_ratios,
    clip_statistics,
    pair_set,
    pair_tone_ratios,
    photo_set,
)


def _row(name: str, stats: dict[str, float]) -> str:
    return f"| {name} | " + " | ".join(f"{stats[k]:.1f}" if k == "area_d50" else f"{stats[k]:.3f}" for k in KEYS) + " |"


def _tone_row(name: str, ratios: np.ndarray) -> str:
    return f"| {name} | " + " | ".join("" if np.isnan(x) else f"{x:.2f}" for x in ratios) + " |"


def _tone_table(brackets: str, config: str | None, n: int) -> None:
    print("\nBright frame's code band: median of (dark / 255)^2 2^ev / (bright / 255)^2, over that of band 128-159\n")
    print("| pair | " + " | ".join(f"{a}-{b - 1}" for a, b in zip(TONE_BANDS[:-1], TONE_BANDS[1:])) + " |")
    print("|---|" + "---:|" * (len(TONE_BANDS) - 1))
    rows = bracket_tone_ratios(brackets)
    for name, r in rows:
        print(_tone_row(f"real: {name}", r), flush=True)
    if rows:
        print(_tone_row("**real brackets, median**", np.nanmedian(np.array([r for _, r in rows]), 0)))
    if config:
        for label, prob in (("plain camera", 0.0), ("camera-like", 1.0)):
            r = pair_tone_ratios(config, prob, n)
            for q, tag in ((50, "median"), (25, "25%"), (75, "75%")):
                print(_tone_row(f"training, {label}, {tag}", np.nanpercentile(r, q, 0)), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=[], help="folders of real photos (one row each)")
    ap.add_argument("--pairs", default=None,
                    help="a training config: rows for its plain and camera-like renders (with --brackets: tone rows)")
    ap.add_argument("--n", type=int, default=300, help="rendered training photos per row (default 300)")
    ap.add_argument("--brackets", default=None, help="bracket sets (as reexpose eval --brackets): the tone table")
    ap.add_argument("--tone-n", type=int, default=30, help="training scenes per tone row (default 30)")
    args = ap.parse_args()
    try:
        if args.photos or (args.pairs and not args.brackets):
            print("| set | " + " | ".join(KEYS) + " |")
            print("|---|" + "---:|" * len(KEYS))
        for folder in args.photos:
            print(_row(f"photos: {folder}", clip_statistics(photo_set([folder]))), flush=True)
        if args.pairs and not args.brackets:
            for label, prob in (("plain camera", 0.0), ("camera-like", 1.0)):
                print(_row(f"training pairs, {label}", clip_statistics(pair_set(args.pairs, args.n, prob))), flush=True)
        if args.brackets:
            _tone_table(args.brackets, args.pairs, args.tone_n)
    except (OSError, ValueError) as exc:
        print(f"clip_stats: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
