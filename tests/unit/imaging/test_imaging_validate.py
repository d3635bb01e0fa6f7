"""Acceptance and rejection: every good image passes, every bad one fails with its reason."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from qip.imaging import Limits, validate
from qip.imaging.exceptions import (
    CorruptImageError,
    ImageProcessingError,
    ImageTooLargeError,
    ImagingError,
    InvalidImageError,
    NotAnImageError,
    TooManyFramesError,
    TooManyPixelsError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from tests import imaging_corpus as corpus


def test_good_images_are_accepted(good: dict[str, bytes]) -> None:
    for name, data in good.items():
        info = validate(data)
        assert info.byte_size == len(data), name
        assert info.width >= 1 and info.height >= 1, name
        assert len(info.sha256) == 64


def test_bad_images_are_rejected_with_their_reason(bad: dict[str, tuple[bytes, str]]) -> None:
    for name, (data, reason) in bad.items():
        with pytest.raises(InvalidImageError) as caught:
            validate(data)
        assert caught.value.reason_code == reason, f"{name}: {caught.value}"
        assert str(caught.value), name
        assert caught.value.to_dict() == {"reason_code": reason, "message": str(caught.value)}


def test_specific_exception_types(bad: dict[str, tuple[bytes, str]]) -> None:
    expected = {"empty": NotAnImageError, "truncated_jpeg": TruncatedImageError,
                "corrupt_png": CorruptImageError, "png_header_60000x60000": TooManyPixelsError,
                "gif_too_many_frames": TooManyFramesError, "polyglot_gif_js": NotAnImageError}
    for name, kind in expected.items():
        with pytest.raises(kind):
            validate(bad[name][0])


def test_truncation_message_names_the_format(bad: dict[str, tuple[bytes, str]]) -> None:
    with pytest.raises(TruncatedImageError, match=r"^truncated JPEG: image file is truncated"):
        validate(bad["truncated_jpeg"][0])


def test_error_families_are_distinct() -> None:
    assert issubclass(InvalidImageError, ImagingError)
    assert issubclass(ImageProcessingError, ImagingError)
    assert not issubclass(ImageProcessingError, InvalidImageError)
    assert issubclass(TruncatedImageError, CorruptImageError)


def test_byte_limit(good: dict[str, bytes]) -> None:
    data = good["jpeg_baseline"]
    with pytest.raises(ImageTooLargeError) as caught:
        validate(data, Limits(max_bytes=len(data) - 1))
    assert caught.value.reason_code == "too_many_bytes"
    assert validate(data, Limits(max_bytes=len(data))).format == "jpeg"


def test_pixel_limit_uses_the_header(good: dict[str, bytes]) -> None:
    with pytest.raises(TooManyPixelsError, match="96x64"):
        validate(good["jpeg_baseline"], Limits(max_pixels=96 * 64 - 1))
    assert validate(good["jpeg_baseline"], Limits(max_pixels=96 * 64)).width == 96


def test_pixel_limit_below_pillows_warning_threshold_rejects() -> None:
    data = corpus.make_png_header_bomb(10_000, 10_000)  # 100 MP: Pillow would only warn
    with pytest.raises(TooManyPixelsError):
        validate(data, Limits(max_pixels=50_000_000))


@pytest.mark.parametrize("name", ["gif_animated", "webp_animated", "apng_animated"])
def test_frame_limit(good: dict[str, bytes], name: str) -> None:
    assert validate(good[name]).frame_count == 3
    with pytest.raises(TooManyFramesError):
        validate(good[name], Limits(max_frames=2))


def test_tiff_pages_count_as_frames() -> None:
    pages = [corpus.photo(16, 16) for _ in range(3)]
    data = corpus.save(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert validate(data).frame_count == 3
    with pytest.raises(TooManyFramesError):
        validate(data, Limits(max_frames=2))


def test_frame_count_stops_early_on_huge_animations() -> None:
    data = corpus.make_gif_frames(200_000)  # ~3 MB of 1x1 frames
    start = time.perf_counter()
    with pytest.raises(TooManyFramesError):
        validate(data)
    assert time.perf_counter() - start < 1.0
    assert validate(corpus.make_gif_frames(500)).frame_count == 500


def test_gif_cut_mid_frame_is_truncated() -> None:
    data = corpus.make_gif_frames(10)
    with pytest.raises(TruncatedImageError):
        validate(data[:-9])


def test_header_cut_short_is_not_an_image(good: dict[str, bytes]) -> None:
    with pytest.raises(InvalidImageError):
        validate(good["jpeg_baseline"][:40])


def test_truncated_heif_and_webp_are_rejected(good: dict[str, bytes]) -> None:
    for name in ("heif", "avif", "webp_lossy", "tiff_rgb"):
        data = good[name]
        with pytest.raises(InvalidImageError):
            validate(data[: len(data) * 2 // 3])


def test_truncated_images_are_never_filled_in(monkeypatch: pytest.MonkeyPatch,
                                              bad: dict[str, tuple[bytes, str]]) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageProcessingError, match="LOAD_TRUNCATED_IMAGES"):
        validate(bad["truncated_jpeg"][0])


def test_info_fields(good: dict[str, bytes]) -> None:
    info = validate(good["jpeg_orientation_6"])
    assert (info.width, info.height, info.orientation) == (64, 48, 6)  # stored 48x64
    assert validate(good["png_16bit_rgb"]).bit_depth == 16
    assert validate(good["png_16bit_grey"]).bit_depth == 16
    assert validate(good["png_alpha"]).has_alpha
    assert validate(good["png_palette_transparency"]).has_alpha
    assert not validate(good["jpeg_baseline"]).has_alpha
    assert validate(good["jpeg_cmyk"]).mode == "CMYK"
    assert validate(good["jpeg_grey"]).mode == "L"
    animated = validate(good["gif_animated"])
    assert animated.animated and animated.to_dict()["animated"] is True
    assert validate(good["heif"]).content_type == "image/heif"


def test_limits_from_strings() -> None:
    limits = Limits.from_mapping({"max_bytes": "1000", "max_frames": "", "other": "x"})
    assert limits == Limits(max_bytes=1000)
    with pytest.raises(ValueError):
        Limits(max_pixels=0)


def test_package_has_no_aws() -> None:
    package = Path(__file__).resolve().parents[3] / "src" / "qip" / "imaging"
    for path in package.glob("*.py"):
        text = path.read_text()
        assert "boto" not in text and "aws_lambda" not in text, path.name


def test_pillow_reads_avif_natively() -> None:
    assert "AVIF" in Image.OPEN  # Pillow 13's own plugin, not pillow-heif's


def test_unexpected_failures_are_retryable_and_keep_their_cause(
        monkeypatch: pytest.MonkeyPatch, good: dict[str, bytes]) -> None:
    from qip.imaging import operations as api
    from qip.imaging import resize

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api, "prepare", broken)
    with pytest.raises(ImageProcessingError, match="resize failed unexpectedly") as caught:
        resize(good["jpeg_baseline"])
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert not isinstance(caught.value, InvalidImageError)


# --- decoder errors: the file's fault (rejected) or the machine's (retried) -------------------

@pytest.mark.parametrize(("make", "wording"), [(corpus.make_avif_with_damaged_pixels, "Failed to decode frame 0"),
                                                (corpus.make_avif_without_its_primary_item, "Failed to decode image")])
def test_a_corrupt_avif_is_rejected_as_corrupt_not_retried(make, wording: str) -> None:
    with pytest.raises(CorruptImageError, match=f"corrupt AVIF: {wording}") as caught:
        validate(make())
    assert caught.value.reason_code == "corrupt"
    assert isinstance(caught.value.__cause__, RuntimeError)  # what Pillow's AVIF plugin raised


@pytest.mark.parametrize("raised", [MemoryError(), RuntimeError("Failed to decode frame 0: Out of memory"),
                                    RuntimeError("Pixel allocation failed: Out of memory"),
                                    RuntimeError("Failed to decode image: No codec available"),
                                    RuntimeError("something else went wrong")])
def test_a_machine_failure_inside_decoding_stays_retryable(
        monkeypatch: pytest.MonkeyPatch, good: dict[str, bytes], raised: BaseException) -> None:
    from PIL import AvifImagePlugin

    def load(self: object) -> None:
        raise raised

    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", load)
    with pytest.raises(ImageProcessingError) as caught:
        validate(good["avif"])
    assert not isinstance(caught.value, InvalidImageError)


def test_an_unimplemented_avif_feature_is_an_unsupported_variant(
        monkeypatch: pytest.MonkeyPatch, good: dict[str, bytes]) -> None:
    from PIL import AvifImagePlugin

    def load(self: object) -> None:
        raise RuntimeError("Failed to decode frame 0: Not implemented")

    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", load)
    with pytest.raises(UnsupportedFormatError, match="unsupported AVIF variant"):
        validate(good["avif"])
