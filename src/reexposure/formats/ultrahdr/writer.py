"""Writing gain-map JPEGs: the base image (the input JPEG's own bytes when possible), the gain map,
the XMP and MPF segments, assembled into one file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...core.arrays import to_uint8
from ...core.camera import CRF, DEFAULT_CRF
from ...core.infer import RadianceMap
from ..exif import EXIF_HEADER, reset_orientation
from ..io import atomic_output, check_output_path, read_photo

if TYPE_CHECKING:
    from ..io import Photo
from .container import (
    _MPF_SEGMENT_SIZE,
    _apply_orientation,
    _decode_rgb,
    _encode_jpeg,
    _jpeg_segments,
    _mpf_payload,
    _segment_bytes,
    _strip_gain_metadata,
    _undo_orientation,
)
from .gainmap import compute_gain_map
from .metadata import (
    MPF_SIG,
    XMP_SIG,
    GainMapMetadata,
    UltraHDRError,
    _container_description,
    _hdrgm_description,
    _merge_xmp,
    _xmp_packet,
)

__all__ = ["ultrahdr_bytes", "write_ultrahdr"]

log = logging.getLogger("reexposure")


@dataclass
class _Base:
    jpeg: bytes  # primary JPEG without gain-map metadata (SOI..EOI)
    stored: np.ndarray  # its decoded pixels as stored, HxWx3 uint8
    orientation: int  # EXIF orientation of the stored pixels
    kept: bool  # True when these are the input file's own bytes


def _exif_upright(exif: bytes | None) -> bytes | None:
    """EXIF bytes with the orientation tag reset to 1 (for pixels that are already upright), through
    :func:`reexposure.formats.exif.reset_orientation`; unreadable EXIF is dropped with a warning."""
    if not exif:
        return None
    raw = bytes(exif) if bytes(exif).startswith(EXIF_HEADER) else EXIF_HEADER + bytes(exif)
    patched = reset_orientation(raw)
    if patched is None:
        log.warning("dropping unreadable EXIF data from the base image")
    return patched


def _to_u8(rgb: np.ndarray) -> np.ndarray:
    return to_uint8(rgb)


def _prepare_base(photo: Any, rgb_u8: np.ndarray, base_quality: int) -> _Base:
    """The primary image: the input JPEG's own bytes when possible, else a fresh sRGB JPEG."""
    path = getattr(photo, "path", None)
    fmt = str(getattr(photo, "format", "") or "").upper()
    if path is not None and fmt in ("JPEG", "MPO", "JPG") and Path(path).is_file():
        data = Path(path).read_bytes()
        try:
            segs, end = _jpeg_segments(data)
            jpeg, _xmp, _ins = _strip_gain_metadata(data[:end], segs)
            stored, orientation = _decode_rgb(jpeg)
            shown = _apply_orientation(stored, orientation)
            if shown.shape == rgb_u8.shape:
                return _Base(data[:end], stored, orientation, True)
            log.warning("%s: decoded size %s differs from the photo's %s; re-encoding the base",
                        path, shown.shape[:2], rgb_u8.shape[:2])
        except UltraHDRError as exc:
            log.warning("%s: cannot keep the JPEG as it is (%s); re-encoding the base", path, exc)
    if getattr(photo, "alpha", None) is not None:
        log.warning("the gain-map JPEG has no transparency: the alpha channel is dropped")
    jpeg = _encode_jpeg(rgb_u8, base_quality, _exif_upright(getattr(photo, "exif", None)))
    stored, orientation = _decode_rgb(jpeg)
    return _Base(jpeg, stored, 1, False)


def _photo_parts(photo: Any, radiance_map: Any) -> tuple[Any, np.ndarray]:
    """(photo object or None, displayed HxWx3 pixels) from a Photo, a path or an array."""
    if isinstance(photo, (str, Path)):
        photo = read_photo(photo)
    if isinstance(photo, np.ndarray):
        return None, photo
    rgb = getattr(photo, "rgb", None)
    if rgb is None:
        raise TypeError(f"expected a Photo, a path or an array, got {type(photo).__name__}")
    if isinstance(radiance_map, RadianceMap) and radiance_map.photo.shape != rgb.shape:
        raise ValueError("the radiance map was made from a different photo (sizes differ)")
    return photo, np.asarray(rgb)


def ultrahdr_bytes(photo: Photo | str | Path | np.ndarray, radiance_map: RadianceMap | torch.Tensor | np.ndarray,
                   headroom: float | None = None, *, crf: CRF | None = None, scale: int = 1,
                   channels: int = 3, gamma: float = 1.0, quality: int = 95,
                   base_quality: int = 95) -> bytes:
    """A gain-map JPEG (Ultra HDR) of ``photo`` whose HDR rendition follows ``radiance_map``.

    ``photo``: a :class:`reexposure.formats.io.Photo` (a JPEG's own bytes are kept as the base), a path, or
    an HxWx3 uint8/uint16 array (encoded as the base at ``base_quality``). ``radiance_map``: the
    :class:`~reexposure.core.infer.RadianceMap` reconstructed from it, or relative radiance as a
    (1,3,H,W) tensor / HxWx3 array in the displayed orientation. ``headroom``: cap in stops on how
    much brighter than SDR white the HDR rendition may get (default :data:`DEFAULT_HEADROOM`; the
    written HDRCapacityMax is the smaller of this and what the content needs). ``crf``: the curve the
    radiance was linearised with (default: the RadianceMap's, else the default curve). ``scale``,
    ``channels``, ``gamma``: see :func:`compute_gain_map`; ``quality``: gain map JPEG quality.
    """
    if not 1 <= int(quality) <= 100 or not 1 <= int(base_quality) <= 100:
        raise ValueError("JPEG quality must be within 1-100")
    if crf is None:
        crf = radiance_map.crf if isinstance(radiance_map, RadianceMap) else DEFAULT_CRF
    photo_obj, rgb = _photo_parts(photo, radiance_map)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB photo HxWx3, got shape {rgb.shape}")
    rgb_u8 = _to_u8(rgb)
    base = _prepare_base(photo_obj, rgb_u8, base_quality)
    shown = _apply_orientation(base.stored, base.orientation)
    # The HDR rendition is S(base) * R / L(photo): exactly the base where nothing was clipped (a
    # clean, compact map), the base times the network's boost in highlights. A kept JPEG base is
    # the photo itself, so its radiance survives a round trip up to the map's quantisation; a
    # re-encoded base adds its own coding error (see radiance_from_ultrahdr).
    ref = rgb_u8
    codes, meta = compute_gain_map(radiance_map, shown, ref_rgb=ref, crf=crf, headroom=headroom,
                                   scale=scale, channels=channels, gamma=gamma)
    codes = _undo_orientation(codes, base.orientation)
    return _assemble(base.jpeg, codes, meta, quality, crf.name)


def _assemble(primary: bytes, codes: np.ndarray, meta: GainMapMetadata, quality: int,
              crf_name: str | None) -> bytes:
    """Primary JPEG + gain map codes + metadata -> gain-map JPEG bytes."""
    # secondary image: the gain map JPEG with its hdrgm XMP after the leading APPn segments
    gm = _encode_jpeg(codes, quality)
    gm_clean, _, gins = _strip_gain_metadata(gm, _jpeg_segments(gm)[0])
    gm_xmp = _segment_bytes(0xE1, XMP_SIG + _xmp_packet(_hdrgm_description(meta)))
    secondary = gm_clean[:gins] + gm_xmp + gm_clean[gins:]

    # primary image: keep everything, replace the XMP/MPF metadata
    segs, _ = _jpeg_segments(primary)
    clean, old_xmp, ins = _strip_gain_metadata(primary, segs)
    ours = _container_description(len(secondary), crf_name)
    packet = _merge_xmp(old_xmp, ours)
    xmp_seg = _segment_bytes(0xE1, XMP_SIG + packet)
    head = clean[:ins] + xmp_seg
    mpf_start = len(head)
    primary_size = len(clean) + len(xmp_seg) + _MPF_SEGMENT_SIZE
    endian_at = mpf_start + 4 + len(MPF_SIG)
    mpf_seg = _segment_bytes(0xE2, _mpf_payload(primary_size, primary_size - endian_at, len(secondary)))
    out = head + mpf_seg + clean[ins:]
    assert len(out) == primary_size
    return out + secondary


def write_ultrahdr(path: str | Path, photo: Photo | str | Path | np.ndarray,
                   radiance_map: RadianceMap | torch.Tensor | np.ndarray, headroom: float | None = None,
                   force: bool = False, **options: Any) -> Path:
    """Write a gain-map JPEG to ``path`` (.jpg/.jpeg) atomically; refuses to overwrite the input, or
    an existing file unless ``force``. ``options`` go to :func:`ultrahdr_bytes`. Returns the path."""
    path = Path(path)
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        raise UltraHDRError(f"{path}: a gain-map JPEG needs a .jpg or .jpeg name")
    inputs = [p for p in (getattr(photo, "path", None), photo if isinstance(photo, (str, Path)) else None)
              if p is not None]
    check_output_path(path, force, inputs=inputs)
    data = ultrahdr_bytes(photo, radiance_map, headroom, **options)
    with atomic_output(path, force=force, inputs=inputs) as tmp:
        Path(tmp).write_bytes(data)
    return path
