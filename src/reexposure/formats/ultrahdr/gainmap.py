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

from __future__ import annotations

import io
import logging
import math
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import __version__
from ..core.camera import CRF, DEFAULT_CRF, SRGBCRF, crf_from_name
from ..core.infer import RadianceMap
from .exif import EXIF_HEADER, reset_orientation
from .io import MAX_PIXELS_ENV, ImageError, atomic_output, check_output_path, get_max_pixels, read_photo, to_uint8

if TYPE_CHECKING:

    from ..core.infer import RadianceMap
    from .io import Photo

__all__ = ["GainMapMetadata", "UltraHDRError", "ultrahdr_bytes", "write_ultrahdr", "read_ultrahdr",
           "is_ultrahdr", "hdr_from_ultrahdr", "radiance_from_ultrahdr", "compute_gain_map", "metadata_of",
           "DEFAULT_HEADROOM", "OFFSET"]

log = logging.getLogger("reexposure")

HDRGM_NS = "http://ns.adobe.com/hdr-gain-map/1.0/"
CONTAINER_NS = "http://ns.google.com/photos/1.0/container/"
ITEM_NS = "http://ns.google.com/photos/1.0/container/item/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
REEXPOSE_NS = "urn:reexposure:xmp:1.0/"
XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
ISO_SIG = b"urn:iso:std:iso:ts:21496:-1\x00"
MPF_SIG = b"MPF\x00"

#: default cap on the HDR headroom, in stops (8x the SDR white)
DEFAULT_HEADROOM = 3.0
#: largest --headroom accepted, in stops
MAX_HEADROOM = 16.0
#: offset_sdr = offset_hdr (the specification's default, 1/64)
OFFSET = 1.0 / 64.0
#: smallest GainMapMax written (stops), so that HDRCapacityMax > HDRCapacityMin even without highlights
MIN_GAIN_MAX = 1.0 / 64.0
#: Rec. 709 luminance weights for single-channel gain maps
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
_STRIP_ROWS = 256

# EXIF orientation -> PIL transpose that undoes exif_transpose (stored -> displayed is the inverse)
_UNDO_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                     4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                     6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
                     8: Image.Transpose.ROTATE_270}
_APPLY_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                      4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                      6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                      8: Image.Transpose.ROTATE_90}


class UltraHDRError(ImageError):
    """A gain-map JPEG that cannot be written or read (one-line message)."""


# --------------------------------------------------------------------------- metadata


def _triple(v: Any) -> tuple[float, float, float]:
    if isinstance(v, (int, float)):
        return (float(v),) * 3
    vals = tuple(float(x) for x in v)
    if len(vals) == 1:
        return vals * 3  # type: ignore[return-value]
    if len(vals) != 3:
        raise ValueError(f"expected 1 or 3 values, got {len(vals)}")
    return vals  # type: ignore[return-value]


@dataclass(frozen=True)
class GainMapMetadata:
    """Adobe gain-map metadata (per channel R, G, B; log2 units where the spec says so).

    ``gain_map_min/max``: log2 of the min/max content boost; ``gamma``: map gamma (> 0);
    ``offset_sdr/hdr``: offsets added to linear SDR/HDR values; ``hdr_capacity_min/max``: log2 of
    the display headroom at which the map starts to apply / applies fully. ``extra`` holds what the
    reader found besides (``gain_map_size`` (w, h), ``gain_map_channels``, ``orientation``, ``crf``,
    ``base_size`` (w, h) stored, ``version``)."""

    gain_map_min: tuple[float, float, float]
    gain_map_max: tuple[float, float, float]
    gamma: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset_sdr: tuple[float, float, float] = (OFFSET, OFFSET, OFFSET)
    offset_hdr: tuple[float, float, float] = (OFFSET, OFFSET, OFFSET)
    hdr_capacity_min: float = 0.0
    hdr_capacity_max: float = 1.0
    base_rendition_is_hdr: bool = False
    version: str = "1.0"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def validate(self) -> "GainMapMetadata":
        """Raise :class:`UltraHDRError` for values the specification forbids; returns self."""
        for name in ("gain_map_min", "gain_map_max", "gamma", "offset_sdr", "offset_hdr"):
            if not all(math.isfinite(x) for x in getattr(self, name)):
                raise UltraHDRError(f"gain map metadata {name} is not finite: {getattr(self, name)}")
        if any(g <= 0 for g in self.gamma):
            raise UltraHDRError(f"gain map Gamma must be positive, got {self.gamma}")
        if any(lo > hi for lo, hi in zip(self.gain_map_min, self.gain_map_max)):
            raise UltraHDRError(f"GainMapMin {self.gain_map_min} exceeds GainMapMax {self.gain_map_max}")
        if not (math.isfinite(self.hdr_capacity_min) and math.isfinite(self.hdr_capacity_max)):
            raise UltraHDRError("HDRCapacityMin/Max are not finite")
        if self.hdr_capacity_min < 0 or self.hdr_capacity_max <= self.hdr_capacity_min:
            raise UltraHDRError(f"need 0 <= HDRCapacityMin < HDRCapacityMax, got "
                                f"{self.hdr_capacity_min}, {self.hdr_capacity_max}")
        if self.base_rendition_is_hdr:
            raise UltraHDRError("gain maps whose base rendition is HDR (BaseRenditionIsHDR=True) "
                                "are not supported")
        return self

    def weight(self, display_headroom: float | None = None) -> float:
        """How much of the map to apply on a display with ``display_headroom`` stops (None: full)."""
        if display_headroom is None:
            return 1.0
        w = (display_headroom - self.hdr_capacity_min) / (self.hdr_capacity_max - self.hdr_capacity_min)
        return float(min(1.0, max(0.0, w)))


def _fmt(v: float) -> str:
    s = f"{v:.7g}"
    return "0" if s in ("-0", "0") else s


def _xmp_packet(body: str) -> bytes:
    text = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="reexposure">\n'
            f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n{body} </rdf:RDF>\n</x:xmpmeta>\n'
            '<?xpacket end="w"?>')
    return text.encode("utf-8")


def _hdrgm_description(meta: GainMapMetadata) -> str:
    def val(t: tuple[float, float, float]) -> str:
        return _fmt(t[0])

    for name in ("gain_map_min", "gain_map_max", "gamma", "offset_sdr", "offset_hdr"):
        t = getattr(meta, name)
        if not (t[0] == t[1] == t[2]):
            raise ValueError("the writer stores one value for all channels")
    return (f'  <rdf:Description rdf:about="" xmlns:hdrgm="{HDRGM_NS}"\n'
            f'    hdrgm:Version="{meta.version}"\n'
            f'    hdrgm:GainMapMin="{val(meta.gain_map_min)}"\n'
            f'    hdrgm:GainMapMax="{val(meta.gain_map_max)}"\n'
            f'    hdrgm:Gamma="{val(meta.gamma)}"\n'
            f'    hdrgm:OffsetSDR="{val(meta.offset_sdr)}"\n'
            f'    hdrgm:OffsetHDR="{val(meta.offset_hdr)}"\n'
            f'    hdrgm:HDRCapacityMin="{_fmt(meta.hdr_capacity_min)}"\n'
            f'    hdrgm:HDRCapacityMax="{_fmt(meta.hdr_capacity_max)}"\n'
            f'    hdrgm:BaseRenditionIsHDR="False"/>\n')


def _container_description(gain_map_length: int, crf_name: str | None) -> str:
    extra = ""
    if crf_name:
        esc = crf_name.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        extra = f'\n    reexpose:CRF="{esc}" reexpose:Encoder="reexposure {__version__}"'
    return (f'  <rdf:Description rdf:about="" xmlns:hdrgm="{HDRGM_NS}"\n'
            f'    xmlns:Container="{CONTAINER_NS}" xmlns:Item="{ITEM_NS}"\n'
            f'    xmlns:reexpose="{REEXPOSE_NS}"\n'
            f'    hdrgm:Version="1.0"{extra}>\n'
            '   <Container:Directory>\n    <rdf:Seq>\n'
            '     <rdf:li rdf:parseType="Resource">\n'
            '      <Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/>\n'
            '     </rdf:li>\n'
            '     <rdf:li rdf:parseType="Resource">\n'
            f'      <Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" Item:Length="{gain_map_length}"/>\n'
            '     </rdf:li>\n'
            '    </rdf:Seq>\n   </Container:Directory>\n'
            '  </rdf:Description>\n')


def _parse_xmp(payload: bytes) -> ET.Element | None:
    """XMP packet bytes (after the APP1 signature) -> the rdf:RDF element, or None if unparsable."""
    text = payload.decode("utf-8", errors="replace")
    start = text.find("<x:xmpmeta")
    if start < 0:
        start = text.find("<rdf:RDF")
    if start < 0:
        return None
    end_meta = text.rfind("</x:xmpmeta>")
    end = end_meta + len("</x:xmpmeta>") if end_meta >= 0 else text.rfind("</rdf:RDF>") + len("</rdf:RDF>")
    try:
        root = ET.fromstring(text[start:end])
    except ET.ParseError:
        return None
    return root if root.tag == f"{{{RDF_NS}}}RDF" else root.find(f"{{{RDF_NS}}}RDF")


def _hdrgm_values(rdf: ET.Element) -> dict[str, Any]:
    """hdrgm properties of all rdf:Descriptions, as attributes or elements (scalar or rdf:Seq)."""
    out: dict[str, Any] = {}
    for desc in rdf.iter(f"{{{RDF_NS}}}Description"):
        for key, value in desc.attrib.items():
            if key.startswith(f"{{{HDRGM_NS}}}"):
                out.setdefault(key[len(HDRGM_NS) + 2:], value.strip())
        for child in desc:
            if child.tag.startswith(f"{{{HDRGM_NS}}}"):
                name = child.tag[len(HDRGM_NS) + 2:]
                items = [li.text.strip() for li in child.iter(f"{{{RDF_NS}}}li") if li.text]
                out.setdefault(name, items if items else (child.text or "").strip())
    return out


def _metadata_from_hdrgm(values: dict[str, Any]) -> GainMapMetadata:
    def num(name: str, default: Any = None) -> Any:
        v = values.get(name, default)
        if v is None:
            raise UltraHDRError(f"gain map metadata lacks hdrgm:{name}")
        try:
            return [float(x) for x in v] if isinstance(v, list) else float(v)
        except ValueError:
            raise UltraHDRError(f"gain map metadata hdrgm:{name}={v!r} is not a number") from None

    if "Version" not in values:
        raise UltraHDRError("gain map metadata lacks hdrgm:Version")
    is_hdr = str(values.get("BaseRenditionIsHDR", "False")).strip().lower()
    if is_hdr not in ("false", "true"):
        raise UltraHDRError(f"gain map metadata hdrgm:BaseRenditionIsHDR={is_hdr!r} is not True/False")
    try:
        meta = GainMapMetadata(
            gain_map_min=_triple(num("GainMapMin", "0")), gain_map_max=_triple(num("GainMapMax")),
            gamma=_triple(num("Gamma", "1")), offset_sdr=_triple(num("OffsetSDR", str(OFFSET))),
            offset_hdr=_triple(num("OffsetHDR", str(OFFSET))),
            hdr_capacity_min=float(num("HDRCapacityMin", "0")), hdr_capacity_max=float(num("HDRCapacityMax")),
            base_rendition_is_hdr=is_hdr == "true", version=str(values["Version"]))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, UltraHDRError):
            raise
        raise UltraHDRError(f"bad gain map metadata: {exc}") from None
    return meta.validate()


# --------------------------------------------------------------------------- JPEG structure


@dataclass(frozen=True)
class _Segment:
    marker: int  # second marker byte (0xE1 = APP1, ...)
    start: int  # offset of the 0xFF marker byte
    end: int  # offset just past the segment (header segments) or past the scan data (SOS)

    def payload(self, data: bytes) -> bytes:
        """Bytes after the 2-byte length (marker segments only)."""
        return data[self.start + 4:self.end] if self.marker != 0xDA else b""


def _jpeg_segments(data: bytes, start: int = 0, header_only: bool = False) -> tuple[list[_Segment], int]:
    """Walk one JPEG image starting at ``start`` (its SOI). Returns (segments, end) where ``end`` is
    the offset just past its EOI. SOS segments extend over their entropy-coded data. With
    ``header_only`` stop at the first SOS (``end`` is then its offset). Raises UltraHDRError."""
    n = len(data)
    if data[start:start + 2] != b"\xff\xd8":
        raise UltraHDRError("not a JPEG (no SOI marker)")
    segs: list[_Segment] = []
    pos = start + 2
    while True:
        if pos + 2 > n:
            raise UltraHDRError("truncated JPEG (no EOI marker)")
        if data[pos] != 0xFF:
            raise UltraHDRError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return segs, pos + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            segs.append(_Segment(marker, pos, pos + 2))
            pos += 2
            continue
        if pos + 4 > n:
            raise UltraHDRError("truncated JPEG segment")
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if length < 2 or pos + 2 + length > n:
            raise UltraHDRError(f"corrupt JPEG: bad segment length at byte {pos}")
        end = pos + 2 + length
        if marker == 0xDA:
            if header_only:
                return segs, pos
            i = end  # skip entropy-coded data up to the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise UltraHDRError("truncated JPEG (scan data without EOI)")
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    i = j + 2
                elif nxt == 0xFF:
                    i = j + 1
                else:
                    end = j
                    break
        segs.append(_Segment(marker, pos, end))
        pos = end


def _is_app(marker: int) -> bool:
    return 0xE0 <= marker <= 0xEF or marker == 0xFE


def _segment_bytes(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise UltraHDRError(f"metadata segment too large ({len(payload)} bytes)")
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _mpf_payload(primary_size: int, gain_offset: int, gain_size: int) -> bytes:
    """MPF APP2 payload (CIPA DC-007), big-endian, two MP entries."""
    entry_offset = 8 + 2 + 3 * 12 + 4  # from the MP endian field to the MP entry values
    ifd = struct.pack(">H", 3)
    ifd += struct.pack(">HHI", 0xB000, 7, 4) + b"0100"  # MPFVersion, UNDEFINED[4]
    ifd += struct.pack(">HHII", 0xB001, 4, 1, 2)  # NumberOfImages, LONG
    ifd += struct.pack(">HHII", 0xB002, 7, 32, entry_offset)  # MPEntry, UNDEFINED[32]
    ifd += struct.pack(">I", 0)  # no attribute IFD
    entries = struct.pack(">IIIHH", 0x00030000, primary_size, 0, 0, 0)  # baseline MP primary, JPEG
    entries += struct.pack(">IIIHH", 0x00000000, gain_size, gain_offset, 0, 0)
    return MPF_SIG + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + entries


_MPF_SEGMENT_SIZE = 4 + len(_mpf_payload(0, 0, 0))


def _parse_mpf(data: bytes, seg: _Segment) -> list[tuple[int, int]]:
    """MP entries of an MPF APP2 segment as [(start offset in file, size)] (the first image: 0)."""
    base = seg.start + 4 + len(MPF_SIG)  # the MP endian field
    blob = data[base:seg.end]
    if len(blob) < 8 or blob[:2] not in (b"II", b"MM"):
        raise UltraHDRError("corrupt MPF segment (bad byte order)")
    e = "<" if blob[:2] == b"II" else ">"
    if struct.unpack(e + "H", blob[2:4])[0] != 0x2A:
        raise UltraHDRError("corrupt MPF segment (bad magic)")
    ifd = struct.unpack(e + "I", blob[4:8])[0]
    if ifd + 2 > len(blob):
        raise UltraHDRError("corrupt MPF segment (IFD outside the segment)")
    count = struct.unpack(e + "H", blob[ifd:ifd + 2])[0]
    n_images, entry_off, entry_len = 0, None, 0
    for k in range(count):
        p = ifd + 2 + 12 * k
        if p + 12 > len(blob):
            raise UltraHDRError("corrupt MPF segment (truncated IFD)")
        tag, _typ, cnt = struct.unpack(e + "HHI", blob[p:p + 8])
        if tag == 0xB001:
            n_images = struct.unpack(e + "I", blob[p + 8:p + 12])[0]
        elif tag == 0xB002:
            entry_len = cnt
            entry_off = struct.unpack(e + "I", blob[p + 8:p + 12])[0]
    if entry_off is None or n_images < 1 or entry_len < 16 * n_images or entry_off + entry_len > len(blob):
        raise UltraHDRError("corrupt MPF segment (no MP entries)")
    out = []
    for k in range(n_images):
        p = entry_off + 16 * k
        _attr, size, offset = struct.unpack(e + "III", blob[p:p + 12])
        out.append((0 if offset == 0 else base + offset, size))
    return out


@dataclass
class _Parsed:
    primary: bytes  # the primary image (SOI..EOI)
    primary_segments: list[_Segment]
    gain_map: bytes | None
    gain_segments: list[_Segment]
    primary_rdf: ET.Element | None
    gain_rdf: ET.Element | None


def _xmp_rdf(data: bytes, segs: list[_Segment]) -> ET.Element | None:
    for s in segs:
        if s.marker == 0xE1:
            pl = s.payload(data)
            if pl.startswith(XMP_SIG):
                rdf = _parse_xmp(pl[len(XMP_SIG):])
                if rdf is not None:
                    return rdf
    return None


def _gain_map_length_from_container(rdf: ET.Element | None) -> int | None:
    if rdf is None:
        return None
    for item in rdf.iter(f"{{{CONTAINER_NS}}}Item"):
        if item.get(f"{{{ITEM_NS}}}Semantic") == "GainMap":
            try:
                return int(item.get(f"{{{ITEM_NS}}}Length", ""))
            except ValueError:
                return None
    return None


def _parse_container(data: bytes) -> _Parsed:
    """Split a gain-map JPEG into primary and gain map (MPF first, GContainer Item:Length second)."""
    segs, primary_end = _jpeg_segments(data)
    primary_rdf = _xmp_rdf(data, segs)
    gain: bytes | None = None
    for s in segs:
        if s.marker == 0xE2 and s.payload(data).startswith(MPF_SIG):
            entries = _parse_mpf(data, s)
            for start, size in entries[1:]:
                if start + size <= len(data) and data[start:start + 2] == b"\xff\xd8":
                    gain = data[start:start + size]
                    break
            break
    if gain is None:
        length = _gain_map_length_from_container(primary_rdf)
        if length and length <= len(data) - primary_end and data[len(data) - length:][:2] == b"\xff\xd8":
            gain = data[len(data) - length:]
    gain_segs: list[_Segment] = []
    gain_rdf = None
    if gain is not None:
        gain_segs, _ = _jpeg_segments(gain, header_only=True)
        gain_rdf = _xmp_rdf(gain, gain_segs)
    return _Parsed(data[:primary_end], segs, gain, gain_segs, primary_rdf, gain_rdf)


# --------------------------------------------------------------------------- base image


def _lut(crf: CRF) -> np.ndarray:
    return crf.inverse(torch.arange(256, dtype=torch.float32) / 255.0).numpy().astype(np.float32)


_SRGB_LUT = _lut(SRGBCRF())


def _orientation(img: Image.Image) -> int:
    try:
        o = int(img.getexif().get(0x0112, 1))
    except Exception:
        return 1
    return o if o in _APPLY_ORIENTATION else 1


def _decode_rgb(jpeg: bytes) -> tuple[np.ndarray, int]:
    """Decode a JPEG's pixels as stored (no orientation, no colour management) -> (HxWx3 uint8,
    EXIF orientation)."""
    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            orientation = _orientation(img)
            if img.mode not in ("RGB", "L"):
                raise UltraHDRError(f"JPEG in {img.mode} mode is not supported as a gain-map base")
            arr = np.asarray(img.convert("RGB"))
    except UltraHDRError:
        raise
    except Exception as exc:
        raise UltraHDRError(f"cannot decode JPEG ({exc})") from None
    return np.ascontiguousarray(arr), orientation


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Stored -> displayed (what ImageOps.exif_transpose does), for HxW or HxWxC arrays of any dtype."""
    return _transpose(arr, _APPLY_ORIENTATION.get(orientation))


def _undo_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Displayed -> stored (inverse of :func:`_apply_orientation`)."""
    return _transpose(arr, _UNDO_ORIENTATION.get(orientation))


def _transpose(arr: np.ndarray, method: Image.Transpose | None) -> np.ndarray:
    if method is None:
        return arr
    ops = {Image.Transpose.FLIP_LEFT_RIGHT: lambda a: a[:, ::-1],
           Image.Transpose.FLIP_TOP_BOTTOM: lambda a: a[::-1],
           Image.Transpose.ROTATE_90: lambda a: np.rot90(a, 1),
           Image.Transpose.ROTATE_180: lambda a: a[::-1, ::-1],
           Image.Transpose.ROTATE_270: lambda a: np.rot90(a, -1),
           Image.Transpose.TRANSPOSE: lambda a: np.swapaxes(a, 0, 1),
           Image.Transpose.TRANSVERSE: lambda a: np.rot90(a, 2).swapaxes(0, 1)}
    return np.ascontiguousarray(ops[method](arr))


@dataclass
class _Base:
    jpeg: bytes  # primary JPEG without gain-map metadata (SOI..EOI)
    stored: np.ndarray  # its decoded pixels as stored, HxWx3 uint8
    orientation: int  # EXIF orientation of the stored pixels
    kept: bool  # True when these are the input file's own bytes


def _strip_gain_metadata(jpeg: bytes, segs: list[_Segment]) -> tuple[bytes, bytes | None, int]:
    """Drop MPF, ISO 21496-1 and the standard XMP packet from a JPEG's header.
    Returns (jpeg without them, the XMP packet text after the signature or None, insert offset)
    where the insert offset is just after the leading APPn/COM segments of the result."""
    out = bytearray(b"\xff\xd8")
    xmp: bytes | None = None
    insert = None
    prev = 2
    for s in segs:
        chunk = jpeg[s.start:s.end]
        if _is_app(s.marker) and insert is None:
            pl = s.payload(jpeg)
            if s.marker == 0xE2 and (pl.startswith(MPF_SIG) or pl.startswith(ISO_SIG)):
                prev = s.end
                continue
            if s.marker == 0xE1 and pl.startswith(XMP_SIG) and xmp is None:
                xmp = pl[len(XMP_SIG):]
                prev = s.end
                continue
        elif insert is None:
            insert = len(out)
        out += jpeg[prev:s.start] if prev < s.start else b""
        out += chunk
        prev = s.end
    out += b"\xff\xd9"
    return bytes(out), xmp, insert if insert is not None else 2


def _encode_jpeg(rgb: np.ndarray, quality: int, exif: bytes | None = None) -> bytes:
    img = Image.fromarray(rgb, "RGB" if rgb.ndim == 3 else "L")
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": int(quality), "optimize": True}
    if rgb.ndim == 3:
        kwargs["subsampling"] = 0
    if exif:
        kwargs["exif"] = exif
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


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


# --------------------------------------------------------------------------- gain map


def _ratio_strips(radiance_map: Any, ref: np.ndarray, crf: CRF,
                  rows: int = _STRIP_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (y0, R / L as h x W x 3 float32) strips, ``L = crf.inverse(ref)`` (1 where L = 0)."""
    h = ref.shape[0]
    lut = _lut(crf)
    rad = radiance_map
    if isinstance(rad, np.ndarray):
        rad = torch.from_numpy(np.ascontiguousarray(rad, dtype=np.float32)).permute(2, 0, 1)[None]
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        lin = torch.from_numpy(lut[ref[y0:y1]])
        if isinstance(rad, RadianceMap):
            r = rad.radiance(y0, y1)[0].permute(1, 2, 0)
        else:
            r = rad[0, :, y0:y1].permute(1, 2, 0).float()
        ratio = torch.where(lin > 0, r / lin.clamp_min(1e-12), torch.ones_like(r))
        yield y0, ratio.numpy()


def _log_gain(sdr_lin: np.ndarray, ratio: np.ndarray, channels: int) -> np.ndarray:
    """log2((S*r + k)/(S + k)), h x W x C (C = 3 or 1, luminance)."""
    hdr = sdr_lin * ratio
    if channels == 1:
        hdr = hdr @ _LUMA
        sdr_lin = sdr_lin @ _LUMA
        return np.log2((hdr + OFFSET) / (sdr_lin + OFFSET))[..., None]
    return np.log2((hdr + OFFSET) / (sdr_lin + OFFSET))


def _block_mean(a: np.ndarray, s: int) -> np.ndarray:
    """Mean over s x s blocks (partial blocks at the edges average what they have)."""
    if s == 1:
        return a
    h, w, c = a.shape
    hb, wb = -(-h // s), -(-w // s)
    pad = np.zeros((hb * s, wb * s, c), np.float64)
    cnt = np.zeros((hb * s, wb * s, 1), np.float64)
    pad[:h, :w] = a
    cnt[:h, :w] = 1
    sums = pad.reshape(hb, s, wb, s, c).sum(axis=(1, 3))
    cnts = cnt.reshape(hb, s, wb, s, 1).sum(axis=(1, 3))
    return (sums / cnts).astype(np.float32)


def compute_gain_map(radiance_map: Any, base_rgb: np.ndarray, *, ref_rgb: np.ndarray | None = None,
                     crf: CRF = DEFAULT_CRF, headroom: float | None = None, scale: int = 1,
                     channels: int = 3, gamma: float = 1.0) -> tuple[np.ndarray, GainMapMetadata]:
    """The gain map that takes an SDR base to the HDR rendition of a radiance map (displayed
    orientation).

    ``radiance_map``: a :class:`~reexposure.core.infer.RadianceMap` or relative radiance ``R`` as a
    (1,3,H,W) tensor / HxWx3 array; ``base_rgb``: the decoded base the map will be applied to (HxWx3
    uint8, sRGB); ``ref_rgb``: the 8-bit pixels ``R`` is relative to (default ``base_rgb``): the HDR
    rendition is ``S(base) * R / L(ref)`` with ``L = crf.inverse`` (ratio 1 where ``L = 0``).
    ``headroom``: cap on GainMapMax in stops (None: :data:`DEFAULT_HEADROOM`); ``scale``: 1, 2, 4 or
    8 (map resolution divisor); ``channels``: 3 (RGB) or 1 (luminance); ``gamma``: map gamma.
    Returns (codes, metadata): codes are ceil(H/scale) x ceil(W/scale) x 3 uint8, or 2-D for one
    channel."""
    if scale not in (1, 2, 4, 8):
        raise ValueError(f"gain map scale must be 1, 2, 4 or 8, got {scale}")
    if channels not in (1, 3):
        raise ValueError(f"gain map channels must be 1 or 3, got {channels}")
    if not (math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gain map gamma must be positive, got {gamma}")
    headroom = DEFAULT_HEADROOM if headroom is None else float(headroom)
    if not (math.isfinite(headroom) and 0 < headroom <= MAX_HEADROOM):
        raise ValueError(f"headroom must be within (0, {MAX_HEADROOM:g}] stops, got {headroom}")
    base = np.asarray(base_rgb)
    if base.dtype != np.uint8 or base.ndim != 3 or base.shape[2] != 3:
        raise ValueError(f"base must be HxWx3 uint8, got {base.dtype} {base.shape}")
    ref = base if ref_rgb is None else np.asarray(ref_rgb)
    if ref.shape != base.shape or ref.dtype != np.uint8:
        raise ValueError(f"reference pixels {ref.dtype} {ref.shape} do not match the base {base.shape}")
    h, w = base.shape[:2]
    shape = _radiance_shape(radiance_map)
    if shape != (h, w):
        raise ValueError(f"radiance map is {shape[1]}x{shape[0]} but the photo is {w}x{h}")

    def strips() -> Iterator[tuple[int, np.ndarray]]:
        rows = _STRIP_ROWS - _STRIP_ROWS % scale
        for y0, ratio in _ratio_strips(radiance_map, ref, crf, rows):
            lg = _log_gain(_SRGB_LUT[base[y0:y0 + ratio.shape[0]]], ratio, channels)
            yield y0, _block_mean(lg, scale)

    lo, hi = 0.0, -math.inf
    small: list[np.ndarray] = []
    for _, lg in strips():
        lo = min(lo, float(lg.min()))
        hi = max(hi, float(lg.max()))
        if scale > 1:
            small.append(lg)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("radiance map has NaN or infinite values")
    gmax = float(_fmt(max(min(hi, headroom), MIN_GAIN_MAX)))
    gmin = float(_fmt(max(lo, -headroom)))
    meta = GainMapMetadata((gmin,) * 3, (gmax,) * 3, (float(_fmt(gamma)),) * 3,
                           hdr_capacity_min=0.0, hdr_capacity_max=gmax).validate()
    hb, wb = -(-h // scale), -(-w // scale)
    codes = np.empty((hb, wb, channels), np.uint8)

    def encode(lg: np.ndarray) -> np.ndarray:
        t = np.clip((lg - gmin) / (gmax - gmin), 0.0, 1.0)
        if meta.gamma[0] != 1.0:
            t = t ** meta.gamma[0]
        return np.floor(t * 255.0 + 0.5).astype(np.uint8)

    if scale > 1:
        codes[:] = encode(np.concatenate(small, axis=0))
    else:
        for y0, lg in strips():
            codes[y0:y0 + lg.shape[0]] = encode(lg)
    return (codes[..., 0] if channels == 1 else codes), meta


def _radiance_shape(radiance_map: Any) -> tuple[int, int]:
    if isinstance(radiance_map, RadianceMap):
        return radiance_map.shape
    if isinstance(radiance_map, torch.Tensor):
        if radiance_map.ndim != 4 or radiance_map.shape[:2] != (1, 3):
            raise ValueError(f"radiance tensor must be (1,3,H,W), got {tuple(radiance_map.shape)}")
        return int(radiance_map.shape[2]), int(radiance_map.shape[3])
    arr = np.asarray(radiance_map)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"radiance array must be HxWx3, got shape {arr.shape}")
    return int(arr.shape[0]), int(arr.shape[1])


# --------------------------------------------------------------------------- writer


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


def ultrahdr_bytes(photo: "Photo | str | Path | np.ndarray", radiance_map: "RadianceMap | torch.Tensor | np.ndarray",
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


def _merge_xmp(old: bytes | None, description: str) -> bytes:
    """Our rdf:Description added to the photo's own XMP packet. Descriptions of an earlier gain map
    (hdrgm, GContainer) are removed first; the packet is dropped only if it cannot be parsed or
    would not fit one segment."""
    ours = _xmp_packet(description)
    if not old:
        return ours
    text = _drop_descriptions(old.decode("utf-8", errors="replace"),
                              (HDRGM_NS, CONTAINER_NS, REEXPOSE_NS, "hdrgm:", "Container:"))
    idx = text.rfind("</rdf:RDF>")
    if _parse_xmp(text.encode("utf-8")) is None or idx < 0:
        log.warning("dropping the photo's unreadable XMP packet")
        return ours
    merged = (text[:idx] + description + text[idx:]).encode("utf-8")
    if _parse_xmp(merged) is None:
        log.warning("dropping the photo's XMP packet: it does not merge with the gain-map metadata")
        return ours
    if len(merged) + len(XMP_SIG) + 2 > 0xFFFF:
        log.warning("dropping the photo's XMP packet: too large to merge with the gain-map metadata")
        return ours
    return merged


def _drop_descriptions(text: str, needles: tuple[str, ...]) -> str:
    """Remove the rdf:Description elements (with their content) that mention any of ``needles``."""
    out, pos = [], 0
    while True:
        start = text.find("<rdf:Description", pos)
        if start < 0:
            break
        tag_end = text.find(">", start)
        if tag_end < 0:
            break
        if text[tag_end - 1] == "/":
            end = tag_end + 1
        else:
            depth, i = 1, tag_end + 1
            while depth:
                nxt_open = text.find("<rdf:Description", i)
                nxt_close = text.find("</rdf:Description>", i)
                if nxt_close < 0:
                    return text  # malformed: leave it to the parser
                if 0 <= nxt_open < nxt_close:
                    open_end = text.find(">", nxt_open)
                    depth += 0 if text[open_end - 1] == "/" else 1
                    i = open_end + 1
                else:
                    depth -= 1
                    i = nxt_close + len("</rdf:Description>")
            end = i
        chunk = text[start:end]
        out.append(text[pos:start])
        if not any(n in chunk for n in needles):
            out.append(chunk)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def write_ultrahdr(path: str | Path, photo: "Photo | str | Path | np.ndarray",
                   radiance_map: "RadianceMap | torch.Tensor | np.ndarray", headroom: float | None = None,
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


# --------------------------------------------------------------------------- reader


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


def _check_pixels(jpeg: bytes, segs: list[_Segment], path: Any, what: str) -> None:
    """Refuse a JPEG whose frame header (SOFn) declares more pixels than the pixel limit
    (:func:`reexposure.formats.io.get_max_pixels`), before anything is decoded."""
    limit = get_max_pixels()
    for s in segs:
        if s.marker in _SOF_MARKERS:
            p = s.payload(jpeg)
            if len(p) >= 5:
                h, w = struct.unpack(">HH", p[1:5])
                if w * h > limit:
                    raise UltraHDRError(f"{_name(path)}: {what} is too large ({w}x{h} = {w * h:,} pixels, limit "
                                        f"{limit:,}; set {MAX_PIXELS_ENV} to raise it)")
            return


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def apply_gain_map(base_rgb: np.ndarray, codes: np.ndarray, meta: GainMapMetadata,
                   display_headroom: float | None = None) -> np.ndarray:
    """The HDR rendition (HxWx3 float32, 1.0 = SDR white) of an sRGB base (HxWx3 uint8) and its
    gain map codes (h x w or h x w x 3 uint8, upsampled bilinearly with centre-aligned samples)."""
    h, w = base_rgb.shape[:2]
    rec = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32) / 255.0)
    rec = rec[None, None] if rec.ndim == 2 else rec.permute(2, 0, 1)[None]
    if rec.shape[2:] != (h, w):
        rec = F.interpolate(rec, size=(h, w), mode="bilinear", align_corners=False)
    rec = rec[0].permute(1, 2, 0).numpy()  # h x w x C
    c = rec.shape[2]
    gmin = np.array(meta.gain_map_min, np.float32)[:c] if c == 3 else np.float32(meta.gain_map_min[0])
    gmax = np.array(meta.gain_map_max, np.float32)[:c] if c == 3 else np.float32(meta.gain_map_max[0])
    gam = np.array(meta.gamma, np.float32) if c == 3 else np.float32(meta.gamma[0])
    ksdr = np.array(meta.offset_sdr, np.float32)
    khdr = np.array(meta.offset_hdr, np.float32)
    lr = np.power(rec, 1.0 / gam) if np.any(gam != 1.0) else rec
    log_boost = gmin * (1.0 - lr) + gmax * lr
    weight = meta.weight(display_headroom)
    sdr = _SRGB_LUT[base_rgb]
    hdr = (sdr + ksdr) * np.exp2(log_boost * weight) - khdr
    return np.ascontiguousarray(hdr, dtype=np.float32)


def _reexpose_crf(rdf: ET.Element) -> str | None:
    for desc in rdf.iter(f"{{{RDF_NS}}}Description"):
        v = desc.get(f"{{{REEXPOSE_NS}}}CRF")
        if v:
            return v
    return None


def _read_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UltraHDRError(f"{path}: no such file") from None
    except OSError as exc:
        raise UltraHDRError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _name(path: Any) -> str:
    return "<bytes>" if isinstance(path, (bytes, bytearray)) else str(path)


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


def _radiance(base: np.ndarray, hdr: np.ndarray, crf: CRF) -> np.ndarray:
    sdr = _SRGB_LUT[base]
    lin = _lut(crf)[base]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sdr > 0, hdr / np.where(sdr > 0, sdr, 1.0), 1.0)
    return np.ascontiguousarray(np.maximum(lin * ratio, 0.0), dtype=np.float32)


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
