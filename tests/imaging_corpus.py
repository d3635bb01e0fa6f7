"""Test images made in code (no downloads), shared by unit, integration and benchmark code.

Every function returns bytes. ``good_images()`` maps a name to an image the pipeline must accept;
``bad_images()`` maps a name to ``(bytes, reason_code)`` it must reject with that reason. Images are
small unless size is the point; ``photo()`` makes noise-and-gradient pixels so codecs behave as on
photographs (flat colour compresses unrealistically well).
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Any

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()  # lets Pillow save HEIF

QUADRANTS = {"top_left": (220, 20, 20), "top_right": (20, 200, 20),
             "bottom_left": (20, 20, 220), "bottom_right": (240, 240, 240)}
"""Colours of the quadrants of ``upright()``: where each must be after orientation is applied."""

# Image.transpose method that turns the *displayed* picture into the *stored* one for each EXIF
# orientation (the inverse of what a viewer applies).
_STORE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
          4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
          6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_270}


# --- pixels ----------------------------------------------------------------------------------

def photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Photo-like pixels: smooth gradients, mid-frequency texture and fine grain (fast, in C)."""
    def texture(scale: int, sigma: float) -> Image.Image:
        small = Image.effect_noise((max(1, width // scale), max(1, height // scale)), sigma)
        return small.resize((width, height), Image.Resampling.BICUBIC)

    grain = Image.effect_noise((width, height), 30)
    gx = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize((width, height))
    gy = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    bands = [Image.blend(Image.blend(g, texture(s, 60), 0.45), grain, 0.3)
             for g, s in ((gx, 16), (gy, 32), (radial, 8))]
    image = Image.merge("RGB", bands)
    return image if mode == "RGB" else image.convert(mode)


def upright(width: int = 64, height: int = 48) -> Image.Image:
    """Four solid quadrants (see ``QUADRANTS``) as the picture should be displayed."""
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    for (x, y), colour in zip(((0, 0), (half_w, 0), (0, half_h), (half_w, half_h)),
                              QUADRANTS.values(), strict=True):
        image.paste(colour, (x, y, x + (width - half_w if x else half_w),
                             y + (height - half_h if y else half_h)))
    return image


def save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


# --- JPEG ------------------------------------------------------------------------------------

def make_jpeg(width: int = 96, height: int = 64, *, quality: int = 90, progressive: bool = False,
              mode: str = "RGB", exif: Image.Exif | None = None, icc: bytes | None = None,
              image: Image.Image | None = None) -> bytes:
    """A JPEG of photo-like pixels (or ``image``), optionally with EXIF and an ICC profile."""
    image = image if image is not None else photo(width, height, mode)
    params: dict[str, Any] = {"quality": quality, "progressive": progressive}
    if exif is not None:
        params["exif"] = exif.tobytes()
    if icc is not None:
        params["icc_profile"] = icc
    return save(image, "JPEG", **params)


def make_oriented_jpeg(orientation: int) -> bytes:
    """``upright()`` stored so that applying EXIF ``orientation`` (1-8) displays it upright."""
    method = _STORE[orientation]
    stored = upright() if method is None else upright().transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return make_jpeg(image=stored, exif=exif, quality=95)


def camera_exif(gps: bool = True) -> Image.Exif:
    """EXIF as a phone writes it: camera, lens, exposure, time and (optionally) a GPS position
    (52 deg 31' 12" N, 13 deg 24' 36" W = 52.52, -13.41)."""
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "QuantumCam"
    exif[0x0110] = "QC-1 Pro"
    exif[0x0132] = "2024:05:01 12:00:00"
    exif[0x8769] = {0x829A: 1 / 250, 0x829D: 2.8, 0x8827: 400, 0x9003: "2024:05:01 10:30:15",
                    0x9011: "+02:00", 0xA434: "QC 24mm f/2.8"}
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "W", 4: (13.0, 24.0, 36.0),
                        5: b"\x00", 6: 34.5}
    return exif


def make_gps_jpeg() -> bytes:
    """A JPEG carrying camera EXIF with a GPS block."""
    return make_jpeg(exif=camera_exif(gps=True))


def with_app_segments(jpeg: bytes, payloads: list[bytes], marker: int = 0xE1) -> bytes:
    """``jpeg`` with one APPn (default APP1) segment per payload inserted right after SOI, each
    with a correct big-endian length field (payload + 2, at most 65535)."""
    segments = b"".join(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
                        for payload in payloads)
    return jpeg[:2] + segments + jpeg[2:]


def make_huge_exif_jpeg(segments: int = 20, segment_bytes: int = 60_000) -> bytes:
    """A valid small JPEG carrying ``segments`` APP1 segments of ``segment_bytes`` each (default
    20 x 60 kB = 1.2 MB): a parseable Exif header (camera EXIF) followed by EXIF-like junk."""
    header = camera_exif(gps=False).tobytes()  # starts with b"Exif\0\0" and a TIFF header
    junk = random.Random(20240502).randbytes(segment_bytes)
    payload = (header + junk)[:segment_bytes]
    return with_app_segments(make_jpeg(32, 24), [payload] * segments)


# --- PNG -------------------------------------------------------------------------------------

def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def make_png16_rgb(width: int = 32, height: int = 24) -> bytes:
    """A 16-bit-per-sample RGB PNG (Pillow cannot write one, so it is assembled here)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += struct.pack(">HHH", x * 65535 // max(1, width - 1),
                                y * 65535 // max(1, height - 1), 40000)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(bytes(rows))) + png_chunk(b"IEND", b""))


def make_png16_grey(width: int = 32, height: int = 24) -> bytes:
    """A 16-bit greyscale PNG spanning the whole 0-65535 range."""
    ramp = Image.linear_gradient("L").resize((width, height)).convert("I")
    return save(ramp.point(lambda v: v * 257).convert("I;16"), "PNG")


def make_png_header_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + png_chunk(b"IEND", b""))


def make_png_alpha(width: int = 64, height: int = 48) -> bytes:
    """RGBA PNG: left half opaque photo, right half fully transparent."""
    image = photo(width, height).convert("RGBA")
    alpha = Image.new("L", (width, height), 255)
    alpha.paste(0, (width // 2, 0, width, height))
    image.putalpha(alpha)
    return save(image, "PNG")


def make_corrupt_png() -> bytes:
    """A PNG whose compressed pixel data is damaged (CRC recomputed, so only zlib notices)."""
    data = bytearray(save(photo(64, 48), "PNG"))
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8:start - 4])[0]
    payload = bytearray(data[start:start + length])
    for i in range(10, len(payload), 7):
        payload[i] ^= 0xA5
    fixed = png_chunk(b"IDAT", bytes(payload))
    return bytes(data[:start - 8]) + fixed + bytes(data[start + length + 4:])


# --- GIF -------------------------------------------------------------------------------------

def make_gif_frames(frames: int) -> bytes:
    """A 1x1 animated GIF with ``frames`` frames, assembled directly (fast for thousands)."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x04\x01\x00\x00\x00"  # graphic control: 1/100 s
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00")
    return header + loop + frame * frames + b"\x3b"


def make_animated(fmt: str, frames: int = 3, size: tuple[int, int] = (48, 32)) -> bytes:
    """An animation (GIF, WEBP or PNG/APNG) of ``frames`` distinct photo-like frames."""
    images = [photo(*size).rotate(i * 90 / frames) for i in range(frames)]
    if fmt == "GIF":
        images = [im.convert("P", palette=Image.Palette.ADAPTIVE) for im in images]
    return save(images[0], fmt, save_all=True, append_images=images[1:], duration=100, loop=0)


# --- AVIF ------------------------------------------------------------------------------------

def bmff_boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level ISO BMFF boxes: {kind: (offset, size)}."""
    found, pos = {}, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        found[kind] = (pos, size)
        pos += max(size, 8)
    return found


def make_avif_with_damaged_pixels() -> bytes:
    """A valid AVIF whose coded pixels (the ``mdat`` payload) are zeroed: it parses, libavif's
    decode of frame 0 fails ("Decoding of color planes failed")."""
    data = bytearray(save(upright(64, 48), "AVIF", quality=70))
    start, size = bmff_boxes(bytes(data))[b"mdat"]
    data[start + 8:start + size] = bytes(size - 8)
    return bytes(data)


def make_avif_without_its_primary_item() -> bytes:
    """A valid AVIF whose ``pitm`` names an item that does not exist: parsing fails in Image.open
    ("Missing or empty image item")."""
    data = bytearray(save(upright(64, 48), "AVIF", quality=70))
    struct.pack_into(">H", data, data.index(b"pitm") + 8, 0x777)
    return bytes(data)


# --- colour profiles -------------------------------------------------------------------------

def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def make_icc_profile(description: str, red: tuple[float, float, float],
                     green: tuple[float, float, float], blue: tuple[float, float, float],
                     gamma: float = 2.2) -> bytes:
    """A minimal ICC v2 RGB display profile from D50 primaries (XYZ) and a gamma curve."""
    desc_ascii = description.encode("ascii") + b"\x00"
    tags = {
        b"desc": b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_ascii)) + desc_ascii
                 + b"\0" * 8 + b"\0" * 3 + b"\0" * 67,
        b"cprt": b"text" + b"\0" * 4 + b"No copyright, test profile\x00",
        b"wtpt": b"XYZ " + b"\0" * 4 + _s15(0.9642) + _s15(1.0) + _s15(0.8249),
        b"rXYZ": b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in red),
        b"gXYZ": b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in green),
        b"bXYZ": b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in blue),
    }
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags.update({b"rTRC": curve, b"gTRC": curve, b"bTRC": curve})
    table, body = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for signature, payload in tags.items():
        payload += b"\0" * (-len(payload) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(payload))
        body += payload
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 4
              + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def adobe_rgb_like_profile() -> bytes:
    """Adobe RGB (1998) primaries and gamma 2.2: wider gamut than sRGB."""
    return make_icc_profile("Adobe RGB (1998) test", (0.6097, 0.3111, 0.0195),
                            (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446), 563 / 256)


def swapped_rb_profile() -> bytes:
    """sRGB primaries with red and blue exchanged: a pixel stored as pure red *means* blue, so a
    correct conversion to sRGB visibly turns it blue (and ignoring the profile keeps it red)."""
    return make_icc_profile("Swapped RB test", (0.1431, 0.0606, 0.7141),
                            (0.3851, 0.7169, 0.0971), (0.4361, 0.2225, 0.0139), 2.2)


# --- the corpus ------------------------------------------------------------------------------

def good_images() -> dict[str, bytes]:
    """Every accepted format and variant, small; each must validate and render."""
    rgba = Image.open(io.BytesIO(make_png_alpha())).convert("RGBA")
    corpus = {
        "jpeg_baseline": make_jpeg(),
        "jpeg_progressive": make_jpeg(progressive=True),
        "jpeg_cmyk": make_jpeg(mode="CMYK"),
        "jpeg_grey": make_jpeg(mode="L"),
        "jpeg_gps": make_gps_jpeg(),
        "jpeg_adobe_rgb": make_jpeg(icc=adobe_rgb_like_profile()),
        "jpeg_1x1": make_jpeg(1, 1),
        "jpeg_panorama_8000x600": make_jpeg(8000, 600, quality=80),
        "png_rgb": save(photo(64, 48), "PNG"),
        "png_16bit_rgb": make_png16_rgb(),
        "png_16bit_grey": make_png16_grey(),
        "png_palette": save(photo(64, 48).convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "png_palette_transparency": save(rgba.convert("P", palette=Image.Palette.ADAPTIVE)
                                         .copy(), "PNG", transparency=0),
        "png_alpha": make_png_alpha(),
        "png_grey_alpha": save(rgba.convert("LA"), "PNG"),
        "png_1x1": save(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"),
        "apng_animated": make_animated("PNG"),
        "webp_lossy": save(photo(64, 48), "WEBP", quality=80),
        "webp_lossless_alpha": save(rgba, "WEBP", lossless=True),
        "webp_animated": make_animated("WEBP"),
        "gif": save(photo(64, 48).convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
        "gif_animated": make_animated("GIF"),
        "tiff_rgb": save(photo(64, 48), "TIFF", compression="tiff_deflate"),
        "tiff_cmyk": save(photo(64, 48, "CMYK"), "TIFF"),
        "avif": save(photo(64, 48), "AVIF", quality=70),
        "heif": save(photo(64, 48), "HEIF", quality=70),
    }
    corpus.update({f"jpeg_orientation_{o}": make_oriented_jpeg(o) for o in range(1, 9)})
    return corpus


def bad_images() -> dict[str, tuple[bytes, str]]:
    """Inputs that must be rejected, with the reason code expected under default ``Limits``."""
    jpeg = make_jpeg(256, 192)
    png = save(photo(256, 192), "PNG")
    return {
        "empty": (b"", "not_an_image"),
        "text_named_jpg": (b"this is not a picture, just text saved as photo.jpg\n", "not_an_image"),
        "truncated_jpeg": (jpeg[: len(jpeg) // 2], "truncated"),
        "truncated_png": (png[: len(png) // 2], "truncated"),
        "corrupt_png": (make_corrupt_png(), "corrupt"),
        "corrupt_avif": (make_avif_with_damaged_pixels(), "corrupt"),
        "png_header_60000x60000": (make_png_header_bomb(), "too_many_pixels"),
        "gif_too_many_frames": (make_gif_frames(501), "too_many_frames"),
        "svg_with_script": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                            b'width="10" height="10"><script>alert(1)</script>'
                            b'<rect width="10" height="10"/></svg>', "not_an_image"),
        "html": (b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
                 "not_an_image"),
        "random_bytes": (random.Random(20240501).randbytes(4096), "not_an_image"),
        "pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << >>\n"
                b"%%EOF\n", "not_an_image"),
        "polyglot_gif_js": (b"GIF89a/*<script>alert(document.domain)</script>*/=1;",
                            "not_an_image"),
        "polyglot_jpeg_php": (b"\xff\xd8\xff\xe0<?php system($_GET['c']); ?>", "not_an_image"),
        "jpeg_huge_exif": (make_huge_exif_jpeg(), "too_much_metadata"),
    }
