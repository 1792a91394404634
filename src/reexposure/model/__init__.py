"""Networks only: the gated-conv U-Net generator and the SN-PatchGAN discriminator."""

from .discriminator import DiscriminatorConfig, SNPatchGAN
from .generator import GatedConv2d, GatedUNet, GeneratorConfig, compose_radiance

__all__ = ["GatedConv2d", "GatedUNet", "GeneratorConfig", "compose_radiance",
           "DiscriminatorConfig", "SNPatchGAN"]
