"""reexposure: change the exposure of a photo after it was taken.

Public API::

    import reexposure
    radiance = reexposure.reconstruct("photo.jpg")      # (1,3,H,W) float32 relative radiance
    darker = reexposure.reexpose(radiance, ev=-2)        # (1,3,H,W) float32 ldr in [0,1]

For large photos and streaming use :class:`reexposure.core.infer.Reconstructor`, whose
:class:`~reexposure.core.infer.RadianceMap` renders strip by strip in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
import torch

from .core.camera import CRF, DEFAULT_CRF

if TYPE_CHECKING:
    from .core.strength import AreaStrength

__version__ = "0.1.0"
__all__ = ["reconstruct", "reexpose", "AreaStrength", "__version__"]

_cache: dict[object, object] = {}


def reconstruct(photo: Union[str, Path, np.ndarray, torch.Tensor], model: str | Path | None = None,
                crf: CRF = DEFAULT_CRF, threads: int | None = None, strength: float = 1.0,
                areas: Iterable[AreaStrength] = ()) -> torch.Tensor:
    """Reconstruct the relative radiance of a photo.

    ``photo``: a file path (JPEG, PNG, TIFF, WebP, HEIC), an HxWx3 uint8/uint16/float array, or an
    ldr tensor (1,3,H,W) in [0,1]. ``model``: weights file (default: the shipped model).
    ``strength`` (0-3, default 1): how much of the model's highlight brightness to use
    (:attr:`reexposure.core.infer.RadianceMap.strength`). ``areas``: strengths for single clipped
    areas, ``reexposure.AreaStrength(x, y, strength)`` (the area at pixel column ``x``, row ``y``;
    :meth:`reexposure.core.infer.RadianceMap.with_areas`), e.g. to turn down a bright wall taken for
    a lamp; ``ValueError`` for a point that names no clipped area.
    Returns (1,3,H,W) float32 linear relative radiance; 1.0 is the input's clip level, and
    well-exposed pixels equal the inverse-CRF of the input exactly.
    """
    from .core.infer import Reconstructor
    from .core.strength import check_strength

    strength = check_strength(strength)
    if isinstance(photo, (str, Path)):
        from .formats.io import read_photo

        photo = read_photo(photo).rgb
    key = (str(model), crf, threads)
    rec = _cache.get(key)
    if rec is None:
        rec = _cache[key] = Reconstructor(model, crf=crf, threads=threads)
    rmap = rec(photo)  # type: ignore[operator]
    rmap.strength = strength
    areas = tuple(areas)
    return (rmap.with_areas(areas) if areas else rmap).to_tensor()


def reexpose(radiance: torch.Tensor, ev: float, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
    """Render relative radiance (B,3,H,W) at ``ev`` stops (-10..10) as ldr in [0,1] (B,3,H,W),
    quantised to 8 bits: expose, clip at 1, apply ``crf``."""
    from .core.camera import render_ldr

    if not -10.0 <= ev <= 10.0:
        raise ValueError(f"EV {ev} outside [-10, 10]")
    return render_ldr(radiance, ev, crf, bits=8)


def __getattr__(name: str) -> object:
    """``reexposure.AreaStrength`` (:class:`reexposure.core.strength.AreaStrength`), imported on
    first use like the package's other core modules."""
    if name == "AreaStrength":
        from .core.strength import AreaStrength

        return AreaStrength
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
