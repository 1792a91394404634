"""Copy a run's EMA generator into the package as the shipped default model.

    python scripts/ship_model.py runs/cpu-small/model.safetensors "description"

Writes src/reexposure/weights/default.safetensors (fp16) with the description and the source run's
metadata (trained_steps), so `reexpose` can say plainly which model it uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reexposure.weights import load_generator, save_weights


def main() -> None:
    src, description = sys.argv[1], sys.argv[2]
    model, meta = load_generator(src)
    dst = Path(__file__).resolve().parents[1] / "src" / "reexposure" / "weights" / "default.safetensors"
    info = {k: v for k, v in meta.items() if k not in ("format", "config", "path")}
    info["description"] = description
    save_weights(model, dst, **info)
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB) from {src}: {meta.get('trained_steps')} steps")


if __name__ == "__main__":
    main()
