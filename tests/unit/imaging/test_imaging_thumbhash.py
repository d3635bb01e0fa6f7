"""ThumbHash against the reference implementation's own bytes.

thumbhash_vectors.json was computed by the reference encoder (npm `thumbhash` 0.1.1, Evan
Wallace's, run in Node) on the pixels `thumbhash_cases.py` makes from formulas, so both sides hash
exactly the same image. To recompute: write each case's `rgba()` to a file and call the
reference's `rgbaToThumbHash(w, h, pixels)`, base64 of the result.

The PyPI package `thumbhash` 0.1.2 was checked the same way and not used: it raises TypeError on
any image with alpha and writes other bytes than the reference where Python's round() (half to
even) and Math.round (half up) differ, e.g. on the 10x28 and 28x10 cases.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from qip.imaging import extract_metadata
from qip.imaging.thumbhash import approximate_aspect_ratio, has_alpha, rgba_to_thumbhash, thumbhash_of
from tests import imaging_corpus as corpus
from tests.unit.imaging.thumbhash_cases import CASES, TIES, rgba

VECTORS = json.loads((Path(__file__).parent / "thumbhash_vectors.json").read_text())


@pytest.mark.parametrize(("recipe", "width", "height"), CASES)
def test_bytes_equal_the_reference_s(recipe, width, height):
    expected = base64.b64decode(VECTORS[f"{recipe}-{width}x{height}"])
    assert rgba_to_thumbhash(width, height, rgba(recipe, width, height)) == expected


@pytest.mark.parametrize(("recipe", "width", "height"), TIES)
def test_exact_ties_differ_from_the_reference_by_one_step_at_most(recipe, width, height):
    """Mirror-symmetric pixels make some terms exactly 0, where cos() rounding (V8's or libm's)
    picks the quantisation step: at most one step of one nibble apart."""
    ours = rgba_to_thumbhash(width, height, rgba(recipe, width, height))
    theirs = base64.b64decode(VECTORS[f"{recipe}-{width}x{height}"])
    assert len(ours) == len(theirs) and ours[:5] == theirs[:5]
    assert all(abs((a & 15) - (b & 15)) <= 1 and abs((a >> 4) - (b >> 4)) <= 1 for a, b in zip(ours, theirs,
                                                                                             strict=True))


def test_the_hash_keeps_aspect_ratio_and_alpha():
    wide = base64.b64decode(thumbhash_of(corpus.photo(300, 100)))
    tall = base64.b64decode(thumbhash_of(corpus.photo(100, 300)))
    assert approximate_aspect_ratio(wide) > 2 and approximate_aspect_ratio(tall) < 0.5
    assert not has_alpha(wide)
    transparent = Image.open(__import__("io").BytesIO(corpus.make_png_alpha(64, 48)))
    assert has_alpha(base64.b64decode(thumbhash_of(transparent)))


def test_sizes_outside_the_reference_s_limit_are_refused():
    with pytest.raises(ValueError, match="does not fit"):
        rgba_to_thumbhash(101, 10, bytes(101 * 10 * 4))


def test_metadata_has_both_placeholders():
    metadata = extract_metadata(corpus.make_png_alpha(200, 100))
    assert metadata["blurhash"] and has_alpha(base64.b64decode(metadata["thumbhash"]))
