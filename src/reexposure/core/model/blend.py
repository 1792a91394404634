"""The blend: the network's output + the photo -> relative radiance. Written once, used by training,
validation, inference (tiled or not) and the web preview.

Two output heads exist (:attr:`GeneratorConfig.head`):

``"rgb"`` (v0.1-v0.3): a log boost per channel, ``radiance = lin * exp(mask * max(o, 0))``. Each
clipped channel is boosted on its own, so the three boosts of a white lamp can disagree (a lavender
lamp) and the clipped channels of a partly clipped pixel can be raised while the unclipped ones stay
(a cyan sky): the network chooses the hue.

``"guided"`` (v0.4): the colour comes from the photo and the network decides how bright.

1. :func:`ring_chroma` propagates the colour of the unclipped pixels (brightest first: the glow
   around a lamp, the sky next to a cloud) into the clipped regions, a push-pull pyramid of
   normalised averages, so that a clipped pixel takes the colour of its nearest well-exposed
   surroundings (larger holes from larger surroundings), pulled toward white when those
   surroundings are dark (then they are more likely another surface than the clipped thing's
   glow). It is a smooth field: no blotches.
2. The network's second channel ``t`` sets how much of that colour to use,
   ``ce = 1 - colour_max * sigmoid(t) * (1 - chroma)`` (:func:`colour_of`): 0 = neutral white, 1 =
   the surroundings' colour, above 1 (a model with ``colour_max`` > 1) more saturated than them.
   It changes saturation, never hue. The colour of step 1 is made to agree with which channels
   clipped around each pixel (:func:`_order_consistent`): a channel that clipped where another did
   not is not ranked below it, so a peach wall's colour carried into a pale-blue sky (green and
   blue clipped, red recorded) becomes neutral among the clipped channels, not green.
3. A colour-consistent lower bound (like darktable's "inpaint opposed" highlight reconstruction,
   RawTherapee's "color propagation"): the pixel's radiance is ``s * ce`` with the smallest ``s``
   that (a) keeps every clipped channel at or above what it recorded and (b) matches the
   unclipped channels in its neighbourhood (a normalised average over the same few pixels as
   the smoothing below, so that JPEG noise in an unclipped channel is not multiplied into the
   clipped ones), weighted by how unclipped they are. Unclipped channels pass through exactly;
   clipped ones are raised to ``s * ce``. Optionally (``fill_channels``, a model's
   :attr:`~reexposure.core.model.generator.GeneratorConfig.fill_channels`) a channel recorded a few
   codes below the clip inside an area whose three channels clipped counts as clipped, here and in
   step 4's bound (:func:`fill_channels`): JPEG's blocks and 4:2:0 chroma scatter such pixels through
   blown highlights, and lifted only partly they stayed a shade dimmer and paler than their
   neighbours, which the network's brightness turned into grey speckles once the photo was darkened.
4. Where all three channels clipped (nothing is known but "at least the clip level"), the
   network's log brightness ``o >= 0`` multiplies the pixel, the same factor on every channel.
   A partly clipped pixel's brightness is fixed by its unclipped channels, so ``o`` does not
   touch it (boosting only its clipped channels would invent a hue). The "all clipped" weight
   is closed morphologically and then smoothed over a few pixels (:data:`BLEND_RADIUS`): a
   pixel inside a clipped lamp whose one channel JPEG ringing pulled below the clip is still part
   of the lamp (no dark speckle), and a white-blue sky whose red channel flickers around the clip
   from one JPEG block to the next gets a smooth brightness, not blotches; near a fully clipped
   area the recorded channels of partly clipped pixels rise with it. A pixel with no channel
   near the clip is never touched. Optionally (``share_radius`` > 0, a model's
   :attr:`~reexposure.core.model.generator.GeneratorConfig.share_radius`), deep inside large
   clipped areas the weight is instead the *share* of fully clipped pixels over a wider box
   (:func:`share_field`): on a near-white sky or wall which pixels clip in all three channels
   follows the JPEG's 16 px chroma blocks, and the per-pixel weight drew those blocks as a
   stair-stepped band; a blown sun whose surroundings are all partly clipped gets a brightness that
   falls off smoothly toward its outline instead of a flat disc cut to the outline's polygon
   (:func:`all_clipped_weight`).

Masks, chosen on purpose (the same in training and inference): the network *sees* the saturation
mask dilated by one pixel (the JPEG-blurred edge of a clipped area is uncertain too); the blend
uses the per-channel, undilated mask, so well-exposed pixels stay exact (and unclipped channels too,
except next to a fully clipped area, step 4).
The log boost is clamped at 0 in training as at inference: clipping only ever loses light.

References
----------
- darktable 4.4 highlight reconstruction, "inpaint opposed" and "segmentation based" modes
  (documentation: darktable.org/usermanual, processing modules, highlight reconstruction).
- RawTherapee "Color Propagation" highlight reconstruction (rawpedia.rawtherapee.com).
- Burt, P. J. "Moment images, polynomial fit filters, and the problem of surface
  interpolation." CVPR 1988 (push-pull / normalised-convolution pyramids).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["HEADS", "BLEND_RADIUS", "COLOUR_FLOOR", "head_channels", "ring_chroma", "settle_interior", "colour_of",
           "fill_channels", "blend_parts", "share_field", "all_clipped_weight", "radiance_at", "compose_radiance"]

#: Output heads of the generator: name -> number of output channels.
HEADS: dict[str, int] = {"rgb": 3, "guided": 2}

#: Voters' weight grows as their peak brightness to this power: the colour of a clipped area is
#: taken from the brightest unclipped pixels around it (its glow, the pale unclipped part of the
#: same surface), not from darker, more saturated things beside it (measured on a cream wall next
#: to brown brushes: with the square, the wall turned orange).
_RING_POWER = 4
#: Confidence of a pyramid cell saturates when its mean weight reaches this; below, the coarser
#: level's colour fills in.
_RING_TAU = 0.02
#: The colour strength ``sigmoid(t)`` a new guided head starts at: sigmoid(-1) = 0.27.
COLOUR_LOGIT_INIT = -1.0
#: With a colour strength above 1 (:func:`colour_of`), no channel of the colour falls below this
#: share of the largest: a clipped pixel's lower bound (step 3) is at most 1 / COLOUR_FLOOR times
#: its recorded value.
COLOUR_FLOOR = 0.05


#: The all-clipped weight is closed (holes up to about 2 * _FILL px) and then smoothed by two box
#: filters of side 2 * _SMOOTH + 1 (about a Gaussian of 3.7 px).
_FILL = 2
_SMOOTH = 4
#: How much more often (share of the neighbourhood) one channel must clip than another before the
#: colour is made to rank it at least as strong (:func:`_order_consistent`).
_ORDER_MARGIN = 0.5
#: Pixels of context the blend needs around a pixel (see :func:`compose_radiance`); a caller that
#: blends in strips gives it this many extra rows (and a precomputed :func:`share_field`).
BLEND_RADIUS = 2 * _FILL + 2 * _SMOOTH


def _max_square(x: torch.Tensor, r: int) -> torch.Tensor:
    """Maximum over the square of side ``2 * r + 1`` around each pixel of (B,C,H,W), as a row pass
    then a column pass (the same result as one square max filter, 2(2r+1) instead of (2r+1)^2
    comparisons per pixel)."""
    x = F.max_pool2d(x, (1, 2 * r + 1), stride=1, padding=(0, r))
    return F.max_pool2d(x, (2 * r + 1, 1), stride=1, padding=(r, 0))


def _close(x: torch.Tensor) -> torch.Tensor:
    """Morphological closing (dilation then erosion, square of side ``2 * _FILL + 1``) of
    (B,C,H,W), each channel on its own: fills holes and notches up to about ``2 * _FILL`` pixels
    wide, never grows a region beyond its outline."""
    return -_max_square(-_max_square(x, _FILL), _FILL)


def fill_channels(mask: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The per-channel saturation mask (B,3,H,W) in [0,1] with JPEG's stray codes inside fully
    clipped areas counted as clipped: where a channel is near the clip (``mask > 0``, codes of about
    245 and up) it is raised to how surely the pixel lies inside an area whose three channels clipped
    (twice the closed and smoothed all-clipped share around it, at most 1: 1 from a few px inside
    such an area, falling smoothly to 0 across its outline). A channel a few codes below the clip
    amid pixels clipped in all three is JPEG noise, not a measurement; where the area ends the
    codes are kept in proportion, so a noisy boundary draws no jagged line; a dark detail inside a
    blown area (a wire across a white sky, ``mask == 0``) keeps its value, and nothing outside an
    area's outline changes. ``weight`` (B,1,H,W): that closed and smoothed share,
    ``_smooth(_close(mask.amin(1)))``, if the caller has it already (:func:`all_clipped_weight`
    computes it anyway)."""
    if weight is None:
        weight = _smooth(_close(mask.amin(1, keepdim=True)))
    return torch.where(mask > 0, torch.maximum(mask, (2.0 * weight).clamp(max=1.0)), mask)


def _box(x: torch.Tensor, r: int, passes: int = 2) -> torch.Tensor:
    """``passes`` box filters of side ``2 * r + 1`` over (B,C,H,W), border pixels averaged over what
    exists (no darkening at the image border). Each box is a row mean then a column mean: the
    pixels that exist in a square window are the product of those in its row and column ranges, so
    this equals the square filter, with 2(2r+1) instead of (2r+1)^2 additions per pixel."""
    k = 2 * r + 1
    for _ in range(passes):
        x = F.avg_pool2d(x, (1, k), stride=1, padding=(0, r), count_include_pad=False)
        x = F.avg_pool2d(x, (k, 1), stride=1, padding=(r, 0), count_include_pad=False)
    return x


def _window_mean(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Mean over the window of ``2 * r + 1`` samples around each position along ``dim`` of
    (B,C,H,W) (``dim`` 2 or 3), border positions averaged over what exists: the same result as one
    pass of :func:`_box` along that axis, from cumulative sums (float64) in a time independent of
    ``r``."""
    n = x.shape[dim]
    c = torch.cumsum(x.to(torch.float64), dim=dim)
    c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim=dim)  # c[i] = sum of x[:i]
    idx = torch.arange(n, device=x.device)
    hi, lo = (idx + r + 1).clamp(max=n), (idx - r).clamp(min=0)
    sums = c.index_select(dim, hi) - c.index_select(dim, lo)
    shape = [1, 1, 1, 1]
    shape[dim] = n
    return (sums / (hi - lo).to(torch.float64).view(shape)).to(x.dtype)


def _wide_box(x: torch.Tensor, r: int, passes: int = 2) -> torch.Tensor:
    """:func:`_box` for a wide radius: ``passes`` box filters of side ``2 * r + 1`` over (B,C,H,W),
    border pixels averaged over what exists, each a row then a column :func:`_window_mean`."""
    for _ in range(passes):
        x = _window_mean(_window_mean(x, r, 3), r, 2)
    return x


def _smooth(x: torch.Tensor) -> torch.Tensor:
    """Two box filters of side ``2 * _SMOOTH + 1`` over (B,C,H,W) (:func:`_box`)."""
    return _box(x, _SMOOTH)


def settle_interior(log_bright: torch.Tensor, mask: torch.Tensor, radius: int) -> torch.Tensor:
    """The network's log brightness (B,1,H,W) made smooth inside clipped areas, where the photo holds
    nothing but "at least the clip level".

    The log brightness is replaced by its average over the clipped pixels around (two boxes of side
    ``2 * radius + 1``, a Gaussian of about ``0.8 * radius`` px), with a weight that is the clipped
    area eroded by ``radius // 3`` px (a square; the image border does not count as unclipped) and
    smoothed by two boxes of that radius: about 1 from ``radius`` px inside the outline, about 0.1
    at the outline, 0 outside (unclipped pixels keep their values exactly) and 0 in clipped areas
    narrower than about ``2 * (radius // 3)`` px (a small lamp keeps the network's peak). Inside a
    large blown lamp, sky or snowfield nothing in the photo says where a brighter or darker stripe
    would be, and a network trained to give clipped areas the contrast of real ones draws a pattern
    there anyway (a plaid of bands in a blown globe lamp, bands in a lamp cut by the image border,
    seen on real photos). With v0.5's weights (MODEL_CARD.md), an erosion by ``radius`` left bands
    in narrower areas (the lamp cut by the border, sunlit snow) and 4 of 57 held-out cases worse
    than naive (2 with this one), and none at all (every clipped pixel averaged) flattened small
    lamps (lights kept 0.23 against 0.31). v0.6 runs the same weights with bilinear upsampling (no
    plaid to hide any more) and ``radius`` 8: no held-out case worse than naive. ``mask`` (B,1,H,W)
    in [0,1] is the network's saturation mask (>= 0.5: clipped). ``radius`` 0 returns
    ``log_bright`` unchanged.
    """
    if radius <= 0:
        return log_bright
    clipped = (mask >= 0.5).to(log_bright.dtype)
    erode = max(1, radius // 3)
    inner = 1.0 - _max_square(1.0 - clipped, erode)  # max_pool pads with -inf: the border is not "unclipped"
    mean = _box(log_bright * clipped, radius) / _box(clipped, radius).clamp_min(1e-6)
    weight = _box(inner, erode) * clipped
    return log_bright + weight * (mean - log_bright)


def _order_consistent(colour: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The colour (B,3,H,W) in (0,1] made to agree with which channels clipped around each pixel.

    A channel that clipped where another did not recorded more light than it (both share the
    clip level), so a colour for those pixels must not make it the weaker one. ``q`` = the share
    of clipped pixels per channel over a few pixels around (:func:`_smooth` of the per-channel
    ``mask``, (B,3,H,W) in [0,1]; :func:`ring_chroma` passes the network's mask, on the working
    grid); where channel ``c`` clipped clearly more often
    than channel ``k`` (by :data:`_ORDER_MARGIN` or more), ``colour_c`` is raised to at least
    ``colour_k``, in proportion below that: ``colour_c = max(colour_c, max_k colour_k *
    clamp((q_c - q_k) / margin, 0, 1))``. A colour that agrees (a warm lamp's glow around a
    pixel whose red and green clipped) is unchanged; one that contradicts it (a peach wall's
    colour carried into a pale-blue sky whose green and blue clipped and red did not) becomes
    neutral among the clipped channels instead of inventing a green. Smooth: ``q`` is."""
    q = _smooth(mask)
    out = colour
    for k in range(3):
        lift = colour[:, k:k + 1] * ((q - q[:, k:k + 1]) / _ORDER_MARGIN).clamp(0.0, 1.0)
        out = torch.maximum(out, lift)
    return out


def head_channels(head: str) -> int:
    """Number of output channels of ``head`` (``rgb``: 3, ``guided``: 2). ``ValueError`` otherwise."""
    if head not in HEADS:
        raise ValueError(f"unknown output head {head!r} (known: {', '.join(HEADS)})")
    return HEADS[head]


def ring_chroma(lin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The colour of the well-exposed surroundings, propagated into the clipped regions.

    ``lin`` (B,3,H,W) linear photo in [0,1]; ``mask`` (B,1|3,H,W) in [0,1] (1 = clipped). Returns
    the chromaticity field (B,3,H,W) in (0,1], normalised so that its largest channel is 1 at
    every pixel. Pixels with no channel near the clip vote with weight ``(1 - mask) * peak**4``
    (bright pixels carry a highlight's colour: its glow, the unclipped part of a white wall; dark
    ones are often another surface). A push-pull pyramid (2x2 averages down to one pixel, then back up, each
    level's own average trusted in proportion to its weight) fills every pixel with the
    weighted colour of its nearest voters. Smooth by construction; white where nothing votes.

    The colour is then pulled toward white by how dark its voters are: with ``L`` the voters'
    weighted mean peak brightness (propagated the same way), the result is
    ``1 - L**2 * (1 - colour)``. A lamp's glow or a sky next to a cloud is bright (``L`` near 1)
    and keeps its colour; a clipped cream wall whose nearest unclipped neighbours are a dark brown
    brush (``L`` about 0.4) is not told it is brown.

    With a per-channel ``mask`` (B,3,H,W) the colour is last made to agree with which channels
    clipped around each pixel (:func:`_order_consistent`). The colour-strength mix of
    :func:`compose_radiance` keeps that agreement (it moves every channel toward 1 alike, so
    their order stays)."""
    peak = lin.amax(dim=1, keepdim=True)
    weight = (1.0 - mask.amax(dim=1, keepdim=True)).clamp(0.0, 1.0) * peak**_RING_POWER
    chroma = torch.cat([lin / peak.clamp_min(1e-4), peak], dim=1)  # colour and the voter's brightness
    nums, dens = [weight * chroma], [weight]
    while max(nums[-1].shape[-2:]) > 1:
        nums.append(F.avg_pool2d(nums[-1], 2, ceil_mode=True))
        dens.append(F.avg_pool2d(dens[-1], 2, ceil_mode=True))
    est = torch.where(dens[-1] > 1e-8, nums[-1] / dens[-1].clamp_min(1e-8), torch.ones_like(nums[-1]))
    for num, den in zip(reversed(nums[:-1]), reversed(dens[:-1])):
        up = F.interpolate(est, size=num.shape[-2:], mode="bilinear", align_corners=False)
        conf = (den / _RING_TAU).clamp(max=1.0)
        est = conf * (num / den.clamp_min(1e-8)) + (1.0 - conf) * up
    colour, level = est[:, :3], est[:, 3:].clamp(0.0, 1.0)
    colour = colour / colour.amax(dim=1, keepdim=True).clamp_min(1e-4)
    colour = 1.0 - level.square() * (1.0 - colour)
    return _order_consistent(colour, mask) if mask.shape[1] == 3 else colour


def colour_of(head: torch.Tensor, chroma: torch.Tensor, colour_max: float = 1.0) -> torch.Tensor:
    """The colour ``ce`` (B,3,H,W) a guided head gives clipped pixels (step 2 of the module
    docstring): ``1 - strength * (1 - chroma)`` with ``strength = colour_max * sigmoid(t)``, ``t``
    the head's second channel (B,2,H,W) and ``chroma`` (B,3,H,W) in (0,1] from :func:`ring_chroma`.
    With ``colour_max`` 1 (up to v0.6) the strength runs from 0 (white) to 1 (the surroundings'
    colour); above 1 the network may make the colour more saturated than its surroundings (a
    camera whitens the pixels near the clip that the colour is taken from), and no channel falls
    below :data:`COLOUR_FLOOR` of the largest. Every channel's order is kept (the largest stays 1).
    :func:`blend_parts` takes a pixel's brightness from the colour the same output gives with
    ``colour_max`` 1 (strength ``sigmoid(t)``, not ``min(colour_max * sigmoid(t), 1)``), so the
    stronger colour changes the chromaticity only (and the floor where a clipped channel needs it),
    and only where all three channels clipped."""
    ce = 1.0 - (colour_max * torch.sigmoid(head[:, 1:2])) * (1.0 - chroma)
    return ce if colour_max <= 1.0 else ce.clamp_min(COLOUR_FLOOR)


def blend_parts(lin: torch.Tensor, mask: torch.Tensor, head: torch.Tensor, chroma: torch.Tensor | None = None,
                colour_max: float = 1.0, share_radius: int = 0, share: torch.Tensor | None = None,
                fill: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The blend in two parts, ``(guide, log_gain)``: the radiance is ``guide * exp(strength *
    log_gain)`` at any strength (:func:`compose_radiance`), so a caller that needs several
    strengths (the web preview: the map's and 0) runs the blend once.

    ``guide`` (B,3,H,W) >= 0 is the radiance at strength 0: ``lin`` for an ``rgb`` head; for a
    ``guided`` head the photo with the colour-consistent lower bound of its clipped channels
    (steps 1-3 of the module docstring). ``log_gain`` >= 0 is what the network's brightness adds,
    in natural-log units: (B,3,H,W) ``mask * max(o, 0)`` for an ``rgb`` head, (B,1,H,W) the log
    brightness times the smoothed "all clipped" weight for a ``guided`` one (step 4). Arguments
    as for :func:`compose_radiance` (``colour_max``: :func:`colour_of`; ``share_radius`` and
    ``share``: :func:`all_clipped_weight`; ``fill``: step 3 and step 4's bound count the clipped
    channels with :func:`fill_channels`, the all-clipped share itself and the unclipped channels'
    evidence come from ``mask``); wherever ``mask == 0``, ``guide == lin`` and ``log_gain == 0``."""
    if head.shape[1] == 3:
        return lin, mask * head.clamp_min(0.0)
    if head.shape[1] != 2:
        raise ValueError(f"head output must have 2 or 3 channels, got {head.shape[1]}")
    if mask.shape[1] == 1:
        mask = mask.expand_as(lin)
    if chroma is None:
        chroma = ring_chroma(lin, mask)
    log_bright = head[:, :1].clamp_min(0.0)
    ce = colour_of(head, chroma, min(colour_max, 1.0))  # (B,3,H,W) in [0,1], max 1
    every, filled = _all_clipped(mask, None, share_radius, share, fill)
    known = 1.0 - mask  # the unclipped channels' evidence: from the photo's own mask
    s_known = _smooth((known * lin).sum(1, keepdim=True)) / _smooth((known * ce).sum(1, keepdim=True)).clamp_min(1e-6)
    if filled is not None:
        mask = filled
    s = torch.maximum(s_known, _floor(lin, mask, ce))
    log_gain = every * log_bright
    if colour_max > 1.0:
        # the wider range changes the chromaticity, not the brightness: ``s`` comes from the colour
        # of the same output read with colour_max 1 (above); the stronger colour's own floor (a clipped channel
        # stays above what it recorded) may raise it, and the network's brightness pays for that
        # first. Only where all channels clipped: a partly clipped pixel's recorded channels hold
        # its colour, and a stronger wrong hue among its clipped ones is a cast (Desk, MODEL_CARD.md)
        ce = ce + every * (colour_of(head, chroma, colour_max) - ce)
        s_wide = torch.maximum(s, _floor(lin, mask, ce))
        log_gain = (log_gain - torch.log(s_wide.clamp_min(1e-6) / s.clamp_min(1e-6))).clamp_min(0.0)
        s = s_wide
    return lin + mask * (s * ce - lin).clamp_min(0.0), log_gain


def _floor(lin: torch.Tensor, mask: torch.Tensor, ce: torch.Tensor) -> torch.Tensor:
    """The smallest ``s`` (B,1,H,W) with ``s * ce`` at or above every clipped channel's recorded
    value (step 3 of the module docstring)."""
    return (mask * lin / ce.clamp_min(1e-4)).amax(1, keepdim=True)


def share_field(every: torch.Tensor, unclipped: torch.Tensor, share_radius: int) -> torch.Tensor:
    """The wider all-clipped weight of :func:`all_clipped_weight`, (B,2,H,W): the share of fully
    clipped pixels (``every`` (B,1,H,W) in [0,1], closed like the per-pixel weight) over two boxes
    of side ``2 * share_radius + 1`` (a Gaussian of about ``0.8 * share_radius`` px), and how deep
    each pixel lies inside the area where any channel clipped: 1 where the square of that radius
    around it holds no unclipped pixel (``unclipped`` (B,1,H,W), the share of pixels with no channel
    clipped; the image border does not count as unclipped), smoothed over half the radius.

    A reconstruction computes it once on its working grid (``every`` and ``unclipped`` averaged over
    the grid's blocks) and up-samples it with the network's output, so that the filter is the same
    share of a photo at any size (like :func:`settle_interior`); training and a whole-image blend
    compute it from the mask itself (:func:`all_clipped_weight`), which is the same on a grid of
    scale 1. Box filters by cumulative sums: the cost does not grow with the radius."""
    closed = _close(every)
    inner = (_wide_box(unclipped, share_radius, passes=1) == 0).to(every.dtype)
    return torch.cat([_wide_box(closed, share_radius), _wide_box(inner, max(1, share_radius // 2))], dim=1)


def all_clipped_weight(mask: torch.Tensor, every: torch.Tensor | None = None, share_radius: int = 0,
                       share: torch.Tensor | None = None, fill: bool = False) -> torch.Tensor:
    """The weight (B,1,H,W) in [0,1] of the network's log brightness in the guided blend (step 4
    of the module docstring): how surely all three channels of a pixel clipped, closed
    morphologically (holes up to about ``2 * _FILL`` px), smoothed (:func:`_smooth`) and never above
    the pixel's own most clipped channel, so a pixel with no channel near the clip gets 0.

    ``share_radius`` > 0 (px of the working grid; 8 in v0.7, 0 up to v0.6): deep inside large
    clipped areas the weight is instead the share of fully clipped pixels around
    (:func:`share_field`: ``weight + depth * (share - weight)``). A small lamp, or any pixel within a
    few px of an unclipped one, keeps the per-pixel weight; a near-white sky whose fully clipped
    pixels follow JPEG's 16 px chroma blocks gets a smooth weight instead of blocks; a sun inside a
    partly clipped glow gets a weight that falls off over about ``share_radius`` px inside its
    outline. ``share`` (B,2,H,W): that field precomputed (on the working grid and up-sampled, as
    :class:`~reexposure.core.infer.RadianceMap` does); computed from ``mask`` when ``None``.
    Measured on the held-out renders, brackets and demo photos: MODEL_CARD.md "Why v0.7".

    ``fill`` (a model's :attr:`~reexposure.core.model.generator.GeneratorConfig.fill_channels`, v0.8):
    the bound by the pixel's most clipped channel counts its channels with :func:`fill_channels`. A
    pixel inside a blown highlight whose three channels JPEG all left a few codes below the clip (252,
    253, 252) is otherwise capped at about 0.8 while its neighbours get 1: a dark speckle of about
    ``exp(0.2 * b)`` once darkened.

    ``mask`` (B,3,H,W) per-channel saturation mask in [0,1]; ``every`` (B,1,H,W) in [0,1] how
    surely every channel clipped (default ``mask``'s minimum over channels; a what-if in
    ``scripts/error_budget.py`` passes another estimate)."""
    return _all_clipped(mask, every, share_radius, share, fill)[0]


def _all_clipped(mask: torch.Tensor, every: torch.Tensor | None, share_radius: int, share: torch.Tensor | None,
                 fill: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`all_clipped_weight` and, with ``fill``, the :func:`fill_channels` mask it bounds the
    weight by (else None), from one closed and smoothed share (the blend's costliest filter)."""
    own = every is None
    if every is None:
        every = mask.amin(1, keepdim=True)
    most = mask.amax(1, keepdim=True)
    weight = _smooth(_close(every))
    filled = fill_channels(mask, weight if own else None) if fill else None
    if share is None and share_radius > 0:  # the photo's own unclipped pixels, as share_field's callers count them
        share = share_field(every, (most < 0.5).to(mask.dtype), share_radius)
    if share is not None:
        weight = weight + share[:, 1:2] * (share[:, :1] - weight)
    return torch.minimum(weight, most if filled is None else filled.amax(1, keepdim=True)), filled


def compose_radiance(lin: torch.Tensor, mask: torch.Tensor, head: torch.Tensor,
                     chroma: torch.Tensor | None = None, strength: float = 1.0,
                     colour_max: float = 1.0, share_radius: int = 0, fill: bool = False) -> torch.Tensor:
    """Relative radiance (B,3,H,W) >= 0 from the linear photo and the network's output.

    ``lin`` (B,3,H,W) in [0,1]; ``mask`` the blend mask, (B,3,H,W) per channel or (B,1,H,W), in
    [0,1]; ``head`` the network's output: (B,3,H,W) log boosts (``rgb`` head) or (B,2,H,W) log
    brightness and colour-strength logit (``guided`` head, see the module docstring); ``chroma``
    (B,3,H,W) the :func:`ring_chroma` of the whole photo (computed from ``lin`` and ``mask`` if
    ``None``; a tiled caller passes the whole photo's field so that tiles agree); ``strength``
    (>= 0) multiplies the network's log brightness (the log boosts of an ``rgb`` head) after the
    clamp at 0 (1: the model's answer; :attr:`reexposure.core.infer.RadianceMap.strength`);
    ``colour_max`` the upper end of a guided head's colour strength
    (:attr:`~reexposure.core.model.generator.GeneratorConfig.colour_max`, :func:`colour_of`);
    ``share_radius`` the radius of the all-clipped weight's share inside large clipped areas
    (:attr:`~reexposure.core.model.generator.GeneratorConfig.share_radius`,
    :func:`all_clipped_weight`); ``fill`` whether the colour-consistent lower bound and the
    all-clipped weight's bound count the clipped channels with :func:`fill_channels`
    (:attr:`~reexposure.core.model.generator.GeneratorConfig.fill_channels`). Wherever ``mask == 0``
    the result is exactly ``lin``. ``guide * exp(strength * log_gain)`` of :func:`blend_parts`."""
    return radiance_at(*blend_parts(lin, mask, head, chroma, colour_max, share_radius, fill=fill), strength)


def radiance_at(guide: torch.Tensor, log_gain: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """The radiance at ``strength`` from :func:`blend_parts`: ``guide * exp(strength * log_gain)``
    ((B,3,H,W); ``log_gain`` broadcasts over channels); exactly ``guide`` where ``log_gain == 0``."""
    return guide * torch.exp(log_gain if strength == 1.0 else strength * log_gain)
