"""The operations the pipeline's functions call: bytes in, results out, no AWS.

Each operation decodes once. ``validate``, ``extract_metadata``, ``resize`` and ``thumbnails`` map
one-to-one onto pipeline steps; ``process`` does all of them from a single decode when one caller
needs everything (and is what the benchmark's "full pass" measures).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from PIL import Image

from .decode import load_strict, open_checked
from .exceptions import ImageProcessingError, ImagingError
from .exif import orientation_of, read_exif
from .limits import Limits
from .metadata import BLURHASH_SIDE, describe, metadata_record, sha256_hex
from .options import RenderOptions
from .produce import Rendered, render_source
from .render import Prepared, cascade, derivative, pool, prepare
from .renditions import Rendition
from .results import Derivative, ImageInfo
from .rights import Rights

DISPLAY_NAME = "display"
DEFAULT_LIMITS = Limits()
DEFAULT_OPTIONS = RenderOptions()

_T = TypeVar("_T")
_P = ParamSpec("_P")


def _typed_errors(operation: Callable[_P, _T]) -> Callable[_P, _T]:
    """Let ``ImagingError`` through; anything else (a bug, memory, the machine) becomes an
    ``ImageProcessingError`` chained to its cause, so callers retry exactly the unexpected."""

    @functools.wraps(operation)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return operation(*args, **kwargs)
        except ImagingError:
            raise
        except Exception as exc:
            raise ImageProcessingError(
                f"{operation.__name__} failed unexpectedly: {type(exc).__name__}: {exc}") from exc

    return wrapper


@_typed_errors
def validate(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ImageInfo:
    """Accept ``data`` or raise an ``InvalidImageError`` subclass carrying a reason code.

    Frame 0 is fully decoded (JPEG at 1/8 scale: the entropy data is still all read), because only
    decoding finds truncation and corruption.
    """
    source = open_checked(data, limits)
    width, height = source.size
    image = load_strict(source, (max(1, width // 8), max(1, height // 8)))
    return describe(source, orientation_of(read_exif(image, image.format or "")))


@_typed_errors
def extract_metadata(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Validate ``data`` and return its JSON-serialisable metadata record: ``ImageInfo`` fields,
    ``icc_profile`` (description or None), ``exif`` (camera, exposure, taken_at, GPS) and
    ``blurhash``."""
    source = open_checked(data, limits)
    prepared = prepare(source, BLURHASH_SIDE)
    info = describe(source, prepared.orientation)
    return metadata_record(info, prepared.icc, prepared.exif, prepared.image)


@_typed_errors
def resize(data: bytes, options: RenderOptions = DEFAULT_OPTIONS,
           limits: Limits = DEFAULT_LIMITS) -> Derivative:
    """The display image: upright, sRGB, fitted in ``options.max_side`` (never upscaled), in
    ``options.resize_format``, without EXIF."""
    prepared = prepare(open_checked(data, limits), options.max_side, options.shrink_tolerance)
    return derivative(DISPLAY_NAME, prepared.image, options.resize_format, options)


@_typed_errors
def thumbnails(data: bytes, options: RenderOptions = DEFAULT_OPTIONS,
               limits: Limits = DEFAULT_LIMITS) -> list[Derivative]:
    """Thumbnails at ``options.thumbnail_sizes``, largest first, from any image bytes (the
    original or the display image): decoded once, shrunk on load, each from the previous one."""
    prepared = prepare(open_checked(data, limits), options.thumbnail_sizes[0])
    return _thumbnails(prepared, options)


@_typed_errors
def make_renditions(data: bytes, renditions: Sequence[Rendition], options: RenderOptions = DEFAULT_OPTIONS,
                    limits: Limits = DEFAULT_LIMITS, rights: Rights | None = None) -> Rendered:
    """Renditions of any image bytes (the upload, or an output of larger renditions), from one
    decode, cascaded; each in each of its formats. ``rights``: the source's rights fields when
    ``data`` is itself an output (outputs carry only the fields their rendition kept)."""
    return render_source(open_checked(data, limits), renditions, options, rights)


@dataclass(frozen=True)
class Processed:
    """Everything ``process`` makes from one decode."""

    info: ImageInfo
    metadata: dict[str, Any]
    display: Derivative
    thumbnails: list[Derivative]

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info.to_dict(), "metadata": self.metadata,
                "display": self.display.to_dict(),
                "thumbnails": [t.to_dict() for t in self.thumbnails]}


@_typed_errors
def process(data: bytes, options: RenderOptions = DEFAULT_OPTIONS,
            limits: Limits = DEFAULT_LIMITS) -> Processed:
    """Validate, describe, resize and make thumbnails from a single decode.

    Hashing runs beside decoding and the display image is encoded beside the thumbnails (both
    release the GIL), so a second core shortens the pass; on one core it costs nothing extra.
    """
    source = open_checked(data, limits)
    digest = pool().submit(sha256_hex, data)
    prepared = prepare(source, options.max_side, options.shrink_tolerance)
    display_job = pool().submit(derivative, DISPLAY_NAME, prepared.image, options.resize_format,
                                options)
    steps = cascade(prepared.image, options.thumbnail_sizes)
    thumbs = [_thumbnail(size, image, options) for size, image in steps]
    info = describe(source, prepared.orientation, digest.result())
    metadata = metadata_record(info, prepared.icc, prepared.exif, steps[-1][1])
    display = display_job.result()
    return Processed(info=info, metadata=metadata, display=display, thumbnails=thumbs)


def _thumbnails(prepared: Prepared, options: RenderOptions) -> list[Derivative]:
    return [_thumbnail(size, image, options)
            for size, image in cascade(prepared.image, options.thumbnail_sizes)]


def _thumbnail(size: int, image: Image.Image, options: RenderOptions) -> Derivative:
    return derivative(f"thumb-{size}", image, options.thumbnail_format, options)
