"""Pure image operations for the pipeline: sniff, validate, describe, resize, thumbnails.

No AWS here: functions take bytes and return bytes and plain results, so each Lambda handler is a
thin shell around one call. Pillow does the work (pillow-heif adds HEIC/HEIF); see
``bench/imaging_bench.py`` for speed and memory against a plain Pillow baseline.
"""

from .api import Processed, extract_metadata, process, resize, thumbnails, validate
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
from .results import Derivative, ImageInfo
from .sniff import CONTENT_TYPES, sniff

__all__ = [
    "CONTENT_TYPES",
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
    "TooManyFramesError",
    "TooManyPixelsError",
    "TruncatedImageError",
    "UnsupportedFormatError",
    "extract_metadata",
    "process",
    "resize",
    "sniff",
    "thumbnails",
    "validate",
]
