"""Real brackets: how bright the truth (the frame 2-3 EV darker) and the model are in the bright
frame's clipped pixels, grouped by how many channels clipped (0: the unclipped ring at codes
230-253). A smooth sky or wall rises gently from two to three clipped channels; a lamp steeply.
(reexposure.eval.brackets.levels_by_clipped_channels)

    python scripts/bracket_levels.py --brackets ../shared/data/brackets [--weights W ...] [--set merianos_flowers]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reexposure.core.infer import Reconstructor
from reexposure.eval.brackets import bracket_frames, levels_by_clipped_channels


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--brackets", required=True, type=Path, help="bracket sets (as reexpose eval --brackets)")
    ap.add_argument("--weights", action="append", default=[], help="generator weights (repeatable; default: shipped)")
    ap.add_argument("--set", action="append", default=[], help="only these sets (folder names; repeatable)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    try:
        recs = {Path(w).stem if w else "ours": Reconstructor(w or None, threads=args.threads)
                for w in (args.weights or [""])}
        print("| pair | channels clipped | pixels | truth | naive | " + " | ".join(recs) + " |")
        print("|---|---:|---:|---:|---:|" + "---:|" * len(recs))
        for pair, bright, dark, ev_diff in bracket_frames(args.brackets, sets=args.set):
            preds = {}
            for name, rec in recs.items():
                rmap = rec(bright)
                preds[name] = rmap.to_tensor()[0].permute(1, 2, 0).numpy()
            preds["naive"] = rmap.lin()[0].permute(1, 2, 0).numpy()  # the photo, the same for every model
            for row in levels_by_clipped_channels(bright, dark, ev_diff, preds):
                vals = " | ".join(f"{row[k]:.2f}" for k in ["truth", "naive", *recs])
                print(f"| {pair} | {row['channels']} | {row['pixels']} | {vals} |", flush=True)
    except (OSError, ValueError) as exc:  # ModelError and EvalError are ValueErrors
        print(f"bracket_levels: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
