"""Image limits and rendering options, built from the settings in `qip.config`."""

from __future__ import annotations

from qip import config
from qip.imaging import Limits, RenderOptions


def limits() -> Limits:
    return Limits(max_bytes=config.MAX_BYTES.get(), max_pixels=config.MAX_PIXELS.get(),
                  max_frames=config.MAX_FRAMES.get(),
                  max_metadata_bytes=config.MAX_METADATA_BYTES.get())


def render_options() -> RenderOptions:
    return RenderOptions(max_side=config.MAX_SIDE.get(), thumbnail_sizes=config.THUMBNAIL_SIZES.get(),
                         thumbnail_format=config.THUMBNAIL_FORMAT.get())
