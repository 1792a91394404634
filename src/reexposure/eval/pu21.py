"""PU21: perceptually uniform encoding of absolute luminance, for PSNR on HDR images.

Implemented from the published formula of

    R. K. Mantiuk and M. Azimi, "PU21: A novel perceptually uniform encoding for adapting
    existing quality metrics for HDR", Picture Coding Symposium (PCS) 2021,
    doi:10.1109/PCS50896.2021.9477471.

The encoding maps absolute linear values ``Y`` in cd/m^2 (clamped to [0.005, 10000]) to

    V(Y) = p7 * (((p1 + p2 * Y**p4) / (1 + p3 * Y**p4)) ** p5 - p6)

with the parameters of the ``banding_glare`` variant (the one the authors recommend; values as
published by the authors in their reference implementation). With these, V(0.005) ~ 0,
V(100) ~ 256.4 (the white of a typical SDR display lands where 8-bit code 256 would be, so PSNR
uses a peak of 256 as in the authors' metric wrapper) and V(10000) ~ 595.4.

:func:`to_nits` states how this project maps *relative* radiance to display luminance: the
ground truth's clip level (relative radiance 1.0, i.e. the brightest value the 8-bit input photo
could record) is shown at :data:`NITS_AT_CLIP` = 100 cd/m^2, the white of an SDR display; the 6.6
stops above it up to 10000 cd/m^2 are the HDR headroom, and anything brighter (sun discs) clamps.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["PU21_BANDING_GLARE", "L_MIN", "L_MAX", "NITS_AT_CLIP", "PU21_PEAK", "pu21_encode",
           "pu21_decode", "to_nits", "pu21_psnr"]

#: (p1, ..., p7) of the ``banding_glare`` variant.
PU21_BANDING_GLARE: tuple[float, ...] = (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627,
                                         0.09150303166, 0.9099517204, 596.3148142)
L_MIN = 0.005  # cd/m^2, lower end of the encoding's valid range
L_MAX = 10000.0  # cd/m^2, upper end
NITS_AT_CLIP = 100.0  # display luminance of relative radiance 1.0 (the clip level)
PU21_PEAK = 256.0  # peak value for PSNR on PU21 values (as in the authors' pu21_metric)


def pu21_encode(nits: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Absolute luminance (cd/m^2, any shape) -> PU21 values (float64 tensor, about 0..595).

    Values are clamped to [L_MIN, L_MAX] first, as the encoding is only defined there."""
    y = torch.as_tensor(nits, dtype=torch.float64).clamp(L_MIN, L_MAX)
    p1, p2, p3, p4, p5, p6, p7 = PU21_BANDING_GLARE
    yp = y**p4
    return p7 * (((p1 + p2 * yp) / (1.0 + p3 * yp)) ** p5 - p6)


def pu21_decode(v: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Inverse of :func:`pu21_encode` (float64 tensor of cd/m^2)."""
    v = torch.as_tensor(v, dtype=torch.float64)
    p1, p2, p3, p4, p5, p6, p7 = PU21_BANDING_GLARE
    vp = (v / p7 + p6).clamp_min(0.0) ** (1.0 / p5)
    return ((vp - p1).clamp_min(0.0) / (p2 - p3 * vp)) ** (1.0 / p4)


def to_nits(radiance: torch.Tensor, nits_at_clip: float = NITS_AT_CLIP) -> torch.Tensor:
    """Relative radiance (1.0 = clip level) -> display luminance in cd/m^2, clamped to
    [L_MIN, L_MAX]."""
    return (radiance.double() * nits_at_clip).clamp(L_MIN, L_MAX)


def pu21_psnr(estimate: torch.Tensor, reference: torch.Tensor, nits_at_clip: float = NITS_AT_CLIP) -> float:
    """PU21-PSNR in dB of two relative radiance maps (same shape, e.g. (1,3,H,W)).

    Each colour channel is mapped with :func:`to_nits`, encoded with :func:`pu21_encode`, and
    ``10*log10(256**2 / MSE)`` is taken over all pixels and channels (colour PSNR, as the
    authors' ``pu21_metric(..., 'PSNR')``). An MSE of 0 counts as 1e-10 (capped PSNR)."""
    if estimate.shape != reference.shape:
        raise ValueError(f"shape mismatch {tuple(estimate.shape)} vs {tuple(reference.shape)}")
    pe = pu21_encode(to_nits(estimate, nits_at_clip))
    pr = pu21_encode(to_nits(reference, nits_at_clip))
    mse = float(((pe - pr) ** 2).mean())
    return float(10.0 * np.log10(PU21_PEAK**2 / max(mse, 1e-10)))
