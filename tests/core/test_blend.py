"""The one blend (reexposure.model.blend): known values of compose_radiance and ring_chroma."""

from __future__ import annotations

import pytest
import torch

from reexposure.core.model import GatedUNet, GeneratorConfig, compose_radiance, ring_chroma
from reexposure.core.model.blend import COLOUR_LOGIT_INIT, blend_parts, head_channels, radiance_at, settle_interior

WARM = torch.tensor([1.0, 0.8, 0.5])  # the colour of a warm lamp's glow, max-normalised


def _disc_photo(ring_colour: torch.Tensor, size: int = 64, radius: int = 20, level: float = 0.95):
    """lin (1,3,S,S): a clipped disc (all channels 1.0) on a background of ``ring_colour * level``,
    and its per-channel mask (1 inside the disc)."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((yy - size // 2) ** 2 + (xx - size // 2) ** 2 < radius**2).float()[None, None]
    lin = ring_colour.view(1, 3, 1, 1) * level * (1 - disc) + disc
    return lin, disc.expand(1, 3, size, size).clone()


def _head(o: float, t: float, like: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.full_like(like[:, 0], o), torch.full_like(like[:, 0], t)], dim=1)


@pytest.mark.parametrize("channels", [2, 3])
def test_unmasked_pixels_and_unclipped_channels_pass_through_exactly(channels):
    torch.manual_seed(0)
    lin = torch.rand(1, 3, 16, 16)
    mask = torch.zeros(1, 3, 16, 16)
    mask[:, 0, 4:8, 4:8] = 1.0  # only red clipped there
    head = torch.randn(1, channels, 16, 16)
    out = compose_radiance(lin, mask, head)
    assert torch.equal(out[:, 1:], lin[:, 1:])
    assert torch.equal(out[:, 0][mask[:, 0] == 0], lin[:, 0][mask[:, 0] == 0])
    assert (out >= lin - 1e-7).all()  # clipping only loses light


def test_ring_chroma_of_a_uniform_surround_is_its_colour():
    lin, mask = _disc_photo(WARM, level=1.0)
    chroma = ring_chroma(lin, mask)
    assert chroma.shape == lin.shape
    assert torch.allclose(chroma[0, :, 32, 32], WARM, atol=1e-4)  # the disc's centre takes the surround's colour
    assert torch.allclose(chroma.amax(1), torch.ones(1, 64, 64))


def test_ring_chroma_of_a_dark_surround_is_paler():
    """Voters at half the clip level: the colour is pulled toward white by 1 - 0.5**2."""
    lin, mask = _disc_photo(WARM, level=0.5)
    assert torch.allclose(ring_chroma(lin, mask)[0, :, 32, 32], 1 - 0.25 * (1 - WARM), atol=1e-4)


def test_ring_chroma_is_white_when_nothing_votes():
    lin, mask = torch.ones(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    assert torch.allclose(ring_chroma(lin, mask), torch.ones(1, 3, 8, 8))


def test_fully_clipped_colour_follows_the_surround_or_stays_neutral():
    lin, mask = _disc_photo(WARM, level=1.0)
    c = (32, 32)
    # sigmoid(30) = 1: the surround's colour
    full = compose_radiance(lin, mask, _head(0.0, 30.0, lin))[0, :, c[0], c[1]]
    assert torch.allclose(full / full.max(), WARM, atol=1e-3)
    assert full.min() == pytest.approx(1.0, abs=1e-3)  # the smallest radiance that keeps every channel >= 1
    neutral = compose_radiance(lin, mask, _head(0.0, -30.0, lin))[0, :, c[0], c[1]]
    assert torch.allclose(neutral, torch.ones(3), atol=1e-4)


def test_brightness_scales_all_channels_of_a_clipped_pixel_alike():
    lin, mask = _disc_photo(WARM)
    base = compose_radiance(lin, mask, _head(0.0, 0.0, lin))[0, :, 32, 32]
    bright = compose_radiance(lin, mask, _head(2.0, 0.0, lin))[0, :, 32, 32]
    assert torch.allclose(bright / base, torch.full((3,), float(torch.exp(torch.tensor(2.0)))), rtol=1e-5)
    negative = compose_radiance(lin, mask, _head(-3.0, 0.0, lin))[0, :, 32, 32]
    assert torch.equal(negative, base)  # log boosts are clamped at 0


def test_partly_clipped_pixel_takes_its_clipped_channel_from_the_unclipped_ones():
    """Red clipped, green and blue recorded: red follows the surround's red/green ratio (1.5), and
    the network's brightness does not touch the pixel (it would only invent a hue)."""
    surround = torch.tensor([1.0, 2 / 3, 0.3])
    lin, _ = _disc_photo(surround, radius=0, level=1.0)
    mask = torch.zeros_like(lin)
    lin[0, :, 12:52, 12:52] = torch.tensor([1.0, 0.8, 0.36]).view(3, 1, 1)
    mask[0, 0, 12:52, 12:52] = 1.0
    for o in (0.0, 3.0):
        px = compose_radiance(lin, mask, _head(o, 30.0, lin))[0, :, 32, 32]
        assert px[0] == pytest.approx(1.2, rel=1e-3) and px[1] == pytest.approx(0.8) and px[2] == pytest.approx(0.36)


def _pale_sky(surround: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A 64x64 photo: a patch whose green and blue clipped and red recorded 0.9 (a pale-blue sky)
    inside a surround of colour ``surround`` at the clip level. Returns (lin, per-channel mask)."""
    lin = surround.view(1, 3, 1, 1) * torch.ones(1, 3, 64, 64)
    mask = torch.zeros_like(lin)
    lin[0, :, 12:52, 12:52] = torch.tensor([0.9, 1.0, 1.0]).view(3, 1, 1)
    mask[0, 1:, 12:52, 12:52] = 1.0
    return lin, mask


def test_a_colour_that_contradicts_which_channels_clipped_becomes_neutral_among_them():
    """A peach surround (red strongest) carried into a sky whose green and blue clipped and red did
    not: the clipped channels may not be ranked below the recorded one, so the colour is neutral
    there (no green), and the sky comes out at the clip level with red as recorded."""
    peach = torch.tensor([1.0, 0.8, 0.7])
    lin, mask = _pale_sky(peach)
    chroma = ring_chroma(lin, mask)
    assert torch.allclose(chroma[0, :, 32, 32], torch.ones(3), atol=1e-4)
    assert torch.allclose(chroma[0, :, 2, 2], peach, atol=1e-4)  # unclipped surroundings keep their colour
    px = compose_radiance(lin, mask, _head(0.0, 30.0, lin), chroma)[0, :, 32, 32]
    assert torch.allclose(px, torch.tensor([0.9, 1.0, 1.0]), atol=1e-3)


def test_a_colour_that_agrees_with_which_channels_clipped_is_kept():
    """A blue surround (1/2 red, 4/5 green): the sky's clipped green and blue follow it from the
    recorded red, 0.9 / 0.5 = 1.8 times the surround's colour."""
    sky = torch.tensor([0.5, 0.8, 1.0])
    lin, mask = _pale_sky(sky)
    chroma = ring_chroma(lin, mask)
    assert torch.allclose(chroma[0, :, 32, 32], sky, atol=1e-4)
    px = compose_radiance(lin, mask, _head(0.0, 30.0, lin), chroma)[0, :, 32, 32]
    assert torch.allclose(px, torch.tensor([0.9, 1.44, 1.8]), rtol=1e-3)


def test_rgb_head_is_the_v03_blend():
    lin, mask = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    o = torch.randn(1, 3, 8, 8)
    assert torch.equal(compose_radiance(lin, mask, o), lin * torch.exp(mask * o.clamp_min(0)))


@pytest.mark.parametrize("channels", [2, 3])
def test_blend_parts_give_the_radiance_at_every_strength(channels):
    """guide * exp(s * log_gain) is compose_radiance at strength s (exactly at 1, to rounding
    elsewhere); guide is the radiance at strength 0; both are the photo where nothing clipped."""
    torch.manual_seed(4)
    lin, mask = _disc_photo(WARM)
    mask[:, 2] = 0.0  # blue recorded: a partly clipped disc...
    mask[..., 28:36, 28:36] = 1.0  # ...with a fully clipped middle
    head = torch.randn(1, channels, 64, 64)
    guide, log_gain = blend_parts(lin, mask, head)
    assert log_gain.shape[1] == (1 if channels == 2 else 3) and (log_gain >= 0).all()
    assert torch.equal(radiance_at(guide, log_gain), compose_radiance(lin, mask, head))
    for s in (0.0, 0.5, 2.0):
        assert torch.allclose(radiance_at(guide, log_gain, s), compose_radiance(lin, mask, head, strength=s),
                              rtol=1e-6, atol=1e-7)
    assert torch.allclose(guide, compose_radiance(lin, mask, head, strength=0.0), rtol=0, atol=0)
    outside = mask.amax(1, keepdim=True) == 0
    assert torch.equal(guide[outside.expand_as(guide)], lin[outside.expand_as(lin)])
    assert (log_gain[outside.expand_as(log_gain)] == 0).all()
    # in the fully clipped middle the network's (first) channel(s) decide: a gain wherever they are > 0
    assert torch.equal(log_gain[..., 32, 32] > 0, head[:, :log_gain.shape[1], 32, 32] > 0)


def test_guided_network_adopts_an_rgb_head():
    torch.manual_seed(1)
    rgb = GatedUNet(GeneratorConfig(width=4, depth=2))
    torch.nn.init.normal_(rgb.head.weight, std=0.1)
    guided = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided"))
    guided.load_state_dict(guided.adopt_rgb_head(rgb.state_dict()))
    lin, mask = torch.rand(1, 3, 16, 16), torch.ones(1, 3, 16, 16)
    o_rgb, o_guided = rgb(lin, mask), guided(lin, mask)
    assert torch.allclose(o_guided[:, 0], o_rgb.mean(1), atol=1e-6)
    assert torch.equal(o_guided[:, 1], torch.full_like(o_guided[:, 1], COLOUR_LOGIT_INIT))


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match="unknown output head"):
        head_channels("hsv")
    with pytest.raises(ValueError):
        GeneratorConfig(head="hsv")


def test_a_jpeg_dip_inside_a_clipped_lamp_is_not_a_dark_speckle():
    """One pixel of a fully clipped disc has its blue channel pulled below the clip ramp (JPEG
    ringing): it still gets the lamp's brightness; a pixel with no channel near the clip never does."""
    lin, mask = _disc_photo(WARM)
    lin[0, 2, 32, 32], mask[0, 2, 32, 32] = 0.9, 0.0
    out = compose_radiance(lin, mask, _head(2.0, 0.0, lin))
    ratio = out[0, :, 32, 32] / compose_radiance(lin, mask, _head(0.0, 0.0, lin))[0, :, 32, 32]
    assert torch.allclose(ratio, torch.full((3,), float(torch.exp(torch.tensor(2.0)))), rtol=1e-5)
    outside = mask.amax(1)[0] == 0
    assert torch.equal(out[0][:, outside], lin[0][:, outside])


def _stripes_in_a_square(size: int = 96, side: int = 64, period: int = 8, amp: float = 0.5):
    """A clipped square (mask (1,1,S,S)) and a log brightness of 2 + stripes of ``amp`` inside it."""
    mask = torch.zeros(1, 1, size, size)
    a = (size - side) // 2
    mask[..., a:a + side, a:a + side] = 1.0
    rows = torch.arange(size).float().view(1, 1, size, 1).expand(1, 1, size, size)
    log_bright = mask * (2.0 + amp * (1 - 2 * ((rows // (period // 2)) % 2)))  # +amp, -amp, ... in bands of period/2
    return log_bright, mask, a


def test_settle_interior_radius_zero_is_the_identity():
    log_bright, mask, _ = _stripes_in_a_square()
    assert settle_interior(log_bright, mask, 0) is log_bright


def test_settle_interior_removes_stripes_deep_inside_and_keeps_what_is_outside():
    """Stripes of +-0.5 with a period of 8 px inside a 64 px clipped square, radius 8: 3 radii
    (24 px) or more from its outline they are averaged away (to their mean, 2.0); at the outline
    they keep most of their contrast; outside the square nothing changes."""
    log_bright, mask, a = _stripes_in_a_square()
    out = settle_interior(log_bright, mask, 8)
    assert (log_bright[..., a + 24:a + 40, a + 24:a + 40] - 2.0).abs().min() == 0.5
    assert (out[..., a + 24:a + 40, a + 24:a + 40] - 2.0).abs().max() < 0.02
    edge = out[0, 0, a:a + 64, a + 32] - 2.0  # a column through the middle, outline to outline
    assert edge[0].abs() > 0.4 and edge[-1].abs() > 0.4
    assert torch.equal(out[mask == 0], log_bright[mask == 0])


def test_settle_interior_leaves_a_small_clipped_area_as_the_network_drew_it():
    """A lamp 5 px across (narrower than twice radius // 3 = 4 px) keeps its peak exactly, inside a
    photo whose large clipped square is smoothed."""
    log_bright, mask, a = _stripes_in_a_square()
    mask[..., 2:7, 2:7] = 1.0
    log_bright[..., 2:7, 2:7] = 1.0
    log_bright[..., 4, 4] = 5.0
    out = settle_interior(log_bright, mask, 12)
    assert torch.equal(out[..., 2:7, 2:7], log_bright[..., 2:7, 2:7])
    assert not torch.equal(out[..., a + 24:a + 40, a + 24:a + 40], log_bright[..., a + 24:a + 40, a + 24:a + 40])


def test_settle_interior_keeps_a_smooth_rise_toward_the_middle():
    """A broad dome (the glow of a lamp) inside a large clipped area stays a dome: its peak drops by
    under 10% (a Gaussian of 30 px blurred by one of about 6.5 px keeps 30^2 / (30^2 + 6.5^2) = 96% of its peak)."""
    size = 128
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    mask = torch.ones(1, 1, size, size)
    dome = 3.0 * torch.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / (2 * 30.0**2))[None, None]
    out = settle_interior(dome, mask, 8)
    assert out[0, 0, 64, 64] > 0.9 * dome[0, 0, 64, 64]
    assert out[0, 0, 64, 64] > out[0, 0, 64, 20] + 1.0


def test_guided_network_settles_its_brightness_only_when_configured():
    torch.manual_seed(0)
    plain = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided"))
    settled = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided", interior_smooth=4))
    settled.load_state_dict(plain.state_dict())
    torch.nn.init.normal_(plain.head.weight, std=0.5)
    settled.head.weight.data.copy_(plain.head.weight)
    lin, mask = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    mask[..., 4:28, 4:28] = 1.0
    lin = torch.maximum(lin, mask)
    with torch.no_grad():
        a, b = plain(lin, mask), settled(lin, mask)
    assert torch.equal(b[:, 1:], a[:, 1:])  # the colour strength is untouched
    assert torch.equal(b[:, :1], settle_interior(a[:, :1], mask, 4))
    assert not torch.equal(b[:, :1], a[:, :1])


def test_colour_strength_above_one_saturates_keeps_the_order_and_stops_at_the_floor():
    from reexposure.core.model.blend import COLOUR_FLOOR, colour_of

    chroma = WARM.view(1, 3, 1, 1)
    like = torch.zeros(1, 3, 1, 1)
    # colour_max 1: the v0.6 colour, 1 - sigmoid(t) (1 - chroma)
    for t in (-2.0, 0.0, 3.0):
        want = 1.0 - torch.sigmoid(torch.tensor(t)) * (1.0 - chroma)
        assert torch.allclose(colour_of(_head(0.0, t, like), chroma), want)
    # colour_max 2 at sigmoid(t) = 1/2: strength 1, the surroundings' colour itself
    assert torch.allclose(colour_of(_head(0.0, 0.0, like), chroma, 2.0), chroma, atol=1e-6)
    # strength 1.5: twice as far from white as at 0.75, the largest channel still 1, the order kept
    sat = colour_of(_head(0.0, 30.0, like), chroma, 1.5)[0, :, 0, 0]
    assert torch.allclose(sat, 1.0 - 1.5 * (1.0 - WARM)) and sat[0] == 1.0 and sat[0] > sat[1] > sat[2]
    # strength 2: blue would go below zero; it stops at the floor
    floor = colour_of(_head(0.0, 30.0, like), chroma, 2.0)[0, :, 0, 0]
    assert floor[2] == pytest.approx(COLOUR_FLOOR) and floor[1] == pytest.approx(0.6)
    # a clipped lamp with that colour: every channel at least its recorded clip level
    lin, mask = _disc_photo(WARM, level=1.0)
    rad = compose_radiance(lin, mask, _head(0.0, 30.0, lin), colour_max=1.5)[0, :, 32, 32]
    assert rad.min() == pytest.approx(1.0, abs=1e-3) and torch.allclose(rad / rad.max(), sat, atol=1e-3)
    with pytest.raises(ValueError, match="colour_max"):
        GeneratorConfig(head="guided", colour_max=0.5)


def test_a_new_colour_range_restarts_the_colour_at_the_surroundings_colour():
    torch.manual_seed(2)
    old = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided"))
    torch.nn.init.normal_(old.head.weight, std=0.5)
    new = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided", colour_max=2.0))
    new.load_state_dict(new.adopt_colour_range(old.state_dict(), 1.0))
    lin, mask = torch.rand(1, 3, 16, 16), torch.ones(1, 3, 16, 16)
    o_old, o_new = old(lin, mask), new(lin, mask)
    assert torch.equal(o_new[:, 0], o_old[:, 0])  # the brightness is kept
    assert torch.equal(o_new[:, 1], torch.zeros_like(o_new[:, 1]))  # 2 * sigmoid(0) = 1
    assert new.adopt_colour_range(old.state_dict(), 2.0) is not None  # same range: unchanged
    assert torch.equal(new.adopt_colour_range(new.state_dict(), 2.0)["head.bias"], new.state_dict()["head.bias"])


def test_a_wider_colour_range_keeps_the_networks_brightness_and_finite_gradients():
    lin, mask = _disc_photo(WARM, level=1.0)
    lin[:, :, :4] = 0.0  # black rows: no light anywhere, where a ratio of brightnesses is 0 / 0
    head = _head(1.0, 30.0, lin).requires_grad_(True)  # e^1 = 2.7x; full colour strength
    wide = compose_radiance(lin, mask, head, colour_max=1.5)
    wide.sum().backward()
    assert torch.isfinite(wide).all() and torch.isfinite(head.grad).all()
    narrow = compose_radiance(lin, mask, _head(1.0, 30.0, lin))[0, :, 32, 32]
    w = wide.detach()[0, :, 32, 32]
    # the largest channel stays the network's brightness; the others move away from it
    assert float(w.max()) == pytest.approx(float(narrow.max()), rel=1e-4)
    assert torch.allclose(w / w.max(), 1.0 - 1.5 * (1.0 - WARM), atol=1e-3)


def test_a_wider_colour_range_leaves_partly_clipped_pixels_as_the_range_up_to_one_does():
    lin = torch.ones(1, 3, 24, 24)
    lin[:, 2] = 0.5  # red and green clipped everywhere, blue recorded: no pixel clipped in all three
    mask = torch.zeros_like(lin)
    mask[:, :2] = 1.0
    chroma = torch.tensor([1.0, 0.8, 0.5]).view(1, 3, 1, 1).expand_as(lin)  # a ring redder than the pixel
    head = _head(0.5, 30.0, lin)
    wide = compose_radiance(lin, mask, head, chroma, colour_max=2.0)
    narrow = compose_radiance(lin, mask, head, chroma)
    assert torch.equal(wide, narrow)


def _blocky_sky(size: int = 128, block: int = 16):
    """A near-white sky clipped everywhere in red and green, its blue clipped in a checkerboard of
    ``block`` px squares (which pixels clip in all three channels follows JPEG's chroma blocks):
    per-channel mask (1,3,S,S)."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    board = (((yy // block) + (xx // block)) % 2).float()
    return torch.stack([torch.ones(size, size), torch.ones(size, size), board])[None]


def test_share_radius_zero_is_the_per_pixel_weight():
    """share_radius 0 (up to v0.6) gives the closed and smoothed per-pixel weight, bit for bit."""
    from reexposure.core.model.blend import _close, _smooth, all_clipped_weight

    mask = _blocky_sky()
    expect = torch.minimum(_smooth(_close(mask.amin(1, keepdim=True))), mask.amax(1, keepdim=True))
    assert torch.equal(all_clipped_weight(mask), expect)
    assert torch.equal(all_clipped_weight(mask, share_radius=0), expect)


def test_share_radius_smooths_blocks_deep_inside_a_large_clipped_area():
    """Inside the blocky sky the per-pixel weight steps between 0 and 1 at every block edge; with a
    share radius of 12 it stays near the share of fully clipped pixels (a half), without steps."""
    from reexposure.core.model.blend import all_clipped_weight

    mask = _blocky_sky()
    inner = (slice(None), slice(None), slice(40, 88), slice(40, 88))  # far from the image border
    old, new = all_clipped_weight(mask)[inner], all_clipped_weight(mask, share_radius=12)[inner]
    assert old.max() - old.min() > 0.9
    assert new.max() - new.min() < 0.2 and abs(float(new.mean()) - 0.5) < 0.05
    step = (new[..., 1:, :] - new[..., :-1, :]).abs().max()
    assert step < 0.05  # smooth from pixel to pixel


def test_share_radius_leaves_a_small_lamp_and_unclipped_pixels_alone():
    """A fully clipped disc of radius 5 on an unclipped background is nowhere deep inside a large
    clipped area: the same weight with and without the share radius; unclipped pixels stay at 0."""
    from reexposure.core.model.blend import all_clipped_weight

    _, mask = _disc_photo(WARM, radius=5)
    old, new = all_clipped_weight(mask), all_clipped_weight(mask, share_radius=12)
    assert torch.equal(old, new)
    assert (new[mask.amax(1, keepdim=True) == 0] == 0).all()


def test_share_radius_softens_a_large_suns_outline_inside_a_partly_clipped_glow():
    """A fully clipped disc of radius 32 inside a wide glow where red and green clipped: the weight
    still reaches 1 in the middle, and falls off over more pixels inside the outline than without."""
    from reexposure.core.model.blend import all_clipped_weight

    _, disc = _disc_photo(WARM, size=128, radius=32)
    mask = torch.cat([torch.ones_like(disc[:, :2]), disc[:, 2:]], dim=1)  # the glow: red and green clipped
    old, new = all_clipped_weight(mask)[0, 0, 64], all_clipped_weight(mask, share_radius=12)[0, 0, 64]
    assert float(new[64]) > 0.99
    inside = slice(64 - 31, 64)  # from just inside the outline to the middle
    assert float(new[inside].mean()) < float(old[inside].mean()) - 0.05
    assert (new[inside][1:] >= new[inside][:-1] - 1e-6).all()  # rises toward the middle


def _speckled_lamp():
    """A fully clipped warm disc (radius 20) on its glow, with JPEG-like stray codes just below the
    clip: at (30, 30) blue's mask at 0.5 (code about 250), at (34, 28) red's at 0.3; and a dark
    wire (row 40, no channel near the clip) across the disc."""
    lin, mask = _disc_photo(WARM)
    lin[0, 2, 30, 30], mask[0, 2, 30, 30] = 0.975, 0.5
    lin[0, 0, 34, 28], mask[0, 0, 34, 28] = 0.968, 0.3
    lin[0, :, 40, 20:44], mask[0, :, 40, 20:44] = 0.2, 0.0
    return lin, mask


def test_fill_channels_closes_stray_codes_and_never_touches_a_dark_detail():
    """fill_channels raises a channel's mask inside an area where it clipped all around to 1, keeps
    the mask where the channel is not near the clip (the wire) and everywhere outside the disc."""
    from reexposure.core.model.blend import fill_channels

    lin, mask = _speckled_lamp()
    filled = fill_channels(mask)
    assert float(filled[0, 2, 30, 30]) == 1.0 and float(filled[0, 0, 34, 28]) == 1.0
    assert (filled[0, :, 40, 20:44] == 0).all()
    assert (filled >= mask).all()
    assert torch.equal(filled[mask == 0], mask[mask == 0])  # nothing grows: outline and wire kept


def test_fill_off_is_the_old_blend_and_on_removes_the_speckle():
    """Without fill the blend is as up to v0.7, and a stray code leaves its pixel dimmer and paler
    than its neighbours; with it the pixel has their colour and is dimmer only by what its code
    recorded below the clip (the lower bound keeps a clipped channel at or above its record, here
    2.5% and 3.2% below), the wire and unmasked pixels stay exact."""
    lin, mask = _speckled_lamp()
    head = _head(1.5, 2.0, lin)
    old = compose_radiance(lin, mask, head)
    assert torch.equal(compose_radiance(lin, mask, head, fill=False), old)
    new = compose_radiance(lin, mask, head, fill=True)
    near = new[0, :, 30, 33]  # a neighbour with every channel clipped
    for y, x in ((30, 30), (34, 28)):
        assert float((old[0, :, y, x] - near).abs().max()) > 0.05  # the speckle
        assert torch.allclose(new[0, :, y, x] / new[0, :, y, x].amax(), near / near.amax(), atol=5e-3)
        assert 0.96 < float(new[0, :, y, x].amax() / near.amax()) <= 1.0
    wire = mask.amax(1)[0] == 0
    assert torch.equal(new[0][:, wire], lin[0][:, wire])


def test_guided_network_fills_channels_only_when_configured():
    """GatedUNet.radiance passes GeneratorConfig.fill_channels to the blend."""
    torch.manual_seed(0)
    lin, mask = _speckled_lamp()
    net = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided")).eval()
    filled = GatedUNet(GeneratorConfig(width=4, depth=2, head="guided", fill_channels=True)).eval()
    filled.load_state_dict(net.state_dict())
    with torch.no_grad():
        a, b = net.radiance(lin, mask), filled.radiance(lin, mask)
        head = net(lin, mask)
    assert torch.allclose(a, compose_radiance(lin, mask, head, ring_chroma(lin, mask)), atol=1e-6)
    assert torch.allclose(b, compose_radiance(lin, mask, head, ring_chroma(lin, mask), fill=True), atol=1e-6)
    assert not torch.allclose(a, b)
