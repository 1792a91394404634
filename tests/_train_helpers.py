"""Helpers for the training tests: tiny HDR folders written in tmp_path, tiny configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_exr(path: Path, rgb: np.ndarray) -> Path:
    """Write HWC float32 RGB as a ZIP-compressed float EXR (OpenEXR directly: the test must not
    depend on the code under test to make its input)."""
    import OpenEXR

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.ascontiguousarray(rgb.astype(np.float32))
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": arr}).write(str(path))
    return path


def scene(seed: int, h: int = 48, w: int = 64, peak: float = 20.0) -> np.ndarray:
    """A small HDR scene: textured background around 0.2 plus one bright disc (light source)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    img = 0.15 + 0.1 * rng.random((h, w, 3)) + 0.05 * np.sin(xx / 5.0 + seed)[..., None]
    cy, cx = int(rng.integers(10, h - 10)), int(rng.integers(10, w - 10))
    img[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = peak * (1 + seed)
    return img.astype(np.float32)


def make_hdr_folder(root: Path, names: tuple[str, ...] = ("a", "b", "c", "v"), h: int = 48, w: int = 64) -> Path:
    """``root/<name>.exr`` for each name (distinct scenes). Returns ``root``."""
    for i, name in enumerate(names):
        write_exr(root / f"{name}.exr", scene(i, h, w))
    return root


def tiny_overrides(data: Path, out: Path, **extra: object) -> list[str]:
    """``key=value`` overrides for a tiny CPU run (width 4, depth 2, crop 32, batch 2): scene
    ``v`` is held out for validation, ``a``, ``b``, ``c`` train."""
    values: dict[str, object] = {
        "data": str(data), "out": str(out), "holdout": "[v]", "steps": 8, "batch": 2, "threads": 1,
        "workers": 0, "device": "cpu", "gan_start": 3, "w_perc": 0, "w_adv": 0.01, "log_every": 1,
        "ckpt_every": 2, "val_every": 4, "val_crop": 32, "generator.width": 4, "generator.depth": 2,
        "generator.max_width": 8, "discriminator.width": 4, "discriminator.layers": 3,
        "discriminator.max_width": 8, "pairs.crop": 32, "lr_g": 1e-3, "lr_d": 1e-3,
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def tiny_config(data: Path, out: Path, **extra: object):
    from reexposure.training.trainer import load_train_config

    return load_train_config(None, tiny_overrides(data, out, **extra))
