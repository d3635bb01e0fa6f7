"""Turn a checked source into derivatives: shrink-on-load, orient, sRGB, fit, cascade, encode.

Work is ordered by cost: JPEG is decoded at the smallest DCT scale that still covers the target,
resizing happens before colour conversion and rotation (both then touch far fewer pixels), and
each thumbnail is made from the next larger one instead of from the full image.
"""

from __future__ import annotations

import functools
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

from .colour import flatten, srgb_icc_bytes, to_srgb, to_working_mode
from .decode import Source, load_strict
from .exif import orientation_of, read_exif
from .options import ALPHA_FORMATS, OUTPUT_FORMATS, RenderOptions
from .results import Derivative
from .rights import Rights

RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 2.0
"""Downscales by more than this factor first box-reduce by an integer factor (fast, same quality)."""
PARALLEL_MIN_PIXELS = 2_000_000
"""Source size above which one resize is split across cores (below, threads cost more than they save)."""
MAX_THREADS = 4
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class Prepared:
    """Frame 0 decoded, fitted, in sRGB and upright; with the facts read on the way."""

    image: Image.Image
    orientation: int
    exif: Image.Exif | None
    icc: bytes | None


def fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """Largest size with the same aspect ratio inside box x box; never larger than ``size``."""
    width, height = size
    longest = max(width, height)
    if longest <= box:
        return size
    scale = box / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def prepare(source: Source, box: int, tolerance: float = 0.0) -> Prepared:
    """Decode (shrinking on load) and normalise the source to fit in box x box; with a tolerance,
    the result may be that much smaller when a smaller decode scale allows it."""
    image = load_strict(source, fit(source.size, max(1, int(box * (1 - tolerance)))))
    exif = read_exif(image, image.format or "")  # after load: a PNG eXIf chunk may follow IDAT
    orientation = orientation_of(exif)
    icc = image.info.get("icc_profile") or None
    work = to_working_mode(image)
    work = _resize(work, fit(work.size, box))
    work = to_srgb(work, icc)
    work = orient(work, orientation)
    if work is image:
        work = image.copy()
    work.info = {}  # nothing of the source's metadata (EXIF, GPS, XMP, ICC) may reach an output
    return Prepared(image=work, orientation=orientation, exif=exif, icc=icc)


def orient(image: Image.Image, orientation: int) -> Image.Image:
    """Apply EXIF orientation to the pixels (outputs carry no EXIF to do it for them)."""
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def cascade(image: Image.Image, sizes: tuple[int, ...]) -> list[tuple[int, Image.Image]]:
    """(size, image) for each size, largest first, each resized from the previous one."""
    out = []
    current = image
    for size in sorted(sizes, reverse=True):
        current = _resize(current, fit(current.size, size))
        out.append((size, current))
    return out


def derivative(name: str, image: Image.Image, fmt: str, options: RenderOptions, quality: int | None = None,
               rights: Rights | None = None, digest: str = "") -> Derivative:
    """Encode ``image`` as ``fmt`` with the options' settings (``quality`` overrides the format's)."""
    data, width, height = encode(image, fmt, options, quality, rights)
    return Derivative(name=name, format=fmt, content_type=OUTPUT_FORMATS[fmt],
                      width=width, height=height, data=data, digest=digest)


def encode(image: Image.Image, fmt: str, options: RenderOptions, quality: int | None = None,
           rights: Rights | None = None) -> tuple[bytes, int, int]:
    """Bytes of ``image`` in ``fmt``: alpha kept where the format has it, else flattened on
    ``options.background``; no metadata but the ``rights`` fields given (fresh EXIF and XMP blocks,
    never the source's); sRGB profile only if ``options.embed_icc``."""
    if fmt not in ALPHA_FORMATS:
        image = flatten(image, options.background)
    if fmt in ("webp", "avif") and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    params: dict[str, object] = {}
    if options.embed_icc and image.mode in ("RGB", "RGBA"):
        params["icc_profile"] = srgb_icc_bytes()
    if fmt == "jpeg":
        params.update(quality=min(quality or options.jpeg_quality, 95), progressive=options.jpeg_progressive)
    elif fmt == "webp":
        params.update(quality=options.webp_quality if quality is None else quality, method=options.webp_method)
    elif fmt == "avif":
        params.update(quality=options.avif_quality if quality is None else quality, speed=options.avif_speed)
    else:
        params.update(compress_level=6)
    if rights is not None and not rights.empty:
        params.update(_metadata(fmt, rights))
    buffer = io.BytesIO()
    image.save(buffer, fmt.upper(), **params)
    return buffer.getvalue(), image.width, image.height


def _metadata(fmt: str, rights: Rights) -> dict[str, object]:
    """Save parameters that write the kept rights fields in the format's own way."""
    exif, xmp = rights.exif(), rights.xmp()
    found: dict[str, object] = {}
    if exif:
        found["exif"] = exif
    if xmp and fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode())
        found["pnginfo"] = info
    elif xmp:
        found["xmp"] = xmp
    return found


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """LANCZOS to ``size``; big images are split into row bands resized on all cores.

    Pillow releases the GIL while resampling and, given a ``box``, still reads source pixels
    outside it for the filter, so the bands join without seams (equal to one call, give or take
    one level of rounding in a few pixels).
    """
    if size == image.size:
        return image
    factor_x = int(image.width / size[0] / REDUCING_GAP) or 1
    factor_y = int(image.height / size[1] / REDUCING_GAP) or 1
    if factor_x > 1 or factor_y > 1:
        image = image.reduce((factor_x, factor_y))  # cheap box pre-shrink, as reducing_gap does
    bands = min(_cpus(), size[1])
    if bands < 2 or image.width * image.height < PARALLEL_MIN_PIXELS:
        return image.resize(size, RESAMPLE)
    premultiplied = _PREMULTIPLIED.get(image.mode)
    if premultiplied:  # once here, not once per band inside Image.resize
        return _resize_bands(image.convert(premultiplied), size, bands).convert(image.mode)
    return _resize_bands(image, size, bands)


def _resize_bands(image: Image.Image, size: tuple[int, int], bands: int) -> Image.Image:
    cuts = [round(size[1] * i / bands) for i in range(bands + 1)]
    scale = image.height / size[1]

    def band(i: int) -> Image.Image:
        top, bottom = cuts[i], cuts[i + 1]
        return image.resize((size[0], bottom - top), RESAMPLE,
                            box=(0, top * scale, image.width, bottom * scale))

    out = Image.new(image.mode, size, None)  # None: no fill, every band is pasted
    for i, part in enumerate(pool().map(band, range(bands))):
        out.paste(part, (0, cuts[i]))
    return out


@functools.lru_cache(maxsize=1)
def _cpus() -> int:
    try:
        return min(len(os.sched_getaffinity(0)), MAX_THREADS)
    except AttributeError:  # not Linux
        return min(os.cpu_count() or 1, MAX_THREADS)


@functools.lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    """Threads for work that releases the GIL (resampling, encoding, hashing)."""
    return ThreadPoolExecutor(max_workers=_cpus(), thread_name_prefix="qip-imaging")
