"""Huge embedded metadata (EXIF, XMP, ICC, comments, PNG text) is rejected before decoding."""

from __future__ import annotations

import io
import random
import zlib

import pytest
from PIL import Image

from qip.imaging import Limits, MetadataTooLargeError, validate
from qip.imaging.decode import open_checked
from qip.imaging.exceptions import InvalidImageError
from qip.imaging.metadata_size import container_metadata_bytes
from tests import imaging_corpus as corpus

DEFAULT_LIMIT = 256 * 1024


def junk(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def png_with_chunks(*chunks: bytes, after_idat: bytes = b"") -> bytes:
    """A small valid PNG with ``chunks`` inserted before IDAT and ``after_idat`` after it."""
    data = corpus.save(corpus.photo(16, 12), "PNG")
    idat = data.index(b"IDAT") - 4
    iend = data.index(b"IEND") - 4
    return data[:idat] + b"".join(chunks) + data[idat:iend] + after_idat + data[iend:]


def test_default_limit() -> None:
    assert Limits().max_metadata_bytes == DEFAULT_LIMIT


def test_huge_exif_jpeg_is_rejected_with_its_reason() -> None:
    data = corpus.make_huge_exif_jpeg()
    with pytest.raises(MetadataTooLargeError) as caught:
        validate(data)
    assert caught.value.reason_code == "too_much_metadata"
    assert isinstance(caught.value, InvalidImageError)
    assert str(caught.value) == (f"JPEG carries 1200040 bytes of metadata (EXIF/XMP/ICC/comments); "
                                 f"the limit is {DEFAULT_LIMIT}")
    assert caught.value.to_dict() == {"reason_code": "too_much_metadata", "message": str(caught.value)}


def test_huge_exif_jpeg_is_otherwise_a_valid_image() -> None:
    data = corpus.make_huge_exif_jpeg()
    assert container_metadata_bytes(data, "jpeg") == 20 * 60_002  # payload + 2-byte length field
    info = validate(data, Limits(max_metadata_bytes=2 * 1024 * 1024))
    assert (info.format, info.width, info.height) == ("jpeg", 32, 24)


def test_huge_exif_is_in_the_bad_corpus(bad: dict[str, tuple[bytes, str]]) -> None:
    data, reason = bad["jpeg_huge_exif"]
    assert reason == "too_much_metadata" and len(data) > 1024 * 1024


@pytest.mark.parametrize("kind", [b"tEXt", b"zTXt", b"iTXt"])
def test_png_with_a_1mb_text_chunk_is_rejected(kind: bytes) -> None:
    body = {b"tEXt": b"Comment\x00" + b"A" * (1024 * 1024),
            b"zTXt": b"Comment\x00\x00" + zlib.compress(junk(1024 * 1024), 0),
            b"iTXt": b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + b"<x/>" * (256 * 1024)}[kind]
    data = png_with_chunks(corpus.png_chunk(kind, body))
    with pytest.raises(MetadataTooLargeError, match=r"^PNG carries \d+ bytes of metadata") as caught:
        validate(data)
    assert caught.value.reason_code == "too_much_metadata"


def test_png_text_after_idat_counts_too() -> None:
    data = png_with_chunks(after_idat=corpus.png_chunk(b"tEXt", b"Comment\x00" + b"A" * 300_000))
    with pytest.raises(MetadataTooLargeError):
        validate(data)


def test_png_metadata_sums_the_listed_chunks_only() -> None:
    text = corpus.png_chunk(b"tEXt", b"Title\x00hello")
    private = corpus.png_chunk(b"prVt", b"x" * 500_000)  # not metadata we count
    data = png_with_chunks(text, private)
    assert container_metadata_bytes(data, "png") == len(b"Title\x00hello")
    assert validate(data).format == "png"


def test_jpeg_just_under_the_limit_is_accepted() -> None:
    data = corpus.with_app_segments(corpus.make_jpeg(), [junk(50_000, seed) for seed in range(4)])
    assert 200_000 < container_metadata_bytes(data, "jpeg") <= DEFAULT_LIMIT
    assert validate(data).format == "jpeg"


def test_every_counted_jpeg_segment_kind_adds_up() -> None:
    base = corpus.make_jpeg()
    data = base
    for marker in (0xE1, 0xE2, 0xED, 0xEF, 0xFE):  # EXIF/XMP, ICC, Photoshop, APP15, COM
        data = corpus.with_app_segments(data, [junk(60_000, marker)], marker)
    data = corpus.with_app_segments(data, [junk(60_000)], 0xE0)  # APP0 (JFIF) is not counted
    assert container_metadata_bytes(data, "jpeg") == 5 * 60_002
    with pytest.raises(MetadataTooLargeError):
        validate(data)


def test_camera_exif_and_icc_jpegs_are_far_under_the_limit(good: dict[str, bytes]) -> None:
    for name in ("jpeg_gps", "jpeg_adobe_rgb", "jpeg_orientation_6", "jpeg_cmyk"):
        assert container_metadata_bytes(good[name], "jpeg") < 4096, name
        assert validate(good[name]).format == "jpeg", name
    assert validate(corpus.make_gps_jpeg()).width == 96


def test_good_corpus_passes_with_a_tight_limit(good: dict[str, bytes]) -> None:
    limits = Limits(max_metadata_bytes=4096)
    for name, data in good.items():
        assert validate(data, limits).byte_size == len(data), name


def test_limit_is_configurable() -> None:
    data = corpus.make_jpeg(exif=corpus.camera_exif())
    amount = container_metadata_bytes(data, "jpeg")
    assert amount is not None and amount > 0
    assert validate(data, Limits(max_metadata_bytes=amount)).format == "jpeg"
    with pytest.raises(MetadataTooLargeError, match=rf"JPEG carries {amount} bytes .* limit is {amount - 1}$"):
        validate(data, Limits(max_metadata_bytes=amount - 1))
    assert Limits.from_mapping({"max_metadata_bytes": "1024"}).max_metadata_bytes == 1024
    assert Limits.from_mapping({"max_metadata_bytes": ""}).max_metadata_bytes == DEFAULT_LIMIT
    assert Limits(max_metadata_bytes=10).to_dict()["max_metadata_bytes"] == 10
    with pytest.raises(ValueError):
        Limits(max_metadata_bytes=0)


def test_other_formats_use_what_pillow_exposes() -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 300_000  # ImageDescription
    data = corpus.save(corpus.photo(16, 12), "WEBP", exif=exif.tobytes())
    with pytest.raises(MetadataTooLargeError, match=r"^WEBP carries \d+ bytes"):
        validate(data)
    assert validate(data, Limits(max_metadata_bytes=400_000)).format == "webp"


def test_settings_pass_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from qip.functions import runtime as settings

    monkeypatch.setenv("MAX_METADATA_BYTES", "12345")
    assert settings.limits().max_metadata_bytes == 12345


# --- robustness: a bad marker or chunk stream never crashes the check ------------------------

def test_truncated_huge_exif_jpeg_does_not_crash() -> None:
    data = corpus.make_huge_exif_jpeg()
    for cut in (3, 4, 5, 100, 60_000):
        with pytest.raises(InvalidImageError) as caught:
            validate(data[:cut])
        assert caught.value.reason_code in ("not_an_image", "truncated"), (cut, caught.value)
        assert container_metadata_bytes(data[:cut], "jpeg") == 0


def test_truncated_and_garbage_marker_streams_end_as_before() -> None:
    jpeg = corpus.make_jpeg(exif=corpus.camera_exif())
    cases = {
        "soi_only": b"\xff\xd8\xff",
        "cut_in_length": jpeg[:5],
        "cut_in_exif": jpeg[:40],
        "length_too_long": b"\xff\xd8\xff\xe1\xff\xff" + b"\x00" * 64,
        "garbage_after_soi": b"\xff\xd8\xff\x00garbage" + junk(200),
        "not_a_marker": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00XX" + junk(200),
        "fill_bytes_then_eoi": b"\xff\xd8\xff\xff\xff\xd9",
        "half": jpeg[: len(jpeg) // 2],
    }
    for name, data in cases.items():
        assert container_metadata_bytes(data, "jpeg") >= 0, name  # never raises
        with pytest.raises(InvalidImageError) as caught:
            validate(data)
        assert caught.value.reason_code in ("not_an_image", "truncated", "corrupt"), (name, caught.value)
        assert caught.value.reason_code != "too_much_metadata", name


def test_malformed_segments_pillow_tolerates_do_not_hide_metadata() -> None:
    # Pillow's header parser skips junk between segments, 0xFF fill bytes, escaped 0xFF00 and
    # reads a length below 2 as an empty segment; the count must walk past them the same way.
    base = corpus.make_jpeg(32, 24)
    big = b"".join(b"\xff\xe1" + (60_002).to_bytes(2, "big") + junk(60_000, i) for i in range(5))
    variants = {
        "junk_between": base[:2] + b"\xff\xe1\x00\x04ab" + b"junk\x00\x01" + big + base[2:],
        "fill_bytes": base[:2] + b"\xff\xff\xff" + big + base[2:],
        "escaped_ff": base[:2] + b"\xff\x00" + big + base[2:],
        "length_below_two": base[:2] + b"\xff\xe1\x00\x01" + big + base[2:],
        "standalone_markers": base[:2] + b"\xff\xd8\xff\xd0" + big + base[2:],
    }
    for name, data in variants.items():
        assert container_metadata_bytes(data, "jpeg") >= 5 * 60_002, name
        with pytest.raises(MetadataTooLargeError):
            validate(data)
        with Image.open(io.BytesIO(data)) as opened:  # what Pillow's header parse reads in
            assert sum(len(body) for _, body in opened.applist) >= 5 * 60_000, name


def test_truncated_and_garbage_png_chunks_do_not_crash() -> None:
    png = png_with_chunks(corpus.png_chunk(b"tEXt", b"Comment\x00" + b"A" * 1000))
    cases = {
        "cut_in_text": png[:60],
        "half": png[: len(png) // 2],
        "huge_declared_length": png[:33] + b"\xff\xff\xff\xfftEXt" + b"A" * 100 + b"IEND",
        "signature_only": png[:8] + b"IEND",
    }
    for name, data in cases.items():
        assert container_metadata_bytes(data, "png") == 0, name
        with pytest.raises(InvalidImageError) as caught:
            validate(data)
        assert caught.value.reason_code in ("not_an_image", "truncated", "corrupt"), (name, caught.value)


def test_check_runs_before_pillow_parses_the_header() -> None:
    # Pillow itself refuses, while opening, a zTXt that inflates past PngImagePlugin.MAX_TEXT_CHUNK
    # (which would end as not_an_image); the size check must come first and give the reason.
    bomb = corpus.png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * (2 * 1024 * 1024), 9))
    text = corpus.png_chunk(b"tEXt", b"Comment\x00" + b"A" * 300_000)
    data = png_with_chunks(text, bomb)
    with pytest.raises(InvalidImageError) as caught:
        validate(data, Limits(max_metadata_bytes=1024 * 1024))
    assert caught.value.reason_code == "not_an_image"  # Pillow's own refusal, when under our limit
    with pytest.raises(MetadataTooLargeError):
        open_checked(data, Limits())
