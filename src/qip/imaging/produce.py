"""Make a set of renditions from one decode: shrink on load to what the largest needs, then
cascade: each rendition is resized from the smallest uncropped image already made that is big
enough for it (as the thumbnails always were), cropped if it covers its box, and encoded in
each of its formats (in threads: encoders release the GIL).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image

from .crops import Saliency, crop_box, saliency
from .decode import Source
from .exif import orientation_of, read_exif
from .fitting import crop_size, resized_size, scale_needed
from .options import RenderOptions
from .render import _resize, derivative, pool, prepare
from .renditions import Rendition
from .results import Derivative
from .rights import Rights, read_rights


@dataclass(frozen=True)
class Rendered:
    """The encoded outputs, in the order asked (each rendition's formats in its order), and the
    rights fields read from the source (for steps that make more renditions from an output)."""

    outputs: list[Derivative]
    rights: Rights = field(default_factory=Rights)


def render_source(source: Source, renditions: Sequence[Rendition], options: RenderOptions,
                  rights: Rights | None = None) -> Rendered:
    """Every rendition of a header-checked source. ``rights``: the fields to write where a
    rendition keeps them, when the source is itself an output (which carries none); else read."""
    if not renditions:
        return Rendered([], rights or Rights())
    full = _oriented_size(source)
    scales = {r.name: scale_needed(full, r) for r in renditions}
    if source.format != "jpeg":  # orientation may only be known after decoding: plan for either
        swapped = (full[1], full[0])
        scales = {r.name: max(scales[r.name], scale_needed(swapped, r)) for r in renditions}
    order = sorted(renditions, key=lambda r: scales[r.name], reverse=True)
    top = order[0]
    box = max(1, math.ceil(max(full) * scales[top.name] - 1e-9))
    tolerance = options.shrink_tolerance if top.fit == "contain" and not top.small else 0.0  # as resize() had
    prepared = prepare(source, box, tolerance)
    if rights is None:
        rights = read_rights(source.image, prepared.exif)
    base = prepared.image
    chain = [base]
    attention: Saliency | None = None
    made: dict[str, Image.Image] = {}
    for rendition in order:
        target = resized_size(base.size, rendition)
        start = min((im for im in chain if im.width >= target[0] and im.height >= target[1]),
                    key=lambda im: im.width * im.height, default=base)
        resized = _resize(start, target)
        if rendition.fit != "fill":
            chain.append(resized)
        crop = crop_size(resized.size, rendition)
        if crop is not None and crop != resized.size:
            if rendition.crop == "attention" and attention is None:
                attention = saliency(base)
            resized = resized.crop(crop_box(resized.size, crop, rendition.crop, attention))
        made[rendition.name] = resized
    jobs = [(r, fmt) for r in renditions for fmt in r.formats]

    def encode(job: tuple[Rendition, str]) -> Derivative:
        rendition, fmt = job
        return derivative(rendition.name, made[rendition.name], fmt, options, rendition.quality_for(fmt),
                          rights.kept(rendition.keep), rendition.digest)

    outputs = [encode(jobs[0])] if len(jobs) == 1 else list(pool().map(encode, jobs))
    return Rendered(outputs, rights)


def _oriented_size(source: Source) -> tuple[int, int]:
    """The source's size as displayed, from the orientation its header tells (JPEG: always)."""
    width, height = source.size
    orientation = orientation_of(read_exif(source.image, source.image.format or ""))
    return (height, width) if orientation >= 5 else (width, height)
