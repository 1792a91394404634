"""Do the training photos clip like real camera photos? One Markdown row of statistics per folder
of real photos and per kind of rendered training photo (reexposure.training.clip_stats).

    python scripts/clip_stats.py --photos ../shared/data/demo ../shared/data/ldr --pairs configs/cpu-v04.yaml

With ``--brackets DIR`` two tables instead: how the camera's curve compresses highlights and how
much colour it keeps near the clip (reexposure.training.clip_stats.tone_ratios, saturation_ratios),
per real bracket pair and their median, and with ``--pairs`` for the config's plain and camera-like
renders (median and quartiles over scenes).

    python scripts/clip_stats.py --brackets ../shared/data/brackets --pairs configs/cpu-v04.yaml
    python scripts/clip_stats.py --brackets ../shared/data/brackets --crf emor:../shared/data/crf/emor.txt
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from reexposure.core.camera import crf_from_name
from reexposure.eval.brackets import bracket_frames
from reexposure.training.clip_stats import (
    KEYS,
    TONE_BANDS,
    clip_statistics,
    measured_ev,
    pair_set,
    photo_set,
    rendered_brackets,
    saturation_ratios,
    tone_ratios,
)


def _row(name: str, stats: dict[str, float]) -> str:
    return f"| {name} | " + " | ".join(f"{stats[k]:.1f}" if k == "area_d50" else f"{stats[k]:.3f}" for k in KEYS) + " |"


def _band_row(name: str, values: np.ndarray) -> str:
    return f"| {name} | " + " | ".join("" if np.isnan(x) else f"{x:.2f}" for x in values) + " |"


def _band_tables(brackets: str, config: str | None, n: int, crf: str = "sqrt") -> None:
    """The tone and the saturation table: real bracket pairs and their median, then the config's
    plain and camera-like renders (median and quartiles over scenes), every frame read through
    ``crf``."""
    curve = crf_from_name(crf)
    real = bracket_frames(brackets)
    rendered = {label: rendered_brackets(config, prob, n) for label, prob in
                (("plain camera", 0.0), ("camera-like", 1.0))} if config else {}
    print(f"\nExposure between the frames: recorded (info.json) and as {crf} reads the mid-tones\n\n"
          "| pair | recorded EV | measured EV |\n|---|---:|---:|")
    for name, b, d, ev in real:
        print(f"| {name} | {ev:.2f} | {measured_ev(b, d, curve):.2f} |")
    head = "| pair | " + " | ".join(f"{a}-{b - 1}" for a, b in zip(TONE_BANDS[:-1], TONE_BANDS[1:])) + " |"
    for title, measure in (
            (f"Tone: per band of the bright frame's code, median of read(dark) 2^ev / read(bright) (read: the "
             f"inverse of {crf}), over that of band 128-159", lambda b, d, ev: tone_ratios(b, d, ev, curve)),
            (f"Saturation kept ({crf}): per band of the bright frame's largest channel, median of its saturation "
             "over the darker frame's", lambda b, d, ev: saturation_ratios(b, d, curve))):
        print(f"\n{title}\n\n{head}\n|---|" + "---:|" * (len(TONE_BANDS) - 1))
        rows = [measure(b, d, ev) for _, b, d, ev in real]
        for (name, *_), r in zip(real, rows):
            print(_band_row(f"real: {name}", r), flush=True)
        if rows:
            print(_band_row("**real brackets, median**", np.nanmedian(np.array(rows), 0)))
        for label, frames in rendered.items():
            r = np.array([measure(b, d, ev) for _, b, d, ev in frames])
            for q, tag in ((50, "median"), (25, "25%"), (75, "75%")):
                print(_band_row(f"training, {label}, {tag}", np.nanpercentile(r, q, 0)), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=[], help="folders of real photos (one row each)")
    ap.add_argument("--pairs", default=None,
                    help="a training config: rows for its plain and camera-like renders (with --brackets: band rows)")
    ap.add_argument("--n", type=int, default=300, help="rendered training photos per row (default 300)")
    ap.add_argument("--brackets", default=None,
                    help="bracket sets (as reexpose eval --brackets): the tone and saturation tables")
    ap.add_argument("--tone-n", type=int, default=30, help="training scenes per band row (default 30)")
    ap.add_argument("--crf", default="sqrt",
                    help="with --brackets: the inverse curve frames are read with (sqrt, srgb, gammaG, emor:PATH)")
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
            _band_tables(args.brackets, args.pairs, args.tone_n, args.crf)
    except (OSError, ValueError) as exc:
        print(f"clip_stats: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
