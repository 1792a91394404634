"""Camera model: scene radiance -> exposure -> clip -> CRF -> 8-bit quantisation, and back.

All functions are pure and differentiable where that makes sense. They take ``torch.Tensor``
(any shape; images are ``(B, C, H, W)`` float32) and, for convenience, ``numpy`` arrays (the
result is then a numpy array of the same dtype family).

Names say the space a value lives in:

- ``radiance``: linear relative scene radiance, >= 0, unbounded (1.0 = the clip level at EV 0);
- ``lin``: a linearised photo, linear, in [0, 1] (what the sensor recorded after clipping);
- ``ldr``: display-referred photo values in [0, 1] (an 8-bit photo divided by 255);
- ``mask``: ``(B, 1, H, W)`` in [0, 1], 1 = saturated (clipped) pixel.

The default camera response function (CRF) is the square-root curve ``ldr = lin ** (1/2)`` used
by the method this project implements; its inverse squares.

References
----------
- Grossberg, M. D., Nayar, S. K. "What is the space of camera response functions?" CVPR 2003
  (the EMoR model read by :func:`load_emor`).
- IEC 61966-2-1:1999 (sRGB transfer function).
- Santos, M. S., Ren, T. I., Kalantari, N. K. "Single image HDR reconstruction using a CNN with
  masked features and perceptual loss." SIGGRAPH 2020 (soft saturation mask ramp).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union, cast

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CRF",
    "GammaCRF",
    "SRGBCRF",
    "TabulatedCRF",
    "DEFAULT_CRF",
    "crf_from_name",
    "load_emor",
    "emor_crf",
    "expose",
    "clip",
    "quantize",
    "render_ldr",
    "linearize",
    "saturation_mask",
    "MASK_LOW",
    "MASK_HIGH",
]

ArrayOrTensor = Union[torch.Tensor, np.ndarray]
#: a tensor or an array: functions typed with it return what they were given
AT = TypeVar("AT", torch.Tensor, np.ndarray)

#: Saturation mask ramp: LDR values (max over channels) below MASK_LOW count as well exposed (0),
#: above MASK_HIGH as clipped (1), linear in between. Narrow on purpose: a wide ramp lets the model
#: change pixels that were recorded correctly (see docs/design-notes.md).
MASK_LOW = 0.96
MASK_HIGH = 0.995
#: 8-bit code at or above which a pixel counts as clipped: where the saturation mask reaches 1 (254)
CLIP_CODE = round(MASK_HIGH * 255)


def _as_tensor(x: ArrayOrTensor) -> tuple[torch.Tensor, bool]:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.asarray(x, dtype=np.float32)), True
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor or numpy array, got {type(x).__name__}")
    return x, False


def _back(x: torch.Tensor, was_numpy: bool) -> ArrayOrTensor:
    return x.detach().cpu().numpy() if was_numpy else x


def _array_compat(fn: Callable[..., torch.Tensor]) -> Callable[..., Any]:
    """Let a tensor function accept and return numpy arrays too."""

    def wrapper(x: ArrayOrTensor, *args: Any, **kwargs: Any) -> ArrayOrTensor:
        t, was_numpy = _as_tensor(x)
        return _back(fn(t, *args, **kwargs), was_numpy)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


# --------------------------------------------------------------------------- CRFs


class CRF:
    """A camera response function: maps linear ``lin`` in [0, 1] to display ``ldr`` in [0, 1].

    Subclasses implement :meth:`forward` and :meth:`inverse` on tensors; both are monotonic and
    map 0 -> 0 and 1 -> 1. Calling a CRF applies it (inputs are clamped to [0, 1] first).
    """

    name: str = "crf"

    def forward(self, lin: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, ldr: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, lin: AT) -> AT:
        t, was_numpy = _as_tensor(lin)
        return cast(AT, _back(self.forward(t.clamp(0.0, 1.0)), was_numpy))

    def invert(self, ldr: AT) -> AT:
        """Apply the inverse CRF: display ``ldr`` in [0, 1] -> linear ``lin`` in [0, 1]."""
        t, was_numpy = _as_tensor(ldr)
        return cast(AT, _back(self.inverse(t.clamp(0.0, 1.0)), was_numpy))

    def inverse_table(self) -> torch.Tensor:
        """The inverse CRF at the 256 8-bit codes: (256,) float32 linear values in [0, 1], the
        look-up table that linearises an 8-bit photo."""
        return self.inverse(torch.arange(256, dtype=torch.float32) / 255.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


@dataclass(frozen=True, repr=False)
class GammaCRF(CRF):
    """Gamma curve ``ldr = lin ** (1/gamma)``. ``gamma=2`` is the square-root curve (default)."""

    gamma: float = 2.0

    def __post_init__(self) -> None:
        if not (0.1 <= self.gamma <= 10.0):
            raise ValueError(f"gamma must be in [0.1, 10], got {self.gamma}")

    @property
    def name(self) -> str:  # type: ignore[override]
        return "sqrt" if self.gamma == 2.0 else f"gamma{self.gamma:g}"

    def forward(self, lin: torch.Tensor) -> torch.Tensor:
        if self.gamma == 2.0:
            # sqrt has an infinite slope at 0: keep gradients finite.
            return torch.sqrt(lin.clamp_min(1e-12)) * (lin > 0)
        return lin.clamp_min(1e-12) ** (1.0 / self.gamma) * (lin > 0)

    def inverse(self, ldr: torch.Tensor) -> torch.Tensor:
        return ldr**self.gamma


def srgb_encode(lin: AT) -> AT:
    """The sRGB transfer function (IEC 61966-2-1): linear light -> display value, both in [0, 1],
    linear segment below 0.0031308. numpy or torch, any shape; the one definition in the package."""
    if isinstance(lin, torch.Tensor):
        return torch.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(np.maximum(lin, 0.0031308), 1 / 2.4) - 0.055)


def srgb_decode(v: AT) -> AT:
    """Inverse of :func:`srgb_encode`: display value -> linear light (numpy or torch, any shape)."""
    if isinstance(v, torch.Tensor):
        return torch.where(v <= 0.04045, v / 12.92, ((v.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)
    return np.where(v <= 0.04045, v / 12.92, np.power((np.maximum(v, 0.04045) + 0.055) / 1.055, 2.4))


class SRGBCRF(CRF):
    """The sRGB transfer function (IEC 61966-2-1, :func:`srgb_encode`)."""

    name = "srgb"

    def forward(self, lin: torch.Tensor) -> torch.Tensor:
        return srgb_encode(lin)

    def inverse(self, ldr: torch.Tensor) -> torch.Tensor:
        return srgb_decode(ldr)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of ``fp(xp)`` at ``x`` (xp increasing), differentiable in x."""
    xp = xp.to(x.dtype)
    fp = fp.to(x.dtype)
    flat = x.reshape(-1).clamp(float(xp[0]), float(xp[-1]))
    idx = torch.searchsorted(xp, flat.detach().contiguous(), right=True).clamp(1, len(xp) - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    y0, y1 = fp[idx - 1], fp[idx]
    t = (flat - x0) / (x1 - x0).clamp_min(1e-12)
    return (y0 + t * (y1 - y0)).reshape(x.shape)


@dataclass(frozen=True, repr=False)
class TabulatedCRF(CRF):
    """A CRF given as samples ``ldr = f(lin)`` on a grid, e.g. a measured camera curve.

    The samples are made strictly increasing (a running maximum plus a tiny slope, which
    measured curves with flat ends need to be invertible), pinned to f(0)=0 and f(1)=1, and
    interpolated piecewise linearly both ways, so :meth:`inverse` is the exact inverse of
    :meth:`forward` on [0, 1].
    """

    lin_samples: tuple[float, ...] = field(default=())
    ldr_samples: tuple[float, ...] = field(default=())
    label: str = "tabulated"

    def __post_init__(self) -> None:
        x = np.asarray(self.lin_samples, dtype=np.float64)
        y = np.asarray(self.ldr_samples, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
            raise ValueError("a tabulated CRF needs two equal-length 1-D sample lists (>= 2 points)")
        if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
            raise ValueError("CRF samples must be finite")
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        x = (x - x[0]) / max(x[-1] - x[0], 1e-12)
        y = np.clip(y, 0.0, 1.0)
        y = np.maximum.accumulate(y)
        y = (y - y[0]) / max(y[-1] - y[0], 1e-12)
        n = len(y)
        y = (y + 1e-6 * np.linspace(0.0, 1.0, n)) / (1.0 + 1e-6)  # strictly increasing
        keep = np.concatenate([[True], np.diff(x) > 0])
        object.__setattr__(self, "_x", torch.tensor(x[keep], dtype=torch.float64))
        object.__setattr__(self, "_y", torch.tensor(y[keep], dtype=torch.float64))

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.label

    def forward(self, lin: torch.Tensor) -> torch.Tensor:
        return _interp(lin, self._x, self._y)  # type: ignore[attr-defined]

    def inverse(self, ldr: torch.Tensor) -> torch.Tensor:
        return _interp(ldr, self._y, self._x)  # type: ignore[attr-defined]


DEFAULT_CRF: CRF = GammaCRF(2.0)


@dataclass(frozen=True)
class EMoR:
    """The EMoR model of camera response functions: ``f = f0 + sum_i c_i h_i`` on grid ``E``.

    Attributes are numpy arrays: ``E`` (N,), ``f0`` (N,), ``h`` (K, N).
    """

    E: np.ndarray
    f0: np.ndarray
    h: np.ndarray

    def curve(self, coefficients: np.ndarray | None = None, label: str = "emor") -> TabulatedCRF:
        """The CRF for the given coefficients (``None`` = the mean curve f0)."""
        f = self.f0.copy()
        if coefficients is not None:
            c = np.asarray(coefficients, dtype=np.float64)
            f = f + c @ self.h[: len(c)]
        return TabulatedCRF(tuple(self.E.tolist()), tuple(f.tolist()), label)

    def sample(self, rng: np.random.Generator, n_coeffs: int = 5, scale: float = 1.0) -> TabulatedCRF:
        """A random realistic camera curve: the first ``n_coeffs`` coefficients drawn from a
        normal distribution whose spread follows the usual EMoR PCA variances (decreasing)."""
        sigma = scale * np.array([1.0, 0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03])[:n_coeffs]
        return self.curve(rng.normal(0.0, sigma), label="emor-random")


def load_emor(path: str | Path) -> EMoR:
    """Read an EMoR file (``emor.txt`` of Grossberg & Nayar 2003: blocks ``E =``, ``f0 =``,
    ``h(1)=`` ... of whitespace-separated numbers). Raises ``ValueError`` on a malformed file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read CRF file {path}: {exc.strerror or exc}") from None
    blocks: dict[str, list[float]] = {}
    key: str | None = None
    for line in text.splitlines():
        if "=" in line:
            key = line.split("=")[0].strip()
            blocks[key] = []
            rest = line.split("=", 1)[1]
            line = rest
        if key is None:
            continue
        for tok in line.split():
            try:
                blocks[key].append(float(tok))
            except ValueError:
                raise ValueError(f"{path}: not an EMoR file (bad number {tok!r})") from None
    if "E" not in blocks or "f0" not in blocks:
        raise ValueError(f"{path}: not an EMoR file (needs 'E =' and 'f0 =' blocks)")
    E = np.asarray(blocks["E"])
    f0 = np.asarray(blocks["f0"])
    hs = [np.asarray(blocks[k]) for k in sorted((k for k in blocks if k.startswith("h(")),
                                                 key=lambda k: int(k[2:-1]))]
    if len(E) != len(f0) or any(len(h) != len(E) for h in hs) or len(E) < 2:
        raise ValueError(f"{path}: EMoR blocks have inconsistent lengths")
    h = np.stack(hs) if hs else np.zeros((0, len(E)))
    return EMoR(E, f0, h)


def emor_crf(path: str | Path) -> TabulatedCRF:
    """The mean measured camera curve (f0) of an EMoR file, as a :class:`TabulatedCRF`."""
    return load_emor(path).curve(label=f"emor:{Path(path).name}")


def crf_from_name(name: str) -> CRF:
    """Parse a CRF spec: ``sqrt`` (default), ``srgb``, ``gammaG`` (e.g. ``gamma2.2``), ``linear``,
    or ``emor:PATH`` (mean curve of an EMoR file). Raises ``ValueError`` for anything else."""
    spec = name.strip()
    low = spec.lower()
    if low in ("sqrt", "default", "gamma2", "gamma2.0"):
        return DEFAULT_CRF
    if low == "srgb":
        return SRGBCRF()
    if low == "linear":
        return GammaCRF(1.0)
    if low.startswith("gamma"):
        try:
            return GammaCRF(float(low[5:]))
        except ValueError:
            raise ValueError(f"bad CRF {name!r}: expected e.g. gamma2.2") from None
    if low.startswith("emor:"):
        return emor_crf(spec[5:])
    raise ValueError(f"unknown CRF {name!r} (use sqrt, srgb, gammaG, linear or emor:PATH)")


# --------------------------------------------------------------------------- pipeline


@_array_compat
def expose(radiance: torch.Tensor, ev: float) -> torch.Tensor:
    """Scale relative radiance by ``2**ev`` (EV in stops; +1 doubles the light)."""
    return radiance * (2.0**ev)


@_array_compat
def clip(radiance: torch.Tensor) -> torch.Tensor:
    """Sensor saturation: clamp to [0, 1] (1.0 is the clip level)."""
    return radiance.clamp(0.0, 1.0)


@_array_compat
def quantize(ldr: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Round display values in [0, 1] to ``bits``-bit code values, returned in [0, 1].

    Gradients pass straight through (straight-through estimator)."""
    levels = float(2**bits - 1)
    q = torch.round(ldr.clamp(0.0, 1.0) * levels) / levels
    return ldr + (q - ldr).detach() if ldr.requires_grad else q


def render_ldr(radiance: AT, ev: float = 0.0, crf: CRF = DEFAULT_CRF, bits: int | None = 8) -> AT:
    """Photograph relative radiance: expose by ``ev`` stops, clip to [0, 1], apply the CRF and
    quantise to ``bits`` (``None``: no quantisation). Returns ``ldr`` in [0, 1]."""
    t, was_numpy = _as_tensor(radiance)
    ldr = crf.forward((t * (2.0**ev)).clamp(0.0, 1.0))
    if bits is not None:
        ldr = quantize(ldr, bits)
    return cast(AT, _back(ldr, was_numpy))


def linearize(ldr: AT, crf: CRF = DEFAULT_CRF) -> AT:
    """Inverse CRF: ``ldr`` in [0, 1] -> linear ``lin`` in [0, 1] (the naive radiance estimate)."""
    return crf.invert(ldr)


def clipped_share(photo: np.ndarray, level: int = CLIP_CODE) -> float:
    """Share of pixels in [0, 1] whose brightest channel is at or above ``level`` (8-bit code;
    default :data:`CLIP_CODE`) in an HxWx3 uint8 photo: the "% clipped" that every report prints.
    Banded, so no full-size temporary."""
    h, w = photo.shape[:2]
    if h * w == 0:
        return 0.0
    step = max(1, (1 << 20) // max(1, w))
    return sum(int((photo[y:y + step].max(axis=2) >= level).sum()) for y in range(0, h, step)) / (h * w)


def saturation_mask(ldr: AT, low: float = MASK_LOW, high: float = MASK_HIGH,
                    dilate: int = 1, per_channel: bool = False) -> AT:
    """Soft mask of saturated pixels, ``(B, 1, H, W)`` in [0, 1] from ``ldr`` ``(B, C, H, W)``
    (``(B, C, H, W)`` with ``per_channel=True``: one ramp per channel, so that the channels of a
    partly saturated pixel that were recorded correctly can be kept exactly).

    Per pixel, the maximum over channels goes through a linear ramp: 0 at or below ``low``,
    1 at or above ``high`` (display values, i.e. 8-bit code / 255; with the defaults 0.96 and
    0.995, codes up to 244 give 0 and codes 254 and 255 give 1). A pixel with any channel at the
    clip level has lost information, so the maximum is the right statistic. The ramp is then
    dilated by a ``(2*dilate+1)`` square max filter so that the band just outside a clipped region,
    where demosaicing and JPEG blur the edge, counts as uncertain too. Input must be NCHW (see
    :func:`reexposure.core.arrays.to_tensor`).
    """
    t, was_numpy = _as_tensor(ldr)
    if t.ndim != 4:
        raise ValueError(f"saturation_mask expects (B, C, H, W), got shape {tuple(t.shape)}")
    peak = t if per_channel else t.amax(dim=1, keepdim=True)
    mask = ((peak - low) / (high - low)).clamp(0.0, 1.0)
    if dilate > 0:
        k = 2 * dilate + 1
        mask = F.max_pool2d(mask, kernel_size=k, stride=1, padding=dilate)
    return cast(AT, _back(mask, was_numpy))

