"""Rendering options for derivatives (the single place their defaults live).

Fields are plain types so a settings module can build them from environment variables through
``RenderOptions.from_mapping``; values are checked on construction so a bad setting fails at start-up,
not on the first image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

OUTPUT_FORMATS = {"jpeg": "image/jpeg", "webp": "image/webp", "png": "image/png", "avif": "image/avif"}
"""Formats derivatives can be written in, with their content types."""

ALPHA_FORMATS = frozenset({"webp", "png", "avif"})
"""Output formats that keep transparency; the others are flattened on ``background``."""


@dataclass(frozen=True)
class RenderOptions:
    """How the display image and the thumbnails are made."""

    max_side: int = 2048
    """The display image fits in a max_side x max_side box; never upscaled."""
    resize_format: str = "jpeg"
    """Format of the display image: jpeg, webp or png."""
    jpeg_quality: int = 85
    """JPEG quality, 1-95."""
    jpeg_progressive: bool = False
    """Progressive JPEG: a few % smaller and renders early, but 2048 px encodes in ~36 ms, not ~8."""
    thumbnail_sizes: tuple[int, ...] = (512, 256, 128)
    """Long-side sizes of the thumbnails, made largest first, each from the one before."""
    thumbnail_format: str = "webp"
    """Format of the thumbnails: webp (default), jpeg (fallback) or png."""
    webp_quality: int = 80
    """WebP quality, 0-100."""
    webp_method: int = 1
    """WebP effort 0-6; chosen by measurement (bench/imaging_bench.py): 4+ costs 2-3x the time."""
    avif_quality: int = 60
    """AVIF quality, 0-100 (60 looks like JPEG 85 at about half the bytes)."""
    avif_speed: int = 8
    """AVIF (libaom) encoder speed 0-10, by measurement (`bench/imaging_bench.py --avif`, 1200 px):
    speed 6 (Pillow's default) 1.3 s, 8 0.43 s, 10 0.25 s, at about the same bytes and PSNR on the
    bench's synthetic photo; 8, not 10, because 9-10 are libaom's real-time presets, known to lose
    detail on real photos: check there before going faster."""
    background: tuple[int, int, int] = (255, 255, 255)
    """Colour transparent areas are flattened on for formats without alpha (JPEG)."""
    embed_icc: bool = False
    """Embed an sRGB ICC profile in derivatives (untagged already means sRGB; costs ~0.5 KB)."""
    shrink_tolerance: float = 0.05
    """How much smaller than max_side the display image may come out when that lets a JPEG decode
    at a smaller DCT scale: a 4000 px photo decodes at 1/2 and gives 2000 px instead of being
    decoded whole and resized to 2048 (1.6x faster, measured by bench/imaging_bench.py). 0 = exact."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "resize_format", _format(self.resize_format))
        set_(self, "thumbnail_format", _format(self.thumbnail_format))
        sizes = _int_tuple(self.thumbnail_sizes)
        set_(self, "thumbnail_sizes", tuple(sorted(set(sizes), reverse=True)))
        set_(self, "background", _colour(self.background))
        set_(self, "jpeg_progressive", _bool(self.jpeg_progressive))
        set_(self, "embed_icc", _bool(self.embed_icc))
        tolerance = float(self.shrink_tolerance)
        if not 0 <= tolerance < 0.5:
            raise ValueError(f"RenderOptions.shrink_tolerance must be in 0..0.5, got {tolerance}")
        set_(self, "shrink_tolerance", tolerance)
        for name, low, high in (("max_side", 1, 65_535), ("jpeg_quality", 1, 95),
                                ("webp_quality", 0, 100), ("webp_method", 0, 6),
                                ("avif_quality", 0, 100), ("avif_speed", 0, 10)):
            value = int(getattr(self, name))
            if not low <= value <= high:
                raise ValueError(f"RenderOptions.{name} must be in {low}..{high}, got {value}")
            set_(self, name, value)
        if not self.thumbnail_sizes or not all(0 < s <= 65_535 for s in self.thumbnail_sizes):
            raise ValueError(f"RenderOptions.thumbnail_sizes must be positive, got {sizes}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RenderOptions:
        """Build from plain values such as environment strings ("512,256,128", "#ffffff", "true");
        unknown keys are ignored, missing or empty ones take the default."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v not in (None, "")})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}


def _format(value: Any) -> str:
    name = str(value).strip().lower()
    name = "jpeg" if name == "jpg" else name
    if name not in OUTPUT_FORMATS:
        raise ValueError(f"output format must be one of {sorted(OUTPUT_FORMATS)}, got {value!r}")
    return name


def _int_tuple(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(" ", ",").split(",") if part]
    return tuple(int(v) for v in value)


def _colour(value: Any) -> tuple[int, int, int]:
    if isinstance(value, str) and value.strip().startswith("#"):
        hexa = value.strip()[1:]
        if len(hexa) == 3:
            hexa = "".join(c * 2 for c in hexa)
        if len(hexa) != 6:
            raise ValueError(f"background must be #rgb or #rrggbb, got {value!r}")
        value = (int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16))
    rgb = _int_tuple(value)
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"background must be three integers 0-255, got {value!r}")
    return (rgb[0], rgb[1], rgb[2])


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise ValueError(f"expected a boolean, got {value!r}")
        return lowered in {"1", "true", "yes", "on"}
    return bool(value)
