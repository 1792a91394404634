"""SN-PatchGAN discriminator (Yu et al., ICCV 2019): strided 5x5 convolutions with spectral
normalisation and leaky ReLU; every output cell is a real/fake score for one image patch.

It is fed *tone-mapped LDR* images (B,3,H,W) in [0,1] (see :func:`reexposure.training.losses.tonemap_for_d`),
never linear radiance, plus the saturation mask as a fourth channel so it knows where to look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["DiscriminatorConfig", "SNPatchGAN"]


@dataclass(frozen=True)
class DiscriminatorConfig:
    width: int = 32
    layers: int = 5
    max_width: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class SNPatchGAN(nn.Module):
    """Patch discriminator: (B,4,H,W) -> (B, 1, H/2^layers, W/2^layers) scores."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        chans = [4] + [min(config.width * 2**i, config.max_width) for i in range(config.layers)]
        layers: list[nn.Module] = []
        for i in range(config.layers):
            layers += [spectral_norm(nn.Conv2d(chans[i], chans[i + 1], 5, 2, 2)),
                       nn.LeakyReLU(0.2)]
        layers.append(spectral_norm(nn.Conv2d(chans[-1], 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, ldr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if mask.shape[1] != 1:  # a per-channel mask: D sees where anything clipped
            mask = mask.amax(dim=1, keepdim=True)
        return self.net(torch.cat([ldr * 2.0 - 1.0, mask], dim=1))
