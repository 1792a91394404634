"""Generator: a U-Net of gated convolutions that inpaints clipped highlights in linear space.

Reads top to bottom, leaf modules first: :class:`GatedConv2d`, :class:`GeneratorConfig`,
:class:`GatedUNet`.

Output head (see ``docs/design-notes.md`` in the shared notes and ``docs/architecture.md``):
the network predicts a per-pixel log boost (log-domain residual on the linearised photo: ``o = 0``
means "naive", gradients never vanish, and large boosts, light sources are 100x to 60,000x the clip
level, are one ``exp`` away) and, with the ``guided`` head, how much of the surroundings' colour a
clipped area takes; :mod:`reexposure.model.blend` turns that into radiance. Pixels with
``mask = 0`` pass through exactly unchanged.

References
----------
- Yu, J. et al. "Free-Form Image Inpainting with Gated Convolution." ICCV 2019 (DeepFill v2).
- Ronneberger, O. et al. "U-Net." MICCAI 2015.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blend import COLOUR_LOGIT_INIT, compose_radiance, head_channels, ring_chroma, settle_interior

__all__ = ["GatedConv2d", "ContextBlock", "GeneratorConfig", "GatedUNet"]


class GatedConv2d(nn.Module):
    """Gated convolution (DeepFill v2): ``out = ELU(feature) * sigmoid(gate)``.

    One convolution produces both halves (``2 * out_ch`` channels). ``activation=False`` drops the
    ELU (used nowhere by default; kept for heads that need a linear feature).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, activation: bool = True) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_ch, 2 * out_ch, kernel_size, stride, pad, dilation)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature, gate = self.conv(x).chunk(2, dim=1)
        if self.activation:
            feature = F.elu(feature)
        return feature * torch.sigmoid(gate)


class ContextBlock(nn.Module):
    """Residual dilated gated convolution at the bottleneck: ``x + proj(GatedConv(x, dilation))``.

    ``proj`` (1x1) starts at zero, so a block added to a trained network leaves its output
    unchanged until training moves it (fine-tuning with more context, not from scratch)."""

    def __init__(self, ch: int, dilation: int) -> None:
        super().__init__()
        self.conv = GatedConv2d(ch, ch, 3, dilation=dilation)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(cast(torch.Tensor, self.proj.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(self.conv(x))


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of :class:`GatedUNet`. Stored in every checkpoint and weights file."""

    width: int = 12  # channels at full resolution; doubles per level
    depth: int = 4  # number of stride-2 downsamplings (input is padded to a multiple of 2**depth)
    max_width: int = 96  # channel cap at the deep levels
    max_log_boost: float = 12.0  # exp(12) ~ 160,000x the clip level: brighter than the sun in our data
    context_blocks: int = 0  # ContextBlocks after the bottleneck, dilations 2, 4, ... (0 = none)
    # Output head (reexposure.model.blend): "rgb" = a log boost per channel (v0.1-v0.3);
    # "guided" = log brightness + colour strength, the hue taken from the photo (v0.4).
    head: str = "rgb"
    # Guided head: inside clipped areas the log brightness is averaged over about this radius (px of
    # the working grid), fully from this many px inside the outline, not at all in areas narrower
    # than about 2 * (radius // 3) px (reexposure.core.model.blend.settle_interior; 0 = off, as up to
    # v0.4; 12 in v0.5, 8 in v0.6). A fixed filter, part of the network's output in training and
    # inference alike.
    interior_smooth: int = 0
    # Decoder upsampling: "nearest" (up to v0.5) or "bilinear" (F.interpolate, align_corners=False).
    # Nearest repeats each coarse feature over a 2x2 block at every level, i.e. over 16x16 px of the
    # working grid at depth 4; inside a large flat clipped area nothing in the input hides those
    # steps, and fine-tuned weights drew them as a plaid of bands (MODEL_CARD.md "Why v0.6").
    upsample: str = "nearest"
    # Guided head: the upper end of the colour strength, ``colour_max * sigmoid(t)`` (1 up to v0.6:
    # from white to the surroundings' colour; above 1 the colour may be more saturated than the
    # pixels it is taken from, which cameras whiten near the clip; reexposure.core.model.blend.colour_of).
    colour_max: float = 1.0
    # Guided head: inside large clipped areas the network's brightness is weighted by the share of
    # fully clipped pixels over a box of this radius (px of the working grid, like interior_smooth:
    # the same share of a photo at any size) instead of pixel by pixel, so that JPEG's chroma
    # blocks, which decide which pixels of a near-white sky clip in all three channels, do not draw
    # stair-stepped bands (reexposure.core.model.blend.all_clipped_weight; 0 = off, as up to v0.6;
    # 8 in v0.7). A fixed filter, in training and inference alike.
    share_radius: int = 0
    # Guided head: the blend counts a channel recorded a few codes below the clip, inside an area
    # whose three channels clipped, as clipped (reexposure.core.model.blend.fill_channels): JPEG
    # scatters such pixels through blown highlights, and lifted only partly they became grey
    # speckles once the photo was darkened (False up to v0.7; True in v0.8). A fixed rule of the
    # blend, in training and inference alike.
    fill_channels: bool = False

    def __post_init__(self) -> None:
        head_channels(self.head)  # ValueError for an unknown head
        if not 1.0 <= self.colour_max <= 4.0:
            raise ValueError(f"colour_max must be in [1, 4], got {self.colour_max}")
        if not 0 <= self.share_radius <= 64:
            raise ValueError(f"share_radius must be in [0, 64], got {self.share_radius}")
        if self.upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear', got {self.upsample!r}")

    @property
    def context_dilations(self) -> tuple[int, ...]:
        """Dilation of each :class:`ContextBlock` (at the bottleneck's resolution)."""
        return tuple(2 ** (i + 1) for i in range(self.context_blocks))

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (infer pads automatically)."""
        return 2**self.depth

    def to_dict(self) -> dict:
        return asdict(self)


class GatedUNet(nn.Module):
    """U-Net of gated convolutions with skip connections.

    ``forward(lin, mask)`` takes the linearised photo ``lin`` (B,3,H,W) in [0,1] and the saturation
    mask (B,1,H,W), or the per-channel mask (B,3,H,W) whose maximum over channels the network
    sees, and returns the head's output (B,3,H,W) log boosts (``rgb``) or (B,2,H,W) log brightness and
    colour strength (``guided``); :meth:`radiance` blends it (:mod:`reexposure.model.blend`).
    H and W must be multiples of ``config.multiple``.

    The network sees ``sqrt(lin)`` (a fixed, perceptually even encoding of the linear photo; it is
    the same whatever CRF the photo was decoded with) and the mask.
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        w = [min(config.width * 2**i, config.max_width) for i in range(config.depth + 1)]
        self.stem = GatedConv2d(4, w[0], 5)
        self.down = nn.ModuleList()
        for i in range(config.depth):
            self.down.append(nn.Sequential(GatedConv2d(w[i], w[i + 1], 3, stride=2),
                                           GatedConv2d(w[i + 1], w[i + 1], 3)))
        self.bottleneck = nn.Sequential(GatedConv2d(w[-1], w[-1], 3, dilation=2),
                                        GatedConv2d(w[-1], w[-1], 3))
        self.context = nn.Sequential(*(ContextBlock(w[-1], d) for d in config.context_dilations))
        self.up = nn.ModuleList()
        for i in reversed(range(config.depth)):
            self.up.append(nn.ModuleList([GatedConv2d(w[i + 1], w[i], 3),  # after 2x upsampling
                                          GatedConv2d(2 * w[i], w[i], 3)]))  # after skip concat
        self.head = nn.Conv2d(w[0], head_channels(config.head), 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start from the naive answer (o = 0)
        nn.init.zeros_(cast(torch.Tensor, self.head.bias))
        if config.head == "guided":
            with torch.no_grad():
                cast(torch.Tensor, self.head.bias)[1:] = COLOUR_LOGIT_INIT

    def forward(self, lin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, h, w = lin.shape
        m = self.config.multiple
        if mask.shape[1] == 3:
            mask = mask.amax(dim=1, keepdim=True)
        assert c == 3 and mask.shape == (b, 1, h, w), (
            f"expected lin (B,3,H,W) and mask (B,1,H,W) or (B,3,H,W), got {tuple(lin.shape)}, {tuple(mask.shape)}")
        assert h % m == 0 and w % m == 0, f"H and W must be multiples of {m}, got {h}x{w}"
        x = torch.cat([torch.sqrt(lin.clamp_min(0.0) + 1e-6), mask], dim=1)  # (B, 4, H, W)
        x = self.stem(x)
        skips = []
        for block in self.down:
            skips.append(x)
            x = block(x)  # (B, w[i+1], H/2^(i+1), W/2^(i+1))
        x = self.context(self.bottleneck(x))
        for pair, skip in zip(self.up, reversed(skips)):
            up_conv, merge = cast(nn.ModuleList, pair)
            if self.config.upsample == "bilinear":
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            else:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = up_conv(x)
            x = merge(torch.cat([x, skip], dim=1))
        o = self.head(x).clamp(-self.config.max_log_boost, self.config.max_log_boost)
        if self.config.head == "guided" and self.config.interior_smooth > 0:
            o = torch.cat([settle_interior(o[:, :1], mask, self.config.interior_smooth), o[:, 1:]], dim=1)
        return o

    def radiance(self, lin: torch.Tensor, mask: torch.Tensor, blend_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Relative radiance (B,3,H,W) >= 0: :func:`reexposure.model.blend.compose_radiance` of
        ``forward(lin, mask)``, blended with ``blend_mask`` (per channel (B,3,H,W) or (B,1,H,W);
        default ``mask``); the surroundings' colour is gathered outside ``mask`` (as at inference)."""
        chroma = ring_chroma(lin, mask) if self.config.head == "guided" else None
        return compose_radiance(lin, mask if blend_mask is None else blend_mask, self(lin, mask), chroma,
                                colour_max=self.config.colour_max, share_radius=self.config.share_radius,
                                fill=self.config.fill_channels)

    def adopt_colour_range(self, state: dict[str, torch.Tensor], colour_max: float) -> dict[str, torch.Tensor]:
        """A state dict of a guided network whose colour strength ended at ``colour_max``, converted
        for this one's :attr:`GeneratorConfig.colour_max`: the colour channel restarts at a strength
        of 1 everywhere (weights 0, bias ``logit(1 / colour_max)``; a trained head's logit is far
        beyond its range, up to 70 on real photos, so no rescaling of it keeps its answer better),
        the brightness channel is kept. Unchanged when the two ranges agree."""
        if self.config.head != "guided" or colour_max == self.config.colour_max or "head.weight" not in state:
            return state
        out = dict(state)
        w, b = state["head.weight"].clone(), state["head.bias"].clone()
        w[1:] = 0.0
        b[1:] = -math.log(self.config.colour_max - 1.0) if self.config.colour_max > 1.0 else 12.0
        out["head.weight"], out["head.bias"] = w, b
        return out

    def adopt_rgb_head(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A state dict of an ``rgb``-head network, converted for this ``guided`` one: the log
        brightness starts as the mean of the three per-channel boosts, the colour strength at
        ``COLOUR_LOGIT_INIT`` (a quarter of the surroundings' colour). Fine-tuning from v0.3 starts from its
        brightness answer instead of from scratch."""
        out = dict(state)
        w, b = state["head.weight"], state["head.bias"]
        if w.shape[0] == 3 and self.config.head == "guided":
            out["head.weight"] = torch.cat([w.mean(0, keepdim=True), torch.zeros_like(w[:1])])
            out["head.bias"] = torch.cat([b.mean(0, keepdim=True), torch.full_like(b[:1], COLOUR_LOGIT_INIT)])
        return out
