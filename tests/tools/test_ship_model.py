"""scripts/ship_model.py: the shipped file holds the source's weights, its description, and (with
--interior-smooth, --upsample, --share-radius, --fill-channels) the config settings, which change no weight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from reexposure.core.model import GatedUNet, GeneratorConfig
from reexposure.core.weights import load_generator, save_weights

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ship_model.py"


def _ship(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_interior_smooth_is_set_and_the_weights_are_kept(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8, head="guided"))
    save_weights(src, tmp_path / "run.safetensors", trained_steps="7")
    out = _ship(str(tmp_path / "run.safetensors"), "--interior-smooth", "5", "-d", "test model",
                "-o", str(tmp_path / "shipped.safetensors"))
    assert out.returncode == 0, out.stderr
    model, meta = load_generator(tmp_path / "shipped.safetensors")
    assert model.config.interior_smooth == 5 and src.config.interior_smooth == 0
    assert meta["description"] == "test model" and meta["trained_steps"] == "7"
    plain, _ = load_generator(tmp_path / "run.safetensors")  # fp16 round trip, as the shipped file
    for k, v in plain.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_interior_smooth_needs_the_guided_head(tmp_path: Path) -> None:
    save_weights(GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8)), tmp_path / "rgb.safetensors")
    out = _ship(str(tmp_path / "rgb.safetensors"), "--interior-smooth", "5", "-d", "x",
                "-o", str(tmp_path / "o.safetensors"))
    assert out.returncode == 1 and "guided head" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_upsample_is_set_and_the_weights_are_kept(tmp_path: Path) -> None:
    torch.manual_seed(1)
    src = GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8, head="guided", interior_smooth=3))
    save_weights(src, tmp_path / "run.safetensors")
    out = _ship(str(tmp_path / "run.safetensors"), "--upsample", "bilinear", "-d", "bilinear",
                "-o", str(tmp_path / "shipped.safetensors"))
    assert out.returncode == 0, out.stderr
    model, _ = load_generator(tmp_path / "shipped.safetensors")
    assert model.config.upsample == "bilinear" and model.config.interior_smooth == 3
    plain, _ = load_generator(tmp_path / "run.safetensors")
    assert plain.config.upsample == "nearest"
    for k, v in plain.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_share_radius_and_fill_channels_are_set_and_the_weights_are_kept(tmp_path: Path) -> None:
    torch.manual_seed(2)
    src = GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8, head="guided", interior_smooth=3))
    save_weights(src, tmp_path / "run.safetensors")
    out = _ship(str(tmp_path / "run.safetensors"), "--share-radius", "8", "--fill-channels", "-d", "v",
                "-o", str(tmp_path / "shipped.safetensors"))
    assert out.returncode == 0, out.stderr
    model, _ = load_generator(tmp_path / "shipped.safetensors")
    assert model.config.share_radius == 8 and model.config.fill_channels and model.config.interior_smooth == 3
    plain, _ = load_generator(tmp_path / "run.safetensors")
    assert not plain.config.fill_channels and plain.config.share_radius == 0
    for k, v in plain.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    save_weights(GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8)), tmp_path / "rgb.safetensors")
    bad = _ship(str(tmp_path / "rgb.safetensors"), "--fill-channels", "-d", "x", "-o", str(tmp_path / "o.safetensors"))
    assert bad.returncode == 1 and "guided head" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "o.safetensors").exists()
