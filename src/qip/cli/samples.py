"""Sample uploads for `qip demo`: made on the spot, so nothing is downloaded.

Photo-like images in several formats (one with an EXIF rotation and a GPS block, one with
transparency, one animated), keys with a space, a `+` and unicode, and two files that must be
REJECTED: a text file named `.jpg` and a truncated JPEG.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients plus noise, so codecs behave as they do on photographs."""
    base = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40 + seed)
    red = Image.blend(base, noise, 0.3)
    green = base.rotate(90 * (seed % 4)).resize((width, height))
    blue = Image.blend(noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.5)
    image = Image.merge("RGB", (red, green, blue))
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, width // 2, height // 2), fill=(220, 40, 40))
    return image


def _jpeg_with_exif() -> bytes:
    image = _photo(1600, 1067, 1)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise when displayed
    exif[0x010F], exif[0x0110] = "QIP", "Demo Camera"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _transparent_png() -> bytes:
    image = _photo(900, 1200, 2).convert("RGBA")
    alpha = Image.new("L", image.size, 0)
    ImageDraw.Draw(alpha).ellipse((50, 50, 850, 1150), fill=255)
    image.putalpha(alpha)
    return _encode(image, "PNG")


def _animated_gif() -> bytes:
    frames = [_photo(320, 240, seed).quantize(64) for seed in range(6)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)


def sample_files() -> dict[str, bytes]:
    """File name -> bytes of every demo upload."""
    jpeg = _jpeg_with_exif()
    return {
        "holiday photo.jpg": jpeg,
        "transparent logo.png": _transparent_png(),
        "café+menu.webp": _encode(_photo(1280, 720, 3), "WEBP", quality=80),
        "spinner.gif": _animated_gif(),
        "notes.jpg": b"These are meeting notes, saved with the wrong extension.\n",
        "broken upload.jpg": jpeg[: len(jpeg) // 2],
    }


def write_samples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in sample_files().items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
