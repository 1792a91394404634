"""Tiled inference: equals one pass, skips unclipped tiles, keeps well-exposed pixels, deterministic."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import reexposure
from reexposure.core import camera
from reexposure.core.infer import Reconstructor, TileOptions, _axis_weights, _positions, receptive_radius
from reexposure.core.model import GatedUNet, GeneratorConfig, compose_radiance


def _photo_512() -> np.ndarray:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:512, :512]
    img = np.clip(90 + 60 * np.sin(xx / 13.0)[..., None] * np.cos(yy / 17.0)[..., None]
                  + rng.normal(0, 10, (512, 512, 3)), 0, 235).astype(np.uint8)
    # clipped areas crossing the tile borders of a 256-pixel tiling
    for cy, cx, r in [(256, 256, 70), (120, 380, 50), (400, 130, 60), (250, 5, 30), (500, 500, 40)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 255
    img[300:320, :, 0] = 255  # a band where only red clips
    return img


@pytest.mark.parametrize("config,context", [(GeneratorConfig(), 64), (GeneratorConfig(width=8, depth=3), None),
                                            (GeneratorConfig(width=8, depth=3, context_blocks=1), None),
                                            (GeneratorConfig(width=8, depth=3, head="guided"), None),
                                            (GeneratorConfig(width=8, depth=3, head="guided", interior_smooth=6),
                                             None)])
def test_tiled_equals_one_pass(config, context):
    torch.manual_seed(0)
    model = GatedUNet(config)
    torch.nn.init.normal_(model.head.weight, std=0.05)
    for block in model.context:  # zero at init: give them a say, so that their reach is tested
        torch.nn.init.normal_(block.proj.weight, std=0.1)
    model.eval()
    img = _photo_512()
    full = Reconstructor(model, tiles=TileOptions(one_pass_pixels=10**9))(img)
    tiled_rec = Reconstructor(model, tiles=TileOptions(tile=256, context=context, one_pass_pixels=0))
    tiled = tiled_rec(img)
    assert len(tiled.boosts) >= 4, "the test must really tile"
    a, b = full.to_tensor(), tiled.to_tensor()
    assert (a - b).abs().max().item() < 1e-3
    assert not torch.equal(a, camera.linearize(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255))


def test_shipped_model_tiles_match_one_pass():
    img = _photo_512()
    full = Reconstructor(None, tiles=TileOptions(one_pass_pixels=10**9))(img).to_tensor()
    tiled = Reconstructor(None, tiles=TileOptions(tile=256, one_pass_pixels=0))(img).to_tensor()
    assert (full - tiled).abs().max().item() < 1e-3 * max(1.0, float(full.max()))


def test_weights_partition_of_unity():
    for length, tile, overlap in [(1000, 256, 96), (257, 256, 96), (4000, 1024, 320), (600, 320, 160)]:
        starts = _positions(length, tile, overlap, 16)
        assert starts[0] == 0 and min(length, starts[-1] + tile) == length
        assert all(s % 16 == 0 for s in starts)
        total = np.zeros(length)
        for s, w in zip(starts, _axis_weights(starts, tile, length, (overlap - 32) // 2, 32)):
            total[s:s + len(w)] += w
        assert np.allclose(total, 1.0, atol=1e-6)


def test_unclipped_tiles_skipped_and_passthrough(tiny_model):
    img = np.full((600, 900, 3), 120, np.uint8)
    img[20:60, 30:80] = 255
    rec = Reconstructor(tiny_model, tiles=TileOptions(tile=256, one_pass_pixels=0))
    r = rec(img)
    assert 0 < len(r.boosts) <= 2
    rad = r.to_tensor()
    lin = camera.linearize(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    mask = camera.saturation_mask(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    assert torch.equal(rad[mask.expand_as(rad) == 0], lin[mask.expand_as(lin) == 0])
    none = rec(np.full((600, 900, 3), 120, np.uint8))
    assert none.boosts == {}


def test_on_window_reports_each_pass_and_can_stop_it(tiny_model):
    img = _photo_512()
    rec = Reconstructor(tiny_model, tiles=TileOptions(tile=256, one_pass_pixels=0))
    seen: list[int] = []
    r = rec(img, on_window=seen.append)
    assert seen == list(range(len(r.boosts))) and len(seen) >= 4
    assert len(seen) <= rec.window_count(*img.shape[:2])
    assert Reconstructor(tiny_model, tiles=TileOptions(one_pass_pixels=10**9)).window_count(512, 512) == 1

    class Stop(Exception):
        pass

    def stop_at_2(done: int) -> None:
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        rec(img, on_window=stop_at_2)
    assert rec(np.full((64, 64, 3), 100, np.uint8), on_window=seen.append).boosts == {}


def test_reexpose_streaming_matches_tensor_path(tiny_model, highlight_photo):
    r = Reconstructor(tiny_model)(highlight_photo)
    u8 = r.reexpose(-2, rows=50)
    ref = reexposure.reexpose(r.to_tensor(), -2)
    assert np.abs(u8.astype(int) - np.round(ref[0].permute(1, 2, 0).numpy() * 255).astype(int)).max() <= 1
    outside = camera.saturation_mask(torch.from_numpy(highlight_photo).permute(2, 0, 1)[None].float() / 255)[0, 0] == 0
    assert np.array_equal(r.reexpose(0)[outside.numpy()], highlight_photo[outside.numpy()])  # EV 0 gives the photo back


def test_network_output_goes_through_the_one_blend(tiny_model, highlight_photo):
    """The map's radiance is compose_radiance of the photo, its undilated per-channel mask and the
    network's output as it was (the blend, not the map, clamps the log boost at 0)."""
    r = Reconstructor(tiny_model)(highlight_photo)
    o = r.network_boost()
    assert o.shape == (3, *highlight_photo.shape[:2]) and o.abs().max() > 0
    ldr = torch.from_numpy(highlight_photo).permute(2, 0, 1)[None].float() / 255
    mask = camera.saturation_mask(ldr, per_channel=True, dilate=r.blend_dilate)  # the photo's own, undilated
    assert torch.allclose(r.output(), o[None], atol=1e-6)
    assert torch.allclose(r.to_tensor(), compose_radiance(r.lin(), mask, o[None]), rtol=1e-5)
    # nothing clipped: no network pass, a zero output of the working grid's shape
    flat = Reconstructor(tiny_model)(np.full((40, 48, 3), 100, np.uint8))
    assert not flat.boosts and not flat.network_boost().any()


def test_deterministic(tiny_model, highlight_photo):
    rec = Reconstructor(tiny_model, threads=1)
    assert torch.equal(rec(highlight_photo).to_tensor(), rec(highlight_photo).to_tensor())


def test_public_api(tiny_model, tmp_path, highlight_photo):
    from reexposure.core.weights import save_weights

    p = tmp_path / "m.safetensors"
    save_weights(tiny_model, p)
    rad = reexposure.reconstruct(highlight_photo, model=p)
    assert rad.shape == (1, 3, 192, 256) and rad.dtype == torch.float32
    assert float(rad.max()) > 1.0  # the random head boosts clipped pixels
    with pytest.raises(ValueError):
        reexposure.reexpose(rad, 11)
    with pytest.raises(ValueError):
        reexposure.reconstruct(np.zeros((1, 1, 3), np.uint8), model=p)


def test_receptive_radius_default():
    assert receptive_radius(GeneratorConfig()) == 141
    # a context block of dilation d at the bottleneck (1/16 resolution) reaches d * 16 pixels further
    assert receptive_radius(GeneratorConfig(context_blocks=2)) == 141 + (2 + 4) * 16
    # settle_interior: two boxes of radius r
    assert receptive_radius(GeneratorConfig(head="guided", interior_smooth=12)) == 141 + 24
    assert receptive_radius(GeneratorConfig(head="rgb", interior_smooth=12)) == 141  # only the guided head has it
    # bilinear upsampling reads one coarse neighbour per level: 2 + 4 + 8 + 16 px at depth 4
    assert receptive_radius(GeneratorConfig(upsample="bilinear")) == 141 + 30


def test_unclipped_channels_of_a_partly_clipped_pixel_stay_exact(tiny_model):
    img = np.full((64, 64, 3), 100, np.uint8)
    img[20:40, 20:40, 0] = 255  # red clips, green and blue were recorded
    torch.nn.init.constant_(tiny_model.head.bias, 0.5)  # boosts everything it may
    rad = Reconstructor(tiny_model)(img).to_tensor()
    lin = camera.linearize(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    assert torch.equal(rad[:, 1:], lin[:, 1:])
    assert not torch.equal(rad[:, 0, 20:40, 20:40], lin[:, 0, 20:40, 20:40])


def test_radiance_never_below_the_recorded_value(tiny_model, highlight_photo):
    torch.nn.init.constant_(tiny_model.head.bias, -1.0)  # a model that would darken clipped pixels
    rad = Reconstructor(tiny_model)(highlight_photo).to_tensor()
    lin = camera.linearize(torch.from_numpy(highlight_photo).permute(2, 0, 1)[None].float() / 255)
    assert bool((rad >= lin).all())


def test_working_grid_for_large_photos(tiny_model):
    import torch.nn.functional as F

    rng = np.random.default_rng(3)
    img = np.clip(rng.normal(120, 30, (300, 420, 3)), 0, 240).astype(np.uint8)
    img[50:150, 100:260] = 255
    img[200:220, 10:400, 2] = 255
    rec = Reconstructor(tiny_model, tiles=TileOptions(max_work_pixels=20_000))
    k = rec.work_scale(300, 420)
    assert k == 3
    r = rec(img)
    assert r.scale == 3 and r.work_shape == (100, 140)
    o = torch.from_numpy(r.boosts[(0, 0)].astype(np.float32))[None]
    up = F.interpolate(o, scale_factor=3, mode="bilinear", align_corners=False)
    mask = camera.saturation_mask(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255, per_channel=True,
                                  dilate=0)
    assert torch.allclose(r.output(), up, atol=1e-5)
    assert torch.allclose(torch.cat([b for _, b in r.strips(rows=37)], dim=2), r.to_tensor())
    lin = camera.linearize(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    rad = r.to_tensor()
    assert torch.equal(rad[mask == 0], lin[mask == 0])
    keep = mask[0].amax(0).numpy() == 0
    again = Reconstructor(tiny_model)(np.where(img > 0, img, img))
    assert np.array_equal(r.reexpose(-1)[keep], again.reexpose(-1)[keep])


def test_read_only_photo_is_accepted_without_a_torch_warning(tiny_model, highlight_photo):
    """np.asarray(PIL image) is read-only; the result equals that of a writable copy, silently."""
    import warnings

    frozen = highlight_photo.copy()
    frozen.flags.writeable = False
    rec = Reconstructor(tiny_model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = rec(frozen).to_tensor()
    assert torch.equal(out, rec(highlight_photo).to_tensor())
    assert not frozen.flags.writeable  # the input itself untouched


@pytest.mark.parametrize("head", ["rgb", "guided"])
def test_strength_scales_only_the_network_brightness(head, highlight_photo):
    """RadianceMap.strength multiplies the log brightness (all three log boosts of an rgb head):
    0 gives the blend with that output zeroed, larger values brighten the clipped areas, and the
    well-exposed pixels are the linearised photo at every strength."""
    import dataclasses

    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, head=head)).eval()
    torch.nn.init.normal_(model.head.weight, std=0.05)
    torch.nn.init.constant_(model.head.bias, 0.5)  # a clearly positive brightness
    rmap = Reconstructor(model, threads=1)(highlight_photo)
    assert rmap.strength == 1.0
    full = rmap.to_tensor()
    n = 1 if head == "guided" else 3
    zeroed = dataclasses.replace(rmap, boosts={k: np.concatenate([np.zeros_like(v[:n]), v[n:]])
                                               for k, v in rmap.boosts.items()})
    rmap.strength = 0.0
    none = rmap.to_tensor()
    assert torch.allclose(none, zeroed.to_tensor())
    rmap.strength = 2.0
    more = rmap.to_tensor()
    assert (none <= full + 1e-6).all() and (full <= more + 1e-6).all()
    assert float(more.max()) > float(full.max()) > float(none.max())
    well = camera.saturation_mask(torch.from_numpy(highlight_photo).permute(2, 0, 1)[None].float() / 255,
                                  per_channel=True, dilate=0) == 0
    assert torch.equal(none[well], full[well]) and torch.equal(more[well], full[well])
    rmap.strength = float("nan")
    with pytest.raises(ValueError, match="strength"):
        rmap.to_tensor()
    with pytest.raises(ValueError, match="strength"):
        Reconstructor(model, strength=3.5)
    assert Reconstructor(model, threads=1, strength=0.0)(highlight_photo).strength == 0.0


def test_public_api_strength(tiny_model, tmp_path, highlight_photo):
    from reexposure.core.weights import save_weights

    p = tmp_path / "m.safetensors"
    save_weights(tiny_model, p)
    weak = reexposure.reconstruct(highlight_photo, model=p, strength=0.0)  # an rgb head: no boost at all
    lin = torch.from_numpy((highlight_photo / 255.0) ** 2).float().permute(2, 0, 1)[None]
    assert torch.allclose(weak, lin, atol=1e-6)
    assert float(reexposure.reconstruct(highlight_photo, model=p).max()) > 1.0
    with pytest.raises(ValueError, match="strength"):
        reexposure.reconstruct(highlight_photo, model=p, strength=-0.5)


def test_with_strength_is_a_copy_that_leaves_the_map_alone(tiny_model, highlight_photo):
    rm = Reconstructor(tiny_model)(highlight_photo)
    assert rm.with_strength(1.0) is rm
    bare = rm.with_strength(0.0)
    assert bare is not rm and rm.strength == 1.0 and bare.strength == 0.0
    assert bare.photo is rm.photo and bare.boosts is rm.boosts  # no network run, nothing copied
    assert torch.equal(bare.to_tensor(), rm.lin())  # an rgb head at strength 0: the linear photo
    with pytest.raises(ValueError, match="strength"):
        rm.with_strength(3.5)


def test_a_wider_colour_range_reaches_the_photo_through_the_reconstructor(highlight_photo) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    torch.manual_seed(3)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, head="guided", colour_max=2.0)).eval()
    torch.nn.init.normal_(model.head.weight, std=0.05)
    with torch.no_grad():
        model.head.bias[1] = 5.0  # strength near 2: twice the surroundings' saturation
    disc = torch.from_numpy((highlight_photo >= 254).all(-1))
    photo = highlight_photo.copy()
    photo[~disc.numpy()] = (240, 215, 160)  # a bright warm surround: the colour the discs take
    rmap = Reconstructor(model)(photo)
    assert rmap.colour_max == 2.0
    wide, narrow = rmap.to_tensor()[0], dataclasses.replace(rmap, colour_max=1.0).to_tensor()[0]
    sat = lambda r: 1 - (r.amin(0) / r.amax(0).clamp_min(1e-6))[disc]  # noqa: E731
    assert sat(wide).median() > 1.5 * sat(narrow).median()
    assert torch.equal(wide[:, ~disc], narrow[:, ~disc])  # nothing changes outside clipped pixels


@pytest.mark.parametrize("max_work_pixels", [10**9, 60_000])
def test_share_field_on_the_working_grid(max_work_pixels):
    """The wider all-clipped weight (share_radius) is computed once on the working grid and
    up-sampled: strips of any height give the whole image's radiance; at scale 1 it is what the
    one blend computes from the photo's own mask (training's path); it changes the result."""
    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, head="guided", share_radius=12))
    torch.nn.init.normal_(model.head.weight, std=0.05)
    torch.nn.init.constant_(model.head.bias, 1.0)
    img = _photo_512()
    r = Reconstructor(model.eval(), tiles=TileOptions(max_work_pixels=max_work_pixels))(img)
    assert r.share_radius == 12 and r.share is not None and r.share.shape[1:] == r.work_shape
    whole = r.to_tensor()
    for rows in (16, 37, 100):
        assert torch.allclose(torch.cat([b for _, b in r.strips(rows=rows)], dim=2), whole, atol=1e-5)
    assert not torch.allclose(dataclasses.replace(r, share_radius=0, share=None).to_tensor(), whole, atol=1e-3)
    if r.scale == 1:
        ldr = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        mask = camera.saturation_mask(ldr, per_channel=True, dilate=0)
        chroma = torch.from_numpy(r.chroma.astype(np.float32))[None]
        direct = compose_radiance(r.lin(), mask, r.output(), chroma, share_radius=12)
        assert torch.allclose(direct, whole, atol=1e-5)
    else:
        assert r.scale == 3


@pytest.mark.parametrize("max_work_pixels", [10**9, 60_000])
def test_fill_channels_in_strips_and_on_the_working_grid(max_work_pixels):
    """fill_channels (v0.8) inside blown discs with JPEG-like stray codes: strips of any height give
    the whole image's radiance (the closing fits in the blend's context rows), at scale 1 it is
    the one blend with fill=True (training's path), and it changes the result."""
    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, head="guided", share_radius=8,
                                      fill_channels=True))
    torch.nn.init.normal_(model.head.weight, std=0.05)
    torch.nn.init.constant_(model.head.bias, 1.0)
    img = _photo_512()
    rng = np.random.default_rng(3)
    stray = (img == 255) & (rng.random(img.shape) < 0.05)
    img[stray] = 250  # a channel a few codes below the clip, here and there
    r = Reconstructor(model.eval(), tiles=TileOptions(max_work_pixels=max_work_pixels))(img)
    assert r.fill_channels
    whole = r.to_tensor()
    for rows in (16, 37, 100):
        assert torch.allclose(torch.cat([b for _, b in r.strips(rows=rows)], dim=2), whole, atol=1e-5)
    assert not torch.allclose(dataclasses.replace(r, fill_channels=False).to_tensor(), whole, atol=1e-3)
    if r.scale == 1:
        ldr = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        mask = camera.saturation_mask(ldr, per_channel=True, dilate=0)
        chroma = torch.from_numpy(r.chroma.astype(np.float32))[None]
        direct = compose_radiance(r.lin(), mask, r.output(), chroma, share_radius=8, fill=True)
        assert torch.allclose(direct, whole, atol=1e-5)
    else:
        assert r.scale == 3


def _bright_guided_model() -> GatedUNet:
    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16, head="guided", share_radius=4)).eval()
    torch.nn.init.normal_(model.head.weight, std=0.05)
    torch.nn.init.constant_(model.head.bias, 0.7)  # a clearly positive brightness
    return model


@pytest.mark.parametrize("work_pixels", [None, 12_000])
def test_area_strength_changes_its_area_only(highlight_photo, work_pixels):
    """An AreaStrength replaces the map's strength over one clipped area: there the radiance is the
    map's at that strength, everywhere else it is the map's own, bit for bit; strips agree with the
    whole image, and a copy at another strength keeps the area's. The same on a coarser working
    grid (the network's output up-sampled: the area's outline is still the photo's own)."""
    from reexposure.core.strength import AreaStrength

    tiles = TileOptions() if work_pixels is None else TileOptions(max_work_pixels=work_pixels, work_pixels=work_pixels)
    rmap = Reconstructor(_bright_guided_model(), threads=1, tiles=tiles)(highlight_photo)
    assert rmap.scale == (1 if work_pixels is None else 3)
    full, none = rmap.to_tensor(), rmap.with_strength(0.0).to_tensor()
    labels = rmap.area_labels()
    lamp = torch.from_numpy(labels == labels[60, 70])  # the disc at (row 60, column 70)
    assert float((full - none)[0][:, lamp].max()) > 0.1  # the network brightened it
    calm = rmap.with_areas([AreaStrength(70, 60, 0.0)])
    assert calm.strength == 1.0 and rmap.areas == ()  # the map itself is untouched
    out = calm.to_tensor()
    assert torch.equal(out[0][:, lamp], none[0][:, lamp])
    assert torch.equal(out[0][:, ~lamp], full[0][:, ~lamp])
    assert np.array_equal(calm.to_array(), out[0].permute(1, 2, 0).numpy())  # strip by strip
    brighter = calm.with_strength(2.0).to_tensor()
    assert torch.equal(brighter[0][:, lamp], none[0][:, lamp])  # the area keeps its own strength
    assert (brighter[0][:, ~lamp] >= full[0][:, ~lamp]).all()
    # a later point in the same area wins; another area keeps the map's strength
    twice = rmap.with_areas([AreaStrength(70, 60, 0.0), AreaStrength(75, 62, 1.0)]).to_tensor()
    assert torch.equal(twice, full)
    # areas set on a copy directly name their own areas, not those of the copy's origin
    other = calm.with_strength(0.5)  # a copy that shares calm's labels and the areas' ids
    other.areas = (AreaStrength(190, 130, 0.0),)
    disc = torch.from_numpy(labels == labels[130, 190])
    assert torch.equal(other.to_tensor()[0][:, disc], none[0][:, disc])
    assert torch.equal(other.to_tensor()[0][:, lamp], rmap.with_strength(0.5).to_tensor()[0][:, lamp])


def test_area_points_snap_to_the_nearest_area_or_fail_in_one_line(highlight_photo):
    from reexposure.core.strength import AREA_SNAP, AreaStrength

    rmap = Reconstructor(_bright_guided_model(), threads=1)(highlight_photo)
    labels = rmap.area_labels()
    # the disc at (60, 70) has radius 25: a point 5 px beyond its right edge still names it
    assert rmap.area_at(70 + 25 + 5, 60) == labels[60, 70]
    with pytest.raises(ValueError, match=f"no clipped area at or within {AREA_SNAP} px of \\(130, 10\\); "
                                         "the nearest is 5[0-9] px away, at \\(8[0-9], 4[0-9]\\)"):
        rmap.with_areas([AreaStrength(130, 10, 0.5)])
    dark = Reconstructor(_bright_guided_model(), threads=1)(np.full((40, 60, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="the photo has none"):
        dark.with_areas([AreaStrength(3, 3, 0.5)])
    with pytest.raises(ValueError, match="outside the 256x192 photo"):
        rmap.with_areas([AreaStrength(256, 10, 0.5)])
    with pytest.raises(ValueError, match="strength must be within 0-3"):
        rmap.with_areas([AreaStrength(70, 60, 3.5)])


def test_public_api_areas(tmp_path, highlight_photo):
    from reexposure.core.weights import save_weights

    p = tmp_path / "m.safetensors"
    save_weights(_bright_guided_model(), p)
    full = reexposure.reconstruct(highlight_photo, model=p)
    calm = reexposure.reconstruct(highlight_photo, model=p, areas=[reexposure.AreaStrength(190, 130, 0.0)])
    changed = (calm != full).any(1)[0]
    assert changed.any() and not changed[:, :120].any()  # only the disc at column 190
    assert (calm <= full).all()
