"""ThumbHash: a ~25-byte placeholder that keeps the aspect ratio and the alpha channel.

A port of the reference encoder (Evan Wallace's `thumbhash`, MIT; the npm package 0.1.1) written
for this project, because the PyPI package `thumbhash` 0.1.2 is an unmaintained single release
whose Python `round()` (half to even) differs from the reference's `Math.round` (half up), so it
writes other bytes than the reference for some images. Arithmetic is done in the reference's
order (a plain running sum, not `sum()`, whose float algorithm changed in Python 3.12), so the
bytes equal the reference's; tests/unit/imaging/test_imaging_thumbhash.py holds it to vectors
the reference computed.
"""

from __future__ import annotations

import base64
import math

from PIL import Image

MAX_SIDE = 32
"""Long side of the copy the hash is computed on (the reference allows 100; its decoder renders
32 px, and the hash's 7 luminance terms see no more detail in 100 px; ~10x less work)."""


def _round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to the even neighbour)."""
    return math.floor(value + 0.5)


def rgba_to_thumbhash(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of a width x height RGBA image (not premultiplied), row by row."""
    if not (0 < width <= 100 and 0 < height <= 100):
        raise ValueError(f"{width}x{height} does not fit in 100x100")
    if len(rgba) != width * height * 4:
        raise ValueError(f"expected {width * height * 4} bytes of RGBA, got {len(rgba)}")
    count = width * height
    avg_r = avg_g = avg_b = avg_a = 0.0
    for j in range(0, count * 4, 4):
        alpha = rgba[j + 3] / 255
        avg_r += alpha / 255 * rgba[j]
        avg_g += alpha / 255 * rgba[j + 1]
        avg_b += alpha / 255 * rgba[j + 2]
        avg_a += alpha
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a
    has_alpha = avg_a < count
    l_limit = 5 if has_alpha else 7
    longest = max(width, height)
    lx = max(1, _round(l_limit * width / longest))
    ly = max(1, _round(l_limit * height / longest))
    lum, yb, rg, alp = [], [], [], []
    for j in range(0, count * 4, 4):
        alpha = rgba[j + 3] / 255
        r = avg_r * (1 - alpha) + alpha / 255 * rgba[j]
        g = avg_g * (1 - alpha) + alpha / 255 * rgba[j + 1]
        b = avg_b * (1 - alpha) + alpha / 255 * rgba[j + 2]
        lum.append((r + g + b) / 3)
        yb.append((r + g) / 2 - b)
        rg.append(r - g)
        alp.append(alpha)

    l_dc, l_ac, l_scale = _encode_channel(lum, width, height, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(yb, width, height, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(rg, width, height, 3, 3)
    landscape = width > height
    header24 = (_round(63 * l_dc) | (_round(31.5 + 31.5 * p_dc) << 6) | (_round(31.5 + 31.5 * q_dc) << 12)
                | (_round(31 * l_scale) << 18) | (int(has_alpha) << 23))
    header16 = ((ly if landscape else lx) | (_round(63 * p_scale) << 3) | (_round(63 * q_scale) << 9)
                | (int(landscape) << 15))
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    channels = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alp, width, height, 5, 5)
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        channels.append(a_ac)
    start, index = len(out), 0
    for ac in channels:
        for factor in ac:
            position = start + (index >> 1)
            if position == len(out):
                out.append(0)
            out[position] |= _round(15 * factor) << ((index & 1) << 2)
            index += 1
    return bytes(out)


def _encode_channel(channel: list[float], width: int, height: int, nx: int,
                    ny: int) -> tuple[float, list[float], float]:
    """DC term, AC terms normalised to 0..1, and their scale (the reference's encodeChannel)."""
    dc, scale = 0.0, 0.0
    ac: list[float] = []
    for cy in range(ny):
        fys = [math.cos(math.pi / height * cy * (y + 0.5)) for y in range(height)]
        cx = 0
        while cx * ny < nx * (ny - cy):
            fx = [math.cos(math.pi / width * cx * (x + 0.5)) for x in range(width)]
            total = 0.0
            for y in range(height):
                fy = fys[y]
                row = y * width
                for x in range(width):
                    total += channel[row + x] * fx[x] * fy
            total /= width * height
            if cx or cy:
                ac.append(total)
                scale = max(scale, abs(total))
            else:
                dc = total
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * value for value in ac]
    return dc, ac, scale


def approximate_aspect_ratio(hash_bytes: bytes) -> float:
    """Width / height as the hash records it (the reference's thumbHashToApproximateAspectRatio)."""
    header = hash_bytes[3]
    has_alpha = hash_bytes[2] & 0x80
    landscape = hash_bytes[4] & 0x80
    lx = (5 if has_alpha else 7) if landscape else header & 7
    ly = header & 7 if landscape else (5 if has_alpha else 7)
    return lx / ly


def has_alpha(hash_bytes: bytes) -> bool:
    return bool(hash_bytes[2] & 0x80)


def thumbhash_of(image: Image.Image) -> str:
    """Base64 ThumbHash of an oriented sRGB image (alpha kept), on a copy of at most MAX_SIDE px."""
    small = image.copy()
    small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    small = small.convert("RGBA")
    return base64.b64encode(rgba_to_thumbhash(small.width, small.height, small.tobytes())).decode()
