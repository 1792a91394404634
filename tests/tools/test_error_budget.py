"""scripts/error_budget.py end to end on a tiny synthetic HDR folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _train_helpers import make_hdr_folder

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "error_budget.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True,
                          timeout=300)


def test_error_budget_table_and_crop_calibration(tmp_path: Path) -> None:
    """The what-if that knows the true lights scores at least as well as the model; the crop
    table counts clipped pixels of training scenes only."""
    data = make_hdr_folder(tmp_path / "hdr", h=160, w=192)
    out = _run("--data", str(data), "--scenes", "v", "--side", "96", "--convex", "1,0.5", "--two-scale",
               "--area-levels", "--crops", "8")
    assert out.returncode == 0, out.stderr
    rows = dict(re.findall(r"^\| (ours[^|]*?) \| ([^|]+ \| [^|]+) \|", out.stdout, re.MULTILINE))
    assert set(rows) == {"ours", "ours + true lights", "ours, convex 1,0.5", "ours, two-scale",
                         "ours, true level per area"}
    ev3 = {k: float(v.split("|")[1]) for k, v in rows.items()}
    assert ev3["ours + true lights"] >= ev3["ours"]
    assert "3 cases, png" in out.stdout and "training crops" in out.stdout
    only = _run("--data", str(data), "--scenes", "", "--crops", "8")  # the crop table alone
    assert only.returncode == 0 and "cases," not in only.stdout and "training crops" in only.stdout
    bad = _run("--data", str(data), "--scenes", "v", "--side", "96", "--weights", str(tmp_path / "none.safetensors"))
    assert bad.returncode == 1 and "none.safetensors" in bad.stderr and "Traceback" not in bad.stderr


def test_error_budget_ensemble_and_upscale_of_the_model_itself(tmp_path: Path) -> None:
    """The model averaged with itself, and run at 1x through the resize path, score as the model."""
    from reexposure.core.weights import default_model_path

    data = make_hdr_folder(tmp_path / "hdr", h=160, w=192)
    out = _run("--data", str(data), "--scenes", "v", "--side", "96", "--ensemble", str(default_model_path()),
               "--upscale", "1", "--upscale", "2")
    assert out.returncode == 0, out.stderr
    rows = dict(re.findall(r"^\| (ours[^|]*?) \| ([^|]+ \| [^|]+ \| [^|]+) \|", out.stdout, re.MULTILINE))
    assert set(rows) == {"ours", "ours + true lights", f"ours + {default_model_path()}", "ours at 1x", "ours at 2x"}
    assert rows[f"ours + {default_model_path()}"] == rows["ours"] == rows["ours at 1x"]
    assert rows["ours at 2x"] != rows["ours"]
    bad = _run("--data", str(data), "--scenes", "v", "--side", "96", "--ensemble", str(tmp_path / "x.safetensors"))
    assert bad.returncode == 1 and "x.safetensors" in bad.stderr and "Traceback" not in bad.stderr


def test_error_budget_bad_input_is_one_line(tmp_path: Path) -> None:
    out = _run("--data", str(tmp_path), "--scenes", "nope")
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0 and "nope" in out.stderr
    out = _run("--data", str(tmp_path), "--scenes", "", "--crops", "4")
    assert out.returncode == 1 and "no training scenes" in out.stderr and "Traceback" not in out.stderr
    out = _run("--data", str(tmp_path), "--convex", "1")
    assert out.returncode == 2 and "A,T" in out.stderr


def test_true_area_levels_scales_each_fully_clipped_area_by_its_median_ratio() -> None:
    """Two fully clipped areas get their own factor (truth median / model median), a partly
    clipped pixel and the rest are the model's, and nothing falls below naive."""
    import importlib.util

    import numpy as np
    import torch

    spec = importlib.util.spec_from_file_location("error_budget", SCRIPT)
    assert spec is not None and spec.loader is not None
    eb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eb)

    photo = np.full((8, 12, 3), 128, np.uint8)
    photo[1:4, 1:4] = 255  # area A
    photo[5:7, 6:10] = 255  # area B
    photo[0, 11] = (255, 255, 100)  # partly clipped: not an area
    model = torch.from_numpy((photo / 255.0) ** 2).permute(2, 0, 1)[None].float()
    model[:, :, 1:4, 1:4] = 2.0
    model[:, :, 5:7, 6:10] = 3.0

    class Fixed(eb.Method):
        def radiance(self, photo: np.ndarray, crf: object = None) -> torch.Tensor:
            return model.clone()

    truth = model.clone()
    truth[:, :, 1:4, 1:4] = 16.0
    truth[:, :, 5:7, 6:10] = 1.5
    out = eb.TrueAreaLevels(Fixed(), truth).radiance(photo)
    assert torch.allclose(out[:, :, 1:4, 1:4], torch.tensor(16.0))
    assert torch.allclose(out[:, :, 5:7, 6:10], torch.tensor(1.5))
    rest = torch.ones(8, 12, dtype=torch.bool)
    rest[1:4, 1:4] = rest[5:7, 6:10] = False
    assert torch.equal(out[0][:, rest], model[0][:, rest])
    truth[:, :, 5:7, 6:10] = 0.5  # a truth below the clip level: naive's 1.0 is the floor
    assert torch.allclose(eb.TrueAreaLevels(Fixed(), truth).radiance(photo)[:, :, 5:7, 6:10], torch.tensor(1.0))


def test_blend_what_if_is_the_pipeline_with_the_photos_own_mask_and_luma_only_adds() -> None:
    """With the photo's own mask the what-if equals the pipeline's radiance; the luma weight has
    known values and only ever adds brightness (a larger weight on a log gain >= 0)."""
    import importlib.util

    import numpy as np
    import torch

    from reexposure.core.infer import Reconstructor

    spec = importlib.util.spec_from_file_location("error_budget", SCRIPT)
    assert spec is not None and spec.loader is not None
    eb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eb)

    luma = eb.luma_clipped(np.array([[[255, 255, 255], [255, 255, 100], [255, 255, 238]]], np.uint8), 249, 254)
    assert torch.allclose(luma.flatten(), torch.tensor([1.0, 0.0, (0.886 * 255 + 0.114 * 238 - 249) / 5]), atol=1e-5)

    yy, xx = np.mgrid[0:48, 0:64]
    photo = np.stack([80 + xx, 90 + yy, 60 + xx // 2], -1).astype(np.uint8)
    blob = (yy - 20) ** 2 + (xx - 30) ** 2 < 60
    photo[blob] = 255
    photo[((yy - 20) ** 2 + (xx - 30) ** 2 < 150) & ~blob] = (255, 252, 236)  # a ring whose luma nearly clipped
    rec = Reconstructor(None, threads=1)
    pipeline = rec(photo).to_tensor()
    same = eb.BlendWhatIf(rec, "own mask", mask_photo=photo).radiance(photo)
    assert torch.allclose(same, pipeline, rtol=1e-5, atol=1e-6)
    more = eb.BlendWhatIf(rec, "luma", luma=(240.0, 254.0)).radiance(photo)
    assert bool((more >= pipeline * (1 - 1e-5)).all()) and bool((more > pipeline * 1.01).any())
    out = _run("--data", ".", "--luma-weight", "254,249")
    assert out.returncode == 2 and "LO,HI" in out.stderr


def test_error_budget_png_mask_on_jpeg_and_camera_like_cases(tmp_path: Path) -> None:
    """--png-mask scores JPEG cases with their PNG rendition's mask; --camera renders the cases as
    `reexpose eval --camera` does; --png-mask needs plain JPEG cases."""
    data = make_hdr_folder(tmp_path / "hdr", h=160, w=192)
    out = _run("--data", str(data), "--scenes", "v", "--side", "96", "--format", "jpeg", "--png-mask",
               "--luma-weight", "249,254")
    assert out.returncode == 0, out.stderr
    assert "3 cases, jpeg" in out.stdout
    assert "| ours, the PNG rendition's mask |" in out.stdout and "| ours, luma weight 249-254 |" in out.stdout
    cam = _run("--data", str(data), "--scenes", "v", "--side", "96", "--camera", "1")
    assert cam.returncode == 0, cam.stderr
    assert "camera-like (seed 1)" in cam.stdout
    ours = re.search(r"^\| ours \| ([^|]+) \|", out.stdout, re.MULTILINE)
    ours_cam = re.search(r"^\| ours \| ([^|]+) \|", cam.stdout, re.MULTILINE)
    assert ours is not None and ours_cam is not None and ours.group(1) != ours_cam.group(1)
    bad = _run("--data", str(data), "--scenes", "v", "--png-mask")
    assert bad.returncode == 2 and "--format jpeg" in bad.stderr


def test_interior_what_ifs_close_dips_per_area_and_keep_depth_alone() -> None:
    """The closing fills a dip inside an area, keeps its peak, never raises a neighbouring area and
    never touches a pixel outside; the depth profile leaves a function of depth alone (two pixels
    at the same depth agree), and a constant area stays as it is."""
    import importlib.util

    import numpy as np

    from reexposure.core.infer import Reconstructor

    spec = importlib.util.spec_from_file_location("error_budget", SCRIPT)
    assert spec is not None and spec.loader is not None
    eb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eb)

    labels = np.zeros((9, 20), np.int64)
    labels[1:8, 1:12] = 1  # a wide area with a dip and a peak
    labels[3:6, 14:18] = 2  # a small area next to it, darker
    bright = np.zeros((9, 20), np.float64)
    bright[labels == 1] = 2.0
    bright[3:6, 4] = 0.5  # a dip one column wide
    bright[4, 9] = 5.0  # a peak
    bright[labels == 2] = 1.0
    bright[0, 0] = -3.0  # outside: never read, never changed
    closed = eb.close_per_area(bright, labels, 2)
    assert np.allclose(closed[3:6, 4], 2.0) and closed[4, 9] == 5.0
    assert np.allclose(closed[labels == 2], 1.0) and closed[0, 0] == -3.0
    assert (closed >= bright).all()

    profile = eb.depth_profile(bright, labels)
    assert profile[1, 5] == profile[1, 8] and profile[4, 15] == profile[4, 16]  # same depth, same value
    assert np.isclose(profile[labels == 2].mean(), 1.0) and profile[0, 0] == -3.0
    assert not np.allclose(profile[labels == 1], bright[labels == 1])

    with pytest.raises(ValueError):
        eb.InteriorWhatIf(Reconstructor(None, threads=1), "close")
    out = _run("--data", ".", "--interior", "close:0")
    assert out.returncode == 2 and "close:R" in out.stderr
