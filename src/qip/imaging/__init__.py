"""Pure image operations for the pipeline: sniff, validate, describe, resize, thumbnails.

No AWS here: functions take bytes and return bytes and plain results, so each Lambda handler is a
thin shell around one call. Pillow does the work (pillow-heif adds HEIC/HEIF); see
``bench/imaging_bench.py`` for speed and memory against a plain Pillow baseline.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .exceptions import (
    CorruptImageError,
    ImageProcessingError,
    ImageTooLargeError,
    ImagingError,
    InvalidImageError,
    MetadataTooLargeError,
    NotAnImageError,
    TooManyFramesError,
    TooManyPixelsError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from .limits import Limits
from .options import OUTPUT_FORMATS, RenderOptions
from .renditions import Rendition, RenditionsError, RenditionSet
from .results import Derivative, ImageInfo
from .sniff import CONTENT_TYPES, SNIFF_BYTES, sniff

if TYPE_CHECKING:
    from .operations import Processed, extract_metadata, make_renditions, process, resize, thumbnails, validate

# The operations (and Pillow behind them) are imported on first use (PEP 562): settings and
# ingest read limits, options and magic bytes without paying for Pillow's import.
_OPERATIONS = ("Processed", "extract_metadata", "make_renditions", "process", "resize", "thumbnails", "validate")


def __getattr__(name: str) -> Any:
    if name not in _OPERATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(".operations", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CONTENT_TYPES",
    "SNIFF_BYTES",
    "OUTPUT_FORMATS",
    "CorruptImageError",
    "Derivative",
    "ImageInfo",
    "ImageProcessingError",
    "ImageTooLargeError",
    "ImagingError",
    "InvalidImageError",
    "Limits",
    "MetadataTooLargeError",
    "NotAnImageError",
    "Processed",
    "RenderOptions",
    "Rendition",
    "RenditionSet",
    "RenditionsError",
    "TooManyFramesError",
    "TooManyPixelsError",
    "TruncatedImageError",
    "UnsupportedFormatError",
    "extract_metadata",
    "make_renditions",
    "process",
    "resize",
    "sniff",
    "thumbnails",
    "validate",
]
