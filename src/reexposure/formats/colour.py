"""Colour management of photos: ICC profiles (LittleCMS through Pillow for 8-bit, own matrix/TRC
maths for 16-bit) and conversions to and from sRGB."""

from __future__ import annotations

import functools
import io as _bio
import struct
from dataclasses import dataclass

import numpy as np
from PIL import ImageCms

from ..core.camera import srgb_decode, srgb_encode

__all__: list[str] = []


# --------------------------------------------------------------------------------------------
# ICC helpers (LittleCMS through Pillow for 8-bit; own matrix/TRC maths for 16-bit)
# --------------------------------------------------------------------------------------------

_SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SRGB_ICC = _SRGB_PROFILE.tobytes()
_INTENT = ImageCms.Intent.PERCEPTUAL  # matrix/TRC profiles fall back to colorimetric


def _icc_colorspace(icc: bytes) -> str:
    """ICC header data colour space: "RGB", "GRAY", "CMYK", "Lab", ... ("" if not a profile)."""
    if len(icc) < 128 or icc[36:40] != b"acsp":
        return ""
    return icc[16:20].decode("latin-1").strip()


@functools.lru_cache(maxsize=16)
def _cms_profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(_bio.BytesIO(icc))


@functools.lru_cache(maxsize=32)
def _cms_transform(icc: bytes, in_mode: str, to_srgb: bool) -> ImageCms.ImageCmsTransform:
    src, dst = (_cms_profile(icc), _SRGB_PROFILE) if to_srgb else (_SRGB_PROFILE, _cms_profile(icc))
    out_mode = "RGB" if to_srgb else in_mode
    in_m = in_mode if to_srgb else "RGB"
    # NOCACHE: LittleCMS's one-pixel cache is not thread safe; transforms are shared.
    return ImageCms.buildTransform(src, dst, in_m, out_mode, _INTENT, flags=ImageCms.Flags.NOCACHE)


@functools.lru_cache(maxsize=16)
def _is_srgb(icc: bytes) -> bool:
    """True when ``icc`` is an sRGB profile (by name, or by matrix/TRC equal to sRGB's)."""
    if _icc_colorspace(icc) != "RGB":
        return False
    try:
        desc = ImageCms.getProfileDescription(_cms_profile(icc)) or ""
    except Exception:  # noqa: BLE001 - unusable profiles are simply "not sRGB"
        return False
    if "srgb" in desc.lower().replace(" ", ""):
        return True
    shaper, ref = _parse_shaper(icc), _parse_shaper(_SRGB_ICC)
    if shaper is None or ref is None or shaper.matrix is None or ref.matrix is None:
        return False
    x = np.linspace(0, 1, 64)
    return bool(
        np.allclose(shaper.matrix, ref.matrix, atol=2e-3)
        and all(np.allclose(c(x), ref.curves[0](x), atol=2e-3) for c in shaper.curves)
    )


class _Curve:
    """An ICC tone curve (``curv`` or ``para``) as a vectorised function on [0, 1]."""

    def __init__(self, kind: str, params: np.ndarray):
        self.kind, self.params = kind, params

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
        k, p = self.kind, self.params
        if k == "identity":
            return x
        if k == "gamma":
            return x ** p[0]
        if k == "table":
            return np.interp(x, np.linspace(0.0, 1.0, p.size), p)
        g, a, b, c, d, e, f = (list(p) + [0.0] * 7)[:7]
        if k == "para0":
            return x**g
        with np.errstate(invalid="ignore", divide="ignore"):
            base = np.maximum(a * x + b, 0.0) ** g
            if k == "para1":
                return np.where(x >= -b / a, base, 0.0)
            if k == "para2":
                return np.where(x >= -b / a, base + c, c)
            if k == "para3":
                return np.where(x >= d, base, c * x)
            return np.where(x >= d, base + e, c * x + f)  # para4

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Numerical inverse on [0, 1] (monotone interpolation of a dense table)."""
        xs = np.linspace(0.0, 1.0, 65536)
        ys = np.maximum.accumulate(self(xs))
        return np.interp(np.clip(y, 0.0, 1.0), ys, xs)


@dataclass(frozen=True)
class _Shaper:
    colorspace: str  # "RGB" or "GRAY"
    matrix: np.ndarray | None  # 3x3, device-linear RGB -> PCS XYZ (D50); None for gray
    curves: tuple[_Curve, ...]


def _parse_curve(data: bytes) -> _Curve | None:
    sig = data[:4]
    if sig == b"curv":
        n = struct.unpack(">I", data[8:12])[0]
        if n == 0:
            return _Curve("identity", np.zeros(0))
        if n == 1:
            return _Curve("gamma", np.array([struct.unpack(">H", data[12:14])[0] / 256.0]))
        table = np.frombuffer(data, ">u2", n, 12).astype(np.float64) / 65535.0
        return _Curve("table", table)
    if sig == b"para":
        ftype = struct.unpack(">H", data[8:10])[0]
        nparams = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(ftype)
        if nparams is None:
            return None
        params = np.frombuffer(data, ">i4", nparams, 12).astype(np.float64) / 65536.0
        return _Curve(f"para{ftype}", params)
    return None


@functools.lru_cache(maxsize=16)
def _parse_shaper(icc: bytes) -> _Shaper | None:
    """Parse a matrix/TRC (RGB) or TRC-only (gray) ICC profile; ``None`` for LUT-based ones."""
    try:
        if len(icc) < 132 or icc[20:24] != b"XYZ ":
            return None
        count = struct.unpack(">I", icc[128:132])[0]
        tags = {}
        for i in range(min(count, 1000)):
            sig, off, size = struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i])
            tags[sig] = icc[off : off + size]
        if any(t in tags for t in (b"A2B0", b"A2B1", b"A2B2")):
            return None  # LittleCMS would use the LUT; stay consistent by not using the matrix
        cs = _icc_colorspace(icc)
        if cs == "GRAY" and b"kTRC" in tags:
            curve = _parse_curve(tags[b"kTRC"])
            return None if curve is None else _Shaper("GRAY", None, (curve,))
        if cs != "RGB":
            return None
        cols = []
        for sig in (b"rXYZ", b"gXYZ", b"bXYZ"):
            d = tags[sig]
            if d[:4] != b"XYZ ":
                return None
            cols.append(np.frombuffer(d, ">i4", 3, 8).astype(np.float64) / 65536.0)
        curves = tuple(_parse_curve(tags[s]) for s in (b"rTRC", b"gTRC", b"bTRC"))
        if any(c is None for c in curves):
            return None
        matrix = np.stack(cols, axis=1)
        if abs(np.linalg.det(matrix)) < 1e-9:
            return None
        return _Shaper("RGB", matrix, curves)  # type: ignore[arg-type]
    except (KeyError, struct.error, ValueError, IndexError):
        return None


def _srgb_encode(lin: np.ndarray) -> np.ndarray:
    return srgb_encode(np.clip(lin, 0.0, 1.0))


_srgb_decode = srgb_decode


def _shaper_to_srgb16(arr: np.ndarray, shaper: _Shaper) -> np.ndarray:
    """uint16 HxWx3 (RGB profile) or HxW (gray profile) -> sRGB uint16 HxWx3, float maths."""
    grid = np.arange(65536, dtype=np.float64) / 65535.0
    if shaper.colorspace == "GRAY":
        lut = _srgb_encode(shaper.curves[0](grid))
        out = np.round(lut[arr] * 65535.0).astype(np.uint16)
        return np.repeat(out[..., None], 3, axis=-1)
    dst = _parse_shaper(_SRGB_ICC)
    assert dst is not None and dst.matrix is not None and shaper.matrix is not None
    m = (np.linalg.inv(dst.matrix) @ shaper.matrix).astype(np.float32)
    lin = np.empty(arr.shape, np.float32)
    for c in range(3):
        lin[..., c] = shaper.curves[c](grid).astype(np.float32)[arr[..., c]]
    lin = lin @ m.T
    out = _srgb_encode(lin)
    return np.round(out * 65535.0).astype(np.uint16)


def _srgb16_to_shaper(arr: np.ndarray, shaper: _Shaper) -> np.ndarray:
    """sRGB uint16 HxWx3 -> uint16 HxWx3 in the (RGB, matrix/TRC) profile ``shaper``."""
    dst = _parse_shaper(_SRGB_ICC)
    assert dst is not None and dst.matrix is not None and shaper.matrix is not None
    m = (np.linalg.inv(shaper.matrix) @ dst.matrix).astype(np.float32)
    grid = np.arange(65536, dtype=np.float64) / 65535.0
    lut = _srgb_decode(grid).astype(np.float32)
    lin = lut[arr] @ m.T
    out = np.empty(arr.shape, np.uint16)
    for c in range(3):
        out[..., c] = np.round(shaper.curves[c].inverse(lin[..., c]) * 65535.0)
    return out
