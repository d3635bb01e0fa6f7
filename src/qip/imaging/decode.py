"""Open untrusted bytes safely: size, magic bytes, header, pixel and frame limits, then strict decoding.

Every check that can be made from the header is made before any pixel is decoded. Decoding is strict:
``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay False, and a full ``load()`` is what detects truncation.

A decoder error is a verdict on the file (an ``InvalidImageError``: REJECTED, never retried); a
failure of the machine is not (``ImageProcessingError``: the step raises ``TransientError``, which the
state machine retries with backoff, then FAILED). They are told apart by what is raised:

- ``_DECODE_ERRORS`` (what Pillow and its plugins raise on bad data) are the file's fault;
- a ``RuntimeError`` is the file's fault only when it is a decoder's verdict worded as such (see
  ``_decoder_verdict``: Pillow's AVIF plugin raises libavif's parse and decode failures as
  RuntimeError), never when its result is the machine's (out of memory, no codec);
- ``MemoryError``, and every other exception, stays an ``ImageProcessingError`` (retried: a bigger or
  less busy environment may succeed);
- a decode that runs too long is not seen here at all: the Lambda times out and Step Functions
  retries the task on ``Sandbox.Timedout``/``States.Timeout`` (the Retry of every Task in
  ``statemachine/pipeline.asl.json``), then ends FAILED.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from .exceptions import (
    CorruptImageError,
    ImageProcessingError,
    ImageTooLargeError,
    InvalidImageError,
    MetadataTooLargeError,
    NotAnImageError,
    TooManyFramesError,
    TooManyPixelsError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from .frames import StructureTruncated, count_frames
from .limits import Limits
from .metadata_size import DESCRIPTION, container_metadata_bytes, info_metadata_bytes
from .sniff import PIL_FORMATS, SNIFF_BYTES, sniff

pillow_heif.register_heif_opener()  # HEIC/HEIF; Pillow 13 reads AVIF itself

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
                  struct.error, zlib.error)
"""What Pillow and its plugins raise on bad data; anything else is a bug or the machine."""


_TRUNCATION_WORDS = ("truncat", "end of file", "premature end")

_DECODER_FAILURE_WORDING = ("failed to decode", "conversion from yuv failed")
"""How Pillow's AVIF plugin (``_avif.c``) words the RuntimeError it raises when libavif fails on the
data: "Failed to decode image: <result>" (parsing, in ``Image.open``), "Failed to decode frame N:
<result>" and "Conversion from YUV failed: <result>" (``load()``). pillow-heif raises libheif's
decoding errors as ValueError/EOFError/SyntaxError (in ``_DECODE_ERRORS``); its RuntimeErrors are
allocation and internal errors, so none of its wording is here."""
_MACHINE_RESULTS = ("out of memory", "no codec available")
"""libavif results that are about this machine or build, not the file: they stay transient (or a
bug to look at), even in a decoder's wording."""


@dataclass
class Source:
    """An opened, header-checked image (frame 0) and the facts about its bytes."""

    image: Image.Image
    format: str
    data: bytes
    frame_count: int
    mode: str
    """Pixel mode as stored (``draft()`` and decoding may change ``image.mode``)."""
    size: tuple[int, int]
    """Width and height as stored (``draft()`` changes ``image.size``)."""


def open_checked(data: bytes, limits: Limits) -> Source:
    """Check bytes, magic, metadata size, header, pixels and frames; nothing is decoded yet."""
    size = len(data)
    if size == 0:
        raise NotAnImageError("empty file (0 bytes)")
    if size > limits.max_bytes:
        raise ImageTooLargeError(f"file is {size} bytes; the limit is {limits.max_bytes}")
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None:
        raise NotAnImageError("not a supported image: magic bytes match no accepted format")
    name = fmt.upper()
    missing = _container_truncated(data, fmt)
    if missing:
        raise TruncatedImageError(f"truncated {name}: {missing}")
    walked = container_metadata_bytes(data, fmt)  # JPEG/PNG: before Pillow parses any of it
    if walked is not None:
        _check_metadata(name, walked, limits)
    image = _open_header(data, fmt)
    if walked is None:
        _check_metadata(name, info_metadata_bytes(image.info), limits)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"{name} header declares an empty image ({width}x{height})")
    if width * height > limits.max_pixels:
        raise TooManyPixelsError(
            f"{name} header declares {width}x{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}")
    try:
        frames = count_frames(image, data, limits.max_frames)
    except StructureTruncated as exc:
        raise TruncatedImageError(f"truncated {name}: file ends inside the {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError(f"corrupt {name}: cannot count frames: {exc}") from exc
    if frames > limits.max_frames:
        raise TooManyFramesError(f"{name} has more than {limits.max_frames} frames")
    return Source(image=image, format=fmt, data=data, frame_count=max(frames, 1),
                  mode=image.mode, size=image.size)


def _check_metadata(name: str, amount: int, limits: Limits) -> None:
    if amount > limits.max_metadata_bytes:
        raise MetadataTooLargeError(f"{name} carries {amount} bytes of metadata ({DESCRIPTION}); "
                                    f"the limit is {limits.max_metadata_bytes}")


def _open_header(data: bytes, fmt: str) -> Image.Image:
    """Parse only the header, with the one plugin the magic bytes name."""
    name = fmt.upper()
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked right after; Pillow's bomb *error* still applies.
            # Pillow also warns (UserWarning) on corrupt metadata it skips: noise, not a finding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            return Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        raise TooManyPixelsError(f"{name} header declares too many pixels: {exc}") from exc
    except RuntimeError as exc:
        verdict = _decoder_verdict(exc, name)
        if verdict is None:
            raise
        raise verdict from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        if "unsupported" in str(exc).lower():  # e.g. a HEIF coded with a codec we lack
            raise UnsupportedFormatError(f"unsupported {name} variant: {exc}") from exc
        # Magic bytes alone do not make an image: a header that does not parse as the format it
        # claims (a polyglot, or garbage behind a signature) is "not an image", not "corrupt".
        detail = "" if isinstance(exc, UnidentifiedImageError) else f": {str(exc).strip()}"
        raise NotAnImageError(f"starts like {name} but its header does not parse as {name}"
                              f"{detail}") from exc


def _container_truncated(data: bytes, fmt: str) -> str | None:
    """Cheap checks of the container's own length bookkeeping, which decoding frame 0 alone
    would miss (later animation frames) or report as an unparsable header (WebP)."""
    if fmt == "webp":
        (declared,) = struct.unpack("<I", data[4:8])
        if declared + 8 > len(data):
            return f"RIFF container declares {declared + 8} bytes, file has {len(data)}"
    if fmt == "png" and data.rfind(b"IEND", 33) < 0:
        return "no IEND chunk (the file ends early)"
    return None


def load_strict(source: Source, min_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode frame 0 fully, raising on truncation or corruption.

    ``min_size``: for JPEG, decode at the smallest DCT scale (1/2, 1/4, 1/8) that still gives at
    least this size (shrink-on-load). The whole entropy-coded data is still read, so truncation is
    still detected.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise ImageProcessingError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; refusing to "
                                   "decode because truncated images would pass as valid")
    image, name = source.image, source.format.upper()
    if min_size is not None and source.format == "jpeg" and image.mode in ("RGB", "L", "CMYK"):
        image.draft(image.mode, (max(1, min_size[0]), max(1, min_size[1])))
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise TooManyPixelsError(f"{name} frame has too many pixels: {exc}") from exc
    except MemoryError as exc:
        raise ImageProcessingError(f"out of memory decoding {name}") from exc
    except RuntimeError as exc:
        verdict = _decoder_verdict(exc, name)
        if verdict is None:
            raise
        raise verdict from exc
    except _DECODE_ERRORS as exc:
        message = str(exc).strip() or type(exc).__name__
        if "unsupported" in message.lower():
            raise UnsupportedFormatError(f"unsupported {name} variant: {message}") from exc
        if isinstance(exc, EOFError) or any(w in message.lower() for w in _TRUNCATION_WORDS):
            raise TruncatedImageError(f"truncated {name}: {message}") from exc
        raise CorruptImageError(f"corrupt {name}: {message}") from exc
    return image


def _decoder_verdict(error: RuntimeError, name: str) -> InvalidImageError | None:
    """The rejection a decoder's RuntimeError stands for, or None when it is not one (it then
    propagates, and the operation reports it as a retryable ``ImageProcessingError``).

    Only the wording of a decoder's failure on the data counts (``_DECODER_FAILURE_WORDING``), and
    not when its result is the machine's (``_MACHINE_RESULTS``). libavif's "Not implemented" is a
    feature the file uses that the decoder lacks: an unsupported variant, not a corrupt file.
    """
    message = str(error).strip()
    lowered = message.lower()
    if not lowered.startswith(_DECODER_FAILURE_WORDING) or any(w in lowered for w in _MACHINE_RESULTS):
        return None
    if "not implemented" in lowered:
        return UnsupportedFormatError(f"unsupported {name} variant: {message}")
    return CorruptImageError(f"corrupt {name}: {message}")
