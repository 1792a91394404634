"""Reconstruction methods the harness compares, by name.

Every method turns an 8-bit photo (HxWx3 uint8, rendered with the CRF ``crf``) into relative
radiance ``(1, 3, H, W)`` float32 (1.0 = the photo's clip level) with :meth:`Method.radiance`, and
renders a re-exposed 8-bit image with :meth:`Method.render` (by default: the radiance exposed by
``ev`` stops, clipped, through the CRF, quantised to 8 bits). All methods are given the true CRF
(the evaluation isolates highlight reconstruction from CRF estimation).

Names (:func:`make_method`):

- ``naive``: inverse CRF; clipped pixels stay at the clip level (radiance <= 1).
- ``brightness``: what a brightness slider does: multiply the 8-bit values by the exposure factor,
  ``ldr * 2**ev`` clipped to [0, 1] (Pillow's ``ImageEnhance.Brightness``). It treats display
  values as if they were linear light, so its HDR estimate is the 8-bit image itself read as
  linear radiance. (A slider scaling by ``2**(ev/gamma)`` would be *identical* to ``naive`` for a
  power-law CRF, clipped pixels included, so it would not be a separate baseline.) Compared with
  ``naive`` it renders clipped pixels at ``2**ev`` instead of ``crf(2**ev)`` (0.25 instead of 0.5 at
  EV -2 with the square-root CRF), and mid-tones too dark by the same ratio.
- ``kovaleski``: the classical expand-map inverse tone-mapping operator of R. P. Kovaleski and
  M. M. Oliveira, "High-Quality Reverse Tone Mapping for a Wide Range of Exposures", SIBGRAPI 2014,
  doi:10.1109/SIBGRAPI.2014.29 (a refinement of the brightness enhancement function of Rempel et
  al., "Ldr2Hdr: on-the-fly reverse tone mapping of legacy video and photographs", SIGGRAPH 2007).
  See :class:`Kovaleski`.
- ``ours``: :class:`reexposure.core.infer.Reconstructor` with a weights file (default: the shipped model).
- ``expandnet``: a network loaded with :func:`reexposure.core.weights.load_generator` (the ExpandNet
  architecture of Marnerides et al., Eurographics 2018, trained by our own training code), run on
  the whole image (padded to its size multiple, if any) through ``model.radiance(lin, mask)``.

A spec ``NAME=PATH`` gives a model method its weights file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core import camera
from ..core.arrays import uint8_to_ldr
from ..core.camera import CRF, DEFAULT_CRF
from ..core.infer import Reconstructor, pad_to_multiple
from ..core.weights import load_generator

__all__ = ["Method", "Naive", "Brightness", "Kovaleski", "Ours", "ExpandNet", "METHOD_NAMES",
           "make_method", "parse_methods", "cross_bilateral_grid"]

METHOD_NAMES = ("naive", "brightness", "kovaleski", "ours", "expandnet")


_ldr = uint8_to_ldr


class Method:
    """A reconstruction method. Subclasses implement :meth:`radiance`."""

    name = "method"
    info: dict[str, str] = {}

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:  # pragma: no cover
        """Relative radiance (1,3,H,W) float32 of an HxWx3 uint8 photo."""
        raise NotImplementedError

    def render(self, radiance: torch.Tensor, ev: float, crf: CRF = DEFAULT_CRF,
               photo: np.ndarray | None = None) -> torch.Tensor:
        """The 8-bit rendition (1,3,H,W) in [0,1] at ``ev`` stops of this method's ``radiance``."""
        return camera.render_ldr(radiance, ev, crf, bits=8)


class Naive(Method):
    """Inverse CRF only; clipped pixels stay at the clip level."""

    name = "naive"

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        return crf.inverse(_ldr(photo))


class Brightness(Method):
    """A brightness slider: multiplies the 8-bit values by ``2**ev`` (see module docstring)."""

    name = "brightness"

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        return _ldr(photo)  # display values read as linear light

    def render(self, radiance: torch.Tensor, ev: float, crf: CRF = DEFAULT_CRF,
               photo: np.ndarray | None = None) -> torch.Tensor:
        if photo is None:
            raise ValueError("the brightness baseline renders from the photo itself")
        return camera.quantize((_ldr(photo) * 2.0**ev).clamp(0.0, 1.0))


def cross_bilateral_grid(value: torch.Tensor, guide: torch.Tensor, sigma_s: float, sigma_r: float) -> torch.Tensor:
    """Cross-bilateral filter of ``value`` (H,W) guided by ``guide`` (H,W, in [0,1]), approximated
    with a bilateral grid (Chen, Paris, Durand, SIGGRAPH 2007): trilinear splatting onto cells of
    ``sigma_s`` pixels x ``sigma_r`` guide units, a [1,4,6,4,1]/16 blur along each grid axis
    (about one cell of standard deviation), trilinear slicing, normalisation. Returns (H,W) float64."""
    h, w = value.shape
    v = value.double().reshape(-1)
    g = guide.double().clamp(0.0, 1.0).reshape(-1)
    pad = 2
    gh = int(math.ceil((h - 1) / sigma_s)) + 1 + 2 * pad
    gw = int(math.ceil((w - 1) / sigma_s)) + 1 + 2 * pad
    gd = int(math.ceil(1.0 / sigma_r)) + 1 + 2 * pad
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    cy = yy.reshape(-1) / sigma_s + pad
    cx = xx.reshape(-1) / sigma_s + pad
    cz = g / sigma_r + pad
    iy, ix, iz = cy.floor().long(), cx.floor().long(), cz.floor().long()
    fy, fx, fz = cy - iy, cx - ix, cz - iz
    data = torch.zeros(gh * gw * gd, dtype=torch.float64)
    weight = torch.zeros_like(data)
    for dy in (0, 1):
        wy = fy if dy else 1 - fy
        for dx in (0, 1):
            wx = fx if dx else 1 - fx
            for dz in (0, 1):
                wz = fz if dz else 1 - fz
                wt = wy * wx * wz
                idx = ((iy + dy) * gw + (ix + dx)) * gd + (iz + dz)
                data.index_add_(0, idx, wt * v)
                weight.index_add_(0, idx, wt)
    grid = torch.stack([data, weight]).reshape(1, 2, gh, gw, gd)
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16.0
    for axis in range(3):
        shape = [1, 1, 1]
        shape[axis] = 5
        kernel = k.reshape(1, 1, *shape).repeat(2, 1, 1, 1, 1)
        padding = [0, 0, 0]
        padding[axis] = 2
        grid = F.conv3d(grid, kernel, padding=tuple(padding), groups=2)
    # slice: grid_sample's (x, y, z) index the last, middle and first spatial dims (gd, gw, gh)
    norm = lambda c, n: c / (n - 1) * 2.0 - 1.0  # noqa: E731
    coords = torch.stack([norm(cz, gd), norm(cx, gw), norm(cy, gh)], dim=-1).reshape(1, 1, h, w, 3)
    out = F.grid_sample(grid, coords, mode="bilinear", padding_mode="border", align_corners=True)
    num, den = out[0, 0, 0], out[0, 1, 0]
    return num / den.clamp_min(1e-12)


class Kovaleski(Method):
    """Kovaleski & Oliveira 2014 expand map, in relative radiance.

    1. Saturated pixels: the largest channel above ``threshold`` (254/255, the paper's setting
       for still images) -> binary image ``S``.
    2. Expand map ``E`` in [0,1]: ``S`` cross-bilateral filtered with the luminance of the 8-bit
       photo as the edge-stopping guide (Rec. 709 weights on the display values), spatial sigma
       ``sigma_s`` (150 px for 1920-px-wide HD content in the paper; here scaled to the photo:
       ``150 * max(H, W) / 1920``) and range sigma ``sigma_r`` = 25/255, with a bilateral grid as in
       the paper.
    3. Radiance = ``lin * (1 + (alpha - 1) * E)`` with ``alpha = 4`` (the maximum boost, as in the
       paper's ``3E + 1`` map). The paper's affine display mapping (black level 0.3 cd/m^2, white
       1200 cd/m^2) is left out: this harness works in relative radiance, and the black offset
       would only lift the shadows.
    """

    name = "kovaleski"

    def __init__(self, threshold: float = 254.0 / 255.0, sigma_s_hd: float = 150.0,
                 sigma_r: float = 25.0 / 255.0, alpha: float = 4.0) -> None:
        self.threshold, self.sigma_s_hd, self.sigma_r, self.alpha = threshold, sigma_s_hd, sigma_r, alpha
        self.info = {"threshold": f"{threshold:.4f}", "sigma_s": f"{sigma_s_hd:g}*max(H,W)/1920",
                     "sigma_r": f"{sigma_r:.4f}", "alpha": f"{alpha:g}"}

    def expand_map(self, photo: np.ndarray) -> torch.Tensor:
        """The expand map ``E`` (1,1,H,W) float32 in [0,1]."""
        ldr = _ldr(photo)
        sat = (ldr.amax(dim=1)[0] > self.threshold).double()
        if not bool(sat.any()):
            return torch.zeros(1, 1, *ldr.shape[2:])
        luma = (0.2126 * ldr[0, 0] + 0.7152 * ldr[0, 1] + 0.0722 * ldr[0, 2]).double()
        sigma_s = max(1.0, self.sigma_s_hd * max(ldr.shape[2:]) / 1920.0)
        e = cross_bilateral_grid(sat, luma, sigma_s, self.sigma_r).clamp(0.0, 1.0)
        return e.float()[None, None]

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        lin = crf.inverse(_ldr(photo))
        return lin * (1.0 + (self.alpha - 1.0) * self.expand_map(photo))


class Ours(Method):
    """This project's model through :class:`reexposure.core.infer.Reconstructor` (tiled inference)."""

    name = "ours"

    def __init__(self, model: object = None, crf: CRF = DEFAULT_CRF, threads: int | None = None,
                 name: str = "ours") -> None:
        self.name = name
        self.rec = Reconstructor(model, crf=crf, threads=threads)  # type: ignore[arg-type]
        self.info = {k: str(v) for k, v in self.rec.info.items() if k != "config" and len(str(v)) < 200}

    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        self.rec.crf = crf
        return self.rec(photo).to_tensor()


class ExpandNet(Method):
    """A network loaded with :func:`reexposure.core.weights.load_generator`, run in one pass on the
    whole image, padded (reflect) to the multiple its config asks for (16 if it names none)."""

    name = "expandnet"
    multiple = 16

    def __init__(self, path: str | Path | torch.nn.Module, name: str = "expandnet") -> None:
        self.name = name
        self.model: Any
        if isinstance(path, torch.nn.Module):  # a network in memory (training validation)
            self.model, meta = path.eval(), {"path": "<in memory>"}
        else:
            self.model, meta = load_generator(path)
        self.info = {k: str(v) for k, v in meta.items() if k != "config" and len(str(v)) < 200}
        cfg = getattr(self.model, "config", None)
        # the network's own size multiple (ExpandNet takes any size: 1); 16 if it does not say
        self.multiple = max(1, int(getattr(cfg, "multiple", 16) or 16))

    @torch.inference_mode()
    def radiance(self, photo: np.ndarray, crf: CRF = DEFAULT_CRF) -> torch.Tensor:
        ldr = _ldr(photo)
        lin = crf.inverse(ldr)
        mask = camera.saturation_mask(ldr)

        h, w = lin.shape[2:]
        lin, mask = pad_to_multiple(self.multiple, lin, mask)
        return self.model.radiance(lin, mask)[:, :, :h, :w].float().contiguous()


def make_method(spec: str, model: str | None = None, crf: CRF = DEFAULT_CRF,
                threads: int | None = None) -> Method:
    """A method from ``NAME`` or ``NAME=PATH`` (PATH: weights file of a model method; ``model`` is
    the fallback). Raises ``ValueError`` (or :class:`reexposure.core.weights.ModelError`) with a
    one-line message."""
    name, _, given = spec.strip().partition("=")
    name = name.strip().lower()
    path = given.strip() or model
    if name == "naive":
        return Naive()
    if name == "brightness":
        return Brightness()
    if name in ("kovaleski", "ko14", "itmo"):
        return Kovaleski()
    if name == "ours":
        return Ours(path, crf=crf, threads=threads)
    if name == "expandnet":
        if not path:
            raise ValueError("the expandnet baseline needs its weights: --model PATH or expandnet=PATH")
        return ExpandNet(path)
    raise ValueError(f"unknown method {name!r} (use {', '.join(METHOD_NAMES)})")


def parse_methods(specs: str) -> list[str]:
    """Split a comma-separated method list, dropping blanks and duplicates (order kept)."""
    out: list[str] = []
    for s in specs.split(","):
        s = s.strip()
        if s and s not in out:
            out.append(s)
    if not out:
        raise ValueError("no method given (e.g. --method naive,brightness,ours)")
    return out
