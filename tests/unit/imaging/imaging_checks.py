"""Helpers for checking derivatives by decoding them (unique module name: see conftest)."""

from __future__ import annotations

import io

from PIL import Image


def decode(data: bytes) -> Image.Image:
    """Open derivative bytes fully, for checks."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))
