"""Networks only: the gated-conv U-Net generator, the ExpandNet baseline and the SN-PatchGAN
discriminator. :func:`build_generator` is the one place that maps an architecture name to a class."""

from __future__ import annotations

from typing import Any, Union

import torch.nn as nn

from .blend import compose_radiance, ring_chroma
from .discriminator import DiscriminatorConfig, SNPatchGAN
from .expandnet import ExpandNet, ExpandNetConfig
from .generator import GatedConv2d, GatedUNet, GeneratorConfig

__all__ = ["GatedConv2d", "GatedUNet", "GeneratorConfig", "compose_radiance", "ring_chroma",
           "ExpandNet", "ExpandNetConfig", "DiscriminatorConfig", "SNPatchGAN",
           "ARCHITECTURES", "Generator", "arch_of", "build_generator"]

#: A generator network of any architecture (both have ``config`` and ``radiance(lin, mask)``).
Generator = Union[GatedUNet, ExpandNet]

#: Generator architectures: name -> (class, config class). Every generator has
#: ``forward(lin, mask)`` and ``radiance(lin, mask) -> (B,3,H,W)`` relative radiance.
ARCHITECTURES: dict[str, tuple[type[nn.Module], type]] = {
    "gated_unet": (GatedUNet, GeneratorConfig),
    "expandnet": (ExpandNet, ExpandNetConfig),
}


def build_generator(arch: str, config: Any = None) -> Generator:
    """A generator of architecture ``arch`` (``gated_unet`` or ``expandnet``) from its config
    dataclass, a dict of its fields, or ``None`` (defaults). Raises ``ValueError`` for an unknown
    name or bad fields."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown generator architecture {arch!r} (known: {', '.join(ARCHITECTURES)})")
    cls, cfg_cls = ARCHITECTURES[arch]
    if isinstance(config, dict):
        try:
            config = cfg_cls(**config)
        except TypeError as exc:
            raise ValueError(f"bad {arch} config: {exc}") from None
    elif config is not None and not isinstance(config, cfg_cls):
        raise ValueError(f"{arch} needs a {cfg_cls.__name__}, got {type(config).__name__}")
    model: Generator = cls(config)  # type: ignore[assignment]  # the classes of ARCHITECTURES
    return model


def arch_of(model: nn.Module) -> str:
    """The architecture name of a generator instance (inverse of :func:`build_generator`)."""
    for name, (cls, _) in ARCHITECTURES.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not a reexposure generator")
