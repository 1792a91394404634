"""Image quality metrics for the evaluation harness (pure functions on NCHW float tensors).

Conventions: images are ``(1, C, H, W)`` float tensors; a *region* is a boolean ``(1, 1, H, W)``
tensor (``None`` = the whole image). Renditions (``ldr``) are display values in [0, 1] (8-bit code /
255); radiance is linear and relative (1.0 = the clip level of the input photo).

Definitions
-----------
- :func:`psnr`: ``10*log10(peak**2 / MSE)`` with the MSE over the region's pixels and all
  channels; peak 1 for renditions in [0, 1]. An MSE below 1e-10 counts as 1e-10, so a perfect
  match scores 100 dB (instead of infinity, which would break means).
- :func:`ssim`: SSIM of Wang et al. 2004 ("Image quality assessment: from error visibility to
  structural similarity", IEEE TIP 13(4)) with a Gaussian window of 11 taps, sigma 1.5,
  ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` (L = 1, the data range). Local statistics are computed
  per colour channel with reflect padding (so the SSIM map has the image's size); the map is the
  mean of the channel maps, and the score is its mean over the region.
- :func:`log_psnr`: PSNR of base-2 logarithms of relative radiance clamped to [LOG_LO, LOG_HI] =
  [5e-5, 100] (the same 20.93-stop span as PU21's 0.005..10000 cd/m^2 with the clip level at
  100 cd/m^2): ``10*log10(R**2 / mean((log2 e - log2 r)**2))`` with ``R = log2(LOG_HI/LOG_LO)``,
  over all pixels and channels. A uniform error of one stop scores ``20*log10(20.93) = 26.4`` dB.
- :func:`gradient_energy`: sum of squared forward differences (horizontal and vertical, all
  channels) over pairs of neighbouring pixels that both lie in the region;
  :func:`texture_ratio` divides that of an estimate by that of the reference (1.0 = as much
  detail as the scene; a flat fill scores near 0).
- :func:`fit_scale`: one global factor ``k`` minimising ``sum (log(k*e) - log(r))**2`` over a
  set of pixels (closed form: ``log k = mean(log r - log e)``); relative radiance has no absolute
  scale, so every estimate is put on the reference's scale with it before any metric.
- :func:`lights_kept`: "lights kept bright". Among the pixels whose true radiance is at least
  ``LIGHT_TRUE`` = 8x the clip level (largest channel of the reference; such pixels are clipped in
  the input, which saturates at 1.0), optionally restricted to a region, the share that the
  estimate (already on the reference's scale) puts at ``LIGHT_PRED`` = 4x or more (largest
  channel). Naive, capped at 1.0, scores 0. NaN when the image has no such pixel.
- :func:`false_lights`: the opposite error, "bright surfaces taken for lights". Among the pixels
  whose true radiance is above the clip level but at most ``SURFACE_TRUE`` = 1.5x it (largest
  channel: a sunlit wall, snow or a pale sky barely clipped), optionally restricted to a region,
  the share that the estimate puts at ``SURFACE_PRED`` = 3x or more, i.e. at least twice too
  bright. Naive scores 0; lower is better. NaN when the image has no such pixel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core import camera

__all__ = ["PSNR_CAP_MSE", "LOG_LO", "LOG_HI", "psnr", "ssim_map", "ssim", "SSIMReference", "log_psnr",
           "gradient_energy", "texture_ratio", "fit_scale", "clipped_region", "fit_pixels",
           "REGION_DILATE", "FIT_FLOOR", "lights_kept", "LIGHT_TRUE", "LIGHT_PRED", "false_lights", "SURFACE_TRUE",
           "SURFACE_PRED"]

PSNR_CAP_MSE = 1e-10
LOG_LO = 5e-5
LOG_HI = 100.0
REGION_DILATE = 4  # pixels added around the saturation mask to make the "clipped region"
FIT_FLOOR = 2.0**-10  # linear input values at or below this are too noisy to fit the scale on
LIGHT_TRUE = 8.0  # lights_kept: pixels truly at least this many times the clip level ...
LIGHT_PRED = 4.0  # ... count as kept when the estimate reaches this
SURFACE_TRUE = 1.5  # false_lights: pixels truly above the clip level but at most this many times it ...
SURFACE_PRED = 3.0  # ... count as taken for a light when the estimate reaches this


def _check(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"expected two (B,C,H,W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _region_weights(region: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    if region is None:
        return None
    if region.shape != (like.shape[0], 1, *like.shape[2:]):
        raise ValueError(f"region must be (B,1,H,W) matching {tuple(like.shape)}, got {tuple(region.shape)}")
    return region.to(torch.bool)


def psnr(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None = None, peak: float = 1.0) -> float:
    """PSNR in dB of ``a`` against ``b`` over ``region`` (all channels). NaN if the region is empty."""
    _check(a, b)
    r = _region_weights(region, a)
    sq = (a.double() - b.double()) ** 2
    if r is not None:
        n = int(r.sum()) * a.shape[1]
        if n == 0:
            return float("nan")
        mse = float((sq * r).sum()) / n
    else:
        mse = float(sq.mean())
    return 10.0 * math.log10(peak**2 / max(mse, PSNR_CAP_MSE))


def _gauss_kernel(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of every channel with reflect padding; x (B,C,H,W) float64.

    Written as sums of shifted slices: float64 depthwise convolution is slow in torch on CPU, and
    float32 is not precise enough (its rounding of E[x^2] - E[x]^2 on bright flat areas moves
    SSIM by ~1e-4)."""
    r = (len(k) - 1) // 2
    mode = "reflect" if min(x.shape[2:]) > r else "replicate"
    x = F.pad(x, (r, r, r, r), mode=mode)
    h, w = x.shape[2] - 2 * r, x.shape[3] - 2 * r
    wk = [float(v) for v in k]
    rows = wk[0] * x[..., 0:h, :]
    for i in range(1, len(wk)):
        rows = rows + wk[i] * x[..., i:i + h, :]
    out = wk[0] * rows[..., :, 0:w]
    for i in range(1, len(wk)):
        out = out + wk[i] * rows[..., :, i:i + w]
    return out


class SSIMReference:
    """Local statistics of a reference image for :func:`ssim_map` (reuse them across estimates)."""

    def __init__(self, ref: torch.Tensor, size: int = 11, sigma: float = 1.5) -> None:
        self.k = _gauss_kernel(size, sigma)
        self.y = ref.double()
        self.my = _blur(self.y, self.k)
        self.syy = _blur(self.y * self.y, self.k) - self.my * self.my
        self.shape = ref.shape


def ssim_map(a: torch.Tensor, b: torch.Tensor | SSIMReference, data_range: float = 1.0, size: int = 11,
             sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (B,1,H,W), float64: mean over channels of the channel SSIM maps of ``a``
    against ``b`` (an image or its precomputed :class:`SSIMReference`)."""
    ref = b if isinstance(b, SSIMReference) else SSIMReference(b, size, sigma)
    if a.shape != ref.shape or a.ndim != 4:
        raise ValueError(f"expected two (B,C,H,W) tensors of one shape, got {tuple(a.shape)} and {tuple(ref.shape)}")
    k = ref.k
    x, y = a.double(), ref.y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _blur(x, k), ref.my
    sxx = _blur(x * x, k) - mx * mx
    sxy = _blur(x * y, k) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + ref.syy + c2))
    return s.mean(dim=1, keepdim=True)


def ssim(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None = None, data_range: float = 1.0) -> float:
    """Mean SSIM of ``a`` against ``b`` over ``region`` (see module docstring). NaN if empty."""
    m = ssim_map(a, b, data_range)
    r = _region_weights(region, a)
    if r is None:
        return float(m.mean())
    n = int(r.sum())
    return float((m * r).sum()) / n if n else float("nan")


def log_psnr(estimate: torch.Tensor, reference: torch.Tensor, lo: float = LOG_LO, hi: float = LOG_HI) -> float:
    """log-PSNR in dB of relative radiance maps (see module docstring)."""
    _check(estimate, reference)
    le = torch.log2(estimate.double().clamp(lo, hi))
    lr = torch.log2(reference.double().clamp(lo, hi))
    mse = float(((le - lr) ** 2).mean())
    rng = math.log2(hi / lo)
    return 10.0 * math.log10(rng**2 / max(mse, PSNR_CAP_MSE))


def gradient_energy(img: torch.Tensor, region: torch.Tensor | None = None) -> float:
    """Sum of squared forward differences of ``img`` (B,C,H,W) over neighbour pairs inside ``region``."""
    x = img.double()
    dx = (x[..., :, 1:] - x[..., :, :-1]) ** 2
    dy = (x[..., 1:, :] - x[..., :-1, :]) ** 2
    r = _region_weights(region, img)
    if r is None:
        return float(dx.sum() + dy.sum())
    rx = r[..., :, 1:] & r[..., :, :-1]
    ry = r[..., 1:, :] & r[..., :-1, :]
    return float((dx * rx).sum() + (dy * ry).sum())


def texture_ratio(estimate: torch.Tensor, reference: torch.Tensor, region: torch.Tensor | None = None) -> float:
    """Gradient energy of ``estimate`` / that of ``reference`` in ``region`` (NaN if the reference
    has none there)."""
    _check(estimate, reference)
    ref = gradient_energy(reference, region)
    if ref <= 0.0:
        return float("nan")
    return gradient_energy(estimate, region) / ref


def clipped_region(ldr: torch.Tensor, dilate: int = REGION_DILATE) -> torch.Tensor:
    """The *clipped region* of an input rendition ``ldr`` (B,3,H,W): pixels where the saturation
    mask (:func:`reexposure.core.camera.saturation_mask`, default ramp and its 1-pixel dilation) is
    above 0, dilated by ``dilate`` more pixels (square). Returns bool (B,1,H,W).

    With the default ramp, a pixel is in the saturation mask when its largest channel is above
    code 244.8 (0.96 * 255), i.e. code 245 or more, or when one of its 8 neighbours is."""
    mask = camera.saturation_mask(ldr.float()) > 0
    if dilate > 0:
        mask = F.max_pool2d(mask.float(), 2 * dilate + 1, stride=1, padding=dilate) > 0
    return mask


def fit_pixels(lin: torch.Tensor, region: torch.Tensor, floor: float = FIT_FLOOR) -> torch.Tensor:
    """Elements (B,C,H,W bool) to fit the global scale on: outside the clipped region and with the
    linearised input above ``floor`` (dark codes are dominated by quantisation)."""
    return (~region).expand_as(lin) & (lin > floor)


def fit_scale(estimate: torch.Tensor, reference: torch.Tensor, select: torch.Tensor) -> float:
    """Global factor ``k`` putting ``estimate`` on ``reference``'s scale: least squares in the log
    domain over the selected elements (bool, broadcastable to the images) where both are > 0.
    Returns 1.0 when no element qualifies."""
    _check(estimate, reference)
    e, r = estimate.double(), reference.double()
    sel = select.expand_as(e) & (e > 0) & (r > 0)
    if not bool(sel.any()):
        return 1.0
    return float(torch.exp((torch.log(r[sel]) - torch.log(e[sel])).mean()))


def _share_reaching(estimate: torch.Tensor, chosen: torch.Tensor, region: torch.Tensor | None,
                    pred_factor: float) -> float:
    """Share of the ``chosen`` pixels ((B,1,H,W) bool, inside ``region`` if given) where
    ``max_c estimate >= pred_factor``; NaN if none is chosen."""
    r = _region_weights(region, estimate)
    if r is not None:
        chosen = chosen & r
    n = int(chosen.sum())
    if n == 0:
        return float("nan")
    return int(((estimate.amax(dim=1, keepdim=True) >= pred_factor) & chosen).sum()) / n


def lights_kept(estimate: torch.Tensor, reference: torch.Tensor, region: torch.Tensor | None = None,
                true_factor: float = LIGHT_TRUE, pred_factor: float = LIGHT_PRED) -> float:
    """Share of the pixels with ``max_c reference >= true_factor`` (inside ``region``, if given)
    where ``max_c estimate >= pred_factor`` (see module docstring). NaN if there is no such pixel."""
    _check(estimate, reference)
    return _share_reaching(estimate, reference.amax(dim=1, keepdim=True) >= true_factor, region, pred_factor)


def false_lights(estimate: torch.Tensor, reference: torch.Tensor, region: torch.Tensor | None = None,
                 true_max: float = SURFACE_TRUE, pred_factor: float = SURFACE_PRED) -> float:
    """Share of the pixels with ``1 < max_c reference <= true_max`` (inside ``region``, if given)
    where ``max_c estimate >= pred_factor`` (see module docstring). NaN if there is no such pixel."""
    _check(estimate, reference)
    ref = reference.amax(dim=1, keepdim=True)
    return _share_reaching(estimate, (ref > 1.0) & (ref <= true_max), region, pred_factor)
