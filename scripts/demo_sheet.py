"""Contact sheet of real photos darkened by 2 and 3 stops: input | brightness | ours (per EV).

    python scripts/demo_sheet.py PHOTO_OR_FOLDER [...] -o docs/demo_sheet.png [--model PATH] [--cell 220]

"brightness" is what a brightness slider does: the linearised photo scaled by 2^ev, clipped pixels
stay at the clip level (the `naive` baseline of `reexpose eval`). Used for the model card.
"""

from __future__ import annotations

import argparse
import io as _io
from pathlib import Path

import torch

from reexposure.core.camera import render_ldr
from reexposure.core.files import atomic_write_bytes
from reexposure.core.infer import Reconstructor
from reexposure.formats.io import read_photo
from reexposure.formats.viz import contact_sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cell", type=int, default=220)
    ap.add_argument("--evs", default="-2,-3")
    args = ap.parse_args()
    files = []
    for p in args.inputs:
        files += sorted(q for q in p.iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png")) if p.is_dir() else [p]
    evs = [float(e) for e in args.evs.split(",")]
    rec = Reconstructor(args.model)
    rows, names = [], []
    for f in files:
        photo = read_photo(f).rgb
        rmap = rec(photo)
        radiance = rmap.to_tensor()
        lin = rmap.lin()
        row = [torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255]
        for ev in evs:
            row += [render_ldr(lin, ev, rmap.crf, bits=None), render_ldr(radiance, ev, rmap.crf, bits=None)]
        rows.append(row)
        names.append(f.stem.split("_by_")[0])
        print(f"{f.name}: max radiance {float(radiance.max()):.1f}x the clip level")
    labels = ["input"] + [x for ev in evs for x in (f"brightness EV{ev:+g}", f"ours EV{ev:+g}")]
    sheet = contact_sheet(rows, labels, names, cell=args.cell)
    buf = _io.BytesIO()
    sheet.save(buf, format="PNG" if args.output.suffix.lower() == ".png" else "JPEG", quality=90)
    atomic_write_bytes(args.output, buf.getvalue())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
