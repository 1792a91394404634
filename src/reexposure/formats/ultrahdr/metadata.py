"""The gain-map metadata: constants, :class:`GainMapMetadata`, and the XMP that carries it
(Adobe gain map ``hdrgm`` attributes, the GContainer directory, ``reexpose:CRF``): built and parsed.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ... import __version__
from ..io import ImageError

if TYPE_CHECKING:
    pass

__all__ = ["CONTAINER_NS", "DEFAULT_HEADROOM", "GainMapMetadata", "HDRGM_NS", "ISO_SIG", "ITEM_NS",
           "MAX_HEADROOM", "MIN_GAIN_MAX", "MPF_SIG", "OFFSET", "RDF_NS", "REEXPOSE_NS", "UltraHDRError",
           "XMP_SIG"]

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


class UltraHDRError(ImageError):
    """A gain-map JPEG that cannot be written or read (one-line message)."""


def _triple(v: Any) -> tuple[float, float, float]:
    if isinstance(v, (int, float)):
        return (float(v),) * 3
    vals = tuple(float(x) for x in v)
    if len(vals) == 1:
        return vals[0], vals[0], vals[0]
    if len(vals) != 3:
        raise ValueError(f"expected 1 or 3 values, got {len(vals)}")
    return vals[0], vals[1], vals[2]


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

    def validate(self) -> GainMapMetadata:
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


def _reexpose_crf(rdf: ET.Element) -> str | None:
    for desc in rdf.iter(f"{{{RDF_NS}}}Description"):
        v = desc.get(f"{{{REEXPOSE_NS}}}CRF")
        if v:
            return v
    return None
