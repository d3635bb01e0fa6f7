"""Count frames (animation) or pages (TIFF) cheaply, stopping once the limit is exceeded.

Pillow's ``n_frames`` on a GIF walks every frame; a small file can declare thousands. Here the GIF
block structure is walked without decompressing anything, and the walk stops at ``stop_after + 1``.
"""

from __future__ import annotations

from PIL import Image


class StructureTruncated(Exception):
    """The container ends in the middle of a block (raised by the GIF walker)."""


def count_frames(image: Image.Image, data: bytes, stop_after: int) -> int:
    """Frames in the file, exact up to ``stop_after``; any larger count means "too many"."""
    if image.format == "GIF":
        return count_gif_frames(data, stop_after)
    if image.format == "TIFF":
        return _count_by_seeking(image, stop_after)
    # WebP (libwebp demux), APNG (acTL chunk), AVIF and HEIF read their frame count from the header.
    return int(getattr(image, "n_frames", 1) or 1)


def count_gif_frames(data: bytes, stop_after: int) -> int:
    """Walk GIF blocks, counting image descriptors; raises ``StructureTruncated`` mid-block."""
    size = len(data)
    if size < 13:
        raise StructureTruncated("GIF header")
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    frames = 0
    while pos < size:
        block = data[pos]
        pos += 1
        if block == 0x3B:  # trailer
            return frames
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 1)
        elif block == 0x2C:  # image descriptor
            frames += 1
            if frames > stop_after:
                return frames
            if pos + 9 >= size:
                raise StructureTruncated("GIF image descriptor")
            local = data[pos + 8]
            pos += 9 + (3 * (2 << (local & 7)) if local & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)  # +1: LZW minimum code size
        else:
            break  # unknown block: decoders stop here too
    if pos > size:
        raise StructureTruncated("GIF data")
    return frames


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1
        if length == 0:
            return pos
        pos += length
    return size + 1  # ran off the end without the terminating empty sub-block


def _count_by_seeking(image: Image.Image, stop_after: int) -> int:
    """TIFF pages: seeking parses one IFD at a time, so stop as soon as the limit is passed."""
    frames = 1
    try:
        while frames <= stop_after:
            image.seek(frames)
            frames += 1
    except EOFError:
        pass
    finally:
        image.seek(0)
    return frames
