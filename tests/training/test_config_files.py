"""Config files: one base plus small overrides (``inherit:``), and the loader that merges them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reexposure.training.config import ConfigError, read_yaml
from reexposure.training.trainer import load_train_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_inherit_merges_files_in_order_and_sections_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("steps: 10\nbatch: 4\npairs:\n  crop: 64\n  ev_range: [-2, 2]\n")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "b.yaml").write_text("batch: 2\npairs:\n  crop: 32\n")
    (tmp_path / "c.yaml").write_text("inherit: [a.yaml, parts/b.yaml]\nsteps: 5\n")
    assert read_yaml(tmp_path / "c.yaml") == {"steps": 5, "batch": 2, "pairs": {"crop": 32, "ev_range": [-2, 2]}}
    (tmp_path / "d.yaml").write_text("inherit: c.yaml\n")  # a chain, and a single name
    assert read_yaml(tmp_path / "d.yaml")["batch"] == 2
    config = load_train_config(str(tmp_path / "d.yaml"), ["batch=3"])  # overrides still win
    assert (config.steps, config.batch, config.pairs.crop) == (5, 3, 32)


def test_inherit_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text("inherit: loop2.yaml\n")
    (tmp_path / "loop2.yaml").write_text("inherit: loop.yaml\n")
    with pytest.raises(ConfigError, match="inherits itself"):
        read_yaml(tmp_path / "loop.yaml")
    (tmp_path / "missing.yaml").write_text("inherit: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="cannot read config .*nowhere.yaml"):
        read_yaml(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("inherit: {a: 1}\n")
    with pytest.raises(ConfigError, match="inherit must be"):
        read_yaml(tmp_path / "bad.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_loads_and_only_the_base_names_the_data(path: Path) -> None:
    config = load_train_config(str(path), [])
    assert config.data == "../shared/data/hdr"
    text = path.read_text()
    assert ("data:" in text) == (path.name == "base.yaml")  # the data folder is written once
    if path.name != "base.yaml":
        assert "inherit:" in text


def test_stage_configs_are_the_recipes_they_describe() -> None:
    stage3 = load_train_config(str(REPO / "configs" / "cpu-stage3.yaml"), [])
    enet3 = load_train_config(str(REPO / "configs" / "expandnet-stage3.yaml"), [])
    # the same recipe for both networks; only the network and the run folders differ
    same = ("seed", "steps", "lr_g", "lr_d", "lr_schedule", "gan_start", "w_ldr", "ldr_loss", "w_tex", "tex_patch",
            "threads", "keep_every", "val_every", "pairs")
    assert all(getattr(stage3, k) == getattr(enet3, k) for k in same)
    assert (stage3.arch, enet3.arch, stage3.w_tex, stage3.seed, stage3.generator.width) == (
        "gated_unet", "expandnet", 2.0, 2, 12)
