"""Pixel modes and colour: bring any decoded frame to 8-bit L/LA/RGB/RGBA in sRGB.

Derivatives are published untagged or tagged sRGB, so an embedded profile (Adobe RGB, Display P3,
CMYK press profiles...) is converted with LittleCMS rather than dropped, which would shift colours.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageCms

from .exceptions import UnsupportedFormatError

WORKING_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK"})
"""Modes resizing works in; CMYK stays CMYK until its profile (or a naive formula) makes it RGB."""


def to_working_mode(image: Image.Image) -> Image.Image:
    """8-bit, resizable mode, keeping alpha (palette transparency included)."""
    mode = image.mode
    if mode in WORKING_MODES:
        return image
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if alpha else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16"):
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if mode in ("I", "F"):
        high = float(image.getextrema()[1])  # type: ignore[arg-type]
        if mode == "F" and high <= 1.0:
            scale = 255.0  # float images in 0..1
        else:
            scale = 1.0 if high <= 255 else 1 / 257 if high <= 65_535 else 255 / high
        return image.point(lambda v: v * scale).convert("L")
    if mode == "RGBa":
        return image.convert("RGBA")
    if mode == "La":
        return image.convert("LA")
    try:
        return image.convert("RGBA" if "A" in mode else "RGB")
    except ValueError as exc:  # e.g. LAB or HSV TIFFs: valid files we have no conversion for
        raise UnsupportedFormatError(f"pixel mode {mode} is not supported") from exc


def has_alpha(image: Image.Image) -> bool:
    """True for modes with an alpha band and palette images with a transparent index."""
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert colour to sRGB through ``icc`` if given; CMYK without one uses the naive formula.

    A profile LittleCMS cannot use, or that does not fit the pixels, is ignored (as browsers do):
    a bad profile is no reason to reject a photo.
    """
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    converted = _transform(base, icc) if icc else None
    if converted is None:
        if base.mode == "CMYK":
            converted = base.convert("RGB")
        else:
            return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _transform(image: Image.Image, icc: bytes) -> Image.Image | None:
    transform = _transform_for(icc, image.mode)
    if transform is None:
        return None
    try:
        return ImageCms.applyTransform(image, transform)
    except (ImageCms.PyCMSError, ValueError, OSError):
        return None


@functools.lru_cache(maxsize=16)
def _transform_for(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """Build (once per profile) the transform to sRGB, or None when it is not needed or not usable."""
    try:
        if mode not in ("RGB", "CMYK"):
            return None  # greyscale: tone curves differ little; keep it one band
        if mode == "RGB" and describe_profile(icc) in _SRGB_NAMES:
            return None  # already sRGB: skip the work
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.buildTransform(source, _srgb(), mode, "RGB", ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, ValueError, OSError, TypeError):
        return None


_SRGB_NAMES = frozenset({"sRGB IEC61966-2.1", "sRGB IEC61966-2-1 black scaled", "sRGB built-in",
                         "sRGB"})


@functools.lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=1)
def srgb_icc_bytes() -> bytes:
    """An sRGB profile to embed in derivatives when asked to."""
    return _srgb().tobytes()


@functools.lru_cache(maxsize=64)
def describe_profile(icc: bytes | None) -> str | None:
    """The profile's description ('Adobe RGB (1998)', 'Display P3'...), or None if unreadable."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        text = (profile.profile.profile_description or "").strip().replace("\x00", "")
    except (ImageCms.PyCMSError, ValueError, OSError, TypeError):
        return None
    return text[:128] or None


def flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Composite alpha over ``background`` (``convert("RGB")`` would turn transparency black)."""
    if image.mode not in ("RGBA", "LA"):
        return image
    rgba = image.convert("RGBA") if image.mode == "LA" else image
    flat = Image.new("RGB", rgba.size, background)
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat
