"""scripts/area_levels.py: its area features on a known image, and end to end on a tiny synthetic
HDR folder (scikit-learn is optional)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _train_helpers import make_hdr_folder

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "area_levels.py"


def _load():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("area_levels", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_area_features_of_a_known_square() -> None:
    """A 6 x 6 clipped square on a grey ground: its size, box fill, outline, the model's level in it,
    the rings' brightness (the ground's, squared by the square-root CRF) and none of them near the
    clip; a 1-px speck is not an area (below MIN_AREA)."""
    al = _load()
    photo = np.full((40, 48, 3), 128, np.uint8)
    photo[10:16, 20:26] = 255
    photo[30, 5] = 255
    labels = al.clipped_areas(photo)
    assert labels.max() == 2
    model = torch.from_numpy((photo / 255.0) ** 2).permute(2, 0, 1)[None].float()
    model[:, :, 10:16, 20:26] = 3.0
    rows = al.area_features(photo, labels, model)
    assert len(rows) == 1
    f = dict(zip(al.FEATURES, rows[0][1]))
    assert np.isclose(f["log area"], np.log(36)) and np.isclose(f["fill of its box"], 1.0)
    assert np.isclose(f["outline / sqrt area"], 20 / 6)  # the 20 outline pixels of a 6 x 6 square
    assert np.isclose(f["model median"], np.log(3.0), atol=1e-6)
    for ring in ("ring 1-2 px", "ring 3-6 px", "ring 7-16 px"):
        assert np.isclose(f[ring], (128 / 255) ** 2, atol=1e-3)
    assert f["near clip 1-2 px"] == 0.0 and np.isclose(f["ring saturation"], 0.0)
    assert np.isclose(f["height in frame"], 12.5 / 40)


def test_area_levels_table_or_a_one_line_error(tmp_path: Path) -> None:
    data = make_hdr_folder(tmp_path / "hdr", h=160, w=192)
    run = [sys.executable, str(SCRIPT), "--data", str(data), "--side", "96", "--clips", "0.02,0.08"]
    out = subprocess.run([*run, "--holdout", "v", "--network-features"], check=False, capture_output=True,
                         text=True, timeout=300)
    if importlib.util.find_spec("sklearn") is None:
        assert out.returncode == 1 and "scikit-learn" in out.stderr and "Traceback" not in out.stderr
        return
    assert out.returncode == 0, out.stderr
    for row in ("| ours |", "| ours x fitted factor |", "| ours, conservative (0.25-0.75) |",
                "| ours, true level per area |"):
        assert row in out.stdout
    bad = subprocess.run([*run, "--holdout", "nope"], check=False, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "held-out scenes" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([*run, "--lo", "0.8", "--hi", "0.2"], check=False, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--lo" in bad.stderr and "Traceback" not in bad.stderr


def test_area_levels_takes_the_split_from_a_training_config(tmp_path: Path) -> None:
    """``--config``: its held-out scene is scored, its excluded scenes are not trained on (all of
    them excluded: a one-line error)."""
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn not installed (optional: pip install -e '.[analysis]')")
    data = make_hdr_folder(tmp_path / "hdr", h=160, w=192)
    run = [sys.executable, str(SCRIPT), "--data", str(data), "--side", "96", "--clips", "0.02,0.08"]
    cfg = tmp_path / "split.yaml"
    cfg.write_text("holdout: [v]\nexclude: [a]\n")
    out = subprocess.run([*run, "--config", str(cfg)], check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    scenes = int(re.search(r"training areas of (\d+) scenes", out.stdout).group(1))  # type: ignore[union-attr]
    assert 1 <= scenes <= 2 and "| ours |" in out.stdout  # b and c at most: a is excluded, v held out
    cfg.write_text("holdout: [v]\nexclude: [a, b, c]\n")
    bad = subprocess.run([*run, "--config", str(cfg)], check=False, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "training and held-out scenes" in bad.stderr and "Traceback" not in bad.stderr
