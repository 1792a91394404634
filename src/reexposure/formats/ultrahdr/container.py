"""The JPEG container of a gain-map JPEG: JPEG segments, the MPF (CIPA DC-007) index, finding
and stripping the gain map, decoding the base image as stored (with its EXIF orientation).
"""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..io import MAX_PIXELS_ENV, get_max_pixels

if TYPE_CHECKING:
    pass
from ..exif import STORED_TRANSPOSE, UPRIGHT_TRANSPOSE
from .metadata import CONTAINER_NS, ISO_SIG, ITEM_NS, MPF_SIG, XMP_SIG, UltraHDRError, _parse_xmp

__all__ = []


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


def _orientation(img: Image.Image) -> int:
    try:
        o = int(img.getexif().get(0x0112, 1))
    except Exception:
        return 1
    return o if o in UPRIGHT_TRANSPOSE else 1


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
    return _transpose(arr, UPRIGHT_TRANSPOSE.get(orientation))


def _undo_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Displayed -> stored (inverse of :func:`_apply_orientation`)."""
    return _transpose(arr, STORED_TRANSPOSE.get(orientation))


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


def _read_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UltraHDRError(f"{path}: no such file") from None
    except OSError as exc:
        raise UltraHDRError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _name(path: Any) -> str:
    return "<bytes>" if isinstance(path, (bytes, bytearray)) else str(path)
