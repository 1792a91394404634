"""``reexpose eval --brackets``: scores against a darker frame, on synthetic brackets of a known scene."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reexposure.apps.cli import main as cli_main
from reexposure.core import camera
from reexposure.core.weights import save_weights
from reexposure.eval import brackets
from reexposure.eval.run import EvalError


def scene(h: int = 64, w: int = 80) -> np.ndarray:
    """Relative radiance: a textured background (< 0.8) and a warm light whose brightness rises
    smoothly from ~1 to 14 times the clip level of the bright frame."""
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    rad = np.empty((h, w, 3))
    rad[:] = 0.3 + 0.2 * np.sin(xx / 5.0)[..., None] * np.array([1.0, 0.8, 0.6])
    d = np.hypot(yy - h / 2, xx - w / 2)
    light = d < 22
    level = 1.2 + 13.0 * (1 - d / 22.0) ** 2 + 0.3 * np.sin(xx / 3.0)  # radial falloff, ripples
    rad[light] = level[light][:, None] * np.array([1.0, 0.85, 0.7])
    return rad.astype(np.float32)


def render(rad: np.ndarray, ev: float = 0.0) -> np.ndarray:
    t = torch.from_numpy(rad).permute(2, 0, 1)[None]
    ldr = camera.render_ldr(t, ev, camera.DEFAULT_CRF, 8)
    return np.ascontiguousarray((ldr[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))


def pair(ev_diff: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rad = scene()
    return rad, render(rad), render(rad, -ev_diff)


def naive(u8: np.ndarray) -> np.ndarray:
    return (u8.astype(np.float32) / 255.0) ** 2


def test_perfect_reconstruction_scores_best() -> None:
    rad, bright, dark = pair(3.0)
    s = brackets.bracket_scores(bright, dark, 3.0, {"perfect": rad, "naive": naive(bright), "double": 2 * rad,
                                                    "dim": rad / 4})
    assert s["n_clipped"] > 1000 and s["n_reference"] > 500 and s["n_still_clipped"] > 50
    assert s["light_threshold"] == pytest.approx(4.0)
    # colour: the darker frame is the scene up to 8-bit rounding
    assert s["colour_median"]["perfect"] < 0.5 and s["colour_mean"]["perfect"] < 1.0
    assert s["colour_median"]["naive"] > 5.0  # clipped = white, the light is warm
    # brightness pattern: ranks follow the scene; naive is flat where all channels clipped
    assert s["spearman"]["perfect"] > 0.98
    assert s["spearman"]["naive"] < s["spearman"]["perfect"] - 0.2
    # all channels clipped: naive keeps only the code 254/255 difference of the last channel to clip
    assert s["spearman_full"]["perfect"] > 0.98 and abs(s["spearman_full"]["naive"]) < 0.5
    # lights: truly >= 8x clip; predicted >= 4x?
    assert s["lights"]["perfect"] == 1.0 and s["lights"]["double"] == 1.0
    assert s["lights"]["naive"] == 0.0 and s["lights"]["dim"] == 0.0  # rad/4 < 14/4 < 4
    # scale-free measures do not change with a global factor
    assert s["colour_median"]["double"] == pytest.approx(s["colour_median"]["perfect"], abs=1e-6)
    assert s["spearman"]["double"] == pytest.approx(s["spearman"]["perfect"], abs=1e-12)
    assert s["brightness_ratio"]["perfect"] == pytest.approx(1.0, abs=0.05)
    assert s["brightness_ratio"]["naive"] < 0.7


def test_too_bright_counts_pixels_made_at_least_twice_as_bright_as_the_darker_frame_says() -> None:
    rad, bright, dark = pair(3.0)
    left_tripled = np.where(np.arange(80) < 40, 3.0, 1.0)[None, :, None] * rad
    s = brackets.bracket_scores(bright, dark, 3.0, {"perfect": rad, "naive": naive(bright), "triple": 3 * rad,
                                                    "half_tripled": left_tripled})
    assert s["too_bright"]["perfect"] == 0.0 and s["too_bright"]["naive"] == 0.0
    assert s["too_bright"]["triple"] == 1.0
    valid = np.any(bright >= 254, -1) & np.all(dark < 250, -1)
    left = valid[:, :40].sum() / valid.sum()  # the tripled half of the reference pixels
    assert s["too_bright"]["half_tripled"] == pytest.approx(left, abs=0.01)


def test_known_colour_angle() -> None:
    rad, bright, dark = pair(3.0)
    valid = np.any(bright >= 254, -1) & np.all(dark < 250, -1)
    ref = (dark.astype(np.float64) / 255) ** 2 * 8
    grey = np.ones_like(rad)  # a neutral prediction: the angle to the reference's own colour
    s = brackets.bracket_scores(bright, dark, 3.0, {"grey": grey})
    cos = ref[valid].sum(-1) / (np.linalg.norm(ref[valid], axis=-1) * math.sqrt(3))
    want = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert s["colour_median"]["grey"] == pytest.approx(float(np.median(want)), abs=1e-4)  # float32 curve
    assert s["colour_mean"]["grey"] == pytest.approx(float(want.mean()), abs=1e-4)
    # the darker frame is put in the bright frame's units: 2**ev_diff
    assert s["brightness_ratio"]["grey"] == pytest.approx(float(np.median(1.0 / (ref[valid] @ brackets.LUMA))),
                                                          rel=1e-5)


def test_spearman_ties_and_constants() -> None:
    assert brackets.spearman(np.array([1, 2, 3, 4.0]), np.array([10, 20, 30, 40.0])) == pytest.approx(1.0)
    assert brackets.spearman(np.array([4, 3, 2, 1.0]), np.array([10, 20, 30, 40.0])) == pytest.approx(-1.0)
    assert brackets.spearman(np.ones(10), np.arange(10.0)) == 0.0
    assert 0 < brackets.spearman(np.array([1, 1, 1, 2.0]), np.arange(4.0)) < 1
    assert math.isnan(brackets.spearman(np.ones(2), np.ones(2)))


def test_no_still_clipped_pixels_gives_nan() -> None:
    rad, bright, dark = pair(3.0)
    s = brackets.bracket_scores(bright, render(rad, -5.0), 3.0, {"naive": naive(bright)})
    assert s["n_still_clipped"] == 0 and math.isnan(s["lights"]["naive"])
    with pytest.raises(ValueError, match="differ in size"):
        brackets.bracket_scores(bright, dark[:-1], 3.0, {})


def make_set(root: Path, name: str = "synthetic", big_bright: bool = False) -> Path:
    rad, bright, dark = pair(3.0)
    d = root / name
    d.mkdir(parents=True)
    b = Image.fromarray(bright)
    if big_bright:  # the bright frame published at twice the size, like pixls_patdavid_cabin
        b = b.resize((bright.shape[1] * 2, bright.shape[0] * 2), Image.Resampling.NEAREST)
    b.save(d / "bright.png")
    Image.fromarray(dark).save(d / "dark.png")
    Image.fromarray(render(rad, -6.0)).save(d / "darkest.png")
    info = {"set_name": name, "alignment": {"verdict": "aligned"},
            "frames": [{"file": "darkest.png", "ev_rel": 0.0}, {"file": "dark.png", "ev_rel": 3.0},
                       {"file": "bright.png", "ev_rel": 6.0}],
            "highlight_test": [{"bright_frame": "bright.png", "clip_frac": 0.2, "darker_2to3ev": "dark.png",
                                "ev_diff": 3.0},
                               {"bright_frame": "dark.png", "clip_frac": 0.02, "darker_2to3ev": None}]}
    (d / "info.json").write_text(json.dumps(info))
    return d


def test_pair_alignment_follows_the_chain_of_neighbouring_frames() -> None:
    """St. Louis's info.json in small: the set is flagged for the -1.82 -> +1.51 step, but the
    scored pair +4.09 / +1.51 had no shift; a pair two steps apart sums the shifts on its way."""
    info = {"pairs_dark_to_bright": [
        {"darker": "a", "brighter": "b", "best_shift_px_fullres": [0, 0], "outlier_frac_after_tonecurve_fit": 0.05},
        {"darker": "b", "brighter": "c", "best_shift_px_fullres": [6, 0], "outlier_frac_after_tonecurve_fit": 0.37},
        {"darker": "c", "brighter": "d", "best_shift_px_fullres": [0, 0], "outlier_frac_after_tonecurve_fit": 0.07}]}
    assert brackets.pair_alignment(info, "d", "c") == {"shift_px": [0, 0], "outliers": 0.07, "links": 1,
                                                       "verdict": "aligned"}
    far = brackets.pair_alignment(info, "d", "b")
    assert far is not None and far["shift_px"] == [6, 0] and far["links"] == 2 and far["verdict"] == "MISALIGNED"
    resid = brackets.pair_alignment({"pairs_dark_to_bright": [dict(info["pairs_dark_to_bright"][1],
                                                                    best_shift_px_fullres=[0, 0])]}, "c", "b")
    assert resid is not None and resid["verdict"] == "large residuals"
    assert brackets.pair_alignment(info, "a", "d") is None  # the wrong way round: no chain
    assert brackets.pair_alignment({}, "b", "a") is None


def test_load_pair_sizes(tmp_path: Path) -> None:
    d = make_set(tmp_path, big_bright=True)
    a, b = brackets.load_pair(d / "bright.png", d / "dark.png", None)
    assert a.shape == b.shape == (64, 80, 3)  # the smaller frame's size
    a, b = brackets.load_pair(d / "bright.png", d / "dark.png", 40)
    assert a.shape == b.shape == (32, 40, 3)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(d / "square.png")
    with pytest.raises(EvalError, match="aspect"):
        brackets.load_pair(d / "bright.png", d / "square.png")


def run_main(*args: str) -> int:
    return cli_main(["eval", *args, "--no-progress", "--threads", "1"])


def test_run_brackets_end_to_end(tmp_path: Path, tiny_model, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from reexposure.core.weights import save_weights

    root = tmp_path / "brackets"
    make_set(root, "one")
    make_set(root, "two", big_bright=True)
    model = tmp_path / "tiny.safetensors"
    save_weights(tiny_model, model)
    out = tmp_path / "out"
    assert run_main("--brackets", str(root), "--model", str(model), "--out", str(out)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines[:3]] == ["one", "two", "ALL"]
    assert "colour median ours" in lines[0] and "lights ours" in lines[0]
    doc = json.loads((out / "summary.json").read_text())
    entries = doc["sets"]["one"]["entries"]
    assert entries[1] == {"bright_frame": "dark.png", "skipped": "no frame 2-3 EV darker"}
    e = entries[0]
    assert e["darker_frame"] == "dark.png" and e["size"] == [80, 64]
    assert e["lights"]["naive"] == 0.0 and e["spearman"]["naive"] < 0.9
    assert set(e["colour_median"]) == {"ours", "naive"}
    assert doc["means"]["entries"] == 2
    assert [g["channels"] for g in e["levels"]] == [0, 1, 2, 3] and set(e["levels"][3]) >= {"truth", "ours", "naive"}
    assert e["levels"][3]["naive"] <= 1.0 < e["levels"][3]["truth"]  # the warm light: naive stops at the clip
    md = (out / "summary.md").read_text()
    assert "| one | bright.png | dark.png |" in md
    assert "## Brightness by clipped channels" in md and md.count("| one | bright.png | ") == 2
    assert "render error ours" in lines[0] and doc["crf"] == "sqrt" and e["render_error"]["naive"] > 0
    # --crf reads both frames (and the model's input) through another curve
    assert run_main("--brackets", str(root), "--model", str(model), "--crf", "srgb", "--out", str(tmp_path / "s")) == 0
    capsys.readouterr()
    srgb = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert srgb["crf"] == "srgb" and "--crf srgb" in srgb["command"]
    assert srgb["sets"]["one"]["entries"][0]["colour_median"]["naive"] != pytest.approx(e["colour_median"]["naive"])
    # errors: one line, exit 2
    assert run_main("--brackets", str(root), "--out", str(out)) == 2
    assert "--force" in capsys.readouterr().err
    assert run_main("--brackets", str(tmp_path), "--model", str(model), "--out", str(tmp_path / "o")) == 2
    assert "no bracket set" in capsys.readouterr().err
    assert run_main("--brackets", str(root), "--method", "kovaleski", "--out", str(tmp_path / "o")) == 2
    assert "only ours" in capsys.readouterr().err
    assert run_main("--brackets", str(root), "--crf", "bogus", "--out", str(tmp_path / "o")) == 2
    assert "unknown CRF" in capsys.readouterr().err and not (tmp_path / "o").exists()
    # a flag of another mode would be ignored here: refused instead
    for flag, value in (("--ev=-2", None), ("--clip", "0.05"), ("--format", "jpeg"), ("--camera", "1"),
                        ("--min-px", "50")):
        extra = [flag] if value is None else [flag, value]
        assert run_main("--brackets", str(root), *extra, "--out", str(tmp_path / "o")) == 2
        err = capsys.readouterr().err
        assert "applies to --" in err and "not to --brackets" in err, err


def test_run_brackets_api_one_set(tmp_path: Path, tiny_model) -> None:  # type: ignore[no-untyped-def]
    d = make_set(tmp_path)
    lines: list[str] = []
    doc = brackets.run_brackets(brackets.BracketEvalOptions(brackets=d, out=tmp_path / "o", model_object=tiny_model,
                                                            progress=False), lines.append)
    assert list(doc["sets"]) == ["synthetic"] and len(lines) == 2


def test_shared_bracket_sets(shared: Path) -> None:
    root = shared / "data" / "brackets"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    sets = brackets.find_sets(root)
    assert len(sets) >= 5
    # the smallest pair (300x226 / 600x452 frames): naive, no model
    cabin = root / "pixls_patdavid_cabin"
    if not cabin.is_dir():
        pytest.skip("pixls_patdavid_cabin not in the shared brackets")
    info = json.loads((cabin / "info.json").read_text())
    t = info["highlight_test"][0]
    a, b = brackets.load_pair(cabin / t["bright_frame"], cabin / t["darker_2to3ev"])
    assert a.shape == b.shape and a.shape[1] == 300
    s = brackets.bracket_scores(a, b, t["ev_diff"], {"naive": naive(a)})
    assert s["n_clipped"] > 0 and s["n_reference"] > 0 and 0 < s["colour_median"]["naive"] < 90


def test_levels_by_clipped_channels_groups_pixels_by_how_many_channels_clipped() -> None:
    bright = np.full((4, 4, 3), 100, np.uint8)  # row 0: below the ring code, in no group
    bright[1] = 240  # the bright unclipped ring
    bright[2, :2] = (255, 240, 240)  # one channel clipped
    bright[2, 2:] = (255, 255, 240)  # two
    bright[3] = 255  # three
    dark = np.full((4, 4, 3), 128, np.uint8)
    dark[3, 3] = 252  # the darker frame clipped too: left out
    ours = np.full((4, 4, 3), 2.0)
    ours[3, :3] = [[3.0] * 3, [4.0] * 3, [5.0] * 3]
    rows = brackets.levels_by_clipped_channels(bright, dark, 2.0, {"ours": ours})
    assert [r["channels"] for r in rows] == [0, 1, 2, 3]
    assert [r["pixels"] for r in rows] == [4, 2, 2, 3]
    truth = (128 / 255) ** 2 * 4.0  # square law, x 2**ev_diff; grey, so luminance = the value
    assert all(r["truth"] == pytest.approx(truth) for r in rows)
    assert [r["ours"] for r in rows] == pytest.approx([2.0, 2.0, 2.0, 4.0])  # the median of 3, 4, 5
    dim = np.full((2, 2, 3), 10, np.uint8)
    empty = brackets.levels_by_clipped_channels(dim, dark[:2, :2], 2.0, {"ours": ours[:2, :2]})
    assert empty[3]["pixels"] == 0 and math.isnan(empty[3]["truth"]) and math.isnan(empty[3]["ours"])


def test_render_error_is_the_darkened_reconstruction_against_the_darker_frame_in_codes() -> None:
    rad, bright, dark = pair(3.0)
    s = brackets.bracket_scores(bright, dark, 3.0, {"perfect": rad, "naive": naive(bright), "double": 2 * rad})
    assert s["render_error"]["perfect"] < 0.5  # the darker frame is the scene up to 8-bit rounding
    valid = np.any(bright >= 254, -1) & np.all(dark < 250, -1)
    # naive stops at the clip level: 3 stops darker it renders at sqrt(1/8) of full scale, or less
    want = np.abs(np.sqrt(naive(bright)[valid] / 8.0) * 255 - dark[valid]).mean()
    assert s["render_error"]["naive"] == pytest.approx(float(want), rel=1e-4) and s["render_error"]["naive"] > 10
    assert s["render_error"]["double"] > 10  # not scale-free: twice too bright shows
    # the curve is part of it: the same frames read through another curve do not match
    srgb = brackets.bracket_scores(bright, dark, 3.0, {"perfect": rad}, camera.crf_from_name("srgb"))
    assert srgb["render_error"]["perfect"] > 2.0


BRACKET_LEVELS = Path(__file__).resolve().parents[2] / "scripts" / "bracket_levels.py"


def test_bracket_levels_script_table_for_two_models(tmp_path: Path, tiny_model) -> None:  # type: ignore[no-untyped-def]
    """scripts/bracket_levels.py on the synthetic set: one row per clipped-channel group and method,
    the truth the same for every method; a bad folder is a one-line error."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(BRACKET_LEVELS), *args], capture_output=True, text=True,
                              timeout=300, check=False)

    make_set(tmp_path / "brackets", "one")
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_weights(tiny_model, a)
    save_weights(tiny_model, b)
    out = run("--brackets", str(tmp_path / "brackets"), "--weights", str(a), "--weights", str(b), "--threads", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "| pair | channels clipped | pixels | truth | naive | a | b |"
    rows = [ln.split(" | ") for ln in lines[2:]]
    assert [r[1] for r in rows] == ["0", "1", "2", "3"]  # one entry with a darker frame, four groups
    assert all(r[0] == "| one/bright.png" for r in rows)
    assert rows[3][5] == rows[3][6].rstrip(" |")  # the same weights give the same level
    bad = run("--brackets", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and bad.stderr.startswith("bracket_levels: ") and len(bad.stderr.splitlines()) == 1
