"""Describe an image: the validation summary (``ImageInfo``) and the full metadata record.

Everything is read from the header except the placeholders: BlurHash, computed on a copy of at
most 64 px (for JPEG decoded at 1/8 scale), and ThumbHash (keeps aspect ratio and alpha) on at
most 32 px of the same copy, so metadata costs little more than the entropy decoding.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import blurhash
from PIL import Image

from .colour import describe_profile, flatten
from .decode import Source
from .exif import exif_fields
from .results import ImageInfo
from .sniff import CONTENT_TYPES
from .thumbhash import thumbhash_of

BLURHASH_SIDE = 64
"""Long side of the copy the BlurHash is computed on."""
BLURHASH_COMPONENTS = (4, 3)
"""BlurHash x and y components (4x3 is the usual choice for photos)."""

_MODE_DEPTH = {"1": 1, "I": 32, "F": 32}


def describe(source: Source, orientation: int, sha256: str | None = None) -> ImageInfo:
    """Summarise a checked source. ``orientation`` is the EXIF orientation still to be applied
    (decoders of HEIF apply it themselves, so theirs is 1 and the stored one is reported);
    ``sha256`` if the caller already hashed the bytes (e.g. in a thread while decoding)."""
    width, height = source.size
    if orientation >= 5:  # 5-8 swap the axes
        width, height = height, width
    stored = source.image.info.get("original_orientation")
    return ImageInfo(
        format=source.format,
        content_type=CONTENT_TYPES[source.format],
        width=width,
        height=height,
        mode=source.mode,
        bit_depth=bit_depth(source),
        has_alpha="A" in source.mode or "transparency" in source.image.info,
        frame_count=source.frame_count,
        orientation=stored if isinstance(stored, int) and 1 <= stored <= 8 else orientation,
        byte_size=len(source.data),
        sha256=sha256 or sha256_hex(source.data),
    )


def sha256_hex(data: bytes) -> str:
    """SHA-256 of the file (hashlib releases the GIL, so this can run beside decoding)."""
    return hashlib.sha256(data).hexdigest()


def bit_depth(source: Source) -> int:
    """Bits per sample as stored (a 16-bit RGB PNG is 16 even though Pillow hands out 8 bits)."""
    image, data = source.image, source.data
    if source.format == "png" and len(data) > 24:
        return int(data[24])  # IHDR bit depth
    bits = getattr(image, "bits", None)  # JPEG SOF precision
    if source.format == "jpeg" and isinstance(bits, int):
        return bits
    if source.format == "tiff" and hasattr(image, "tag_v2"):
        bits = image.tag_v2.get(258)  # BitsPerSample
        bits = bits[0] if isinstance(bits, tuple) and bits else bits
        if isinstance(bits, int) and bits > 0:
            return bits
    if isinstance(image.info.get("bit_depth"), int):  # pillow-heif
        return int(image.info["bit_depth"])
    return 16 if source.mode.startswith("I;16") else _MODE_DEPTH.get(source.mode, 8)


def metadata_record(info: ImageInfo, icc: bytes | None, exif: Image.Exif | None,
                    hash_image: Image.Image) -> dict[str, Any]:
    """The JSON-serialisable metadata record from facts already gathered."""
    return {
        **info.to_dict(),
        "icc_profile": describe_profile(icc),
        "exif": exif_fields(exif),
        "blurhash": blurhash_of(hash_image),
        "thumbhash": thumbhash_of(hash_image),
    }


def blurhash_of(image: Image.Image) -> str:
    """BlurHash of an oriented sRGB image, computed on a copy of at most ``BLURHASH_SIDE`` px."""
    small = image.copy()
    small.thumbnail((BLURHASH_SIDE, BLURHASH_SIDE), Image.Resampling.BILINEAR)
    small = flatten(small, (255, 255, 255)).convert("RGB")
    with warnings.catch_warnings():  # blurhash-python 1.2.2 calls getdata(), deprecated in Pillow 13
        warnings.simplefilter("ignore", DeprecationWarning)
        return str(blurhash.encode(small, *BLURHASH_COMPONENTS))
