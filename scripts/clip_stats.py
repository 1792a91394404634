"""Do the training photos clip like real camera photos? One Markdown row of statistics per folder
of real photos and per kind of rendered training photo (reexposure.training.clip_stats).

    python scripts/clip_stats.py --photos ../shared/data/demo ../shared/data/ldr --pairs configs/cpu-v04.yaml
"""

from __future__ import annotations

import argparse
import sys

from reexposure.training.clip_stats import KEYS, clip_statistics, pair_set, photo_set


def _row(name: str, stats: dict[str, float]) -> str:
    return f"| {name} | " + " | ".join(f"{stats[k]:.1f}" if k == "area_d50" else f"{stats[k]:.3f}" for k in KEYS) + " |"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=[], help="folders of real photos (one row each)")
    ap.add_argument("--pairs", default=None, help="a training config: rows for its plain and camera-like renders")
    ap.add_argument("--n", type=int, default=300, help="rendered training photos per row (default 300)")
    args = ap.parse_args()
    print("| set | " + " | ".join(KEYS) + " |")
    print("|---|" + "---:|" * len(KEYS))
    try:
        for folder in args.photos:
            print(_row(f"photos: {folder}", clip_statistics(photo_set([folder]))), flush=True)
        if args.pairs:
            for label, prob in (("plain camera", 0.0), ("camera-like", 1.0)):
                print(_row(f"training pairs, {label}", clip_statistics(pair_set(args.pairs, args.n, prob))), flush=True)
    except (OSError, ValueError) as exc:
        print(f"clip_stats: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
