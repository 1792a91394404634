"""EXIF metadata of photos: what is carried over to outputs, with the orientation reset to 1
(the pixels are stored upright)."""

from __future__ import annotations

import struct

from PIL import Image

from .common import _one_line, _warn

__all__ = ["reset_orientation", "EXIF_HEADER", "UPRIGHT_TRANSPOSE", "STORED_TRANSPOSE"]

#: EXIF orientation -> the transpose that shows stored pixels upright (what ImageOps.exif_transpose does)
UPRIGHT_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: EXIF orientation -> the transpose that turns upright pixels back into the stored orientation
STORED_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

EXIF_HEADER = b"Exif\x00\x00"


# --------------------------------------------------------------------------------------------
# EXIF helpers
# --------------------------------------------------------------------------------------------

# IFD0 tags worth carrying over from a TIFF file's own directory (the rest describe its layout).
_TIFF_EXIF_TAGS = (
    0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x8298,
    0x8769, 0x8825,
)  # fmt: skip


def reset_orientation(raw: bytes) -> bytes | None:
    """Patch the IFD0 Orientation entry of an EXIF block (``Exif\\0\\0`` + TIFF) to 1 in place, for
    pixels that are stored upright (keeps maker notes and everything else byte for byte). Returns the
    new block, or ``None`` if the structure could not be parsed."""
    try:
        tiff = bytearray(raw[len(EXIF_HEADER) :])
        e = {b"II": "<", b"MM": ">"}[bytes(tiff[:2])]
        if struct.unpack(e + "H", tiff[2:4])[0] != 42:
            return None
        ifd = struct.unpack(e + "I", tiff[4:8])[0]
        n = struct.unpack(e + "H", tiff[ifd : ifd + 2])[0]
        for i in range(n):
            off = ifd + 2 + 12 * i
            tag, typ, cnt = struct.unpack(e + "HHI", tiff[off : off + 8])
            if tag == 0x0112:
                if typ != 3 or cnt != 1:
                    return None
                tiff[off + 8 : off + 10] = struct.pack(e + "H", 1)
        return EXIF_HEADER + bytes(tiff)
    except (KeyError, struct.error, IndexError):
        return None


def _photo_exif(im: Image.Image, exif: Image.Exif | None, name: str, had_orientation: bool = False) -> bytes | None:
    """EXIF bytes for :attr:`Photo.exif`: original block with orientation reset to 1."""
    raw = im.info.get("exif")
    if isinstance(raw, (bytes, bytearray)) and raw and im.format != "TIFF":
        raw = bytes(raw)
        if raw[:4] in (b"II*\x00", b"MM\x00*"):
            raw = EXIF_HEADER + raw
        if raw.startswith(EXIF_HEADER):
            patched = reset_orientation(raw)
            if patched is not None:
                return patched
    if exif is None or len(exif) == 0:
        return None
    try:
        if im.format == "TIFF":  # the TIFF directory itself: keep descriptive tags only
            clean = Image.Exif()
            for tag in _TIFF_EXIF_TAGS:
                if tag in exif:
                    clean[tag] = exif.get_ifd(tag) if tag in (0x8769, 0x8825) else exif[tag]
            if had_orientation:
                clean[0x0112] = 1
            exif = clean
            if len(exif) == 0:
                return None
        if 0x0112 in exif:
            exif[0x0112] = 1
        return exif.tobytes()
    except Exception as exc:  # noqa: BLE001 - broken EXIF is dropped, never fatal
        _warn(f"{name}: dropped unreadable EXIF data ({_one_line(exc)})")
        return None
