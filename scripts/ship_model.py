"""Copy a run's EMA generator (or the average of several of its snapshots) into the package as
the shipped default model.

    python scripts/ship_model.py runs/cpu-small/model.safetensors -d "description"
    python scripts/ship_model.py runs/cpu-stage3/model_00{1000,1500,2000,2500,3000}.safetensors -d "v0.3"
    python scripts/ship_model.py runs/expandnet-stage3/model_00{1000,1500,2000,2500,3000}.safetensors \\
        -d "ExpandNet baseline" -o baselines/expandnet.safetensors
    python scripts/ship_model.py OUT_C/model.safetensors --interior-smooth 12 -d "v0.5"
    python scripts/ship_model.py runs/v0.5.safetensors --upsample bilinear -d "v0.6"
    python scripts/ship_model.py runs/v0.6.safetensors --share-radius 8 -d "v0.7"
    python scripts/ship_model.py runs/v0.7.safetensors --fill-channels -d "v0.8"

Writes src/reexposure/weights/default.safetensors (fp16; or ``-o PATH``) with the description and
the source run's metadata (trained_steps), so `reexpose` can say plainly which model it uses.
``--interior-smooth PX`` sets the guided head's ``GeneratorConfig.interior_smooth`` (a fixed filter
on the network's output, no weights: ``reexposure.core.model.blend.settle_interior``); v0.5 was
trained without it and shipped with 12. ``--upsample bilinear`` sets ``GeneratorConfig.upsample``
(how the decoder interpolates, no weights either); v0.6 is v0.5's weights with it.
``--share-radius PX`` sets ``GeneratorConfig.share_radius`` (the blend's all-clipped weight inside
large clipped areas, no weights: ``reexposure.core.model.blend.all_clipped_weight``); v0.7 is
v0.6's weights with 8. ``--fill-channels`` sets ``GeneratorConfig.fill_channels`` (the blend's
lower bound counts JPEG's stray codes just below the clip inside blown areas as clipped:
``reexposure.core.model.blend.fill_channels``); v0.8 is v0.7 with it.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from reexposure.core.model import GatedUNet
from reexposure.core.weights import ModelError, average_generators, save_weights


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="+", help="weights file(s); several are averaged uniformly")
    ap.add_argument("-d", "--description", required=True)
    default = Path(__file__).resolve().parents[1] / "src" / "reexposure" / "weights" / "default.safetensors"
    ap.add_argument("-o", "--output", type=Path, default=default)
    ap.add_argument("--interior-smooth", type=int, default=None, metavar="PX",
                    help="set the guided head's interior_smooth (px of the working grid; 0 = off)")
    ap.add_argument("--upsample", choices=("nearest", "bilinear"), default=None,
                    help="set the decoder's upsampling (GeneratorConfig.upsample)")
    ap.add_argument("--share-radius", type=int, default=None, metavar="PX",
                    help="set the guided head's share_radius (px of the working grid; 0 = off)")
    ap.add_argument("--fill-channels", action="store_true",
                    help="set the guided head's fill_channels (GeneratorConfig.fill_channels)")
    args = ap.parse_args()
    try:
        model, meta = average_generators(args.weights)
    except ModelError as exc:
        ap.exit(1, f"ship_model: error: {exc}\n")
    changes: dict[str, object] = {}
    if args.interior_smooth is not None:
        if not isinstance(model, GatedUNet) or model.config.head != "guided" or args.interior_smooth < 0:
            ap.exit(1, "ship_model: error: --interior-smooth needs a gated U-Net with the guided head "
                       "and a value >= 0\n")
        changes["interior_smooth"] = args.interior_smooth
    if args.share_radius is not None:
        if not isinstance(model, GatedUNet) or model.config.head != "guided" or not 0 <= args.share_radius <= 64:
            ap.exit(1, "ship_model: error: --share-radius needs a gated U-Net with the guided head "
                       "and a value in [0, 64]\n")
        changes["share_radius"] = args.share_radius
    if args.fill_channels:
        if not isinstance(model, GatedUNet) or model.config.head != "guided":
            ap.exit(1, "ship_model: error: --fill-channels needs a gated U-Net with the guided head\n")
        changes["fill_channels"] = True
    if args.upsample is not None:
        if not isinstance(model, GatedUNet):
            ap.exit(1, "ship_model: error: --upsample needs a gated U-Net\n")
        changes["upsample"] = args.upsample
    if changes:  # config values without weights: the same state dict in a network of the new config
        changed = GatedUNet(dataclasses.replace(model.config, **changes))
        changed.load_state_dict(model.state_dict())
        model = changed
    info = {k: v for k, v in meta.items() if k not in ("format", "config", "path")}
    info["description"] = args.description
    save_weights(model, args.output, **info)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB) from {len(args.weights)} file(s): "
          f"{meta.get('trained_steps')} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
