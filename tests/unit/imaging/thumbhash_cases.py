"""Deterministic RGBA test images for ThumbHash, made from formulas (no resampling), so the
reference implementation and ours hash exactly the same pixels."""

from __future__ import annotations

import math


def _image(width: int, height: int, pixel) -> bytes:
    out = bytearray()
    for y in range(height):
        for x in range(width):
            out.extend(pixel(x, y))
    return bytes(out)


def gradient(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    return (round(255 * x / max(w - 1, 1)), round(255 * y / max(h - 1, 1)), 128, 255)


def disc(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    inside = math.hypot(x - w / 2, y - h / 2) < min(w, h) / 3
    return (220, 40, 60, 255) if inside else (0, 0, 0, 0)


def _noise(x: int, y: int) -> int:
    """A fixed pseudo-random 0..36: photos have no exactly-zero DCT terms, and neither do these."""
    return ((x * 73856093) ^ (y * 19349663)) % 37


def stripes(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    n = _noise(x, y)
    return (30 + n, 200 - n // 2, 90, 255) if (x // 3) % 2 else (210 + n, 240, 20 + n, 255)


def ramp_alpha(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    return (10 + _noise(x, y), 120, 250 - _noise(y, x), round(200 * x / max(w - 1, 1)) + _noise(y, x))


def symmetric(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """Mirror-symmetric stripes: some terms are exactly zero, so cos() rounding decides ties."""
    return (30, 200, 90, 255) if (x // 3) % 2 else (240, 240, 20, 255)


RECIPES = {"gradient": gradient, "disc": disc, "stripes": stripes, "ramp_alpha": ramp_alpha, "symmetric": symmetric}
# (recipe, width, height): landscape, portrait, square, tiny, the reference's 100 px limit, and
# 10x28 and 28x10, where 7 * 10 / 28 = 2.5 rounds to 3 in the reference and to 2 with round().
CASES = [("gradient", 32, 24), ("gradient", 24, 32), ("disc", 32, 32), ("stripes", 100, 60),
         ("ramp_alpha", 20, 20), ("gradient", 10, 28), ("stripes", 28, 10), ("disc", 3, 1),
         ("ramp_alpha", 1, 1)]
TIES = [("symmetric", 28, 10)]


def rgba(recipe: str, width: int, height: int) -> bytes:
    return _image(width, height, lambda x, y: RECIPES[recipe](x, y, width, height))
