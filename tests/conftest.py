"""Shared fixtures. Tests run on CPU with one torch thread (CI machines have two cores)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REEXPOSURE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The project's shared data folder (../shared); tests that need it skip without it."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data folder not found at {SHARED} (set REEXPOSURE_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def shared_hdr(shared: Path) -> Path:
    return shared / "data" / "hdr"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny gated U-Net (zero head: the naive answer) as a weights file, shared by the tests
    that run the command line or a server in another process."""
    from reexposure.core.model import GatedUNet, GeneratorConfig
    from reexposure.core.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_weights(GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16)), path)
    return path


@pytest.fixture()
def tiny_model():
    """A tiny generator with a non-zero (random) head, so its output is not the naive answer."""
    from reexposure.core.model import GatedUNet, GeneratorConfig

    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16))
    torch.nn.init.normal_(model.head.weight, std=0.05)
    return model.eval()


@pytest.fixture()
def highlight_photo() -> np.ndarray:
    """A 192x256 uint8 photo: textured background plus three clipped discs, one on the border."""
    rng = np.random.default_rng(0)
    h, w = 192, 256
    yy, xx = np.mgrid[:h, :w]
    base = 60 + 40 * np.sin(xx / 9.0)[..., None] + 30 * np.cos(yy / 7.0)[..., None]
    img = np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 230).astype(np.uint8)
    for cy, cx, r in [(60, 70, 25), (130, 190, 35), (100, 0, 20)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 255
    return img
