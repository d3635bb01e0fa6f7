"""Result types handed back to callers, each with a JSON-serialisable ``to_dict()``."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageInfo:
    """What validation learned about an accepted image. Width and height are as displayed,
    i.e. after EXIF orientation."""

    format: str
    content_type: str
    width: int
    height: int
    mode: str
    bit_depth: int
    has_alpha: bool
    frame_count: int
    orientation: int
    byte_size: int
    sha256: str

    @property
    def animated(self) -> bool:
        return self.frame_count > 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "animated": self.animated}


@dataclass(frozen=True)
class Derivative:
    """One encoded output image (the display image or a thumbnail)."""

    name: str
    format: str
    content_type: str
    width: int
    height: int
    data: bytes = field(repr=False)
    digest: str = ""
    """The digest of the rendition that made it (qip.imaging.renditions.Rendition.digest)."""

    @property
    def byte_size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Everything but the pixels' bytes."""
        found = {"name": self.name, "format": self.format, "content_type": self.content_type,
                 "width": self.width, "height": self.height, "byte_size": self.byte_size}
        if self.digest:
            found.update(rendition=self.name, digest=self.digest, sha256=self.sha256)
        return found
