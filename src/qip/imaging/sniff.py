"""Identify an image format from its magic bytes.

Names and declared content types lie; the first bytes of the file decide. Only the formats we accept
are recognised: anything else (SVG, PDF, HTML, text, other images) sniffs as ``None``.
"""

from __future__ import annotations

import struct

SNIFF_BYTES = 64
"""How many leading bytes ``sniff`` looks at (enough for an ISO-BMFF ``ftyp`` box)."""

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "avif": "image/avif",
    "heif": "image/heif",
}
"""Content type of each format ``sniff`` can return."""

PIL_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "tiff": "TIFF",
    "avif": "AVIF",
    "heif": "HEIF",
}
"""The one Pillow plugin allowed to parse each format (no guessing among all plugins)."""

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_MAIN_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_BRANDS = _HEIF_MAIN_BRANDS | {b"mif1", b"msf1", b"mif2"}


def sniff(head: bytes) -> str | None:
    """Return "jpeg", "png", "webp", "gif", "tiff", "avif", "heif" or None from the first bytes."""
    head = bytes(head[:SNIFF_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    return _sniff_isobmff(head)


def _sniff_isobmff(head: bytes) -> str | None:
    """AVIF and HEIF share the ISO-BMFF container; the ``ftyp`` brands tell them apart."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    (box_size,) = struct.unpack(">I", head[:4])
    if box_size < 16 or box_size % 4:
        return None
    major = head[8:12]
    end = min(box_size, len(head))
    compatible = {head[i:i + 4] for i in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS:
        return "avif"
    if major in _HEIF_MAIN_BRANDS:
        return "heif"
    if compatible & _AVIF_BRANDS:
        return "avif"
    if major in _HEIF_BRANDS or compatible & _HEIF_BRANDS:
        return "heif"
    return None
