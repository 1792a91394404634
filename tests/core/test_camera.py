"""Camera model: known values and round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reexposure.core import camera
from reexposure.core.camera import SRGBCRF, GammaCRF, TabulatedCRF


def test_sqrt_crf_known_values():
    crf = camera.DEFAULT_CRF
    x = torch.tensor([0.0, 0.25, 0.5, 1.0])
    assert torch.allclose(crf(x), torch.tensor([0.0, 0.5, 0.5**0.5, 1.0]))
    assert torch.allclose(crf.invert(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([0.0, 0.25, 1.0]))


def test_srgb_known_values():
    crf = SRGBCRF()
    # IEC 61966-2-1: linear 0.0031308 -> 0.04045; 0.18 -> ~0.4614; 1 -> 1
    out = crf(torch.tensor([0.0031308, 0.18, 1.0]))
    assert torch.allclose(out, torch.tensor([0.040449936, 0.46135613, 1.0]), atol=1e-5)


@pytest.mark.parametrize("crf", [GammaCRF(2.0), GammaCRF(1.8), GammaCRF(2.6), SRGBCRF(), GammaCRF(1.0)])
def test_crf_round_trip(crf):
    x = torch.linspace(0, 1, 1001)
    assert torch.allclose(crf.invert(crf(x)), x, atol=2e-5)
    y = crf(x)
    assert bool((y[1:] >= y[:-1]).all()), "CRF must be monotonic"


def test_tabulated_crf_monotone_inverse_of_non_monotone_samples():
    # a measured curve with a flat end and a small dip: made monotone, exactly invertible
    lin = np.linspace(0, 1, 11)
    ldr = np.array([0, .3, .5, .62, .7, .69, .8, .9, .97, 1, 1])
    crf = TabulatedCRF(tuple(lin), tuple(ldr))
    x = torch.linspace(0, 1, 501, dtype=torch.float64)
    y = crf.forward(x)
    assert bool((y[1:] > y[:-1]).all())
    assert torch.allclose(crf.inverse(y), x, atol=1e-6)
    assert float(crf.forward(torch.tensor(0.0))) == 0.0 and abs(float(crf.forward(torch.tensor(1.0))) - 1) < 1e-9


def test_emor_mean_curve(shared):
    crf = camera.crf_from_name(f"emor:{shared / 'data' / 'crf' / 'emor.txt'}")
    x = torch.linspace(0, 1, 257)
    y = crf(x)
    assert bool((y[1:] > y[:-1]).all())
    assert 0.3 < float(crf(torch.tensor(0.18))) < 0.6  # real cameras lift mid-grey well above 0.18
    assert torch.allclose(crf.invert(y), x, atol=1e-4)
    emor = camera.load_emor(shared / "data" / "crf" / "emor.txt")
    assert emor.h.shape == (25, 1024)
    rnd = emor.sample(np.random.default_rng(0))
    assert torch.allclose(rnd.invert(rnd(x)), x, atol=1e-4)


def test_bad_crf_names(tmp_path):
    for bad in ["cubic", "gammaX", "emor:/nonexistent/file.txt"]:
        with pytest.raises(ValueError):
            camera.crf_from_name(bad)
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world")
    with pytest.raises(ValueError, match="not an EMoR file"):
        camera.load_emor(junk)


def test_render_and_linearize():
    radiance = torch.tensor([[[[0.0, 0.25, 1.0, 8.0]]]]).expand(1, 3, 1, 4)
    ldr = camera.render_ldr(radiance, ev=0)
    assert torch.allclose(ldr[0, 0, 0], torch.tensor([0.0, 128 / 255, 1.0, 1.0]))
    dark = camera.render_ldr(radiance, ev=-3)  # 8.0 * 2^-3 = 1.0 -> exactly at the clip
    assert float(dark[0, 0, 0, 3]) == 1.0 and float(dark[0, 0, 0, 2]) < 1.0
    lin = camera.linearize(ldr)
    assert torch.allclose(lin[0, 0, 0, :3], torch.tensor([0.0, (128 / 255) ** 2, 1.0]))


def test_quantize_and_numpy_compat():
    x = np.array([0.0, 0.5, 0.998, 1.2], dtype=np.float32)
    q = camera.quantize(x)
    assert isinstance(q, np.ndarray)
    assert np.allclose(q * 255, [0, 128, 254, 255])
    assert np.allclose(camera.expose(np.ones(2, np.float32), -2), 0.25)
    t = torch.tensor([0.3], requires_grad=True)
    camera.quantize(t).sum().backward()
    assert float(t.grad) == 1.0  # straight-through


def test_saturation_mask_ramp_and_dilation():
    ldr = torch.zeros(1, 3, 7, 7)
    ldr[0, 1, 3, 3] = 1.0  # one clipped channel is enough
    ldr[0, :, 0, 0] = 0.9775  # halfway along the 0.96..0.995 ramp
    m = camera.saturation_mask(ldr, dilate=0)
    assert m.shape == (1, 1, 7, 7)
    assert float(m[0, 0, 3, 3]) == 1.0 and float(m[0, 0, 2, 3]) == 0.0
    assert abs(float(m[0, 0, 0, 0]) - 0.5) < 1e-3
    md = camera.saturation_mask(ldr, dilate=1)
    assert float(md[0, 0, 2, 2]) == 1.0 and float(md[0, 0, 1, 3]) == 0.0
    assert float(camera.saturation_mask(torch.full((1, 3, 4, 4), 244 / 255)).max()) == 0.0  # code 244 is below the ramp
    assert float(camera.saturation_mask(torch.full((1, 3, 4, 4), 254 / 255)).max()) == 1.0
    with pytest.raises(ValueError):
        camera.saturation_mask(torch.zeros(3, 4, 4))


def test_saturation_mask_per_channel():
    ldr = torch.full((1, 3, 5, 5), 0.5)
    ldr[0, 0, 2, 2] = 1.0  # only red clipped
    m = camera.saturation_mask(ldr, per_channel=True, dilate=0)
    assert m.shape == (1, 3, 5, 5)
    assert float(m[0, 0, 2, 2]) == 1.0 and float(m[0, 1:, 2, 2].max()) == 0.0
    assert torch.equal(m.amax(dim=1, keepdim=True), camera.saturation_mask(ldr, dilate=0))
