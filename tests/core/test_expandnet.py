"""ExpandNet baseline: the paper's branches, the shared generator interface, weights round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from reexposure.core import camera
from reexposure.core.model import ExpandNet, ExpandNetConfig, GatedUNet, GeneratorConfig, arch_of, build_generator
from reexposure.core.weights import FORMAT, ModelError, load_generator, save_weights


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_paper_architecture() -> None:
    """Marnerides et al. 2018: local (2 convs, 64 and 128), dilated mid (4 convs, d=2), global
    (6 stride-2 convs from 256x256, then a 4x4 conv to a vector), fusion (1x1 64, 1x1 3, sigmoid)."""
    net = ExpandNet()
    local, mid, glob, end = (_convs(net.local_net), _convs(net.mid_net), _convs(net.glob_net), _convs(net.end_net))
    assert [(c.out_channels, c.kernel_size, c.dilation) for c in local] == [(64, (3, 3), (1, 1)), (128, (3, 3), (1, 1))]
    assert [(c.out_channels, c.dilation, c.padding) for c in mid] == [(64, (2, 2), (2, 2))] * 4
    assert [c.stride for c in glob[:-1]] == [(2, 2)] * 6 and glob[-1].kernel_size == (4, 4)
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in end] == [(256, 64, (1, 1)), (64, 3, (1, 1))]
    assert isinstance(net.end_net[-1], nn.Sigmoid)
    assert sum(isinstance(m, nn.SELU) for m in net.modules()) == 2 + 3 + 6 + 1
    n_params = sum(p.numel() for p in net.parameters())
    assert 450_000 < n_params < 550_000  # the paper's ~0.5 M


def test_forward_range_and_global_receptive_field() -> None:
    torch.manual_seed(0)
    net = ExpandNet(ExpandNetConfig(width=4, global_size=32)).eval()
    lin = torch.rand(1, 3, 40, 52) * 0.8
    mask = torch.zeros(1, 1, 40, 52)
    y = net(lin, mask)
    assert y.shape == lin.shape and (y > 0).all() and (y < 1).all()
    # the global branch sees the whole image: a change in one corner moves the opposite corner
    lin2 = lin.clone()
    lin2[..., :6, :6] = 1.0
    y2 = net(lin2, mask)
    assert not torch.allclose(y[..., -4:, -4:], y2[..., -4:, -4:])
    # while the local and mid branches alone have a small receptive field (<= 9 px)
    loc = net.local_net(torch.sqrt(lin + 1e-6))
    loc2 = net.local_net(torch.sqrt(lin2 + 1e-6))
    assert torch.equal(loc[..., -20:, -20:], loc2[..., -20:, -20:])


def test_radiance_is_anchored_to_the_photo_and_predicts_every_pixel() -> None:
    torch.manual_seed(1)
    net = ExpandNet(ExpandNetConfig(width=4, global_size=16)).eval()
    radiance_true = torch.rand(2, 3, 32, 32) * 0.7 + 0.05
    radiance_true[..., 8:16, 8:16] = 6.0
    ldr = camera.render_ldr(radiance_true, 0.0)
    lin = camera.linearize(ldr)
    mask = camera.saturation_mask(ldr)
    with torch.no_grad():
        rad = net.radiance(lin, mask)
    assert rad.shape == lin.shape and (rad >= 0).all()
    good = ((1 - mask) * (lin.amax(1, keepdim=True) > 0.01)).expand_as(lin) > 0
    for b in range(2):
        log_ratio = (torch.log(rad[b] + 1e-4) - torch.log(lin[b] + 1e-4))[good[b]]
        assert float(log_ratio.mean()) == pytest.approx(0.0, abs=1e-4)  # scale matches the photo
    assert not torch.allclose(rad * (1 - mask), lin * (1 - mask), atol=1e-3)  # no pass-through
    # a fully clipped photo: the brightest prediction is put at the clip level
    white = torch.ones(1, 3, 16, 16)
    with torch.no_grad():
        r_white = net.radiance(white, torch.ones(1, 1, 16, 16))
    assert float(r_white.max()) == pytest.approx(1.0, rel=1e-3)


def test_radiance_trains_through_the_scale() -> None:
    torch.manual_seed(2)
    net = ExpandNet(ExpandNetConfig(width=4, global_size=16))
    lin = torch.rand(1, 3, 24, 24)
    mask = (lin.amax(1, keepdim=True) > 0.9).float()
    net.radiance(lin, mask).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_weights_round_trip_rebuilds_the_right_class(tmp_path: Path) -> None:
    torch.manual_seed(3)
    net = ExpandNet(ExpandNetConfig(width=4, global_size=16)).eval()
    path = tmp_path / "expandnet.safetensors"
    save_weights(net, path, trained_steps=5)
    model, meta = load_generator(path)
    assert isinstance(model, ExpandNet) and meta["arch"] == "expandnet"
    assert model.config == net.config and meta["trained_steps"] == "5"
    lin = torch.rand(1, 3, 24, 24)
    mask = torch.zeros(1, 1, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(model(lin, mask), net(lin, mask), atol=2e-3, rtol=0)
    assert arch_of(model) == "expandnet"


def test_weights_without_arch_are_the_gated_unet(tmp_path: Path) -> None:
    from safetensors.torch import save

    net = GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8))
    tensors = {k: v.half().contiguous() for k, v in net.state_dict().items()}
    path = tmp_path / "old.safetensors"
    path.write_bytes(save(tensors, metadata={"format": FORMAT, "config": json.dumps(net.config.to_dict())}))
    model, meta = load_generator(path)
    assert isinstance(model, GatedUNet) and "arch" not in meta
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(save(tensors, metadata={"format": FORMAT, "arch": "resnet",
                                            "config": json.dumps(net.config.to_dict())}))
    with pytest.raises(ModelError, match="resnet"):
        load_generator(bad)


def test_build_generator_checks_names_and_configs() -> None:
    assert isinstance(build_generator("gated_unet", {"width": 4, "depth": 2, "max_width": 8}), GatedUNet)
    assert isinstance(build_generator("expandnet", ExpandNetConfig(width=2, global_size=8)), ExpandNet)
    with pytest.raises(ValueError, match="unknown generator"):
        build_generator("unet3000")
    with pytest.raises(ValueError):
        build_generator("expandnet", {"depth": 3})
    with pytest.raises(ValueError):
        ExpandNetConfig(global_size=100)
