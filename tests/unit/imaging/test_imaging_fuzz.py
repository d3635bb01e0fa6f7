"""Hostile files (issue 15): seeded mutations of valid JPEG, PNG, GIF, WebP, TIFF, AVIF and HEIC
files go through the image core as the pipeline's steps call it, each in a worker with a memory
limit and a deadline; every one is processed or rejected by validate with a reason code.

Bigger runs: ``python -m tests.imaging_fuzz [COUNT] [SEED]``.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections import Counter

import pytest
from PIL import Image

from tests import imaging_corpus as corpus
from tests import imaging_fuzz as fuzz

COUNT = 700
"""100 mutated files per format family."""
PROBE = "tests.unit.imaging.test_imaging_fuzz:probe"


@pytest.fixture(scope="module")
def outcomes() -> list[fuzz.Outcome]:
    return fuzz.run(fuzz.cases(COUNT, fuzz.DEFAULT_SEED))


def test_every_mutated_file_is_processed_or_rejected_with_a_known_reason_code(outcomes):
    assert [str(o) for o in outcomes if o.kind == fuzz.FAILURE] == []  # no other error, hang or blow-up
    assert [o.case.index for o in outcomes] == list(range(COUNT))
    codes = Counter(o.detail for o in outcomes if o.kind == fuzz.REJECTED)
    assert set(codes) <= fuzz.known_reason_codes()
    assert {"corrupt", "truncated", "not_an_image", "too_many_pixels"} <= set(codes)


def test_each_format_family_and_each_mutation_was_exercised(outcomes):
    assert Counter(o.case.family for o in outcomes) == dict.fromkeys(fuzz.FAMILIES, COUNT // len(fuzz.FAMILIES))
    for family in fuzz.FAMILIES:
        kinds = Counter(o.kind for o in outcomes if o.case.family == family)
        assert kinds[fuzz.PROCESSED] and kinds[fuzz.REJECTED], (family, kinds)  # survivors and rejections both
        seeds = {o.case.seed_name for o in outcomes if o.case.family == family}
        assert seeds == set(fuzz.seed_files()[family]), family
    used = Counter(m for o in outcomes for m in o.case.mutations)
    assert set(used) == set(fuzz.MUTATIONS)


def test_cases_depend_only_on_run_seed_and_index():
    first = fuzz.seed_files()
    fuzz.seed_files.cache_clear()
    assert fuzz.seed_files() == first  # no unseeded randomness (Image.effect_noise) in the seed files
    assert fuzz.case(123, 7) == fuzz.case(123, 7)
    assert fuzz.case(123, 7).data != fuzz.case(123, 8).data


@pytest.mark.parametrize("family", ["jpeg", "png", "gif", "webp", "tiff"])
def test_header_dimension_fields_are_the_sizes_the_decoder_reads(family):
    for name, data in fuzz.seed_files()[family].items():
        fields = fuzz.DIMENSION_FIELDS[family](data)
        size = Image.open(io.BytesIO(data)).size
        values = [f.read(bytearray(data)) for f in fields]
        assert set(size) <= set(values), (name, size, values)
        first = next(f for f in fields if f.read(bytearray(data)) == size[0])  # a width field
        changed = bytearray(data)
        first.write(changed, size[0] + 5)
        if family == "png":
            fuzz._maybe_fix_ihdr_crc(changed, random.Random(1))  # 1: first draw < 0.7, so fixed
        assert Image.open(io.BytesIO(bytes(changed))).size[0] == size[0] + 5, name


def test_an_error_after_validate_accepted_is_a_failure_of_the_property(monkeypatch):
    import qip.imaging
    from qip.imaging.exceptions import CorruptImageError

    def rejects_late(*_args, **_kwargs):
        raise CorruptImageError("found only when resizing")

    data = corpus.make_jpeg(64, 48)
    assert fuzz.run_case(data) == (fuzz.PROCESSED, "")
    monkeypatch.setattr(qip.imaging, "make_renditions", rejects_late)
    kind, detail = fuzz.run_case(data)
    assert kind == fuzz.FAILURE and detail.startswith("resize after validate accepted: CorruptImageError")


def test_an_unexpected_error_in_validate_is_a_failure_and_a_rejection_is_not(monkeypatch):
    import qip.imaging

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("a bug")

    assert fuzz.run_case(b"plain text") == (fuzz.REJECTED, "not_an_image")
    monkeypatch.setattr(qip.imaging, "validate", broken)
    assert fuzz.run_case(corpus.make_jpeg(8, 8)) == (fuzz.FAILURE, "validate: ZeroDivisionError: a bug")


def probe(data: bytes) -> tuple[str, str]:
    """A worker target that misbehaves on demand (the harness's own test)."""
    if data == b"hang":
        time.sleep(60)
    if data == b"memory":
        try:
            bytearray(2 * 1024 ** 3)  # more than the worker's address space limit
        except MemoryError:
            return fuzz.FAILURE, "memory limit"
    if data == b"crash":
        os.abort()
    return fuzz.PROCESSED, ""


def test_the_harness_reports_a_hang_a_memory_blow_up_and_a_crash_and_goes_on():
    names = ["fine", "hang", "memory", "crash", "after"]
    batch = [fuzz.Case(i, "probe", name, (), name.encode()) for i, name in enumerate(names)]
    found = {o.case.seed_name: (o.kind, o.detail) for o in fuzz.run(batch, workers=1, target=PROBE, deadline=1)}
    crash = found.pop("crash")
    assert crash[0] == fuzz.FAILURE and crash[1].startswith("crash: worker killed by SIGABRT")
    assert found == {
        "fine": (fuzz.PROCESSED, ""),
        "hang": (fuzz.FAILURE, "hang: no outcome within the 1 s deadline"),
        "memory": (fuzz.FAILURE, "memory limit"),
        "after": (fuzz.PROCESSED, ""),  # a new worker took the rest of the batch
    }
