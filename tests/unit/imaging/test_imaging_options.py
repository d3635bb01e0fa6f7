"""Options and limits are built from plain values (environment strings) and checked early."""

from __future__ import annotations

import json

import pytest

from qip.imaging import Limits, RenderOptions


def test_defaults() -> None:
    options = RenderOptions()
    assert options.max_side == 2048 and options.resize_format == "jpeg"
    assert options.thumbnail_sizes == (512, 256, 128) and options.thumbnail_format == "webp"
    assert options.background == (255, 255, 255) and options.jpeg_quality == 85
    limits = Limits()
    assert limits.max_bytes == 50 * 1024 * 1024 and limits.max_frames == 500
    assert 60_000 * 60_000 > limits.max_pixels >= 24_000_000


def test_from_environment_strings() -> None:
    options = RenderOptions.from_mapping({
        "max_side": "1024", "resize_format": "WEBP", "thumbnail_sizes": "128, 512,256",
        "thumbnail_format": "jpg", "background": "#000", "webp_method": "2",
        "embed_icc": "true", "jpeg_progressive": "0", "unrelated": "ignored", "jpeg_quality": "",
    })
    assert options.max_side == 1024 and options.resize_format == "webp"
    assert options.thumbnail_sizes == (512, 256, 128)  # largest first
    assert options.thumbnail_format == "jpeg" and options.background == (0, 0, 0)
    assert options.webp_method == 2 and options.embed_icc and not options.jpeg_progressive
    assert options.jpeg_quality == 85
    assert RenderOptions.from_mapping({"background": "10,20,30"}).background == (10, 20, 30)
    json.dumps(options.to_dict())


@pytest.mark.parametrize("bad", [
    {"resize_format": "gif"}, {"thumbnail_sizes": "0,128"}, {"thumbnail_sizes": ""},
    {"background": "#12345"}, {"background": "300,0,0"}, {"jpeg_quality": "0"},
    {"webp_method": "7"}, {"embed_icc": "maybe"}, {"max_side": "-1"},
])
def test_invalid_values_fail_at_construction(bad: dict[str, str]) -> None:
    if bad == {"thumbnail_sizes": ""}:
        with pytest.raises(ValueError):
            RenderOptions(thumbnail_sizes=())
        return
    with pytest.raises(ValueError):
        RenderOptions.from_mapping(bad)
