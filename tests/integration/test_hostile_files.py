"""Hostile files through the real local stack (issue 15): seeded mutations of every accepted
format, uploaded at once, each end REJECTED with the reason the image core gives or COMPLETED;
none FAILED, none left behind; a good image uploaded afterwards completes.

R1.5. The unit test (tests/unit/imaging/test_imaging_fuzz.py) runs many more through the image core.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from qip.core.model import COMPLETED, REJECTED
from tests import imaging_corpus as corpus
from tests import imaging_fuzz as fuzz

COUNT = 21
"""Three mutated files per format family: cases 0-20 of the fuzz's default seed."""
DECODER_ERRORS = [(fuzz.DEFAULT_SEED, 418), (fuzz.DEFAULT_SEED, 558), (fuzz.DEFAULT_SEED, 579),
                  (fuzz.DEFAULT_SEED, 2392), (1, 1524)]
"""AVIF cases whose libavif errors (a RuntimeError: missing image item, colour or alpha planes that
do not decode, "Not implemented", YUV conversion) were retried until the image ended FAILED."""


def test_hostile_files_end_rejected_with_a_reason_or_completed_and_a_good_image_completes_after(stack):
    cases = fuzz.cases(COUNT) + [fuzz.case(index, seed) for seed, index in DECODER_ERRORS]
    expected = {o.case: o for o in fuzz.run(cases)}  # what the image core says of each
    assert not [str(o) for o in expected.values() if o.kind == fuzz.FAILURE]
    prefix = f"hostile/{uuid.uuid4().hex[:8]}/"
    keys = {f"{prefix}{c.seed}-{c.index}-{c.family}-{c.seed_name}-{'+'.join(c.mutations)}.bin": c for c in cases}

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: stack.put(item[0], item[1].data), keys.items()))
    records = stack.wait(list(keys), timeout=150)  # fails if any is not final by then

    statuses = {key: record["status"] for key, record in records.items()}
    assert set(statuses.values()) <= {COMPLETED, REJECTED}, statuses  # never FAILED
    for key, record in records.items():
        outcome = expected[keys[key]]
        if outcome.kind == fuzz.PROCESSED:
            assert record["status"] == COMPLETED, (key, record.get("reason"), record.get("error"))
            assert len(record["outputs"]["thumbnails"]) == 3
        else:
            assert record["status"] == REJECTED, (key, record["status"])
            assert record["reason"]["code"] == outcome.detail, (key, record["reason"])
            assert record["reason"]["message"]
        assert "last_error" not in record, (key, record["last_error"])  # nothing was retried
    assert {c.family for c in cases} == set(fuzz.FAMILIES)
    assert COMPLETED in statuses.values() and REJECTED in statuses.values()

    good = f"{prefix}after/photo.jpg"
    stack.put(good, corpus.make_jpeg(), "image/jpeg")
    assert stack.wait([good])[good]["status"] == COMPLETED
