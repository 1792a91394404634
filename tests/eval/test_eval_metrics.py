"""Evaluation metrics with known values: PSNR, SSIM, log-PSNR, PU21, texture, scale fit, regions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reexposure.eval import metrics
from reexposure.eval.pu21 import L_MAX, L_MIN, pu21_decode, pu21_encode, pu21_psnr, to_nits


def img(h: int = 8, w: int = 8, c: int = 3, value: float = 0.0) -> torch.Tensor:
    return torch.full((1, c, h, w), value, dtype=torch.float32)


# --------------------------------------------------------------------------- PSNR


def test_psnr_known_values_and_regions() -> None:
    a = img()
    b = img()
    b[..., :4] = 0.1  # left half off by 0.1, right half by 0.2
    b[..., 4:] = 0.2
    left = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    left[..., :4] = True
    assert metrics.psnr(b, a, left) == pytest.approx(20.0, abs=1e-5)  # MSE 0.01
    assert metrics.psnr(b, a, ~left) == pytest.approx(10 * math.log10(1 / 0.04), abs=1e-5)
    assert metrics.psnr(b, a) == pytest.approx(10 * math.log10(1 / 0.025), abs=1e-5)
    assert math.isnan(metrics.psnr(b, a, torch.zeros_like(left)))
    assert metrics.psnr(a, a) == pytest.approx(100.0)  # capped, not infinite
    assert metrics.psnr(a * 0 + 2.0, a, peak=4.0) == pytest.approx(10 * math.log10(16 / 4), abs=1e-6)


def test_psnr_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        metrics.psnr(img(8, 8), img(8, 9))


# --------------------------------------------------------------------------- SSIM


def test_ssim_identical_is_one() -> None:
    x = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    assert metrics.ssim(x, x) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_offset_by_hand() -> None:
    # Two flat images a and a+c: every local variance is 0, so SSIM = luminance term
    # (2 a (a+c) + C1) / (a^2 + (a+c)^2 + C1) times (0 + C2) / (0 + C2) = 1.
    a, c = 0.5, 0.1
    c1 = 0.01**2
    expected = (2 * a * (a + c) + c1) / (a**2 + (a + c) ** 2 + c1)
    assert expected == pytest.approx(0.983609, abs=1e-6)
    flat = img(16, 16, value=a).double()
    assert metrics.ssim(flat + c, flat) == pytest.approx(expected, abs=1e-12)


def test_ssim_textured_offset_structure_term_is_one() -> None:
    # y = x + c keeps variances and covariance: SSIM equals the mean luminance term, computed
    # here from the local means independently of the implementation's formula.
    g = torch.Generator().manual_seed(1)
    x = 0.2 + 0.3 * torch.rand(1, 1, 24, 24, generator=g, dtype=torch.float64)
    y = x + 0.1
    mx = metrics._blur(x.double(), metrics._gauss_kernel())
    my = mx + 0.1
    c1 = 0.01**2
    lum = ((2 * mx * my + c1) / (mx**2 + my**2 + c1)).mean()
    assert metrics.ssim(y, x) == pytest.approx(float(lum), abs=1e-9)
    assert metrics.ssim(y, x) < 1.0


def test_ssim_anticorrelated_is_negative_and_region_mean() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 32, 32, generator=g)
    assert metrics.ssim(1.0 - x, x) < 0.0
    y = x.clone()
    y[..., 16:] = 1.0 - x[..., 16:]
    left = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    left[..., :8] = True  # far (> 5 px window radius) from the changed half
    assert metrics.ssim(y, x, left) == pytest.approx(1.0, abs=1e-12)
    assert metrics.ssim(y, x) < metrics.ssim(y, x, left)


# --------------------------------------------------------------------------- log-PSNR


def test_log_psnr_one_stop_error() -> None:
    ref = torch.full((1, 3, 4, 4), 0.5)
    rng = math.log2(metrics.LOG_HI / metrics.LOG_LO)
    assert metrics.log_psnr(ref * 2, ref) == pytest.approx(20 * math.log10(rng / 1.0), abs=1e-9)
    assert metrics.log_psnr(ref / 4, ref) == pytest.approx(20 * math.log10(rng / 2.0), abs=1e-9)
    # Values beyond the range clamp: 1000x and 100x the clip level are both "100" (capped score).
    cap = 10 * math.log10(rng**2 / metrics.PSNR_CAP_MSE)
    assert metrics.log_psnr(ref * 0 + 1000.0, ref * 0 + 100.0) == pytest.approx(cap)
    assert metrics.log_psnr(ref * 0 + 1000.0, ref * 0 + 10.0) < 40


# --------------------------------------------------------------------------- PU21


def test_pu21_reference_points() -> None:
    # Values computed by hand from the published formula and banding_glare parameters.
    v = pu21_encode(np.array([L_MIN, 1.0, 100.0, L_MAX]))
    assert abs(float(v[0])) < 1e-6  # the bottom of the range encodes to ~0
    assert float(v[1]) == pytest.approx(36.5439, abs=1e-3)
    assert float(v[2]) == pytest.approx(256.3839, abs=1e-3)  # 100 cd/m^2 ~ 256: SDR white at the 8-bit top
    assert float(v[3]) == pytest.approx(595.3939, abs=1e-3)


def test_pu21_monotonic_invertible_and_clamped() -> None:
    y = np.logspace(np.log10(L_MIN), np.log10(L_MAX), 200)
    v = pu21_encode(y)
    assert bool((v[1:] > v[:-1]).all())
    assert np.allclose(pu21_decode(v).numpy(), y, rtol=1e-6)
    assert float(pu21_encode(np.array([1e-5]))[0]) == float(pu21_encode(np.array([L_MIN]))[0])
    assert float(pu21_encode(np.array([1e6]))[0]) == float(pu21_encode(np.array([L_MAX]))[0])
    # Between 0.1 and 100 cd/m^2 (an SDR display) it spans about the 8-bit range, like sRGB codes.
    assert 0 < float(pu21_encode(np.array([0.1]))[0]) < 10
    assert 250 < float(pu21_encode(np.array([100.0]))[0]) < 260


def test_pu21_psnr_by_hand() -> None:
    ref = torch.ones(1, 3, 4, 4)  # clip level -> 100 cd/m^2 -> 256.3839
    est = ref * 0.1  # 10 cd/m^2 -> 123.6475
    expected = 20 * math.log10(256.0 / (256.3839 - 123.6475))
    assert pu21_psnr(est, ref) == pytest.approx(expected, abs=1e-3)
    assert float(to_nits(torch.tensor([0.0]))[0]) == L_MIN
    assert pu21_psnr(ref, ref) == pytest.approx(100.0 + 20 * math.log10(256.0), abs=1e-6)


# --------------------------------------------------------------------------- texture


def test_gradient_energy_ramp_and_region() -> None:
    h, w = 6, 10
    ramp = (0.1 * torch.arange(w, dtype=torch.float32)).expand(1, 1, h, w).clone()
    assert metrics.gradient_energy(ramp) == pytest.approx(0.01 * h * (w - 1), rel=1e-6)
    region = torch.zeros(1, 1, h, w, dtype=torch.bool)
    region[..., 1:4, 2:5] = True  # 3x3 block: 3 rows x 2 horizontal pairs
    assert metrics.gradient_energy(ramp, region) == pytest.approx(0.06, rel=1e-6)
    flat = torch.full_like(ramp, 0.5)
    assert metrics.texture_ratio(flat, ramp, region) == 0.0
    assert metrics.texture_ratio(ramp, ramp, region) == pytest.approx(1.0)
    assert metrics.texture_ratio(2 * ramp, ramp, region) == pytest.approx(4.0)
    assert math.isnan(metrics.texture_ratio(ramp, flat, region))


# --------------------------------------------------------------------------- scale fit, regions


def test_fit_scale_log_least_squares() -> None:
    g = torch.Generator().manual_seed(3)
    ref = 0.01 + torch.rand(1, 3, 16, 16, generator=g)
    sel = torch.ones_like(ref, dtype=torch.bool)
    assert metrics.fit_scale(ref / 7, ref, sel) == pytest.approx(7.0, rel=1e-6)
    # symmetric multiplicative errors of +-1 stop cancel in the log domain
    est = ref / 7
    est[..., ::2, :] *= 2
    est[..., 1::2, :] /= 2
    assert metrics.fit_scale(est, ref, sel) == pytest.approx(7.0, rel=1e-6)
    # unselected pixels do not count
    est = ref / 7
    est[..., 0, 0] = 1e6
    sel[..., 0, 0] = False
    assert metrics.fit_scale(est, ref, sel) == pytest.approx(7.0, rel=1e-6)
    assert metrics.fit_scale(est, ref, torch.zeros_like(sel)) == 1.0


def test_clipped_region_exact_box() -> None:
    ldr = torch.zeros(1, 3, 20, 20)
    ldr[..., 8:10, 8:10] = 1.0
    region = metrics.clipped_region(ldr)  # saturation mask (1 px dilation) + 4 px
    expected = torch.zeros(1, 1, 20, 20, dtype=torch.bool)
    d = 1 + metrics.REGION_DILATE
    expected[..., 8 - d:10 + d, 8 - d:10 + d] = True
    assert torch.equal(region, expected)
    # the threshold: code 244 is well exposed, code 245 starts the saturation ramp (any channel)
    ldr = torch.zeros(1, 3, 12, 12)
    ldr[0, 1, 2, 2] = 244 / 255
    assert not metrics.clipped_region(ldr, dilate=0).any()
    ldr[0, 2, 2, 2] = 245 / 255
    r = metrics.clipped_region(ldr, dilate=0)
    assert int(r.sum()) == 9 and bool(r[0, 0, 1:4, 1:4].all())


def test_fit_pixels_excludes_region_and_dark() -> None:
    lin = torch.full((1, 3, 4, 4), 0.5)
    lin[0, 0, 0, 0] = 1e-4
    region = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    region[..., 3, 3] = True
    sel = metrics.fit_pixels(lin, region)
    assert sel.shape == lin.shape
    assert not sel[0, 0, 0, 0] and sel[0, 1, 0, 0]
    assert not sel[..., 3, 3].any()
    assert int(sel.sum()) == 3 * 16 - 3 - 1


# --------------------------------------------------------------------------- lights kept bright


def test_lights_kept_known_values() -> None:
    gt = img(4, 4, value=0.5)
    gt[0, 0, 0, :] = 8.0  # four lights, one channel at 8x the clip level is enough
    gt[0, 2, 1, 0] = 7.9  # just below 8x: not a light
    est = img(4, 4, value=0.5)
    est[0, 1, 0, 0:3] = 4.0  # three of the four predicted at 4x (in another channel: largest channel)
    est[0, 0, 0, 3] = 3.99
    assert metrics.lights_kept(est, gt) == pytest.approx(0.75)
    assert metrics.lights_kept(gt, gt) == 1.0
    assert metrics.lights_kept(gt.clamp(max=1.0), gt) == 0.0  # naive: capped at the clip level
    region = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    region[..., 0, 2:] = True  # lights 2 (kept) and 3 (not)
    assert metrics.lights_kept(est, gt, region) == pytest.approx(0.5)
    assert math.isnan(metrics.lights_kept(est, img(4, 4, value=7.0)))
    assert metrics.lights_kept(est, gt, true_factor=0.4, pred_factor=0.5) == pytest.approx(1.0)


def test_false_lights_known_values() -> None:
    gt = img(4, 4, value=0.5)
    gt[0, 1, 0, :] = 1.2  # four surfaces barely above the clip (largest channel)
    gt[0, 0, 1, 0] = 1.6  # above 1.5x: not counted
    gt[0, 0, 1, 1] = 1.0  # at the clip level, not above it: not counted
    est = gt.clone()
    est[0, 2, 0, 0:2] = 3.0  # two of the four made at least 3x (in another channel: largest channel)
    est[0, 0, 0, 2] = 2.99
    est[0, 0, 1, 0:2] = 5.0  # the uncounted pixels may be anything
    assert metrics.false_lights(est, gt) == pytest.approx(0.5)
    assert metrics.false_lights(gt, gt) == 0.0
    assert metrics.false_lights(gt.clamp(max=1.0), gt) == 0.0  # naive
    region = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    region[..., 0, 1:3] = True  # surfaces 1 (too bright) and 2 (not)
    assert metrics.false_lights(est, gt, region) == pytest.approx(0.5)
    assert math.isnan(metrics.false_lights(est, img(4, 4, value=0.5)))
    assert metrics.false_lights(est, gt, true_max=1.7, pred_factor=2.0) == pytest.approx(4 / 5)  # 1.6 counts now
