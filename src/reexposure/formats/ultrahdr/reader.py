"""Reading gain-map JPEGs: detection, the HDR rendition, and relative radiance back from the file.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ...core.camera import CRF, crf_from_name

if TYPE_CHECKING:
    pass
from .container import _apply_orientation, _check_pixels, _decode_rgb, _name, _parse_container, _read_file
from .gainmap import _radiance, apply_gain_map
from .metadata import GainMapMetadata, UltraHDRError, _hdrgm_values, _metadata_from_hdrgm, _reexpose_crf

__all__ = ["hdr_from_ultrahdr", "is_ultrahdr", "metadata_of", "radiance_from_ultrahdr", "read_ultrahdr"]


def is_ultrahdr(path: str | Path | bytes) -> bool:
    """True if ``path`` (or the bytes) is a JPEG with a gain map this module can read (an MPF or
    GContainer secondary image carrying hdrgm metadata). Never raises for bad files."""
    try:
        data = path if isinstance(path, (bytes, bytearray)) else Path(path).read_bytes()
        if data[:2] != b"\xff\xd8":
            return False
        parsed = _parse_container(bytes(data))
        values = _hdrgm_values(parsed.gain_rdf) if parsed.gain_rdf is not None else {}
        return parsed.gain_map is not None and "GainMapMax" in values
    except Exception:
        return False


def read_ultrahdr(path: str | Path | bytes, display_headroom: float | None = None,
                  orient: bool = True) -> tuple[np.ndarray, np.ndarray, GainMapMetadata]:
    """Read a gain-map JPEG: ``(base_rgb, hdr, metadata)``.

    ``base_rgb``: the SDR photo, HxWx3 uint8 as decoded (no colour management); ``hdr``: the HDR
    rendition, HxWx3 float32, linear light in the base's primaries with 1.0 = SDR white (the base
    linearised with the sRGB curve and the gain map applied, bilinearly upsampled, at full weight, or
    at the weight for ``display_headroom`` stops). ``orient``: apply the EXIF orientation to both (as
    viewers do). Raises :class:`UltraHDRError` for files without a readable gain map."""
    data = bytes(path) if isinstance(path, (bytes, bytearray)) else _read_file(path)
    try:
        parsed = _parse_container(data)
    except UltraHDRError as exc:
        raise UltraHDRError(f"{_name(path)}: {exc}") from None
    if parsed.gain_map is None:
        raise UltraHDRError(f"{_name(path)}: no gain map image (no MPF entry or GContainer item)")
    values = _hdrgm_values(parsed.gain_rdf) if parsed.gain_rdf is not None else {}
    if "GainMapMax" not in values and parsed.primary_rdf is not None:
        values = _hdrgm_values(parsed.primary_rdf)  # Adobe style: metadata in the primary
    if "GainMapMax" not in values:
        raise UltraHDRError(f"{_name(path)}: no hdrgm gain map metadata")
    try:
        meta = _metadata_from_hdrgm(values)
    except UltraHDRError as exc:
        raise UltraHDRError(f"{_name(path)}: {exc}") from None
    _check_pixels(parsed.primary, parsed.primary_segments, path, "image")
    _check_pixels(parsed.gain_map, parsed.gain_segments, path, "gain map")
    base, orientation = _decode_rgb(parsed.primary)
    try:
        with Image.open(io.BytesIO(parsed.gain_map)) as gimg:
            if gimg.mode not in ("L", "RGB"):
                raise UltraHDRError(f"{_name(path)}: gain map in {gimg.mode} mode is not supported")
            codes = np.asarray(gimg)
    except UltraHDRError:
        raise
    except Exception as exc:
        raise UltraHDRError(f"{_name(path)}: cannot decode the gain map ({exc})") from None
    hdr = apply_gain_map(base, codes, meta, display_headroom)
    crf = parsed.primary_rdf is not None and _reexpose_crf(parsed.primary_rdf)
    meta = replace(meta, extra={"gain_map_size": (codes.shape[1], codes.shape[0]),
                                "gain_map_channels": 1 if codes.ndim == 2 else codes.shape[2],
                                "base_size": (base.shape[1], base.shape[0]), "orientation": orientation,
                                "crf": crf or None})
    if orient and orientation != 1:
        base = _apply_orientation(base, orientation)
        hdr = _apply_orientation(hdr, orientation)
    return base, hdr, meta


def radiance_from_ultrahdr(path: str | Path | bytes, crf: CRF | str | None = None) -> np.ndarray:
    """Relative radiance (HxWx3 float32, 1.0 = the photo's clip level, displayed orientation) from a
    gain-map JPEG: ``R = H * L / S`` with ``H`` the HDR rendition at full weight, ``S`` the base
    linearised with the sRGB curve and ``L`` with ``crf`` (default: the curve recorded by reexposure
    in the file's XMP). Raises UltraHDRError when no curve is given or recorded."""
    base, hdr, meta = read_ultrahdr(path)
    if crf is None:
        crf = meta.extra.get("crf")
        if crf is None:
            raise UltraHDRError(f"{_name(path)}: no camera curve recorded in the file; pass crf")
    if isinstance(crf, str):
        try:
            crf = crf_from_name(crf)
        except (ValueError, OSError) as exc:
            raise UltraHDRError(f"{_name(path)}: camera curve {crf!r} unusable ({exc})") from None
    return _radiance(base, hdr, crf)


def hdr_from_ultrahdr(path: str | Path) -> tuple[np.ndarray, str]:
    """What ``reexpose hdr`` writes for a gain-map JPEG: ``(HxWx3 float32, description)``.

    Files written by reexposure give back the relative radiance they were made from (1.0 = clip
    level; :func:`radiance_from_ultrahdr` with the recorded curve); other gain-map JPEGs give their
    HDR rendition at full weight (linear light, 1.0 = SDR white)."""
    base, hdr, meta = read_ultrahdr(path)
    crf_name = meta.extra.get("crf")
    if crf_name:
        try:
            crf = crf_from_name(crf_name)
        except (ValueError, OSError):
            crf = None
        if crf is not None:
            return _radiance(base, hdr, crf), f"relative radiance from the gain map (curve {crf_name})"
    return hdr, (f"HDR rendition of the gain map (linear, 1.0 = SDR white, headroom "
                 f"{meta.hdr_capacity_max:.3g} stops)")


def metadata_of(data: bytes) -> GainMapMetadata:
    """The gain-map metadata of an Ultra HDR file's bytes (as written by :func:`ultrahdr_bytes`)."""
    parsed = _parse_container(data)
    assert parsed.gain_rdf is not None
    return _metadata_from_hdrgm(_hdrgm_values(parsed.gain_rdf))
