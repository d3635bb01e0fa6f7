"""Safety limits checked before any pixel is decoded (the single place their defaults live)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Upper bounds for untrusted input; a breach is a rejection with a specific reason code."""

    max_bytes: int = 50 * MIB
    """Largest accepted file, in bytes."""
    max_pixels: int = 100_000_000
    """Largest accepted width x height of one frame, read from the header (decompression bombs)."""
    max_frames: int = 500
    """Most frames (animation) or pages (TIFF) accepted; counting stops as soon as it is exceeded."""
    max_metadata_bytes: int = 256 * 1024
    """Most bytes of embedded metadata (EXIF, XMP, ICC profile, comments, PNG text) accepted,
    summed from the container's segment or chunk lengths before anything is decoded."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = int(getattr(self, f.name))
            if value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive integer, got {value!r}")
            object.__setattr__(self, f.name, value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Limits:
        """Build from plain values (e.g. strings from environment variables); unknown keys are ignored
        and missing or empty ones take the default."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in values.items() if k in names and v not in (None, "")})

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
