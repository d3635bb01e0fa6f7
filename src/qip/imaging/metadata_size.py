"""How many bytes of embedded metadata a file carries, read from the container's own bookkeeping.

A huge EXIF/XMP/ICC block or PNG text chunk costs memory and parsing time in every later step and
is never what an honest photo needs, so ``open_checked`` rejects it against
``Limits.max_metadata_bytes``. JPEG and PNG are measured by walking segment or chunk headers only
(no payload is parsed or decompressed), before Pillow opens the file; the other formats use what
Pillow's header parse already exposes. Truncated or garbage structure never raises here: the walk
skips what Pillow skips, stops where Pillow would fail and counts only complete segments, leaving
the diagnosis to the decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

_SOS, _COM = 0xDA, 0xFE
_APP1, _APP15 = 0xE1, 0xEF
_NO_LENGTH = frozenset({0xC8, *range(0xD0, 0xDA), *range(0xF0, 0xFE)})
"""JPEG markers Pillow reads without a length field: JPG, RST0-7, SOI, EOI, JPG0-13."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA_CHUNKS = frozenset({b"eXIf", b"iTXt", b"zTXt", b"tEXt", b"iCCP"})
_INFO_KEYS = ("exif", "icc_profile", "xmp", "comment")
"""``Image.info`` entries holding metadata blobs (for formats not walked here)."""

DESCRIPTION = "EXIF/XMP/ICC/comments"


def container_metadata_bytes(data: bytes, fmt: str) -> int | None:
    """Metadata bytes of a JPEG or PNG from its segment/chunk lengths; None for other formats."""
    if fmt == "jpeg":
        return _jpeg_metadata_bytes(data)
    if fmt == "png":
        return _png_metadata_bytes(data)
    return None


def info_metadata_bytes(info: Mapping[Any, Any]) -> int:
    """Metadata bytes Pillow's header parse exposes in ``Image.info`` (EXIF, ICC, XMP, comment)."""
    total = 0
    for key in _INFO_KEYS:
        value = info.get(key)
        if isinstance(value, bytes | bytearray | str):
            total += len(value)
    return total


def _jpeg_metadata_bytes(data: bytes) -> int:
    """Sum of the length fields of the APP1..APP15 and COM segments between SOI and SOS.

    The walk resynchronises exactly as Pillow's JPEG header parser does (junk between segments
    skipped, 0xFF fill bytes, escaped 0xFF00, length fields below 2), so no segment Pillow would
    read can hide from the count behind a malformed one. It stops where Pillow would refuse the
    file (a byte that is no marker, a segment cut short) and leaves that diagnosis to Pillow.
    """
    total, pos, end = 0, 2, len(data)  # after SOI (sniff checked it)
    while True:
        pos = data.find(b"\xff", pos)  # Pillow skips non-0xFF junk before a marker
        if pos < 0 or pos + 1 >= end:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte: the next 0xFF starts the marker
            pos += 1
            continue
        pos += 2
        if marker == 0x00:  # escaped 0xFF: skipped
            continue
        if marker == _SOS or marker < 0xC0:  # scan data follows, or not a marker at all
            break
        if marker in _NO_LENGTH:
            continue
        if pos + 2 > end:
            break
        (length,) = struct.unpack_from(">H", data, pos)
        if pos + length > end:
            break  # a segment cut short: truncation is the decoder's to report
        if _APP1 <= marker <= _APP15 or marker == _COM:
            total += length
        pos += max(length, 2)  # Pillow reads a length below 2 as an empty segment
    return total


def _png_metadata_bytes(data: bytes) -> int:
    """Sum of the payload lengths of the EXIF, text and ICC chunks, wherever they sit (Pillow
    reads text chunks after IDAT too); IDAT/fdAT chunks are skipped by their length, not read."""
    total, pos, end = 0, len(_PNG_SIGNATURE), len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            break
        if kind in _PNG_METADATA_CHUNKS:
            total += length
        if kind == b"IEND":
            break
        pos += 12 + length
    return total
