"""Generator and discriminator: shapes, gating, the mask blend, weights files."""

from __future__ import annotations

import pytest
import torch

from reexposure.core.model import GatedConv2d, GatedUNet, GeneratorConfig, SNPatchGAN, compose_radiance
from reexposure.core.weights import ModelError, average_generators, load_generator, save_weights


def test_gated_conv_is_elu_times_sigmoid():
    torch.manual_seed(0)
    layer = GatedConv2d(2, 3, 3)
    x = torch.randn(1, 2, 8, 8)
    f, g = layer.conv(x).chunk(2, dim=1)
    assert torch.allclose(layer(x), torch.nn.functional.elu(f) * torch.sigmoid(g))


def test_gated_conv_gradcheck():
    torch.manual_seed(0)
    layer = GatedConv2d(1, 1, 3).double()
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_unet_shapes_and_zero_init_is_naive():
    cfg = GeneratorConfig(width=4, depth=3, max_width=16)
    g = GatedUNet(cfg)
    lin, mask = torch.rand(2, 3, 32, 48), torch.rand(2, 1, 32, 48)
    o = g(lin, mask)
    assert o.shape == (2, 3, 32, 48)
    assert torch.equal(g.radiance(lin, mask), lin)  # zero head: starts from the naive answer
    with pytest.raises(AssertionError, match="multiples of 8"):
        g(torch.rand(1, 3, 30, 32), torch.rand(1, 1, 30, 32))


def test_blend_keeps_well_exposed_pixels(tiny_model):
    lin = torch.rand(1, 3, 32, 32) * 0.5
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:20, 10:20] = 1.0
    rad = tiny_model.radiance(lin, mask)
    assert torch.equal(rad[..., :10, :], lin[..., :10, :])
    assert not torch.equal(rad[..., 10:20, 10:20], lin[..., 10:20, 10:20])
    assert torch.allclose(compose_radiance(lin, mask, torch.full_like(lin, 2.0))[..., 12, 12],
                          lin[..., 12, 12] * torch.exp(torch.tensor(2.0)))


def test_boost_can_reach_light_source_levels():
    g = GatedUNet(GeneratorConfig(width=4, depth=2, max_width=8))
    torch.nn.init.constant_(g.head.bias, 50.0)
    o = g(torch.ones(1, 3, 8, 8), torch.ones(1, 1, 8, 8))
    assert float(o.detach().max()) == g.config.max_log_boost  # exp(12): 160,000x the clip level


def test_context_blocks_start_as_the_network_without_them(tmp_path):
    """A trained U-Net's weights loaded into one with context blocks give exactly its output (the
    blocks' projections start at zero); trained blocks change it."""
    torch.manual_seed(0)
    base = GatedUNet(GeneratorConfig(width=4, depth=2))
    torch.nn.init.normal_(base.head.weight, std=0.1)
    grown = GatedUNet(GeneratorConfig(width=4, depth=2, context_blocks=2))
    missing, unexpected = grown.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("context.") for k in missing)
    assert grown.config.context_dilations == (2, 4)
    lin = torch.rand(1, 3, 32, 32)
    mask = (lin.amax(1, keepdim=True) > 0.7).float()
    assert torch.equal(grown(lin, mask), base(lin, mask))
    torch.nn.init.normal_(grown.context[0].proj.weight, std=0.1)
    assert not torch.allclose(grown(lin, mask), base(lin, mask))
    # the config round-trips through a weights file; files without the field load as 0 blocks
    save_weights(grown, tmp_path / "g.safetensors")
    assert load_generator(tmp_path / "g.safetensors")[0].config.context_blocks == 2
    # files written before the field existed (the shipped v0.3) load as 0 blocks and average with
    # files that spell it out
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    save_weights(base, tmp_path / "new.safetensors")
    with safe_open(str(tmp_path / "new.safetensors"), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    assert config.pop("context_blocks") == 0
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata={**meta, "config": json.dumps(config)})
    assert load_generator(tmp_path / "old.safetensors")[0].config == base.config
    average_generators([tmp_path / "old.safetensors", tmp_path / "new.safetensors"])


def test_discriminator_patch_scores():
    d = SNPatchGAN()
    s = d(torch.rand(2, 3, 128, 128), torch.rand(2, 1, 128, 128))
    assert s.shape == (2, 1, 4, 4)


def test_weights_round_trip(tmp_path, tiny_model):
    p = tmp_path / "m.safetensors"
    save_weights(tiny_model, p, trained_steps=7, description="test")
    model, meta = load_generator(p)
    assert meta["trained_steps"] == "7" and meta["description"] == "test"
    assert model.config == tiny_model.config
    lin, mask = torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16)
    assert torch.allclose(model(lin, mask), tiny_model(lin, mask), atol=2e-3)  # fp16 storage


def test_average_of_snapshots_is_the_mean_of_their_weights(tmp_path):
    cfg = GeneratorConfig(width=4, depth=2)
    paths = []
    for seed in range(3):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"s{seed}.safetensors")
        save_weights(GatedUNet(cfg), paths[-1], trained_steps=100 * (seed + 1))
    avg, meta = average_generators(paths)
    loaded = [load_generator(p)[0].state_dict() for p in paths]
    for k, v in avg.state_dict().items():
        torch.testing.assert_close(v, sum(sd[k] for sd in loaded) / 3)
    assert meta["trained_steps"] == "300" and meta["averaged"].count(",") == 2  # the last snapshot's
    save_weights(GatedUNet(GeneratorConfig(width=8, depth=2)), tmp_path / "other.safetensors")
    with pytest.raises(ModelError, match="different network"):
        average_generators([paths[0], tmp_path / "other.safetensors"])


def test_bad_weights_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_generator(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a valid reexposure model"):
        load_generator(junk)


def test_shipped_default_model_loads():
    model, meta = load_generator(None)
    assert meta.get("description"), "the shipped model must say what it is"
    assert isinstance(model, GatedUNet)


def test_upsample_must_be_known():
    with pytest.raises(ValueError, match="upsample"):
        GeneratorConfig(upsample="cubic")


def _flat_area_roughness(upsample: str) -> float:
    """Inside a clipped disc (radius 40 px, in a dim ramp) a randomly initialised network (every
    convolution N(0, 0.2), head included) gives a log brightness whose deep features still vary:
    the mean |second difference| along x over the mean |first difference| in the disc's middle.
    About 1 or more for a staircase, well below 1 for a smooth surface."""
    torch.manual_seed(3)
    g = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, upsample=upsample))
    for m in g.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.2)
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    inside = ((yy - 64) ** 2 + (xx - 64) ** 2 < 40**2).float()[None, None]
    lin = (0.1 + 0.3 * xx / 128)[None, None].expand(1, 3, 128, 128) * (1 - inside) + inside
    with torch.no_grad():
        o = g(lin, inside)[0, 0, 44:84, 44:84]
    d1 = o[:, 1:] - o[:, :-1]
    d2 = d1[:, 1:] - d1[:, :-1]
    assert float(o.std()) > 0.01  # the area's output does vary
    return float(d2.abs().mean() / d1.abs().mean())


def test_bilinear_upsampling_leaves_no_block_steps_in_flat_areas():
    """Nearest upsampling repeats each coarse feature over a 2x2 block per level; inside a flat
    clipped area nothing in the input hides the steps between blocks (the plaid that GPU-tuned
    weights drew inside lamps: MODEL_CARD). Bilinear upsampling leaves a smooth surface."""
    near, bil = _flat_area_roughness("nearest"), _flat_area_roughness("bilinear")
    assert near > 0.7, near
    assert bil < 0.5, bil
