"""Scale-out: 2 processes with the gloo backend on CPU through torchrun and DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from _train_helpers import make_hdr_folder, tiny_overrides

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def test_two_process_gloo_ddp(tmp_path: Path) -> None:
    data = make_hdr_folder(tmp_path / "hdr", ("a", "b", "c", "v"))  # 3 training images, v held out
    out = tmp_path / "run"
    report = tmp_path / "report"
    report.mkdir()
    steps, batch, world = 3, 2, 2
    # GAN from step 1, so the discriminator's DDP reduction runs too
    overrides = tiny_overrides(data, out, steps=steps, batch=batch, gan_start=1, ckpt_every=1, val_every=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{HERE}"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(HERE / "_ddp_worker.py"), str(report), *overrides],
        env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(report / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert (r0["world"], r1["world"]) == (2, 2)

    # every sample number exactly once across ranks; ranks saw different samples
    assert sorted(r0["samples"] + r1["samples"]) == list(range(steps * batch * world))
    assert not set(r0["samples"]) & set(r1["samples"])
    # each training image once per epoch (3 images: samples 0-2, 3-5, ... are epochs)
    image_of = dict(zip(r0["samples"] + r1["samples"], r0["images"] + r1["images"]))
    for epoch in range(steps * batch * world // 3):
        assert sorted(image_of[epoch * 3 + i] for i in range(3)) == [0, 1, 2]

    # gradients synchronised: different data on each rank, yet identical weights after the steps
    for key in ("generator", "discriminator", "generator_ema"):
        for name, p0 in r0[key].items():
            assert torch.equal(p0, r1[key][name]), f"{key}.{name} differs between ranks"
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == steps
    assert any(not torch.equal(v, ckpt["generator"][k]) for k, v in _fresh_generator(out).items())

    # files are written by rank 0 only
    assert r1["writes"] == []
    assert str(out / "last.pt") in r0["writes"] and str(out / "model.safetensors") in r0["writes"]


def _fresh_generator(out: Path) -> dict[str, torch.Tensor]:
    """The untrained generator of the run's config (same seed): training really moved it."""
    from reexposure.training.trainer import Trainer, load_train_config

    torch.set_num_threads(1)
    return Trainer(load_train_config(str(out / "config.yaml"), []), torch.device("cpu")).G.state_dict()
