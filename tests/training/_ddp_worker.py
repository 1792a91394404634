"""One rank of the 2-process DDP test (run by torchrun from test_train_ddp.py).

Usage: python -m torch.distributed.run --standalone --nproc_per_node=2 _ddp_worker.py REPORT_DIR key=value ...
Trains with reexposure.training.trainer.train and writes REPORT_DIR/rank<R>.pt: the sample numbers and image
indices this rank saw, every file it wrote through the training code, and its final weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

import reexposure.training.trainer as T


def main() -> None:
    report_dir, overrides = Path(sys.argv[1]), sys.argv[2:]
    rank = int(os.environ["RANK"])
    writes: list[str] = []

    def spy(fn, path_arg: int):  # noqa: ANN001, ANN202
        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            writes.append(str(args[path_arg]))
            return fn(*args, **kwargs)
        return wrapped

    T._write_checkpoint = spy(T._write_checkpoint, 0)
    T.save_weights = spy(T.save_weights, 1)
    T.atomic_write_bytes = spy(T.atomic_write_bytes, 0)
    seen: dict[str, list[int]] = {"samples": [], "images": []}
    holder: dict[str, T.Trainer] = {}

    def on_step(trainer: T.Trainer, batch: dict[str, torch.Tensor], metrics: dict[str, float]) -> None:
        holder["trainer"] = trainer
        seen["samples"] += batch["index"].tolist()
        seen["images"] += batch["image"].tolist()

    T.train(T.load_train_config(None, overrides), progress=False, on_step=on_step)
    trainer = holder["trainer"]
    torch.save({"rank": rank, "world": int(os.environ["WORLD_SIZE"]), **seen, "writes": writes,
                "generator": trainer.G.state_dict(), "discriminator": trainer.D.state_dict(),
                "generator_ema": trainer.G_ema.state_dict()},
               report_dir / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
