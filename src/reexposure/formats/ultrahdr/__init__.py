"""Gain-map JPEG output (Ultra HDR / Adobe gain map): an ordinary photo that glows on HDR screens.

A gain-map JPEG is the SDR photo plus a second, small JPEG (the *gain map*) and metadata saying how
much brighter each pixel may be shown on a display with HDR headroom. Viewers that know nothing of
gain maps show the photo as it always was; viewers that read Ultra HDR / Adobe gain-map XMP on an HDR
screen (Chrome, Android) show the highlights that :mod:`reexposure` reconstructed. ISO 21496-1
binary metadata (which some newer viewers prefer) is not written.

File layout (implemented here from the published specifications; no library does the container):

* **Primary image**: the input photo. When the input is a JPEG its bytes are kept as they are (same
  entropy-coded data, EXIF, ICC, comments; pixel-identical decode); only an XMP packet (APP1) and an
  MPF segment (APP2) are inserted after the leading APPn segments, and a previous MPF segment,
  gain-map XMP or ISO 21496-1 segment, and anything after the primary's EOI (an old gain map), are
  dropped. Other inputs (PNG, TIFF, WebP, HEIC, arrays) are encoded as an sRGB JPEG (``base_quality``,
  4:4:4), EXIF kept with its orientation reset (the pixels are already upright).
* **Primary XMP** (Adobe XMP part 3, Ultra HDR v1.0): ``hdrgm:Version="1.0"`` and a GContainer
  directory (``Container:Directory`` with ``Item:Semantic`` ``Primary`` and ``GainMap``,
  ``Item:Mime="image/jpeg"``, and the gain map's ``Item:Length``), plus ``reexpose:CRF``, the
  camera curve the radiance was linearised with (used by :func:`hdr_from_ultrahdr`). An XMP packet
  already in the photo is kept: our description is added to its ``rdf:RDF``.
* **MPF** (CIPA DC-007 multi-picture format), big-endian: MP index IFD with MPFVersion ``0100``,
  NumberOfImages 2 and two MP entries: the primary (Baseline MP primary image, offset 0) and the gain
  map (offset from the MP endian field, size in bytes).
* **Secondary image**: the gain map, an 8-bit JPEG (RGB 4:4:4 by default, or grayscale), with its own
  XMP holding the Adobe gain-map metadata (namespace ``http://ns.adobe.com/hdr-gain-map/1.0/``):
  ``Version``, ``GainMapMin``, ``GainMapMax``, ``Gamma``, ``OffsetSDR``, ``OffsetHDR``,
  ``HDRCapacityMin``, ``HDRCapacityMax``, ``BaseRenditionIsHDR="False"``, as attributes of the first
  ``rdf:Description`` (the form every decoder reads).

Gain map math (Adobe gain map specification 1.0; log2 units): with ``S`` the base decoded and
linearised with the sRGB curve (the display's view of the SDR photo), the HDR rendition is
``H = S * R / L``, where ``R`` is the reconstructed radiance and ``L`` the photo linearised with the
camera curve (so ``R / L = exp(mask * o)`` is the network's boost: exactly 1 where nothing was
clipped). Per pixel and channel ``G = log2((H + offset_hdr) / (S + offset_sdr))`` (offsets 1/64);
``GainMapMin = min(0, min G)``, ``GainMapMax = min(max G, headroom)`` (at least 1/64 stop);
the map stores ``round(255 * clip((G - min) / (max - min), 0, 1) ** gamma)``, ``HDRCapacityMin = 0``
and ``HDRCapacityMax = GainMapMax`` (the display headroom, in stops, at which the map applies fully).
The reader inverts it: ``H = (S + offset_sdr) * 2 ** (lerp(min, max, code/255 ** (1/gamma)) * w)
- offset_hdr`` with ``w = clip((headroom - HDRCapacityMin) / (HDRCapacityMax - HDRCapacityMin), 0, 1)``
(``w = 1`` by default). Pixels where the photo is unclipped get ``G = 0`` exactly, so their HDR value
is the SDR value.

Precision: the map quantises ``G`` to steps of ``(max - min) / 255`` stops (half a step of error),
and JPEG coding adds about one step at quality 100 (a few at 90). A downscaled map (``scale`` 2, 4,
8: each map pixel is the mean of ``G`` over a ``scale x scale`` block, upsampled bilinearly with
centre-aligned samples) also blurs the edges of highlights: that costs a little glow around clipped
areas but makes the map ``scale**2`` times smaller. The default is a full-resolution map, because
reconstructed highlights have sharp edges.

Colour: the map is computed in the photo's sRGB working space. A kept JPEG base with a non-sRGB ICC
profile gets the same per-channel ratios applied in its own primaries (close, not exact). A base
with an EXIF orientation gets its gain map in the stored (unrotated) orientation, as viewers expect.
"""

from .gainmap import apply_gain_map, compute_gain_map
from .metadata import (
                       CONTAINER_NS,
                       DEFAULT_HEADROOM,
                       HDRGM_NS,
                       ITEM_NS,
                       MAX_HEADROOM,
                       MIN_GAIN_MAX,
                       MPF_SIG,
                       OFFSET,
                       RDF_NS,
                       XMP_SIG,
                       GainMapMetadata,
                       UltraHDRError,
)
from .reader import hdr_from_ultrahdr, is_ultrahdr, metadata_of, radiance_from_ultrahdr, read_ultrahdr
from .writer import ultrahdr_bytes, write_ultrahdr

__all__ = ["GainMapMetadata", "UltraHDRError", "ultrahdr_bytes", "write_ultrahdr", "read_ultrahdr",
           "is_ultrahdr", "hdr_from_ultrahdr", "radiance_from_ultrahdr", "compute_gain_map", "apply_gain_map",
           "metadata_of", "DEFAULT_HEADROOM", "MAX_HEADROOM", "MIN_GAIN_MAX", "OFFSET", "HDRGM_NS", "CONTAINER_NS",
           "ITEM_NS", "RDF_NS", "XMP_SIG", "MPF_SIG"]
