"""scripts/area_oracle.py: the per-area oracle on a synthetic bracket pair whose two clipped discs
held different light (known values), and end to end on a bracket folder."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from reexposure.core.infer import Reconstructor
from reexposure.core.model import GatedUNet, GeneratorConfig

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "area_oracle.py"


def _module():
    spec = importlib.util.spec_from_file_location("area_oracle", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _pair(ev_diff: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A textured scene with a disc at 1.3x the clip level (a bright wall) and one at 6x (a lamp),
    rendered with the square law at EV 0 (both discs clip) and ``ev_diff`` darker (neither does)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :160]
    rad = 0.15 + 0.1 * np.sin(xx / 7.0)[..., None] + 0.05 * rng.random((96, 160, 3))
    rad[(yy - 48) ** 2 + (xx - 40) ** 2 < 20 ** 2] = 1.3
    rad[(yy - 48) ** 2 + (xx - 120) ** 2 < 20 ** 2] = 6.0

    def render(r: np.ndarray) -> np.ndarray:
        return np.round(255 * np.sqrt(np.clip(r, 0, 1))).astype(np.uint8)

    return render(rad), render(rad / 2 ** ev_diff)


def _model() -> GatedUNet:
    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, head="guided")).eval()
    torch.nn.init.zeros_(model.head.weight)
    with torch.no_grad():
        model.head.bias[0] = float(np.log(3.0))  # the same 3x for both discs
        model.head.bias[1] = 0.0
    return model


def test_the_oracle_calms_the_wall_and_raises_the_lamp() -> None:
    mod = _module()
    bright, dark = _pair()
    res = mod.oracle(Reconstructor(_model(), threads=1)(bright), bright, dark, 3.0)
    chosen = {a: s for a, _, s in res["chosen"]}
    assert len(chosen) == 2
    wall, lamp = chosen[min(chosen)], chosen[max(chosen)]  # labels in raster order: the left disc first
    assert wall <= 0.5 and lamp >= 1.5, chosen  # 3**0.25 = 1.3; 3**1.5 = 5.2, 3**2 = 9
    scores = mod.bracket_scores(bright, dark, 3.0, res["preds"])["render_error"]
    assert scores["per area"] <= scores["best single"] <= scores["ours"]
    assert scores["per area"] < 0.5 * scores["ours"]
    outside = mod.near_clip_areas(bright) == 0
    assert np.array_equal(res["preds"]["per area"][outside], res["preds"]["ours"][outside])


def test_the_script_prints_a_row_per_pair(tmp_path: Path) -> None:
    from reexposure.core.weights import save_weights

    bright, dark = _pair()
    folder = tmp_path / "brackets" / "synthetic"
    folder.mkdir(parents=True)
    Image.fromarray(bright).save(folder / "bright.png")
    Image.fromarray(dark).save(folder / "dark.png")
    (folder / "info.json").write_text(json.dumps({"highlight_test": [
        {"bright_frame": "bright.png", "darker_2to3ev": "dark.png", "ev_diff": 3.0}]}))
    weights = tmp_path / "m.safetensors"
    save_weights(_model(), weights)
    out = subprocess.run([sys.executable, str(SCRIPT), "--brackets", str(tmp_path / "brackets"), "--weights",
                          str(weights), "--threads", "1"], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "| synthetic/bright.png |" in out.stdout and "| all pairs (mean) |" in out.stdout
    bad = subprocess.run([sys.executable, str(SCRIPT), "--brackets", str(tmp_path / "none")], capture_output=True,
                         text=True, timeout=300, check=False)
    assert bad.returncode == 2 and "area_oracle:" in bad.stderr and "Traceback" not in bad.stderr
