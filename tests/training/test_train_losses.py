"""Losses: the discriminator sees tone-mapped LDR, VGG19 conv3_4 pre-ReLU features from a
torchvision-layout state dict, and a clear stop when VGG weights are missing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _train_helpers import make_hdr_folder, tiny_config

from reexposure.training.config import ConfigError
from reexposure.training.losses import (
    VGG19,
    VGG_CONV3_4,
    PerceptualLoss,
    hinge_d_loss,
    hinge_g_loss,
    log_mse,
    tonemap_for_d,
)

#: torchvision.models.vgg19().features: conv layers sit at these indices (ReLU after each,
#: max-pools at 4, 9, 18, 27, 36)
TORCHVISION_VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def _torchvision_layout_file(path: Path, seed: int = 0) -> tuple[Path, VGG19]:
    """A state dict with torchvision vgg19's keys and shapes (features.* plus classifier.*),
    from a randomly initialised full VGG19 of ours."""
    torch.manual_seed(seed)
    full = VGG19(last=36)
    state = {k: v for k, v in full.state_dict().items() if k.startswith("features.")}
    state["classifier.0.weight"] = torch.randn(8, 4)  # present in torchvision files, ignored
    state["classifier.0.bias"] = torch.randn(8)
    torch.save(state, path)
    return path, full


def test_vgg19_layout_matches_torchvision() -> None:
    full = VGG19(last=36)
    convs = tuple(i for i, m in enumerate(full.features) if isinstance(m, nn.Conv2d))
    assert convs == TORCHVISION_VGG19_CONVS
    pools = tuple(i for i, m in enumerate(full.features) if isinstance(m, nn.MaxPool2d))
    assert pools == (4, 9, 18, 27, 36)
    vgg = VGG19()
    assert VGG_CONV3_4 == 16 and len(vgg.features) == 17  # truncated right after conv3_4
    conv34 = vgg.features[16]
    assert isinstance(conv34, nn.Conv2d) and (conv34.in_channels, conv34.out_channels) == (256, 256)
    # conv3_4 is the 4th conv after the 2nd pool
    assert sum(isinstance(m, nn.Conv2d) for m in vgg.features[10:17]) == 4


def test_perceptual_features_are_conv3_4_before_relu() -> None:
    torch.manual_seed(0)
    vgg = VGG19().eval()
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        feats = vgg(x)
        before = vgg.features[:16]((x - vgg.mean) / vgg.std)  # output of layer 15 (ReLU of conv3_3)
        manual = F.conv2d(before, vgg.features[16].weight, vgg.features[16].bias, padding=1)
    assert feats.shape == (1, 256, 6, 6)
    assert (before >= 0).all()  # layer 15 is a ReLU
    assert (feats < 0).any()  # pre-activation: negative values survive
    torch.testing.assert_close(feats, manual)


def test_vgg19_loads_a_torchvision_state_dict(tmp_path: Path) -> None:
    path, full = _torchvision_layout_file(tmp_path / "vgg19-test.pth", seed=1)
    vgg = VGG19()
    vgg.load_torchvision(path)
    for k, v in vgg.state_dict().items():
        if k.startswith("features."):
            assert torch.equal(v, full.state_dict()[k]), k
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        full_to_16 = full.features[:17]((x - full.mean) / full.std)
        torch.testing.assert_close(vgg(x), full_to_16)
    loss = PerceptualLoss(path)
    assert float(loss(x, x)) == 0.0 and float(loss(x, x.flip(-1))) > 0.0
    assert not any(p.requires_grad for p in loss.parameters())


def test_vgg19_rejects_other_files_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, partial)
    wrong = tmp_path / "wrong.pth"
    state = {k: v for k, v in VGG19().state_dict().items() if k.startswith("features.")}
    state["features.16.weight"] = torch.zeros(512, 256, 3, 3)
    torch.save(state, wrong)
    for path, needle in ((junk, "junk.pth"), (partial, "missing"), (wrong, "features.16.weight"),
                         (tmp_path / "absent.pth", "absent.pth")):
        with pytest.raises(ValueError) as err:
            VGG19().load_torchvision(path)
        assert "\n" not in str(err.value) and needle in str(err.value)


def test_tonemap_and_hinge_losses() -> None:
    r = torch.tensor([0.0, 0.25, 1.0, 4.0, 100.0]).view(1, 1, 1, 5).expand(2, 3, 1, 5)
    t = tonemap_for_d(r, torch.tensor([0.0, -2.0]))
    torch.testing.assert_close(t[0, 0, 0], torch.tensor([0.0, 0.5, 1.0, 1.0, 1.0]), atol=2e-4, rtol=0)
    torch.testing.assert_close(t[1, 0, 0], torch.tensor([0.0, 0.25, 0.5, 1.0, 1.0]), atol=2e-4, rtol=0)
    assert float(hinge_d_loss(torch.full((4,), 2.0), torch.full((4,), -2.0))) == 0.0
    assert float(hinge_d_loss(torch.zeros(4), torch.zeros(4))) == 2.0
    assert float(hinge_g_loss(torch.tensor([1.0, 3.0]))) == -2.0
    a = torch.rand(1, 3, 4, 4) + 0.1
    assert float(log_mse(a, a)) == 0.0
    assert float(log_mse(a, 2 * a)) == pytest.approx(0.48, abs=0.02)  # ~log(2)^2
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 0, 0] = 1
    b = a.clone()
    b[..., 1:, :] *= 10  # errors outside the mask do not count
    assert float(log_mse(a, b, mask)) == 0.0


def test_discriminator_sees_tone_mapped_ldr(tmp_path: Path) -> None:
    """Spy on D's forward inputs during a Trainer step after gan_start: every image D gets is
    sqrt(clip(radiance * 2**ev)) of the generated or the real radiance, in [0,1]."""
    from reexposure.training.data import DataConfig, HDRPairs, find_hdr_files
    from reexposure.training.trainer import Trainer

    data = make_hdr_folder(tmp_path / "d", ("a", "b"))
    config = tiny_config(data, tmp_path / "run", gan_start=0, w_adv=0.5)
    trainer = Trainer(config, torch.device("cpu"))
    ds = HDRPairs(find_hdr_files(data), DataConfig(crop=32), seed=0)
    batch = {k: torch.stack([ds[n][k] for n in range(2)]) for k in ("ldr", "radiance")}
    lin, mask, target = trainer.prepare(batch)
    with torch.no_grad():
        pred = trainer.G.radiance(lin, mask)
    ev = trainer.d_ev(2)
    lo, hi = config.d_ev
    assert ((ev >= lo) & (ev <= hi)).all()
    scale = (2.0 ** ev).view(-1, 1, 1, 1)
    expect_fake = torch.sqrt((pred * scale).clamp(0, 1))
    expect_real = torch.sqrt(((mask * target + (1 - mask) * lin) * scale).clamp(0, 1))

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    handle = trainer.D.register_forward_pre_hook(lambda mod, args: seen.append((args[0].detach().clone(), args[1])))
    metrics = trainer.train_step(batch)
    handle.remove()
    assert "g_adv" in metrics and "d_loss" in metrics
    assert len(seen) == 2  # once in the G step, once (real and fake together) in the D step
    for images, m in seen:
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert m.shape[1] in (1, 3)  # per-channel masks are reduced to one channel inside D
    g_input, d_input = seen[0][0], seen[1][0]
    torch.testing.assert_close(g_input, expect_fake, atol=1e-4, rtol=0)
    torch.testing.assert_close(d_input[:2], expect_real, atol=1e-4, rtol=0)
    torch.testing.assert_close(d_input[2:], expect_fake, atol=1e-4, rtol=0)
    # and this is not the linear radiance: highlights above 1 exist in the target
    assert target.max() > 1.0


def test_missing_vgg_weights_stop_training_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    from reexposure.apps.cli import main as cli_main
    from reexposure.training.trainer import train

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    # the data folder does not even exist: the VGG check comes first, before any data is read
    config = tiny_config(tmp_path / "no-data", tmp_path / "run", w_perc=0.1)
    with pytest.raises(ConfigError) as err:
        train(config, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and str(hub) in msg and "vgg19" in msg and "--vgg-weights" in msg
    assert not (tmp_path / "run").exists()
    # the same through the command line: one line on stderr, exit code 2
    code = cli_main(["train", "data=" + str(tmp_path / "no-data"), "out=" + str(tmp_path / "run"), "w_perc=0.1", "-q"])
    captured = capsys.readouterr()
    assert code == 2
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("reexpose: error:") and str(hub) in lines[0]
    # with the file in the hub cache, training starts and uses the perceptual loss
    _torchvision_layout_file(hub.mkdir(parents=True) or hub / "vgg19-dcbb9e9d.pth")
    data = make_hdr_folder(tmp_path / "d", ("a", "b", "v"))
    seen: list[dict[str, float]] = []
    train(tiny_config(data, tmp_path / "run2", w_perc=0.1, steps=2, gan_start=1), progress=False,
          on_step=lambda t, b, m: seen.append(m))
    assert "g_perc" not in seen[0] and seen[1]["g_perc"] > 0


def test_log_ldr_loss_is_the_mean_of_per_crop_log_mse() -> None:
    from reexposure.training.losses import ldr_loss

    sq = torch.zeros(2, 3, 4, 4)
    sq[0] = 0.01  # a hard crop
    sq[1] = 1e-4  # an easy crop: nearly nothing in a pooled MSE
    region = torch.ones(2, 1, 4, 4)
    region[1, :, :2] = 0  # only half of crop 1 is clipped; the rest must not count
    sq[1, :, :2] = 5.0
    assert float(ldr_loss(sq, region, "mse")) == pytest.approx((0.01 * 48 + 1e-4 * 24) / 72)
    expected = (math.log10(0.01 + 1e-4) + math.log10(1e-4 + 1e-4)) / 2
    assert float(ldr_loss(sq, region, "log", eps=1e-4)) == pytest.approx(expected, rel=1e-5)
    # the easy crop pulls as hard as the hard one in the log loss (100x more than in the pooled MSE)
    x = sq.clone().requires_grad_(True)
    ldr_loss(x, region, "log").backward()
    g = x.grad.view(2, -1).sum(1)
    assert g[1] > 10 * g[0]


def test_texture_loss_counts_missing_texture_inside_the_region_only() -> None:
    from reexposure.training.losses import texture_loss

    g = torch.Generator().manual_seed(0)
    real = 0.5 + 0.2 * torch.rand(1, 3, 32, 32, generator=g)  # textured truth
    smooth = F.avg_pool2d(real, 5, stride=1, padding=2, count_include_pad=False)  # what a pixel loss gives
    region = torch.zeros(1, 1, 32, 32)
    region[..., :16, :] = 1  # top half clipped
    assert float(texture_loss(real, real, region)) == 0.0
    blurred = real.clone()
    blurred[..., :16, :] = smooth[..., :16, :]
    loss = float(texture_loss(blurred, real, region))
    # known value: the region covers two 16x16 tiles; a neighbour pair belongs to the tile of its
    # first (left / upper) pixel, so the pair across the tile border counts in the left tile
    def tile_energy(x: torch.Tensor, first: int, stop: int) -> float:
        t = x[0, :, :16].double()
        dx = (t[:, :, first + 1:stop] - t[:, :, first:stop - 1]) ** 2
        dy = (t[:, 1:, first:first + 16] - t[:, :-1, first:first + 16]) ** 2
        return float(dx.sum() + dy.sum()) / (dx.numel() + dy.numel())
    expected = sum(abs(math.log(tile_energy(blurred, a, b) + 6e-5) - math.log(tile_energy(real, a, b) + 6e-5))
                   * n for a, b, n in ((0, 17, 16 * 16 + 15 * 16), (16, 32, 16 * 15 + 15 * 16)))
    expected /= 16 * 16 + 15 * 16 + 16 * 15 + 15 * 16
    assert loss == pytest.approx(expected, rel=1e-4)
    assert loss > 1.0  # a 5x5 box blur removes most of the energy of white noise
    # the bottom half is outside the region: whatever happens there does not count
    other = blurred.clone()
    other[..., 16:, :] = 0.0
    assert float(texture_loss(other, real, region)) == pytest.approx(loss, rel=1e-6)
    # its gradient on the smooth estimate asks for more contrast (the loss falls along -grad)
    x = blurred.clone().requires_grad_(True)
    texture_loss(x, real, region).backward()
    stepped = (blurred - 0.5 * x.grad / x.grad.abs().max() * 0.01).detach()
    assert float(texture_loss(stepped, real, region)) < loss
    # energy of the right strength but elsewhere scores 0: it measures how much, not where
    shifted = real.roll(1, dims=-1)
    assert float(texture_loss(shifted, real, torch.ones(1, 1, 32, 32), patch=32)) < 0.02

