"""The training loop: exact resume, SIGKILL during a checkpoint write, logs (jsonl, TensorBoard,
contact sheets), exported weights, configs and one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _train_helpers import make_hdr_folder, tiny_config, tiny_overrides

from reexposure.apps.cli import main as cli_main
from reexposure.training.config import ConfigError
from reexposure.training.trainer import TrainConfig, check_config, load_train_config, train

REPO = Path(__file__).resolve().parents[2]
LOSS_KEYS = ("g_rec", "boost_in_mask", "g_adv", "d_loss", "d_real", "d_fake")
STATE_KEYS = ("generator", "discriminator", "generator_ema", "opt_g", "opt_d")


def _train_records(run: Path) -> dict[int, dict[str, float]]:
    """Deterministic loss values per step from log.jsonl (time and throughput left out)."""
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "g_rec" in rec:
            assert rec["step"] not in out, f"step {rec['step']} logged twice"
            out[rec["step"]] = {k: rec[k] for k in LOSS_KEYS if k in rec}
    return out


def _assert_same_state(a: Path, b: Path) -> None:
    sa = torch.load(a / "last.pt", weights_only=True)
    sb = torch.load(b / "last.pt", weights_only=True)
    assert sa["step"] == sb["step"]

    def walk(x, y, where):  # noqa: ANN001
        if isinstance(x, dict):
            assert x.keys() == y.keys(), where
            for k in x:
                walk(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, (list, tuple)):
            assert len(x) == len(y), where
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, f"{where}[{i}]")
        elif isinstance(x, torch.Tensor):
            assert torch.equal(x, y), where
        else:
            assert x == y, where

    for key in STATE_KEYS:
        walk(sa[key], sb[key], key)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hdr_folder(tmp_path_factory.mktemp("hdr"))


@pytest.fixture(scope="module")
def straight_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 steps uninterrupted (GAN from step 3): the reference for the resume tests."""
    out = tmp_path_factory.mktemp("runs") / "straight"
    train(tiny_config(tiny_data, out), progress=False)
    return out


def test_resume_gives_the_same_losses_and_weights(straight_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "split"
    train(tiny_config(tiny_data, out, steps=4), progress=False)
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 4
    with pytest.raises(ConfigError, match="--resume"):
        train(tiny_config(tiny_data, out, steps=8), progress=False)
    train(tiny_config(tiny_data, out, steps=8), resume=True, progress=False)
    ref = _train_records(straight_run)
    assert sorted(ref) == list(range(1, 9)) and "d_loss" in ref[5] and "d_loss" not in ref[2]
    assert _train_records(out) == ref
    _assert_same_state(out, straight_run)


def test_resume_checks_the_checkpoint(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(tiny_config(tiny_data, tmp_path / "none"), resume=True, progress=False)
    out = tmp_path / "r"
    out.mkdir()
    (out / "last.pt").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot resume"):
        train(tiny_config(tiny_data, out), resume=True, progress=False)


def test_version1_checkpoint_resumes(straight_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    """Checkpoints written before ``arch`` existed (version 1, e.g. runs/cpu-small/last.pt) load."""
    out = tmp_path / "v1"
    out.mkdir()
    state = torch.load(straight_run / "last.pt", weights_only=True)
    state.pop("arch")
    state["version"] = 1
    state["config"]["pairs"].pop("cache_mb")
    torch.save(state, out / "last.pt")
    train(tiny_config(tiny_data, out, steps=9), resume=True, progress=False)
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 9
    with pytest.raises(ConfigError, match="expandnet"):
        train(tiny_config(tiny_data, out, steps=10, arch="expandnet"), resume=True, progress=False)


def _cli(args: list[str], pause: tuple[int, Path] | None = None, **kw) -> subprocess.Popen:  # noqa: ANN003
    """``reexpose train ARGS`` in a child process; ``pause=(step, sentinel)`` runs it through
    ``_pause_checkpoint.py``, which stops before the checkpoint of ``step`` is renamed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    if pause:
        cmd = [sys.executable, str(Path(__file__).with_name("_pause_checkpoint.py")), str(pause[0]), str(pause[1])]
    else:
        cmd = [sys.executable, "-m", "reexposure", "train"]
    return subprocess.Popen([*cmd, *args, "--no-progress", "-q"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_sigkill_while_writing_a_checkpoint_loses_only_the_step_in_flight(
        straight_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    sentinel = tmp_path / "paused"
    proc = _cli(tiny_overrides(tiny_data, out, ckpt_every=1), pause=(4, sentinel))
    try:
        deadline = time.monotonic() + 120
        while not sentinel.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the run never reached the checkpoint of step 4"
            time.sleep(0.05)
        tmp_file = Path(sentinel.read_text())
        assert tmp_file.exists() and tmp_file.parent == out  # step 4 is fully written, not yet renamed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    state = torch.load(out / "last.pt", weights_only=True)  # loadable: the last good checkpoint
    assert state["step"] == 3
    assert tmp_file.exists()
    train(tiny_config(tiny_data, out, ckpt_every=1), resume=True, progress=False)  # in-process: faster
    assert not tmp_file.exists()  # the torn temp file was cleaned up
    assert _train_records(out) == _train_records(straight_run)
    _assert_same_state(out, straight_run)


def test_run_folder_logs_sheets_tensorboard_and_weights(straight_run: Path) -> None:
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from reexposure.core.model import GatedUNet
    from reexposure.core.weights import load_generator

    names = sorted(p.name for p in straight_run.iterdir())
    assert {"config.yaml", "last.pt", "log.jsonl", "model.safetensors", "tb"} <= set(names)
    assert [n for n in names if n.startswith("sheet_")] == ["sheet_000000.png", "sheet_000004.png", "sheet_000008.png"]
    assert not [n for n in names if n.endswith(".tmp")]
    sheet = Image.open(straight_run / "sheet_000008.png")
    assert sheet.width > 4 * 160 and sheet.height > 160  # one validation row of 4 cells of 160 px
    val = [json.loads(x) for x in (straight_run / "log.jsonl").read_text().splitlines() if "val_log_mse" in x]
    assert [v["step"] for v in val] == [0, 4, 8]
    assert val[0]["val_log_mse"] == pytest.approx(val[0]["val_log_mse_naive"])  # untrained = naive
    assert load_train_config(str(straight_run / "config.yaml"), []) == tiny_config(
        Path(load_train_config(str(straight_run / "config.yaml"), []).data), straight_run)

    acc = EventAccumulator(str(straight_run / "tb"), size_guidance={"images": 0, "scalars": 0}).Reload()
    tags = acc.Tags()
    scalars = {"train/g_rec", "train/d_loss", "train/lr_g", "train/loader_share", "val/val_log_mse"}
    assert scalars <= set(tags["scalars"])
    assert {"ev-2/input", "ev-2/naive", "ev-2/prediction", "ev-2/target"} <= set(tags["images"])
    assert [e.step for e in acc.Images("ev-2/prediction")] == [0, 4, 8]
    assert [e.step for e in acc.Scalars("train/g_rec")] == list(range(1, 9))

    model, meta = load_generator(straight_run / "model.safetensors")
    assert isinstance(model, GatedUNet) and meta["arch"] == "gated_unet" and meta["trained_steps"] == "8"
    ema = torch.load(straight_run / "last.pt", weights_only=True)["generator_ema"]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ema[k].half().float())  # fp16 export of the EMA generator


def test_tensorboard_images_are_the_ev_minus_2_renditions(tiny_data: Path, tmp_path: Path) -> None:
    """The logged rows are the input photo and naive / prediction / target at EV -2."""
    from reexposure.core import camera
    from reexposure.training.trainer import Trainer, validation_set

    config = tiny_config(tiny_data, tmp_path / "x")
    val = validation_set(config)
    assert [v["name"] for v in val] == ["v"]
    trainer = Trainer(config, torch.device("cpu"))
    torch.nn.init.normal_(trainer.G_ema.head.weight, std=0.1)
    metrics, rows = trainer.validate(val)
    ldr, naive, pred, target = rows[0]
    lin = camera.linearize(val[0]["ldr"])
    mask = camera.saturation_mask(val[0]["ldr"], per_channel=True)
    assert torch.equal(ldr, val[0]["ldr"])
    torch.testing.assert_close(naive, camera.render_ldr(lin, -2, bits=None))
    with torch.no_grad():
        # the one blend: the network sees the dilated mask, the blend the photo's own per-channel one
        radiance = trainer.G_ema.radiance(lin, mask, camera.saturation_mask(val[0]["ldr"], per_channel=True, dilate=0))
        torch.testing.assert_close(pred, camera.render_ldr(radiance, -2, bits=None))
    torch.testing.assert_close(target, camera.render_ldr(val[0]["radiance"], -2))
    assert not torch.allclose(pred, naive)
    assert metrics["val_log_mse"] != metrics["val_log_mse_naive"]


def test_expandnet_trains_through_the_same_loop(tiny_data: Path, tmp_path: Path) -> None:
    from reexposure.core.model import ExpandNet
    from reexposure.core.weights import load_generator

    out = tmp_path / "expandnet"
    seen: list[dict[str, float]] = []
    train(tiny_config(tiny_data, out, arch="expandnet", **{"expandnet.width": 4, "expandnet.global_size": 16},
                      steps=4, val_every=100), progress=False, on_step=lambda t, b, m: seen.append(m))
    assert len(seen) == 4 and all(torch.isfinite(torch.tensor(m["g_rec"])) for m in seen)
    model, meta = load_generator(out / "model.safetensors")
    assert isinstance(model, ExpandNet) and meta["arch"] == "expandnet" and model.config.width == 4


def test_command_line_prints_the_config_and_reports_bad_input(
        tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    from reexposure.apps.cli.main import build_parser

    args = build_parser().parse_args(["train", "--config", "configs/cpu-small.yaml", "steps=5", "pairs.crop=64",
                                      "--resume"])
    assert args.func.__name__ == "_cmd_train" and args.resume and args.overrides == ["steps=5", "pairs.crop=64"]

    def main(argv: list[str]) -> int:
        return cli_main(["train", *argv])

    base = tiny_overrides(tiny_data, tmp_path / "ok", steps=2, val_every=100)
    assert main(base + ["--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "# effective config" in out and "arch: gated_unet" in out and "steps: 2" in out and "crop: 32" in out

    empty = tmp_path / "empty"
    empty.mkdir()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.exr").write_bytes(b"nope")
    cases = [
        (["bogus_key=1"], "unknown config key 'bogus_key'"),
        (["steps=many"], "steps: expected an integer"),
        (["arch=resnet"], "unknown generator architecture"),
        ([f"data={empty}"], f"no HDR images (.exr, .hdr, .pfm) for training in {empty}"),
        ([f"data={tmp_path / 'missing'}"], "does not exist"),
        ([f"data={junk}", "holdout=[]"], "none of the 1 training files is a readable HDR image"),
        (["--config", str(tmp_path / "nope.yaml")], "cannot read config"),
    ]
    for extra, needle in cases:
        code = main(tiny_overrides(tiny_data, tmp_path / "bad") + extra + ["-q"])
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2, (extra, err)
        assert len(lines) == 1 and lines[0].startswith("reexpose: error: ") and needle in lines[0], (extra, err)

    # an unreadable file among good ones: a warning, and training goes on
    mixed = make_hdr_folder(tmp_path / "mixed", ("a", "b", "v"))
    (mixed / "broken.exr").write_bytes(b"nope")
    with caplog.at_level("WARNING", logger="reexposure.training.data"):
        assert cli_main(["train", *tiny_overrides(mixed, tmp_path / "mixed-run", steps=2, val_every=100), "-q"]) == 0
    assert any("broken.exr" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "mixed-run" / "model.safetensors").exists()


def test_checked_in_configs_are_valid() -> None:
    from reexposure.training.trainer import check_config

    small = load_train_config(str(REPO / "configs" / "cpu-small.yaml"), [])
    full = load_train_config(str(REPO / "configs" / "full.yaml"), [])
    assert isinstance(small, TrainConfig) and isinstance(full, TrainConfig)
    assert small.w_perc == 0 and small.device == "auto" and full.bf16 and full.w_perc > 0
    check_config(small)
    check_config(load_train_config(str(REPO / "configs" / "full.yaml"), ["w_perc=0", "device=cpu"]))
    baseline = load_train_config(str(REPO / "configs" / "expandnet-cpu.yaml"), [])
    check_config(baseline)
    assert baseline.arch == "expandnet" and baseline.expandnet.width == 16
    # the baseline differs from cpu-small only in the generator and the run folder
    differ = {k for k in TrainConfig.__dataclass_fields__ if getattr(baseline, k) != getattr(small, k)}
    assert differ == {"arch", "expandnet", "out"}
    # stage 2 of the default: checked with the shipped weights standing in for its stage-1 file
    # (runs/ is not in a clone); they must fit its generator
    tune = load_train_config(str(REPO / "configs" / "cpu-finetune.yaml"), [])
    assert tune.lr_schedule == "cosine" and tune.init_from and tune.generator == small.generator
    from reexposure.core.weights import default_model_path
    check_config(load_train_config(str(REPO / "configs" / "cpu-finetune.yaml"), [f"init_from={default_model_path()}"]))
    # the baseline's stage 2 is the same recipe
    base2 = load_train_config(str(REPO / "configs" / "expandnet-finetune.yaml"), [])
    differ = {k for k in TrainConfig.__dataclass_fields__ if getattr(base2, k) != getattr(tune, k)}
    assert differ == {"arch", "expandnet", "out", "init_from"} and base2.expandnet == baseline.expandnet
    # stage 3 likewise (checked with the shipped weights and the committed baseline)
    s3 = load_train_config(str(REPO / "configs" / "cpu-stage3.yaml"), [f"init_from={default_model_path()}"])
    check_config(s3)
    assert s3.w_tex > 0 and s3.generator == small.generator
    base3 = load_train_config(str(REPO / "configs" / "expandnet-stage3.yaml"),
                              [f"init_from={REPO / 'baselines' / 'expandnet.safetensors'}"])
    check_config(base3)
    differ = {k for k in TrainConfig.__dataclass_fields__ if getattr(base3, k) != getattr(s3, k)}
    assert differ == {"arch", "expandnet", "out", "init_from"} and base3.expandnet == baseline.expandnet


def test_sigterm_stops_cleanly_with_a_checkpoint(straight_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "term"
    before = signal.getsignal(signal.SIGTERM)

    def on_step(trainer, batch, metrics):  # noqa: ANN001
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # as a cluster scheduler would

    train(tiny_config(tiny_data, out, ckpt_every=100), progress=False, on_step=on_step)
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 3  # saved on the way out
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored
    train(tiny_config(tiny_data, out, ckpt_every=100), resume=True, progress=False)
    assert _train_records(out) == _train_records(straight_run)


def test_bf16_autocast_only_on_cuda(tiny_data: Path, tmp_path: Path) -> None:
    """``bf16: true`` turns on bf16 autocast for CUDA devices and is a no-op on the CPU."""
    import contextlib

    from reexposure.training.trainer import Trainer

    trainer = Trainer(tiny_config(tiny_data, tmp_path / "bf", bf16=True), torch.device("cpu"))
    assert isinstance(trainer.autocast(), contextlib.nullcontext)
    trainer.device = torch.device("cuda", 0)  # what a GPU run sees (nothing runs on it here)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        ctx = trainer.autocast()
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx.device == "cuda"
    trainer.config = tiny_config(tiny_data, tmp_path / "bf", bf16=False)
    assert isinstance(trainer.autocast(), contextlib.nullcontext)


def test_cosine_schedule_reaches_the_floor_and_is_applied(tiny_data: Path, tmp_path: Path) -> None:
    from reexposure.training.trainer import Trainer

    c = tiny_config(tiny_data, tmp_path / "cos", steps=10, lr_schedule="cosine", lr_decay_start=4, lr_min_ratio=0.1)
    t = Trainer(c, torch.device("cpu"))
    assert t.lr_scale(0) == t.lr_scale(4) == 1.0
    assert t.lr_scale(7) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the decay
    assert t.lr_scale(10) == pytest.approx(0.1)
    seen: list[float] = []
    train(c, progress=False, on_step=lambda tr, b, m: seen.append(tr.opt_g.param_groups[0]["lr"]))
    assert seen[0] == pytest.approx(c.lr_g) and seen[-1] == pytest.approx(c.lr_g * t.lr_scale(9))
    assert all(a >= b for a, b in zip(seen, seen[1:]))


def test_init_from_fine_tunes_a_weights_file_and_counts_its_steps(straight_run: Path, tiny_data: Path,
                                                                  tmp_path: Path) -> None:
    from reexposure.core.weights import load_generator
    from reexposure.training.trainer import Trainer

    start, meta0 = load_generator(straight_run / "model.safetensors")
    c = tiny_config(tiny_data, tmp_path / "ft", steps=4, init_from=str(straight_run / "model.safetensors"),
                    keep_every=2, seed=1)
    t = Trainer(c, torch.device("cpu"))
    for k, v in start.state_dict().items():  # G starts from the file, not from a fresh init
        assert torch.equal(t.G.state_dict()[k], v), k
    train(c, progress=False)
    model, meta = load_generator(tmp_path / "ft" / "model.safetensors")
    assert int(meta["trained_steps"]) == int(meta0["trained_steps"]) + 4
    assert meta["init_steps"] == meta0["trained_steps"] and meta["finetune_steps"] == "4"
    assert sorted(p.name for p in (tmp_path / "ft").glob("model_*.safetensors")) == [
        "model_000002.safetensors", "model_000004.safetensors"]
    assert any(not torch.equal(model.state_dict()[k], v) for k, v in start.state_dict().items())


def test_init_from_grows_context_blocks(straight_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    """A file without context blocks starts a config with them: its weights, new blocks at zero."""
    from reexposure.core.weights import load_generator
    from reexposure.training.trainer import Trainer

    start, _ = load_generator(straight_run / "model.safetensors")
    c = tiny_config(tiny_data, tmp_path / "grow", init_from=str(straight_run / "model.safetensors"),
                    **{"generator.context_blocks": 1})
    t = Trainer(c, torch.device("cpu"))
    for k, v in start.state_dict().items():
        assert torch.equal(t.G.state_dict()[k], v), k
    lin = torch.rand(1, 3, 32, 32)
    mask = (lin.amax(1, keepdim=True) > 0.6).float()
    assert torch.equal(t.G.eval()(lin, mask), start(lin, mask))
    # ... but not the other way round (a file's trained blocks cannot be dropped silently)
    c2 = tiny_config(tiny_data, tmp_path / "grow2", steps=1, **{"generator.context_blocks": 1})
    train(c2, progress=False)
    with pytest.raises(ConfigError, match="init_from: .* holds a gated_unet"):
        Trainer(tiny_config(tiny_data, tmp_path / "shrink", init_from=str(tmp_path / "grow2" / "model.safetensors")),
                torch.device("cpu"))


def test_init_from_takes_interior_smooth_and_upsample_from_the_config(straight_run: Path, tiny_data: Path,
                                                                      tmp_path: Path) -> None:
    """interior_smooth (a fixed filter on the output) and upsample (the decoder's interpolation) hold
    no weights: a file made without them starts a config with them, and the config's values are used."""
    from reexposure.core.weights import load_generator
    from reexposure.training.trainer import Trainer

    start, _ = load_generator(straight_run / "model.safetensors")
    assert start.config.interior_smooth == 0
    c = tiny_config(tiny_data, tmp_path / "smooth", init_from=str(straight_run / "model.safetensors"),
                    **{"generator.interior_smooth": 3, "generator.upsample": "bilinear"})
    t = Trainer(c, torch.device("cpu"))
    assert t.G.config.interior_smooth == 3 and t.G.config.upsample == "bilinear" and start.config.upsample == "nearest"
    for k, v in start.state_dict().items():
        assert torch.equal(t.G.state_dict()[k], v), k


def test_init_from_takes_a_new_colour_range_and_restarts_only_the_colour(straight_run: Path, tiny_data: Path,
                                                                          tmp_path: Path) -> None:
    """generator.colour_max may differ from the file's: the colour channel restarts at a strength of
    1 (GatedUNet.adopt_colour_range), the brightness is the file's."""
    from reexposure.core.weights import load_generator
    from reexposure.training.trainer import Trainer

    c1 = tiny_config(tiny_data, tmp_path / "guided", steps=1, **{"generator.head": "guided"})
    train(c1, progress=False)
    start, _ = load_generator(tmp_path / "guided" / "model.safetensors")
    c = tiny_config(tiny_data, tmp_path / "colour", init_from=str(tmp_path / "guided" / "model.safetensors"),
                    **{"generator.head": "guided", "generator.colour_max": 2.0})
    t = Trainer(c, torch.device("cpu"))
    assert t.G.config.colour_max == 2.0 and start.config.colour_max == 1.0
    lin = torch.rand(1, 3, 32, 32)
    mask = (lin.amax(1, keepdim=True) > 0.6).float()
    o_new, o_old = t.G.eval()(lin, mask), start(lin, mask)
    assert torch.equal(o_new[:, 0], o_old[:, 0]) and torch.equal(o_new[:, 1], torch.zeros_like(o_new[:, 1]))


def test_train_only_colour_moves_the_colour_channel_and_nothing_else(tiny_data: Path, tmp_path: Path) -> None:
    from reexposure.core.weights import load_generator

    c1 = tiny_config(tiny_data, tmp_path / "guided", steps=1, **{"generator.head": "guided"})
    train(c1, progress=False)
    start, _ = load_generator(tmp_path / "guided" / "model.safetensors")
    c = tiny_config(tiny_data, tmp_path / "colour", steps=3, init_from=str(tmp_path / "guided" / "model.safetensors"),
                    train_only="colour", ema=0.0, **{"generator.head": "guided", "generator.colour_max": 2.0})
    train(c, progress=False)
    end, _ = load_generator(tmp_path / "colour" / "model.safetensors")
    a, b = start.state_dict(), end.state_dict()
    for k in a:
        if k.startswith("head."):
            assert torch.equal(a[k][0], b[k][0]), k  # the brightness channel
        else:
            assert torch.equal(a[k], b[k]), k
    assert not torch.equal(b["head.bias"][1], torch.tensor(0.0))  # the colour channel moved from its restart
    with pytest.raises(ConfigError, match="train_only"):
        check_config(tiny_config(tiny_data, tmp_path / "x", train_only="brightness"))
    with pytest.raises(ConfigError, match="guided head"):
        check_config(tiny_config(tiny_data, tmp_path / "y", train_only="colour"))


def test_init_from_refuses_another_architecture(straight_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    from reexposure.training.trainer import Trainer

    c = tiny_config(tiny_data, tmp_path / "bad", init_from=str(straight_run / "model.safetensors"),
                    **{"generator.width": 6})
    with pytest.raises(ConfigError, match="init_from: .* holds a gated_unet"):
        Trainer(c, torch.device("cpu"))
    with pytest.raises(ConfigError, match="init_from: weights file .* not found"):
        train(tiny_config(tiny_data, tmp_path / "none", init_from=str(tmp_path / "missing.safetensors")),
              progress=False)


def test_numbers_without_a_dot_are_numbers() -> None:
    # YAML 1.1 reads 5e-5 as a string; the config takes it as the number it means
    assert load_train_config(None, ["lr_g=5e-5", "w_adv=1e-2"]).lr_g == pytest.approx(5e-5)
    for bad in ("lr_g=fast", "lr_g=nan", "lr_g=inf"):
        with pytest.raises(ConfigError, match="lr_g: expected a"):
            load_train_config(None, [bad])


def test_texture_term_is_trained_and_logged(tiny_data: Path, tmp_path: Path) -> None:
    from reexposure.training.trainer import check_config

    c = tiny_config(tiny_data, tmp_path / "tex", steps=2, w_tex=0.5)
    seen: list[dict[str, float]] = []
    train(c, progress=False, on_step=lambda tr, b, m: seen.append(m))
    assert len(seen) == 2 and all(m["g_tex"] > 0 for m in seen)
    with pytest.raises(ConfigError, match="w_tex"):
        check_config(tiny_config(tiny_data, tmp_path / "bad", w_tex=-1.0))


def test_whole_scene_validation_scores_like_eval(tiny_data: Path, tmp_path: Path) -> None:
    """The scene cases are eval's (2/8/20% clipped); a network that predicts no boost is naive,
    so its gain is exactly 0 dB; a boosting one is not."""
    from reexposure.training.trainer import Trainer, validation_scenes

    config = tiny_config(tiny_data, tmp_path / "vs", val_side=64)
    cases = validation_scenes(config)
    assert [c["clip"] for c in cases] == [0.02, 0.08, 0.20] and cases[0]["name"] == "v"
    assert max(cases[0]["photo"].shape[:2]) == 64 and cases[0]["photo"].dtype == np.uint8
    trainer = Trainer(config, torch.device("cpu"))
    torch.nn.init.zeros_(trainer.G_ema.head.weight)
    torch.nn.init.zeros_(trainer.G_ema.head.bias)
    flat = trainer.validate_scenes(cases)
    assert flat["val_gain_ev-2"] == 0.0 and flat["val_gain_ev-3"] == 0.0
    torch.nn.init.constant_(trainer.G_ema.head.bias, 1.0)  # boost every clipped pixel by e
    boosted = trainer.validate_scenes(cases)
    assert boosted["val_gain_ev-2"] != 0.0 and boosted["val_texture_ev-2"] != flat["val_texture_ev-2"]
    assert validation_scenes(tiny_config(tiny_data, tmp_path / "off", val_side=0)) == []
    jpeg = validation_scenes(config, "jpeg")  # as eval --format jpeg: same truth, a lossy photo
    assert [c["clip"] for c in jpeg] == [0.02, 0.08, 0.20]
    assert torch.equal(jpeg[1]["radiance"], cases[1]["radiance"])
    assert not np.array_equal(jpeg[1]["photo"], cases[1]["photo"])
