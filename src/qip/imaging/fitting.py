"""The geometry of a rendition: what size the image is resized to, and what is cut from it.

- contain: the whole image inside the box, aspect ratio kept, never enlarged (no padding);
- cover: the box filled, aspect ratio kept, the overflow cropped; never enlarged: an image
  smaller than the box gives the largest crop of the box's aspect ratio it can;
- fill: exactly the box, aspect ratio not kept (the one fit that may enlarge: exact size is its point).
"""

from __future__ import annotations

from .renditions import Rendition

Size = tuple[int, int]


def _scaled(size: Size, scale: float) -> Size:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def scale_needed(size: Size, rendition: Rendition) -> float:
    """How much of the (oriented) source's resolution the rendition uses, at most 1."""
    width, height = size
    box_w, box_h = rendition.width, rendition.height
    if rendition.fit == "contain":
        return min(box_w / width if box_w else 1.0, box_h / height if box_h else 1.0, 1.0)
    assert box_w and box_h  # noqa: S101 - Rendition guarantees both for cover and fill
    if rendition.fit == "cover":
        return min(max(box_w / width, box_h / height), 1.0)
    return min(max(box_w / width, box_h / height), 1.0)


def resized_size(size: Size, rendition: Rendition) -> Size:
    """The size the image is resized to before any crop."""
    if rendition.fit == "fill":
        assert rendition.width and rendition.height  # noqa: S101 - guaranteed for fill
        return rendition.width, rendition.height
    return _scaled(size, scale_needed(size, rendition)) if scale_needed(size, rendition) < 1 else size


def crop_size(resized: Size, rendition: Rendition) -> Size | None:
    """What cover cuts out of the resized image (None for the other fits)."""
    if rendition.fit != "cover":
        return None
    assert rendition.width and rendition.height  # noqa: S101 - guaranteed for cover
    box_w, box_h = rendition.width, rendition.height
    if resized[0] >= box_w and resized[1] >= box_h:
        return box_w, box_h
    scale = min(resized[0] / box_w, resized[1] / box_h)
    crop = _scaled((box_w, box_h), scale)
    return min(crop[0], resized[0]), min(crop[1], resized[1])
