"""The GPU recipe (docs/gpu.md) rehearsed on CPU: scripts/gpu_prepare.py on a tiny HDR folder, then
scripts/gpu_run.sh with a handful of steps and a tiny evaluation; and TrainConfig.max_minutes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from _train_helpers import make_hdr_folder, scene, tiny_config, write_exr

from reexposure.training.config import ConfigError
from reexposure.training.trainer import check_config, train

REPO = Path(__file__).resolve().parents[2]
SHARED_EMOR = Path(os.environ.get("REEXPOSURE_SHARED", REPO.parent / "shared")) / "data" / "crf" / "emor.txt"


# ------------------------------------------------------------------------------ max_minutes


def test_max_minutes_stops_before_steps_and_ends_like_a_finished_run(tmp_path: Path) -> None:
    data = make_hdr_folder(tmp_path / "hdr")
    config = tiny_config(data, tmp_path / "run", steps=100_000, max_minutes=0.001, log_every=10_000,
                         ckpt_every=10_000, val_every=10_000, val_side=0)
    out = train(config, progress=False)
    from reexposure.core.weights import load_generator

    _, meta = load_generator(out / "model.safetensors")
    steps = int(meta["trained_steps"])
    assert 1 <= steps < 100_000
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    # the last step is logged, validated and checkpointed as if `steps` were reached
    assert any(r["step"] == steps and "g_rec" in r for r in records)
    assert any(r["step"] == steps and "val_log_mse" in r for r in records)
    assert (out / f"sheet_{steps:06d}.png").is_file()
    import torch

    assert torch.load(out / "last.pt", weights_only=False)["step"] == steps


def test_max_minutes_zero_is_off_and_negative_is_an_error(tmp_path: Path) -> None:
    data = make_hdr_folder(tmp_path / "hdr")
    out = train(tiny_config(data, tmp_path / "run", steps=3, max_minutes=0, val_side=0), progress=False)
    assert json.loads((out / "log.jsonl").read_text().splitlines()[-1])["step"] == 3
    with pytest.raises(ConfigError, match="max_minutes"):
        check_config(tiny_config(data, tmp_path / "bad", max_minutes=-1))


# ------------------------------------------------------------------------------ the recipe


def _hdr_tree(root: Path) -> Path:
    """Two source folders like ../shared/data/hdr: a, b, c train, v held out, x excluded."""
    for i, rel in enumerate(("one/a", "one/b", "two/c", "two/v", "two/x")):
        write_exr(root / f"{rel}.exr", scene(i, 64, 96))
    return root


def test_gpu_prepare_then_gpu_run_on_cpu(tmp_path: Path) -> None:
    src = _hdr_tree(tmp_path / "src")
    cfg = tmp_path / "prep.yaml"
    cfg.write_text("holdout: [v]\nexclude: [x]\n")
    gpu = tmp_path / "gpu"
    emor = str(SHARED_EMOR) if SHARED_EMOR.is_file() else ""
    prep = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_prepare.py"), "--config", str(cfg),
                           "--src", str(src), "--out", str(gpu), "--max-side", "80", "--no-wheels", "--emor", emor],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert prep.returncode == 0, prep.stdout + prep.stderr
    assert re.search(r"travels: .* = \d+\.\d MiB", prep.stdout), prep.stdout

    # same layout and names, the excluded scene left out, downscaled, values kept up to a scale
    written = sorted(str(p.relative_to(gpu / "hdr")) for p in (gpu / "hdr").rglob("*.exr"))
    assert written == ["one/a.exr", "one/b.exr", "two/c.exr", "two/v.exr"]
    from reexposure.eval.run import downscale
    from reexposure.formats.io import read_hdr
    from reexposure.formats.scenes import normalize_95

    got = normalize_95(read_hdr(gpu / "hdr" / "one" / "b.exr"))
    want = normalize_95(downscale(read_hdr(src / "one" / "b.exr"), 80))
    assert got.shape == want.shape == (53, 80, 3)
    assert np.allclose(got, want, rtol=2 ** -6, atol=1e-6)
    manifest = json.loads((gpu / "MANIFEST.json").read_text())
    assert manifest["train_scenes"] == 3 and manifest["holdout_scenes"] == 1 and manifest["excluded"] == ["x"]

    out = tmp_path / "OUT"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_RUN_ROOT": str(gpu), "GPU_RUN_WORK": str(tmp_path / "work"),
           "GPU_RUN_SCENES": "v,a", "GPU_RUN_MAX_SIDE": "64", "GPU_RUN_EVAL_PROCS": "2", "GPU_RUN_EVAL_THREADS": "1",
           "GPU_RUN_EVAL_ARGS": "--clip 0.08 --ev=-2", "GPU_RUN_OVERRIDES": "holdout=[v] exclude=[x]"}
    overrides = ["steps=3", "max_minutes=0.2", "device=cpu", "bf16=false", "batch=2", "pairs.crop=32", "val_crop=32",
                 "val_side=0", "threads=1", "workers=0", "log_every=1", "val_every=2", "ckpt_every=2"]
    run = subprocess.run(["bash", str(REPO / "scripts" / "gpu_run.sh"), str(out), *overrides], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    # what comes back from the device: at most 8 flat files of at most 16 MiB, plain names
    files = sorted(p.name for p in out.iterdir())
    assert files == ["config.yaml", "extras.tar.gz", "log.jsonl", "model.safetensors", "run.log", "summary.json",
                     "summary.md"]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f) and (out / f).stat().st_size < 16 * 2**20 for f in files)

    from reexposure.core.weights import load_generator

    model, meta = load_generator(out / "model.safetensors")
    assert model.config.to_dict()["head"] == "guided" and model.config.width == 12
    assert meta["finetune_steps"] == "3" and meta["init_from"] == "default.safetensors"
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["max_minutes"] == 0.2 and config["batch"] == 2 and config["holdout"] == ["v"]
    assert config["data"] == str(gpu / "hdr")
    assert config["pairs"]["emor_path"] == (str(gpu / "crf" / "emor.txt") if emor else "")
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 3 and any("val_log_mse" in r for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"] == ["naive", "ours", "ours:default"] and summary["images"] == 2
    assert summary["parallel"]["processes"] == 2 and "ours:default" in (out / "summary.md").read_text()
    with tarfile.open(out / "extras.tar.gz") as tar:
        names = tar.getnames()
    assert {"./eval_images/v.json", "./eval_images/a.json", "./data_MANIFEST.json"} <= set(names)
    assert any(n.startswith("./part1_sheet_clip") for n in names)

    # the two parallel halves merge into what one `reexpose eval` over both scenes reports
    from reexposure.eval.run import EvalOptions, run_eval

    single = run_eval(EvalOptions(data=gpu / "hdr", methods=[
        "naive", f"ours={out / 'model.safetensors'}", f"ours={REPO / 'src/reexposure/weights/default.safetensors'}"],
        out=tmp_path / "single", clips=(0.08,), evs=(-2.0,), max_side=64, scenes=("v", "a"), threads=1,
        progress=False))
    assert single["means"].keys() == summary["means"].keys()
    for ck, methods in single["means"].items():
        assert methods.keys() == summary["means"][ck].keys()
        for m, values in methods.items():
            for k, v in values.items():
                assert summary["means"][ck][m][k]["n"] == v["n"]
                assert summary["means"][ck][m][k]["mean"] == pytest.approx(v["mean"], rel=1e-9, abs=1e-12), (ck, m, k)
    log = (out / "run.log").read_text()
    assert "train exit status 0" in log and "eval exit status 0" in log


def test_gpu_ab_runs_two_variants_side_by_side_on_cpu(tmp_path: Path) -> None:
    """scripts/gpu_ab.sh: both variants train (their own overrides applied after the script's
    defaults), evaluate, and come back packed as a.tgz and b.tgz."""
    src = _hdr_tree(tmp_path / "src")
    cfg = tmp_path / "prep.yaml"
    cfg.write_text("holdout: [v]\nexclude: [x]\n")
    gpu = tmp_path / "gpu"
    prep = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_prepare.py"), "--config", str(cfg),
                           "--src", str(src), "--out", str(gpu), "--max-side", "64", "--no-wheels", "--emor", ""],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert prep.returncode == 0, prep.stdout + prep.stderr
    env = {**os.environ, "PYTHON": sys.executable, "GPU_RUN_ROOT": str(gpu), "GPU_RUN_SCENES": "v",
           "GPU_RUN_MAX_SIDE": "64", "GPU_RUN_EVAL_PROCS": "1", "GPU_RUN_EVAL_THREADS": "1",
           "GPU_RUN_EVAL_ARGS": "--clip 0.08 --ev=-2", "GPU_RUN_OVERRIDES": "holdout=[v] exclude=[x]",
           "TMPDIR": str(tmp_path)}
    tiny = ("steps=2 max_minutes=0.2 device=cpu bf16=false batch=2 pairs.crop=32 val_crop=32 val_side=0 threads=1 "
            "workers=0 log_every=1 val_every=2 ckpt_every=2")
    out = tmp_path / "OUT"
    run = subprocess.run(["bash", str(REPO / "scripts" / "gpu_ab.sh"), str(out), tiny, tiny + " d_ev=[-3,-1]"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert sorted(p.name for p in out.iterdir()) == ["a.tgz", "b.tgz"]
    assert "| ours " in run.stdout and "== b (exit status 0)" in run.stdout  # the headline tables printed
    for v, d_ev, seed in (("a", [-5.0, -1.0], 41), ("b", [-3.0, -1.0], 42)):  # a: the config's own
        with tarfile.open(out / f"{v}.tgz") as tar:
            tar.extractall(tmp_path / "back", filter="data")
        got = tmp_path / "back" / v
        assert {"model.safetensors", "summary.json", "config.yaml"} <= {p.name for p in got.iterdir()}
        config = yaml.safe_load((got / "config.yaml").read_text())
        assert config["d_ev"] == d_ev and config["seed"] == seed and config["steps"] == 2
        assert json.loads((got / "summary.json").read_text())["images"] == 1
