"""Errors raised by the imaging core.

Two families, because the pipeline treats them differently: an ``InvalidImageError`` is a fact about
the input (permanent: the upload is REJECTED and never retried), an ``ImageProcessingError`` is a
failure of ours or of the machine (transient or a bug: the step may be retried, then FAILED).
"""

from __future__ import annotations


class ImagingError(Exception):
    """Base class of every error raised by ``qip.imaging``."""


class InvalidImageError(ImagingError):
    """The input is not an acceptable image; retrying cannot help."""

    reason_code = "invalid_image"

    def __init__(self, message: str, reason_code: str | None = None) -> None:
        super().__init__(message)
        if reason_code is not None:
            self.reason_code = reason_code

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict[str, str]:
        """JSON-serialisable form for callers of the image core (the pipeline itself speaks of a
        rejection as a `qip.core.model.Rejection`, made from this error by `Rejection.from_error`)."""
        return {"reason_code": self.reason_code, "message": str(self)}


class NotAnImageError(InvalidImageError):
    """The bytes are not one of the accepted image formats (text, SVG, PDF, polyglot...)."""

    reason_code = "not_an_image"


class UnsupportedFormatError(InvalidImageError):
    """An image format we recognise but do not accept, or a variant our decoders cannot read."""

    reason_code = "unsupported_format"


class ImageTooLargeError(InvalidImageError):
    """The file is larger than ``Limits.max_bytes``."""

    reason_code = "too_many_bytes"


class TooManyPixelsError(InvalidImageError):
    """The header declares more pixels than ``Limits.max_pixels`` (decompression bomb guard)."""

    reason_code = "too_many_pixels"


class TooManyFramesError(InvalidImageError):
    """An animation or multi-page file has more frames than ``Limits.max_frames``."""

    reason_code = "too_many_frames"


class MetadataTooLargeError(InvalidImageError):
    """The file carries more embedded metadata than ``Limits.max_metadata_bytes`` (huge EXIF,
    XMP, ICC profile, comments or PNG text chunks)."""

    reason_code = "too_much_metadata"


class CorruptImageError(InvalidImageError):
    """The header parsed but the image data cannot be decoded."""

    reason_code = "corrupt"


class TruncatedImageError(CorruptImageError):
    """The image data ends before the decoder has everything it needs."""

    reason_code = "truncated"


class ImageProcessingError(ImagingError):
    """An unexpected failure while processing a valid image (retryable, or a bug to look at)."""
