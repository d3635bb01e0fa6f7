"""The metadata record: header facts, EXIF fields, ICC description, hashes and BlurHash."""

from __future__ import annotations

import hashlib
import json

import blurhash
import pytest
from PIL import Image

from qip.imaging import InvalidImageError, extract_metadata, process
from tests import imaging_corpus as corpus


def test_every_good_image_has_json_metadata(good: dict[str, bytes]) -> None:
    for name, data in good.items():
        record = extract_metadata(data)
        json.dumps(record, allow_nan=False)
        assert record["byte_size"] == len(data), name
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert blurhash.is_valid_blurhash(record["blurhash"]), name


def test_bad_images_are_rejected(bad: dict[str, tuple[bytes, str]]) -> None:
    for name, (data, reason) in bad.items():
        with pytest.raises(InvalidImageError) as caught:
            extract_metadata(data)
        assert caught.value.reason_code == reason, name


def test_camera_exif_and_gps(good: dict[str, bytes]) -> None:
    exif = extract_metadata(good["jpeg_gps"])["exif"]
    assert exif["make"] == "QuantumCam" and exif["model"] == "QC-1 Pro"
    assert exif["lens"] == "QC 24mm f/2.8"
    assert exif["exposure"] == "1/250" and exif["exposure_time"] == pytest.approx(0.004)
    assert exif["f_number"] == pytest.approx(2.8) and exif["iso"] == 400
    assert exif["taken_at"] == "2024-05-01T10:30:15+02:00"
    assert exif["has_gps"] is True
    assert exif["gps"]["latitude"] == pytest.approx(52.52, abs=1e-6)
    assert exif["gps"]["longitude"] == pytest.approx(-13.41, abs=1e-6)
    assert exif["gps"]["altitude"] == pytest.approx(34.5)


def test_no_exif_means_empty_fields(good: dict[str, bytes]) -> None:
    exif = extract_metadata(good["png_rgb"])["exif"]
    assert exif["has_gps"] is False and exif["gps"] is None and exif["make"] is None


def test_exif_in_other_containers() -> None:
    exif = corpus.camera_exif(gps=True)
    image = corpus.photo(32, 24)
    for fmt in ("PNG", "WEBP", "AVIF", "HEIF"):
        record = extract_metadata(corpus.save(image, fmt, exif=exif.tobytes()))
        assert record["exif"]["make"] == "QuantumCam", fmt
        assert record["exif"]["has_gps"], fmt


def test_malformed_exif_does_not_reject() -> None:
    data = corpus.make_jpeg(image=corpus.photo(32, 24))
    broken = data[:2] + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\xff" + data[2:]
    record = extract_metadata(broken)
    assert record["exif"]["orientation"] == 1 and record["exif"]["gps"] is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_dimensions_are_as_displayed(orientation: int) -> None:
    record = extract_metadata(corpus.make_oriented_jpeg(orientation))
    assert (record["width"], record["height"]) == (64, 48)
    assert record["orientation"] == record["exif"]["orientation"] == orientation


def test_modes_depths_alpha_frames_profile(good: dict[str, bytes]) -> None:
    assert extract_metadata(good["png_16bit_grey"])["bit_depth"] == 16
    assert extract_metadata(good["jpeg_cmyk"])["mode"] == "CMYK"
    assert extract_metadata(good["png_alpha"])["has_alpha"] is True
    animated = extract_metadata(good["webp_animated"])
    assert animated["frame_count"] == 3 and animated["animated"] is True
    assert extract_metadata(good["jpeg_adobe_rgb"])["icc_profile"] == "Adobe RGB (1998) test"
    assert extract_metadata(good["jpeg_baseline"])["icc_profile"] is None


def test_blurhash_reflects_the_picture() -> None:
    red = extract_metadata(corpus.save(Image.new("RGB", (40, 30), (230, 10, 10)), "PNG"))
    pixels = blurhash.decode(red["blurhash"], 4, 4)
    r, _, b = pixels.convert("RGB").getpixel((2, 2))  # type: ignore[misc]
    assert r > 200 and b < 60


def test_process_metadata_agrees(good: dict[str, bytes]) -> None:
    data = good["jpeg_orientation_6"]
    full, alone = process(data).metadata, extract_metadata(data)
    assert {k: v for k, v in full.items() if k != "blurhash"} == {
        k: v for k, v in alone.items() if k != "blurhash"}
