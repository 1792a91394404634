"""Optional ColorVideoVDP (Mantiuk et al., SIGGRAPH 2023) JOD scores through the ``cvvdp`` package.

Install (its plain install pulls torchvision and replaces torch; see docs/stack-notes)::

    pip install ffmpeg-python matplotlib einops PyEXR huggingface_hub imageio
    pip install --no-deps cvvdp==0.5.7

``pycvvdp`` imports ``torchvision.transforms.GaussianBlur``; torchvision does not work beside this
project's torch, so :func:`make_cvvdp` registers a small stand-in (same kernel, same reflect
padding; plus a ``torchvision.ops.MLP`` that refuses to be built, needed only by the ``cvvdp_ml``
variants) in ``sys.modules`` only while ``pycvvdp`` is imported, and removes it afterwards.

Images are compared as absolute linear BT.709 light on the ``standard_hdr_linear`` display (30",
4K, 1500 cd/m^2 peak, 10 lux): relative radiance is mapped with
:func:`reexposure.eval.pu21.to_nits` (the clip level at 100 cd/m^2), and the display clips at its
peak. JOD: 10 = indistinguishable from the reference, lower is worse.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .pu21 import NITS_AT_CLIP, to_nits

__all__ = ["CVVDPUnavailable", "GaussianBlur", "make_cvvdp", "INSTALL_HINT"]

INSTALL_HINT = ("pip install ffmpeg-python matplotlib einops PyEXR huggingface_hub imageio && "
                "pip install --no-deps cvvdp==0.5.7")


class CVVDPUnavailable(ValueError):
    """ColorVideoVDP cannot be used here (one-line message with the install hint)."""


class GaussianBlur(torch.nn.Module):
    """Stand-in for ``torchvision.transforms.GaussianBlur(kernel_size, sigma)`` on tensors: a
    separable Gaussian over the last two dimensions, kernel sampled at integer offsets
    ``-(k-1)/2 .. (k-1)/2`` and normalised, reflect padding (torchvision's tensor behaviour)."""

    def __init__(self, kernel_size: int | tuple[int, int], sigma: float | tuple[float, float] = (0.1, 2.0)) -> None:
        super().__init__()
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if isinstance(sigma, (int, float)):
            sg = (float(sigma), float(sigma))
        else:
            sg = (float(sigma[0]), float(sigma[0]))  # torchvision samples a range; cvvdp passes a number
        self.kernel_size, self.sigma = ks, sg

    @staticmethod
    def _kernel(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        half = (size - 1) * 0.5
        x = torch.linspace(-half, half, size, dtype=dtype, device=device)
        k = torch.exp(-0.5 * (x / sigma) ** 2)
        return k / k.sum()

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        shape = img.shape
        h, w = shape[-2], shape[-1]
        x = img.reshape(-1, 1, h, w)
        kx = self._kernel(self.kernel_size[0], self.sigma[0], x.dtype, x.device)
        ky = self._kernel(self.kernel_size[1], self.sigma[1], x.dtype, x.device)
        px, py = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        x = F.pad(x, (px, px, py, py), mode="reflect")
        x = F.conv2d(x, kx.view(1, 1, 1, -1))
        x = F.conv2d(x, ky.view(1, 1, -1, 1))
        return x.reshape(shape)


class _NoMLP(torch.nn.Module):
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise CVVDPUnavailable("the cvvdp_ml metrics need torchvision; use the plain cvvdp metric")


def _import_pycvvdp() -> types.ModuleType:
    try:
        return importlib.import_module("pycvvdp")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("torchvision"):
            raise
    tv = types.ModuleType("torchvision")
    tv.__path__ = []  # a package, so submodules import
    tr = types.ModuleType("torchvision.transforms")
    tr.GaussianBlur = GaussianBlur  # type: ignore[attr-defined]
    ops = types.ModuleType("torchvision.ops")
    ops.MLP = _NoMLP  # type: ignore[attr-defined]  # only the cvvdp_ml variants (not used) build one
    tv.transforms, tv.ops = tr, ops  # type: ignore[attr-defined]
    stubs = {"torchvision": tv, "torchvision.transforms": tr, "torchvision.ops": ops}
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        for name in [k for k in sys.modules if k == "pycvvdp" or k.startswith("pycvvdp.")]:
            del sys.modules[name]  # a half-imported package from the first attempt
        return importlib.import_module("pycvvdp")
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def make_cvvdp(display: str = "standard_hdr_linear",
               nits_at_clip: float = NITS_AT_CLIP) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """A function ``(estimate, reference) -> JOD`` for relative radiance maps (1,3,H,W).
    Raises :class:`CVVDPUnavailable` when ``cvvdp`` is not installed."""
    try:
        pycvvdp = _import_pycvvdp()
    except ImportError as exc:
        raise CVVDPUnavailable(f"ColorVideoVDP is not available ({exc}); install it with: {INSTALL_HINT}") from None
    metric = pycvvdp.cvvdp(display_name=display, quiet=True, device=torch.device("cpu"))

    def jod(estimate: torch.Tensor, reference: torch.Tensor) -> float:
        t = to_nits(estimate, nits_at_clip).float()[0]
        r = to_nits(reference, nits_at_clip).float()[0]
        with torch.no_grad():
            q, _ = metric.predict(t, r, dim_order="CHW")
        return float(q)

    return jod
