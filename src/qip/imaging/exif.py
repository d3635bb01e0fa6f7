"""Read the EXIF fields the metadata record keeps, as plain JSON values.

EXIF is untrusted, often malformed input: every field is optional, a bad field becomes ``None``
instead of rejecting an otherwise good image, and strings are clipped so records stay small.
"""

from __future__ import annotations

import math
import struct
import warnings
from datetime import datetime
from typing import Any

from PIL import Image

MAX_TEXT = 128
"""Longest string kept from any EXIF text field."""

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXPOSURE, _FNUMBER, _ISO, _TAKEN, _TAKEN_OFFSET = 0x829A, 0x829D, 0x8827, 0x9003, 0x9011
_FOCAL, _LENS_MAKE, _LENS_MODEL = 0x920A, 0xA433, 0xA434
_PARSE_ERRORS = (SyntaxError, ValueError, TypeError, KeyError, IndexError, OSError, struct.error,
                 ZeroDivisionError, OverflowError)


def read_exif(image: Image.Image, pil_format: str) -> Image.Exif | None:
    """The image's EXIF block, without decoding pixels (``getexif()`` on a PNG would decode it)."""
    try:
        if pil_format == "TIFF":  # a TIFF's own tags are its EXIF IFD0
            return image.getexif()
        raw = image.info.get("exif")
        if not raw:
            return None
        exif = Image.Exif()
        with warnings.catch_warnings():  # Pillow warns on malformed EXIF; we just skip bad fields
            warnings.simplefilter("ignore", UserWarning)
            exif.load(raw if isinstance(raw, bytes) else bytes(raw))
        return exif
    except _PARSE_ERRORS:
        return None


def orientation_of(exif: Image.Exif | None) -> int:
    """EXIF orientation 1-8; anything missing or out of range counts as 1 (as displayed)."""
    if exif is None:
        return 1
    try:
        value = int(exif.get(_ORIENTATION, 1))
    except _PARSE_ERRORS:
        return 1
    return value if 1 <= value <= 8 else 1


def exif_fields(exif: Image.Exif | None) -> dict[str, Any]:
    """Camera, exposure, time and GPS fields as JSON-serialisable values (``None`` when absent)."""
    ifd0: Any = exif or {}
    sub = _ifd(exif, _EXIF_IFD)
    gps = _ifd(exif, _GPS_IFD)
    exposure = _number(sub.get(_EXPOSURE))
    coordinates = _gps_coordinates(gps)
    return {
        "orientation": orientation_of(exif),
        "make": _text(ifd0.get(_MAKE)),
        "model": _text(ifd0.get(_MODEL)),
        "lens": _text(sub.get(_LENS_MODEL)) or _text(sub.get(_LENS_MAKE)),
        "exposure_time": exposure,
        "exposure": _exposure_text(exposure),
        "f_number": _number(sub.get(_FNUMBER)),
        "focal_length": _number(sub.get(_FOCAL)),
        "iso": _iso(sub.get(_ISO)),
        "taken_at": _timestamp(sub.get(_TAKEN) or ifd0.get(_DATETIME), sub.get(_TAKEN_OFFSET)),
        "has_gps": bool(gps),
        "gps": coordinates,
    }


def _ifd(exif: Image.Exif | None, tag: int) -> dict[int, Any]:
    if exif is None:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return dict(exif.get_ifd(tag))
    except _PARSE_ERRORS:
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", " ").strip()
    return value[:MAX_TEXT] or None


def _number(value: Any) -> float | None:
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    try:
        number = float(value)
    except _PARSE_ERRORS:
        return None
    return round(number, 7) if math.isfinite(number) else None


def _iso(value: Any) -> int | None:
    number = _number(value[0] if isinstance(value, tuple) and value else value)
    return int(number) if number is not None and 0 < number < 10_000_000 else None


def _exposure_text(seconds: float | None) -> str | None:
    if seconds is None or seconds <= 0:
        return None
    if seconds < 1:
        return f"1/{round(1 / seconds)}"
    return f"{seconds:g}"


def _timestamp(value: Any, offset: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 - EXIF times carry no zone
    except ValueError:
        return None
    stamp = moment.isoformat()
    zone = _text(offset)
    if zone and len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
        stamp += zone
    return stamp


def _gps_coordinates(gps: dict[int, Any]) -> dict[str, float | None] | None:
    latitude = _degrees(gps.get(2), gps.get(1), "S", 90)
    longitude = _degrees(gps.get(4), gps.get(3), "W", 180)
    if latitude is None or longitude is None:
        return None
    altitude = _number(gps.get(6))
    if altitude is not None and gps.get(5) in (1, b"\x01"):
        altitude = -altitude
    return {"latitude": latitude, "longitude": longitude, "altitude": altitude}


def _degrees(value: Any, ref: Any, negative: str, bound: float) -> float | None:
    if not isinstance(value, tuple) or not 1 <= len(value) <= 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None for p in parts):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts) if p is not None)
    if _text(ref) == negative:
        degrees = -degrees
    return round(degrees, 7) if abs(degrees) <= bound else None
