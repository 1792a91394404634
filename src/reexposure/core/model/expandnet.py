"""ExpandNet baseline (Marnerides et al., Eurographics 2018): LDR -> HDR with three branches.

Reads top to bottom: :func:`_layer`, :class:`ExpandNetConfig`, :class:`ExpandNet`.

The architecture follows the paper and its reference code:

- **local** branch, full resolution: 3x3 conv (``width``) + SELU, 3x3 conv (``2 * width``) + SELU;
- **mid** (dilation) branch, full resolution: four 3x3 convs with dilation 2 (``width``), SELU after
  the first three;
- **global** branch: the input resized to ``global_size`` x ``global_size`` (256 in the paper),
  stride-2 3x3 convs + SELU down to 4x4, then a 4x4 conv to a ``width``-vector that is replicated
  over the full image;
- **fusion**: the 4 * ``width`` concatenated channels, 1x1 conv (``width``) + SELU, 1x1 conv (3),
  sigmoid: a whole HDR image normalised to [0, 1].

``width=64, global_size=256`` is the paper's network (about 0.5 M parameters, ~200 k
multiply-adds per pixel). CPU configs use a smaller ``width``.

Adaptation to this project's interface (documented, not in the paper):

- input: the network sees ``sqrt(lin)`` (the LDR photo under the default square-root CRF, the
  same encoding :class:`~reexposure.core.model.GatedUNet` uses); the saturation ``mask`` is accepted
  for interface compatibility but not used (ExpandNet has no mask input);
- output scale: ExpandNet predicts HDR up to an unknown scale (the paper normalises every image to
  [0, 1]). :meth:`ExpandNet.radiance` anchors that scale to the photo: one factor per image, the
  geometric-mean ratio ``lin / y`` over the well-exposed pixels (``mask == 0``, ``lin > 0.01``),
  so 1.0 is the clip level as everywhere else in reexposure. Every pixel is predicted: unlike the
  gated U-Net there is no pass-through outside the mask.

References
----------
- Marnerides, D., Bashford-Rogers, T., Hatchett, J., Debattista, K. "ExpandNet: A Deep
  Convolutional Neural Network for High Dynamic Range Expansion from Low Dynamic Range Content."
  Computer Graphics Forum (Eurographics) 37(2), 2018.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ExpandNetConfig", "ExpandNet"]


def _layer(in_ch: int, out_ch: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> nn.Sequential:
    """Convolution followed by SELU (the paper's building block)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride, pad, dilation), nn.SELU())


@dataclass(frozen=True)
class ExpandNetConfig:
    """Shape of :class:`ExpandNet`. Stored in every checkpoint and weights file."""

    width: int = 64  # paper: 64 (the local branch's second layer has 2 * width)
    global_size: int = 256  # paper: 256; a power of two >= 8 (stride-2 convs down to 4x4)

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"ExpandNet width must be >= 1, got {self.width}")
        g = self.global_size
        if g < 8 or g & (g - 1):
            raise ValueError(f"ExpandNet global_size must be a power of two >= 8, got {g}")

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (any size works)."""
        return 1

    def to_dict(self) -> dict:
        return asdict(self)


class ExpandNet(nn.Module):
    """ExpandNet: ``forward(lin, mask)`` -> normalised HDR ``y`` (B,3,H,W) in (0, 1);
    :meth:`radiance` -> relative radiance (B,3,H,W) >= 0 with the photo's scale."""

    def __init__(self, config: ExpandNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ExpandNetConfig()
        w = config.width
        self.local_net = nn.Sequential(_layer(3, w, 3, 1, 1), _layer(w, 2 * w, 3, 1, 1))
        self.mid_net = nn.Sequential(_layer(3, w, 3, 1, 2, 2), _layer(w, w, 3, 1, 2, 2),
                                     _layer(w, w, 3, 1, 2, 2), nn.Conv2d(w, w, 3, 1, 2, 2))
        n_down = int(math.log2(config.global_size)) - 2  # 256 -> 4x4 in six stride-2 convs
        glob: list[nn.Module] = [_layer(3 if i == 0 else w, w, 3, 2, 1) for i in range(n_down)]
        glob.append(nn.Conv2d(w, w, 4, 1, 0))  # 4x4 -> 1x1
        self.glob_net = nn.Sequential(*glob)
        self.end_net = nn.Sequential(_layer(4 * w, w, 1, 1, 0), nn.Conv2d(w, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, lin: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``lin`` (B,3,H,W) linear in [0,1] -> normalised HDR (B,3,H,W) in (0,1). ``mask`` unused."""
        b, c, h, w = lin.shape
        assert c == 3, f"expected lin (B,3,H,W), got {tuple(lin.shape)}"
        x = torch.sqrt(lin.clamp_min(0.0) + 1e-6)  # the LDR photo (square-root CRF)
        local = self.local_net(x)  # (B, 2w, H, W)
        mid = self.mid_net(x)  # (B, w, H, W)
        g = self.config.global_size
        resized = F.interpolate(x, (g, g), mode="bilinear", align_corners=False)
        glob = self.glob_net(resized)  # (B, w, 1, 1)
        glob = glob.expand(b, glob.shape[1], h, w)
        return self.end_net(torch.cat([local, mid, glob], dim=1))

    def radiance(self, lin: torch.Tensor, mask: torch.Tensor, blend_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Relative radiance (B,3,H,W) >= 0: the prediction times one scale per image that matches
        it to ``lin`` on well-exposed pixels (geometric mean of ``lin / y``); without any such
        pixel the prediction's maximum is put at the clip level (1.0)."""
        y = self(lin, mask)
        eps = 1e-4
        weight = ((1.0 - mask) * (lin.amax(dim=1, keepdim=True) > 0.01).float()).expand_as(y)
        total = weight.sum(dim=(1, 2, 3))
        log_ratio = (torch.log(lin.clamp_min(0.0) + eps) - torch.log(y + eps)) * weight
        log_scale = log_ratio.sum(dim=(1, 2, 3)) / total.clamp_min(1.0)
        fallback = -torch.log(y.detach().amax(dim=(1, 2, 3)) + eps)
        log_scale = torch.where(total >= 1.0, log_scale, fallback)
        return y * torch.exp(log_scale).view(-1, 1, 1, 1)
