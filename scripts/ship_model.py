"""Copy a run's EMA generator (or the average of several of its snapshots) into the package as
the shipped default model.

    python scripts/ship_model.py runs/cpu-small/model.safetensors -d "description"
    python scripts/ship_model.py runs/cpu-stage3/model_00{1000,1500,2000,2500,3000}.safetensors -d "v0.3"
    python scripts/ship_model.py runs/expandnet-stage3/model_00{1000,1500,2000,2500,3000}.safetensors \\
        -d "ExpandNet baseline" -o baselines/expandnet.safetensors

Writes src/reexposure/weights/default.safetensors (fp16; or ``-o PATH``) with the description and
the source run's metadata (trained_steps), so `reexpose` can say plainly which model it uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reexposure.core.weights import ModelError, average_generators, save_weights


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="+", help="weights file(s); several are averaged uniformly")
    ap.add_argument("-d", "--description", required=True)
    default = Path(__file__).resolve().parents[1] / "src" / "reexposure" / "weights" / "default.safetensors"
    ap.add_argument("-o", "--output", type=Path, default=default)
    args = ap.parse_args()
    try:
        model, meta = average_generators(args.weights)
    except ModelError as exc:
        ap.exit(1, f"ship_model: error: {exc}\n")
    info = {k: v for k, v in meta.items() if k not in ("format", "config", "path")}
    info["description"] = args.description
    save_weights(model, args.output, **info)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB) from {len(args.weights)} file(s): "
          f"{meta.get('trained_steps')} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
