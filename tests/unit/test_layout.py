"""Archive layout and Step Functions execution names (qip.core.layout)."""

from __future__ import annotations

import random
import re

import pytest

from qip.core import layout, model

SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
AWKWARD_KEYS = [
    "photo.jpg",
    "my photo.jpg",
    "my photo+1.jpg",
    "100% done.jpg",
    "a+b.jpg",
    "a b.jpg",
    "café/menü/фото 東京.jpg",
    "照片.jpg",
    "日本",
    "deep/" * 60 + "leaf.jpg",
    "x" * 1024,
    "weird:name[1]*?{}.jpg",
    "tab\tand\nnewline.jpg",
    "/leading/slash.jpg",
    "trailing/slash/",
    "emoji 📷🌄.heic",
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_execution_name_is_safe_and_short_for_awkward_keys(key):
    for attempt in (1, 3, 1000):
        name = layout.execution_name("qip-uploads", key, "0065F1A2B3C4D5E6F7", attempt)
        assert SAFE_NAME.match(name), name
        assert name.endswith(f"-a{attempt}")


def test_execution_name_is_deterministic():
    first = layout.execution_name("qip-uploads", "holiday/my photo+1.jpg", "0065F1A2B3C4D5E6F7", 1)
    again = layout.execution_name("qip-uploads", "holiday/my photo+1.jpg", "0065F1A2B3C4D5E6F7", 1)
    assert first == again


def test_execution_name_differs_for_each_part_of_the_upload():
    base = ("qip-uploads", "holiday/photo.jpg", "0065F1A2B3C4D5E6F7", 1)
    variants = [
        base,
        ("other-bucket", *base[1:]),
        (base[0], "work/photo.jpg", *base[2:]),  # same file name under another prefix
        (base[0], "holiday/photo.jpeg", *base[2:]),
        (base[0], base[1], "0065F1A2B3C4D5E6F8", 1),  # a new upload of the same key
        (*base[:3], 2),  # a pipeline retry
    ]
    names = [layout.execution_name(*variant) for variant in variants]
    assert len(set(names)) == len(names), names


def test_execution_names_of_keys_that_differ_only_in_encoding_differ():
    keys = ["a+b.jpg", "a b.jpg", "a%2Bb.jpg", "a-b.jpg", "a_b.jpg"]
    names = {layout.execution_name("qip-uploads", key, "01", 1) for key in keys}
    assert len(names) == len(keys)


def test_execution_name_keeps_the_file_name_readable():
    name = layout.execution_name("qip-uploads", "holiday/2026/my photo+1.jpg", "01", 1)
    assert name.startswith("my-photo-1-jpg-")
    assert layout.execution_name("qip-uploads", "日本", "01", 1).startswith("image-")


def test_execution_name_treats_equal_sequencers_alike():
    """A sequencer is a hex number: case and leading zeros do not make a different upload."""
    names = {layout.execution_name("qip-uploads", "k.jpg", seq, 1) for seq in ("ff", "FF", "00FF", "0000ff")}
    assert len(names) == 1


def test_padded_sequencer_orders_as_hex_numbers():
    rng = random.Random(7)
    values = [rng.randrange(0, 16**20) for _ in range(200)] + [0, 1, 15, 16, 255, 256, 16**18]
    sequencers = [format(v, "x") if i % 2 else format(v, "X") for i, v in enumerate(values)]
    by_padding = sorted(sequencers, key=model.padded_sequencer)
    assert [int(s, 16) for s in by_padding] == sorted(values)
    assert all(len(model.padded_sequencer(s)) == model.SEQUENCER_WIDTH for s in sequencers)


def test_padded_sequencer_of_nothing_is_zero():
    assert model.padded_sequencer("") == "0" * model.SEQUENCER_WIDTH
    assert model.padded_sequencer("") < model.padded_sequencer("1")


def test_archive_layout():
    key = "holiday/2026/my photo+1.jpg"
    assert layout.archive_prefix(key) == "images/holiday/2026/my photo+1.jpg/"
    assert layout.archive_key(key, "original") == "images/holiday/2026/my photo+1.jpg/original"
    assert layout.archive_key(key, "manifest.json").endswith("/my photo+1.jpg/manifest.json")
    assert layout.s3_uri("qip-archive", "images/a b/original") == "s3://qip-archive/images/a b/original"


@pytest.mark.parametrize(("name", "fmt", "expected"), [
    ("display", "jpeg", "display.jpg"),
    ("display", "png", "display.png"),
    ("thumb-512", "webp", "thumb-512.webp"),
    ("thumb-128", "jpeg", "thumb-128.jpg"),
])
def test_derivative_name(name, fmt, expected):
    assert layout.derivative_name(name, fmt) == expected
