"""Renditions: the named outputs an image gets, and the rules that pick them by key prefix.

The renditions file (`src/renditions.yaml`, shipped in the Lambda artifact; JSON Schema
`schemas/renditions.schema.json`, checked when the stack is built) names renditions and rules.
What a stack declares nothing for is today's set, built from the RenderOptions the template's
parameters give (MaxSide, ThumbnailSizes, ThumbnailFormat): `display` (fit in MaxSide, JPEG) and
`thumb-<N>` (fit in N, ThumbnailFormat). Those are the default rule unless the file names another.

Every rendition has a digest of its definition and the whole set a version (a hash of its
canonical content), so a manifest says exactly what made it, and reprocessing can tell which
images are stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .options import RenderOptions

FITS = ("contain", "cover", "fill")
CROPS = ("center", "attention")
FORMATS = ("jpeg", "webp", "avif", "png")
KEEPABLE = ("copyright", "artist", "rights")
"""Metadata a rendition may keep: EXIF/IPTC/XMP copyright, artist (creator), and the XMP rights
fields (usage terms, web statement, copyright status, credit). GPS is never kept."""
DEFAULT_QUALITY = {"jpeg": 85, "webp": 80, "avif": 60, "png": None}
SMALL_MAX_SIDE = 512
"""Renditions no larger than this (long side of their box) are made by the thumbnails step, from
the resize step's largest uncropped output; larger ones by the resize step, from the upload."""
BUILTIN_DISPLAY = "display"


class RenditionsError(ValueError):
    """The renditions configuration is not valid (a message for people, naming the field)."""


@dataclass(frozen=True)
class Rendition:
    """One named output: a box, how the image fits it, the formats it is written in, and what
    metadata it keeps."""

    name: str
    width: int | None = None
    height: int | None = None
    fit: str = "contain"
    crop: str = "center"
    formats: tuple[str, ...] = ("jpeg",)
    quality: int | None = None
    keep: tuple[str, ...] = ()
    large: bool | None = field(default=None, compare=False)
    """Made by the resize step whatever its size (the built-in display); None: by size."""

    def __post_init__(self) -> None:
        where = f"rendition {self.name!r}"
        if not self.width and not self.height:
            raise RenditionsError(f"{where}: give a width, a height or both")
        for side in (self.width, self.height):
            if side is not None and not 1 <= side <= 16_384:
                raise RenditionsError(f"{where}: sizes must be 1-16384 px, got {side}")
        if self.fit not in FITS:
            raise RenditionsError(f"{where}: fit must be one of {', '.join(FITS)}, got {self.fit!r}")
        if self.fit != "contain" and not (self.width and self.height):
            raise RenditionsError(f"{where}: fit {self.fit} needs both width and height")
        if self.crop not in CROPS:
            raise RenditionsError(f"{where}: crop must be one of {', '.join(CROPS)}, got {self.crop!r}")
        if not self.formats or any(f not in FORMATS for f in self.formats):
            raise RenditionsError(f"{where}: formats must be some of {', '.join(FORMATS)}, got {list(self.formats)}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise RenditionsError(f"{where}: quality must be 1-100, got {self.quality}")
        if any(k not in KEEPABLE for k in self.keep):
            raise RenditionsError(f"{where}: metadata.keep may name {', '.join(KEEPABLE)} (GPS is never kept), "
                                  f"got {list(self.keep)}")

    @property
    def long_side(self) -> int:
        return max(self.width or 0, self.height or 0)

    @property
    def small(self) -> bool:
        """Made by the thumbnails step."""
        return not self.large and self.long_side <= SMALL_MAX_SIDE

    def quality_for(self, fmt: str) -> int | None:
        return self.quality if self.quality is not None and fmt != "png" else DEFAULT_QUALITY[fmt]

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "fit": self.fit,
                "crop": self.crop if self.fit == "cover" else None, "formats": list(self.formats),
                "quality": {fmt: self.quality_for(fmt) for fmt in self.formats}, "keep": sorted(self.keep)}

    @property
    def digest(self) -> str:
        """A hash of what this rendition makes: equal digests, equal outputs."""
        return _hash(self.to_dict())[:12]


@dataclass(frozen=True)
class Rule:
    """Keys starting with `prefix` get `renditions` (the longest matching prefix wins)."""

    prefix: str
    renditions: tuple[str, ...]


@dataclass(frozen=True)
class RenditionSet:
    """Every rendition, the prefix rules and the default: what each image key gets."""

    renditions: Mapping[str, Rendition]
    rules: tuple[Rule, ...] = ()
    default: tuple[str, ...] = ()
    version: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for where, names in [("default", self.default)] + [(f"rule {r.prefix!r}", r.renditions) for r in self.rules]:
            if not names:
                raise RenditionsError(f"{where}: names no renditions")
            unknown = [n for n in names if n not in self.renditions]
            if unknown:
                raise RenditionsError(f"{where}: unknown rendition(s) {', '.join(unknown)}; "
                                      f"defined: {', '.join(sorted(self.renditions))}")
        prefixes = [r.prefix for r in self.rules]
        if len(set(prefixes)) != len(prefixes):
            twice = sorted({p for p in prefixes if prefixes.count(p) > 1})
            raise RenditionsError(f"two rules have the same prefix: {twice}")
        object.__setattr__(self, "version", _hash(self.to_dict())[:16])

    def select(self, key: str) -> tuple[Rendition, ...]:
        """The renditions of an image key: the longest matching rule's, else the default."""
        return tuple(self.renditions[name] for name in self.selection().names(key))

    def digests(self, key: str) -> dict[str, str]:
        """{rendition name: digest} for a key: what its manifest must record to be current."""
        return self.selection().digests(key)

    def selection(self) -> Selection:
        """What picks each key's renditions, without their definitions (for the operator's side)."""
        return Selection(self.version, self.rules, self.default,
                         {name: r.digest for name, r in self.renditions.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"renditions": {name: self.renditions[name].to_dict() for name in sorted(self.renditions)},
                "rules": [{"prefix": r.prefix, "renditions": list(r.renditions)} for r in self.rules],
                "default": list(self.default)}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, options: RenderOptions | None = None) -> RenditionSet:
        """From the renditions file's content (None or {} for a file that declares nothing), with
        the built-in renditions that `options` (the template's parameters) describe."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise RenditionsError("the renditions file must be a mapping with `renditions`, `rules`, `default`")
        builtins = builtin_renditions(options or RenderOptions())
        declared = data.get("renditions") or {}
        renditions = dict(builtins)
        for name, spec in declared.items():
            renditions[str(name)] = rendition_from_mapping(str(name), spec or {})
        rules = tuple(Rule(str(r.get("prefix", "")), tuple(str(n) for n in r.get("renditions") or ()))
                      for r in data.get("rules") or ())
        default = tuple(str(n) for n in data.get("default") or builtins)
        return cls(renditions=renditions, rules=rules, default=default)


@dataclass(frozen=True)
class Selection:
    """Which renditions (by digest) each key gets: enough to tell whether an image is stale."""

    version: str
    rules: tuple[Rule, ...]
    default: tuple[str, ...]
    digests_by_name: Mapping[str, str]

    def names(self, key: str) -> tuple[str, ...]:
        matching = [r for r in self.rules if key.startswith(r.prefix)]
        return max(matching, key=lambda r: len(r.prefix)).renditions if matching else self.default

    def digests(self, key: str) -> dict[str, str]:
        return {name: self.digests_by_name[name] for name in self.names(key)}

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "rules": [{"prefix": r.prefix, "renditions": list(r.renditions)}
                                                   for r in self.rules],
                "default": list(self.default), "digests": dict(self.digests_by_name)}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Selection:
        return cls(str(value["version"]), tuple(Rule(str(r["prefix"]), tuple(r["renditions"])) for r in value["rules"]),
                   tuple(value["default"]), dict(value["digests"]))


def rendition_from_mapping(name: str, spec: Mapping[str, Any]) -> Rendition:
    formats = spec.get("formats", spec.get("format", "jpeg"))
    formats = [formats] if isinstance(formats, str) else list(formats)
    metadata = spec.get("metadata") or {}
    keep = metadata.get("keep", ()) if isinstance(metadata, Mapping) else ()
    return Rendition(name=name, width=spec.get("width"), height=spec.get("height"), fit=spec.get("fit", "contain"),
                     crop=spec.get("crop", "center"), formats=tuple(_unique("jpeg" if f == "jpg" else str(f)
                                                                            for f in formats)),
                     quality=spec.get("quality"), keep=tuple(keep))


def builtin_renditions(options: RenderOptions) -> dict[str, Rendition]:
    """Today's outputs as renditions: display (MaxSide, JPEG) and one thumb-N per size."""
    found = {BUILTIN_DISPLAY: Rendition(BUILTIN_DISPLAY, options.max_side, options.max_side,
                                        formats=(options.resize_format,),
                                        quality=_quality(options, options.resize_format), large=True)}
    for size in options.thumbnail_sizes:
        name = f"thumb-{size}"
        found[name] = Rendition(name, size, size, formats=(options.thumbnail_format,),
                                quality=_quality(options, options.thumbnail_format))
    return found


def split(renditions: Sequence[Rendition]) -> tuple[list[Rendition], list[Rendition]]:
    """(large, small): what the resize step makes, and what the thumbnails step makes."""
    return [r for r in renditions if not r.small], [r for r in renditions if r.small]


def thumbnail_source(renditions: Sequence[Rendition]) -> Rendition | None:
    """The large uncropped rendition the small ones are made from (largest first), if one is big
    enough for all of them; else None: the thumbnails step then decodes the upload itself."""
    large, small = split(renditions)
    need = max((r.long_side for r in small), default=0)
    uncropped = sorted((r for r in large if r.fit == "contain" and r.width and r.height),
                       key=lambda r: r.long_side, reverse=True)
    return uncropped[0] if uncropped and uncropped[0].long_side >= need else None


def _quality(options: RenderOptions, fmt: str) -> int | None:
    return {"jpeg": options.jpeg_quality, "webp": options.webp_quality}.get(fmt, DEFAULT_QUALITY[fmt])


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
