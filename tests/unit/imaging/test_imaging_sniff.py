"""Format identification by magic bytes only."""

from __future__ import annotations

import pytest

from qip.imaging import CONTENT_TYPES, sniff

EXPECTED = {"jpeg": "jpeg", "png": "png", "apng": "png", "webp": "webp", "gif": "gif",
            "tiff": "tiff", "avif": "avif", "heif": "heif"}


def test_every_good_image_sniffs_as_its_format(good: dict[str, bytes]) -> None:
    for name, data in good.items():
        expected = EXPECTED[name.split("_")[0]]
        assert sniff(data[:64]) == expected, name
        assert expected in CONTENT_TYPES


@pytest.mark.parametrize("head", [
    b"", b"\xff\xd8", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7", b"BM6\x00\x00",
    b"<!DOCTYPE html>", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
    b"PK\x03\x04", b"\x00\x00\x00\x00ftypavif",
])
def test_non_images_and_other_formats_sniff_as_none(head: bytes) -> None:
    assert sniff(head) is None


def test_sniff_by_bytes_not_name(bad: dict[str, tuple[bytes, str]]) -> None:
    assert sniff(bad["text_named_jpg"][0]) is None


@pytest.mark.parametrize(("brands", "expected"), [
    (b"avif\x00\x00\x00\x00mif1miaf", "avif"),
    (b"mif1\x00\x00\x00\x00avifmiaf", "avif"),
    (b"heic\x00\x00\x00\x00mif1heic", "heif"),
    (b"mif1\x00\x00\x00\x00mif1heic", "heif"),
    (b"msf1\x00\x00\x00\x00msf1hevc", "heif"),
    (b"isom\x00\x00\x00\x00isomavc1", None),
])
def test_isobmff_brands(brands: bytes, expected: str | None) -> None:
    box = (len(brands) + 8).to_bytes(4, "big") + b"ftyp" + brands
    assert sniff(box + b"\x00" * 40) == expected
