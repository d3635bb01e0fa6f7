"""Display image and thumbnails, checked by decoding them: size, orientation, colour, alpha, privacy."""

from __future__ import annotations

import io
import struct

import pytest
from imaging_checks import decode, near
from PIL import Image, ImageChops, ImageCms

from qip.imaging import RenderOptions, process, resize, thumbnails
from qip.imaging.decode import open_checked
from qip.imaging.limits import Limits
from qip.imaging.render import fit, prepare
from tests import imaging_corpus as corpus

SMALL = RenderOptions(max_side=96, thumbnail_sizes=(48, 24, 12))


def quadrant_colours(image: Image.Image) -> dict[str, tuple[int, ...]]:
    rgb = image.convert("RGB")
    w, h = rgb.size
    points = {"top_left": (w // 4, h // 4), "top_right": (3 * w // 4, h // 4),
              "bottom_left": (w // 4, 3 * h // 4), "bottom_right": (3 * w // 4, 3 * h // 4)}
    return {name: rgb.getpixel(xy) for name, xy in points.items()}  # type: ignore[misc]


def jpeg_segments(data: bytes) -> list[int]:
    """Marker bytes of the segments before the scan data."""
    markers, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return markers


def webp_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.append(data[pos:pos + 4])
        pos += 8 + size + (size & 1)
    return chunks


def test_every_good_image_renders(good: dict[str, bytes]) -> None:
    for name, data in good.items():
        display = resize(data, SMALL)
        image = decode(display.data)
        assert image.format == "JPEG" and display.content_type == "image/jpeg", name
        assert image.size == (display.width, display.height), name
        assert max(image.size) <= 96, name
        thumbs = thumbnails(data, SMALL)
        assert [t.name for t in thumbs] == ["thumb-48", "thumb-24", "thumb-12"], name
        for thumb, box in zip(thumbs, (48, 24, 12), strict=True):
            decoded = decode(thumb.data)
            assert decoded.format == "WEBP" and max(decoded.size) <= box, name


def test_fit_keeps_aspect_and_never_upscales() -> None:
    assert fit((8000, 600), 2048) == (2048, 154)
    assert fit((600, 8000), 2048) == (154, 2048)
    assert fit((100, 50), 2048) == (100, 50)
    assert fit((1, 1), 128) == (1, 1)
    assert fit((10000, 1), 128) == (128, 1)


def test_panorama_and_one_pixel(good: dict[str, bytes]) -> None:
    exact = resize(good["jpeg_panorama_8000x600"], RenderOptions(shrink_tolerance=0))
    assert (exact.width, exact.height) == (2048, 154)
    assert decode(exact.data).size == (2048, 154)
    # by default a JPEG may decode at a smaller DCT scale (here 1/4) when that lands within 5% of the box
    display = resize(good["jpeg_panorama_8000x600"])
    assert (display.width, display.height) == (2000, 150)
    assert 2048 * 0.95 <= display.width <= 2048 and decode(display.data).size == (2000, 150)
    sizes = [(t.width, t.height) for t in thumbnails(good["jpeg_panorama_8000x600"])]
    assert sizes == [(512, 38), (256, 19), (128, 10)]
    assert [(t.width, t.height) for t in thumbnails(good["png_1x1"])] == [(1, 1)] * 3
    assert decode(resize(good["png_1x1"]).data).getpixel((0, 0)) == pytest.approx((10, 20, 30), abs=3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_baked_into_pixels(orientation: int) -> None:
    data = corpus.make_oriented_jpeg(orientation)
    outputs = [resize(data, SMALL), *thumbnails(data, RenderOptions(thumbnail_sizes=(32,)))]
    for output in outputs:
        image = decode(output.data)
        assert image.width > image.height, output.name  # upright() is landscape
        for corner, colour in quadrant_colours(image).items():
            assert near(colour, corpus.QUADRANTS[corner], 60), (output.name, corner, colour)


def test_outputs_carry_no_exif_gps_or_xmp(good: dict[str, bytes]) -> None:
    data = good["jpeg_gps"]
    for fmt in ("jpeg", "webp", "png"):
        options = RenderOptions(resize_format=fmt, thumbnail_format=fmt, thumbnail_sizes=(32,))
        for output in (resize(data, options), *thumbnails(data, options)):
            image = decode(output.data)
            assert not image.getexif(), (fmt, output.name)
            assert "exif" not in image.info and "xmp" not in image.info
            assert b"Exif\x00\x00" not in output.data
            if fmt == "jpeg":
                assert 0xE1 not in jpeg_segments(output.data)  # no APP1 (EXIF/XMP)
            if fmt == "webp":
                assert not {b"EXIF", b"XMP "} & set(webp_chunks(output.data))


def test_embedded_profile_is_converted_to_srgb() -> None:
    red = Image.new("RGB", (32, 24), (255, 0, 0))
    data = corpus.save(red, "PNG", icc_profile=corpus.swapped_rb_profile())
    for output in (resize(data), *thumbnails(data, RenderOptions(thumbnail_sizes=(16,)))):
        r, g, b = decode(output.data).convert("RGB").getpixel((8, 8))  # type: ignore[misc]
        assert b > 200 and r < 60, (output.name, (r, g, b))  # "red" under that profile is blue
        assert "icc_profile" not in decode(output.data).info


def test_adobe_rgb_matches_littlecms() -> None:
    colour = (60, 160, 90)
    icc = corpus.adobe_rgb_like_profile()
    data = corpus.save(Image.new("RGB", (16, 16), colour), "PNG", icc_profile=icc)
    out = decode(resize(data, RenderOptions(resize_format="png")).data).getpixel((8, 8))
    srgb = ImageCms.createProfile("sRGB")
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    oracle = ImageCms.profileToProfile(Image.new("RGB", (1, 1), colour), source, srgb)
    assert oracle is not None
    assert out != colour and near(out, oracle.getpixel((0, 0)), 2)  # type: ignore[arg-type]


def test_unusable_profile_is_ignored_not_fatal() -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    for icc in (lab, b"not a profile at all"):
        data = corpus.save(Image.new("RGB", (16, 16), (200, 100, 50)), "PNG", icc_profile=icc)
        pixel = decode(resize(data, RenderOptions(resize_format="png")).data).getpixel((8, 8))
        assert pixel == (200, 100, 50)


def test_embed_icc_option_embeds_srgb(good: dict[str, bytes]) -> None:
    options = RenderOptions(embed_icc=True, thumbnail_sizes=(32,))
    for output in (resize(good["jpeg_adobe_rgb"], options), *thumbnails(good["png_rgb"], options)):
        icc = decode(output.data).info.get("icc_profile")
        assert icc, output.name
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
        assert "sRGB" in description


def test_alpha_flattened_on_background_for_jpeg(good: dict[str, bytes]) -> None:
    for name in ("png_alpha", "webp_lossless_alpha"):
        default = decode(resize(good[name]).data)
        assert default.mode == "RGB"
        assert near(quadrant_colours(default)["top_right"], (255, 255, 255), 3), name
        blue = decode(resize(good[name], RenderOptions(background=(0, 0, 255))).data)
        assert near(quadrant_colours(blue)["bottom_right"], (0, 0, 255), 3), name


def test_alpha_kept_where_format_has_it(good: dict[str, bytes]) -> None:
    for name in ("png_alpha", "png_grey_alpha", "png_palette_transparency", "webp_lossless_alpha"):
        for fmt in ("webp", "png"):
            options = RenderOptions(thumbnail_format=fmt, thumbnail_sizes=(64,))
            image = decode(thumbnails(good[name], options)[0].data).convert("RGBA")
            if name != "png_palette_transparency":
                assert image.getpixel((60, 24))[3] == 0, (name, fmt)  # type: ignore[index]
                assert image.getpixel((4, 24))[3] == 255, (name, fmt)  # type: ignore[index]
            else:
                assert image.getextrema()[3][0] < 255, (name, fmt)


def test_cmyk_and_sixteen_bit_colours() -> None:
    cmyk = corpus.make_jpeg(image=Image.new("RGB", (32, 24), (200, 60, 30)).convert("CMYK"))
    assert near(decode(resize(cmyk).data).getpixel((16, 12)), (200, 60, 30), 12)  # type: ignore[arg-type]
    grey = decode(resize(corpus.make_png16_grey(), RenderOptions(resize_format="png")).data)
    low, high = grey.getextrema() if grey.mode == "L" else grey.convert("L").getextrema()
    assert low < 20 and high > 235  # scaled from 16 bits, not clipped to white
    rgb16 = decode(resize(corpus.make_png16_rgb(), RenderOptions(resize_format="png")).data)
    assert near(rgb16.getpixel((0, 0)), (0, 0, 155), 3)  # type: ignore[arg-type]


def test_animated_uses_first_frame(good: dict[str, bytes]) -> None:
    for name in ("gif_animated", "webp_animated", "apng_animated"):
        display = resize(good[name])
        assert (display.width, display.height) == (48, 32), name


def test_thumbnails_accept_the_display_image() -> None:
    original = corpus.make_jpeg(1600, 1200, quality=80)
    display = resize(original, RenderOptions(max_side=1024))
    assert (display.width, display.height) == (1024, 768)
    for source in (original, display.data):
        sizes = [(t.width, t.height) for t in thumbnails(source)]
        assert sizes == [(512, 384), (256, 192), (128, 96)]


def test_big_jpeg_is_shrunk_on_load() -> None:
    source = open_checked(corpus.make_jpeg(2000, 1600, quality=70), Limits())
    prepared = prepare(source, 200)
    assert source.image.size == (250, 200)  # decoded at 1/8 scale, not 2000x1600
    assert prepared.image.size == (200, 160)


def test_jpeg_fallback_and_format_options(good: dict[str, bytes]) -> None:
    options = RenderOptions(thumbnail_format="jpeg", resize_format="webp", thumbnail_sizes=(32,))
    assert decode(resize(good["png_rgb"], options).data).format == "WEBP"
    thumb = thumbnails(good["png_alpha"], options)[0]
    assert thumb.content_type == "image/jpeg" and decode(thumb.data).mode == "RGB"


def test_process_matches_the_separate_steps(good: dict[str, bytes]) -> None:
    data = good["jpeg_gps"]
    done = process(data, SMALL)
    assert done.display.to_dict() == resize(data, SMALL).to_dict() | {
        "byte_size": done.display.byte_size}
    assert [t.to_dict()["width"] for t in done.thumbnails] == [48, 24, 12]
    assert done.metadata["exif"]["gps"] is not None
    assert done.info.sha256 == done.metadata["sha256"]
    assert "data" not in done.to_dict()["display"]


def test_parallel_resize_is_seamless() -> None:
    from qip.imaging import render

    image = Image.effect_noise((1800, 1200), 50).convert("RGB")
    assert image.width * image.height >= render.PARALLEL_MIN_PIXELS
    size = fit(image.size, 700)
    banded = render._resize(image, size)
    whole = image.resize(size, render.RESAMPLE)
    difference = ImageChops.difference(banded, whole)
    assert max(high for _, high in difference.getextrema()) <= 1  # float rounding only, no seam
