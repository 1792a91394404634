"""``reexpose eval --photos``: colour against the ring, banding, blotches, sheets and the CLI hook."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reexposure.apps.cli import main as cli_main
from reexposure.eval import photos
from reexposure.eval.run import EvalError

BG = (200, 150, 100)  # unclipped surround (sRGB codes)


def disc_photo(h: int = 80, w: int = 96, r: int = 16) -> np.ndarray:
    """A uniform unclipped background with one clipped (255) disc in the middle (~800 px)."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = BG
    yy, xx = np.mgrid[:h, :w]
    img[(yy - h // 2) ** 2 + (xx - w // 2) ** 2 < r * r] = 255
    return img


def lin(u8: np.ndarray) -> np.ndarray:
    return (u8.astype(np.float32) / 255.0) ** 2


def rotated(ref: np.ndarray, deg: float) -> np.ndarray:
    """A colour at exactly ``deg`` degrees from ``ref`` (rotated towards a perpendicular vector)."""
    ref = ref / np.linalg.norm(ref)
    v = np.cross(ref, [0.0, 0.0, 1.0])
    v /= np.linalg.norm(v)
    t = math.radians(deg)
    return math.cos(t) * ref + math.sin(t) * v


def test_angles_known_values() -> None:
    assert photos.angles(np.array([[1.0, 0, 0], [1, 1, 0], [2, 2, 2]]), np.array([1.0, 0, 0])) == pytest.approx(
        [0.0, 45.0, math.degrees(math.acos(1 / math.sqrt(3)))], abs=1e-3)  # the 1e-12 guard: ~1e-4 deg
    assert photos.angles(np.array([[0.0, 1, 0]]), np.array([[0.0, 0, 3]])) == pytest.approx([90.0])


def test_ring_colour_scores_zero_and_known_tint() -> None:
    u8 = disc_photo()
    regions, clipped = photos.find_regions(u8)
    assert len(regions) == 1 and regions[0].area == int(clipped.sum())
    ring_colour = lin(np.array([[BG]], np.uint8))[0, 0].astype(np.float64)
    # the ring is the background exactly (3..12 px outside the disc)
    reg = regions[0]
    assert reg.ring.sum() > 500 and not (reg.ring & reg.mask).any()
    same = np.broadcast_to(ring_colour * 7.0, u8.shape).astype(np.float32)  # the ring's colour, 7x brighter
    tint = np.broadcast_to(rotated(ring_colour, 12.0) * 3.0, u8.shape).astype(np.float32)
    s = photos.photo_scores(u8, {"same": same, "tint": tint, "naive": lin(u8)})
    assert s["n_regions"] == 1 and s["clipped_share"] == pytest.approx(clipped.mean())
    assert s["colour"]["same"] == pytest.approx(0.0, abs=0.05)
    assert s["colour"]["tint"] == pytest.approx(12.0, abs=0.05)
    # naive: the clipped disc is white (1,1,1)
    white = photos.angles(np.ones((1, 3)), ring_colour)[0]
    assert white > 15 and s["colour"]["naive"] == pytest.approx(white, abs=1e-3)
    # flat predictions: no banding, no blotches
    for k in ("same", "tint", "naive"):
        assert s["banding"][k] == 0.0 and s["blotch"][k] == 0.0


def test_small_regions_and_unclipped_photos_are_not_scored() -> None:
    u8 = disc_photo(r=8)  # ~200 px < 400
    s = photos.photo_scores(u8, {"naive": lin(u8)})
    assert s["n_regions"] == 0 and math.isnan(s["colour"]["naive"])
    assert photos.photo_scores(u8, {"naive": lin(u8)}, min_px=100)["n_regions"] == 1
    flat = np.full((40, 40, 3), 120, np.uint8)
    assert photos.find_regions(flat)[0] == []


def test_blotch_and_banding_see_patches_and_stripes() -> None:
    u8 = disc_photo(r=24)
    ring_colour = lin(np.array([[BG]], np.uint8))[0, 0].astype(np.float64)
    yy, xx = np.mgrid[:u8.shape[0], :u8.shape[1]]
    # colour patches of 4x4 px alternating +-8 degrees: blotchy; a smooth brightness ramp is not
    cells = ((yy // 4 + xx // 4) % 2).astype(bool)
    patches = np.where(cells[..., None], rotated(ring_colour, 8.0), rotated(ring_colour, -8.0)).astype(np.float32)
    ramp = (ring_colour * (1 + xx / 50.0)[..., None]).astype(np.float32)
    stripes = (ring_colour * np.where((yy // 6) % 2 == 0, 1.0, 4.0)[..., None]).astype(np.float32)
    s = photos.photo_scores(u8, {"patches": patches, "ramp": ramp, "stripes": stripes})
    assert s["blotch"]["patches"] > 0.8
    assert s["blotch"]["ramp"] == 0.0 and s["blotch"]["stripes"] == 0.0  # brightness alone is not a blotch
    assert s["banding"]["ramp"] == 0.0
    assert s["banding"]["stripes"] > 0.05  # a step every 6 rows: ~1/12 of the pairs


def _load_tool(shared: Path):  # type: ignore[no-untyped-def]
    path = shared / "tools" / "photo_colour_check.py"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    pytest.importorskip("scipy")
    spec = importlib.util.spec_from_file_location("photo_colour_check", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_same_numbers_as_the_shared_checker(shared: Path, highlight_photo: np.ndarray) -> None:
    tool = _load_tool(shared)
    u8 = highlight_photo
    rng = np.random.default_rng(1)
    pred = lin(u8) * 3.0  # on another scale: the checker fits it back
    clipped = photos.clipped_mask(u8)
    pred[clipped] *= rng.uniform(1.0, 6.0, (int(clipped.sum()), 3)).astype(np.float32)
    s = photos.photo_scores(u8, {"m": pred, "naive": lin(u8)})
    k = photos.tool_scale(u8, pred, lin(u8))
    assert k == pytest.approx(1 / 3, rel=1e-3)
    so, sn, band, area = tool.photo_scores(u8, pred * k, photos.MIN_PX)
    assert s["colour"]["m"] == so  # same float32 arithmetic: the same numbers exactly
    assert s["colour"]["naive"] == sn
    assert s["banding"]["m"] == band
    assert sum(r["area"] for r in s["regions"]) == area


def test_prepare_photo_orientation_and_max_side(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :10] = 255  # left band white
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    p = tmp_path / "o.jpg"
    im.save(p, quality=95, exif=exif)
    u8 = photos.prepare_photo(p, None)
    assert u8.shape == (40, 20, 3)
    assert u8[:10].mean() > 200 and u8[-10:].mean() < 50  # the white band is now on top
    assert photos.prepare_photo(p, 16).shape == (16, 8, 3)


def run_main(*args: str) -> int:
    return cli_main(["eval", *args, "--no-progress", "--threads", "1"])


def test_run_photos_end_to_end(tmp_path: Path, tiny_model, highlight_photo: np.ndarray,  # type: ignore[no-untyped-def]
                               capsys: pytest.CaptureFixture[str]) -> None:
    from reexposure.core.weights import save_weights

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(highlight_photo).save(folder / "discs.png")
    Image.fromarray(np.full((32, 48, 3), 90, np.uint8)).save(folder / "dull.jpg")
    model = tmp_path / "tiny.safetensors"
    save_weights(tiny_model, model)
    out = tmp_path / "out"
    assert run_main("--photos", str(folder), "--model", str(model), "--max-side", "200", "--out", str(out)) == 0
    stdout = capsys.readouterr().out
    assert "discs" in stdout and "regions" in stdout and "colour p95 ours" in stdout and "skipped" in stdout
    doc = json.loads((out / "summary.json").read_text())
    d = doc["photos"]["discs"]
    assert d["size"] == [200, 150] and d["n_regions"] >= 2
    assert set(d["colour"]) == {"ours", "naive"} and all(np.isfinite(v) for v in d["colour"].values())
    assert "skipped" in doc["photos"]["dull"]
    assert doc["means"]["photos"] == 1
    md = (out / "summary.md").read_text()
    assert "| discs |" in md and "sheets/discs.jpg" in md
    with Image.open(out / "sheets" / "discs.jpg") as im:
        assert im.width >= 5 * 320 and im.height > 150 * 320 // 200 + 2 * 96  # top row + >= 2 zoom rows
    # no overwrite without --force; one-line errors
    assert run_main("--photos", str(folder), "--model", str(model), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("reexpose: error:") and "--force" in err and err.count("\n") == 1
    assert run_main("--photos", str(folder), "--model", str(model), "--max-side", "200", "--out", str(out),
                    "--force") == 0
    assert run_main("--photos", str(tmp_path / "nope"), "--out", str(tmp_path / "o2")) == 2
    assert run_main("--photos", str(folder), "--data", str(folder), "--out", str(tmp_path / "o3")) == 2
    assert "exactly one of" in capsys.readouterr().err
    assert run_main("--photos", str(folder), "--method", "naive,ours", "--out", str(tmp_path / "o4")) == 2
    assert run_main("--photos", str(folder), "--quality", "80", "--out", str(tmp_path / "o5")) == 2
    assert run_main("--data", str(folder), "--method", "naive", "--min-px", "50", "--out", str(tmp_path / "o6")) == 2
    assert run_main("--out", str(tmp_path / "o5")) == 2


def test_run_photos_api_with_model_in_memory(tmp_path: Path, tiny_model, highlight_photo) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "p"
    folder.mkdir()
    Image.fromarray(highlight_photo).save(folder / "a.png")
    lines: list[str] = []
    doc = photos.run_photos(photos.PhotoEvalOptions(photos=folder, out=tmp_path / "o", model_object=tiny_model,
                                                    progress=False, sheets=False), lines.append)
    assert len(lines) == 2 and lines[0].startswith("a ") and lines[1].startswith("photos: 1 scored")
    assert not (tmp_path / "o" / "sheets").exists()
    with pytest.raises(EvalError, match="already exists"):
        photos.run_photos(photos.PhotoEvalOptions(photos=folder, out=tmp_path / "o", model_object=tiny_model,
                                                  progress=False))
    assert doc["means"]["colour"]["naive"] == pytest.approx(doc["photos"]["a"]["colour"]["naive"])
    assert torch.get_num_threads() >= 1


def test_demo_photo_agrees_with_the_checker(shared: Path) -> None:
    """A real photo, the shipped model, 400 px: the checker's numbers on the same pixels."""
    tool = _load_tool(shared)
    path = shared / "data" / "demo" / "Kleiber_by_Lukas_Baubkus.jpg"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    from reexposure.core.infer import Reconstructor

    u8 = photos.prepare_photo(path, 400)
    rec = Reconstructor(None, threads=1)
    scores, extras = photos.evaluate_photo(u8, rec, min_px=100)
    pred = rec(u8).to_tensor()[0].permute(1, 2, 0).numpy()
    k = photos.tool_scale(u8, pred, lin(u8))
    so, sn, band, area = tool.photo_scores(u8, pred * k, 100)
    assert scores["n_regions"] >= 1 and area > 0
    assert scores["colour"]["ours"] == pytest.approx(so, abs=1e-6)
    assert scores["colour"]["naive"] == pytest.approx(sn, abs=1e-6)
    assert scores["banding"]["ours"] == pytest.approx(band, abs=1e-9)
    assert set(extras["renders"]) == {("naive", -2.0), ("ours", -2.0), ("naive", -3.0), ("ours", -3.0)}
