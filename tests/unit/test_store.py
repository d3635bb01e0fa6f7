"""The metadata store's conditional writes and indexed reads (qip.core.store), on a moto table."""

from __future__ import annotations

import pytest

from qip.core.model import COMPLETED, FAILED, PROCESSING, REJECTED, UPLOADED, Rejection, padded_sequencer
from qip.core.store import Upload

KEY = "holiday/2026/my photo+1.jpg"
SEQ = "0065F1A2B3C4D5E6F7"
NEWER = "0065F1A2B3C4D5E6F8"
OLDER = "0065F1A2B3C4D5E6F6"


def upload(key: str = KEY, sequencer: str = SEQ, etag: str = "etag-1",
           uploaded_at: str = "2026-11-28T15:00:00.000Z", size: int = 1234) -> Upload:
    return Upload(bucket="qip-uploads", key=key, size=size, content_type="image/jpeg", etag=etag,
                  sequencer=sequencer, uploaded_at=uploaded_at)


def statuses(record: dict) -> list[str]:
    return [entry["status"] for entry in record["history"]]


def processing(store, key: str = KEY, execution: str = "run-a1", sequencer: str = SEQ) -> None:
    assert store.record_upload(upload(key, sequencer))
    assert store.start_processing(key, sequencer, execution, 1)


# ---------------------------------------------------------------------- record_upload
def test_record_upload_creates_an_uploaded_record(store):
    assert store.record_upload(upload()) is True
    record = store.get(KEY)
    assert record["image_key"] == KEY
    assert record["status"] == UPLOADED
    assert record["size"] == 1234 and isinstance(record["size"], int)
    assert record["content_type"] == "image/jpeg"
    assert record["uploaded_at"] == "2026-11-28T15:00:00.000Z"
    assert record["upload_date"] == "2026-11-28"
    assert record["sequencer"] == padded_sequencer(SEQ)
    assert record["attempt"] == 0
    assert statuses(record) == [UPLOADED]


def test_record_upload_keeps_a_rejection_reason(store):
    reason = {"code": "not_an_image", "message": "text"}
    assert store.record_upload(upload(), REJECTED, Rejection.from_dict(reason))
    record = store.get(KEY)
    assert record["status"] == REJECTED and record["reason"] == reason


def test_duplicate_of_an_upload_still_uploaded_is_written_again(store):
    assert store.record_upload(upload())
    assert store.record_upload(upload()) is True
    assert store.get(KEY)["status"] == UPLOADED


def test_duplicate_of_an_upload_already_processing_is_refused(store):
    processing(store)
    before = store.get(KEY)
    assert store.record_upload(upload()) is False
    assert store.get(KEY) == before


def test_stale_event_with_an_older_sequencer_is_refused(store):
    assert store.record_upload(upload(sequencer=SEQ, etag="new"))
    assert store.record_upload(upload(sequencer=OLDER, etag="old")) is False
    record = store.get(KEY)
    assert record["etag"] == "new" and record["sequencer"] == padded_sequencer(SEQ)


def test_sequencers_of_different_lengths_compare_as_numbers(store):
    assert store.record_upload(upload(sequencer="FF", etag="ff"))
    assert store.record_upload(upload(sequencer="100", etag="100")) is True  # 0x100 > 0xFF
    assert store.record_upload(upload(sequencer="FF", etag="ff")) is False
    assert store.get(KEY)["etag"] == "100"


def test_newer_upload_replaces_a_completed_record(store):
    processing(store)
    assert store.complete(KEY, "run-a1", {"display": "s3://qip-archive/x"})
    assert store.record_upload(upload(sequencer=NEWER, etag="second")) is True
    record = store.get(KEY)
    assert record["status"] == UPLOADED
    assert record["etag"] == "second"
    assert "outputs" not in record and "execution" not in record


def test_duplicate_of_a_completed_upload_is_refused(store):
    processing(store)
    assert store.complete(KEY, "run-a1", {"display": "s3://qip-archive/x"})
    assert store.record_upload(upload()) is False
    assert store.get(KEY)["status"] == COMPLETED


# ---------------------------------------------------------------------- start_processing
def test_start_processing_takes_an_uploaded_record(store):
    assert store.record_upload(upload())
    assert store.start_processing(KEY, SEQ, "run-a1", 1) is True
    record = store.get(KEY)
    assert record["status"] == PROCESSING
    assert record["execution"] == "run-a1" and record["attempt"] == 1
    assert record["started_at"].endswith("Z")
    assert statuses(record) == [UPLOADED, PROCESSING]


def test_start_processing_again_by_the_same_execution_is_allowed(store):
    processing(store)
    assert store.start_processing(KEY, SEQ, "run-a1", 1) is True
    assert store.get(KEY)["execution"] == "run-a1"


def test_start_processing_by_another_execution_is_refused(store):
    processing(store)
    assert store.start_processing(KEY, SEQ, "run-b1", 1) is False
    assert store.get(KEY)["execution"] == "run-a1"


def test_start_processing_for_another_upload_of_the_key_is_refused(store):
    assert store.record_upload(upload(sequencer=NEWER))
    assert store.start_processing(KEY, SEQ, "old-upload-a1", 1) is False
    assert store.get(KEY)["status"] == UPLOADED


def test_start_processing_of_a_missing_record_is_refused(store):
    assert store.start_processing("nobody.jpg", SEQ, "run-a1", 1) is False
    assert store.get("nobody.jpg") is None


def test_failed_record_is_taken_again_only_by_a_later_attempt(store):
    processing(store)
    assert store.record_stage_error(KEY, "run-a1", {"stage": "resize", "type": "Boom"})
    assert store.fail(KEY, "run-a1", {"type": "Boom"}, final=False)
    assert store.start_processing(KEY, SEQ, "run-a1-again", 1) is False
    assert store.get(KEY)["status"] == FAILED
    assert store.start_processing(KEY, SEQ, "run-a2", 2) is True
    record = store.get(KEY)
    assert record["status"] == PROCESSING and record["attempt"] == 2 and record["execution"] == "run-a2"
    assert "error" not in record and "last_error" not in record and record["stages"] == {}
    assert statuses(record) == [UPLOADED, PROCESSING, FAILED, PROCESSING]


@pytest.mark.parametrize("finish", ["complete", "reject"])
def test_late_processing_never_overwrites_a_finished_record(store, finish):
    processing(store)
    if finish == "complete":
        assert store.complete(KEY, "run-a1", {"display": "s3://qip-archive/x"})
    else:
        assert store.reject(KEY, "run-a1", Rejection("truncated", "cut"))
    finished = store.get(KEY)
    for execution, attempt in (("run-a1", 1), ("run-b1", 1), ("run-a2", 2), ("run-a9", 9)):
        assert store.start_processing(KEY, SEQ, execution, attempt) is False
    assert store.get(KEY) == finished


# ---------------------------------------------------------------------- owned writes
@pytest.mark.parametrize("write", ["complete", "reject", "fail", "complete_stage", "record_stage_error"])
def test_only_the_owning_execution_writes(store, write):
    processing(store)
    before = store.get(KEY)
    calls = {
        "complete": lambda ex: store.complete(KEY, ex, {"display": "s3://x"}) is not None,
        "reject": lambda ex: store.reject(KEY, ex, Rejection("corrupt", "m")),
        "fail": lambda ex: store.fail(KEY, ex, {"type": "Boom"}, final=True),
        "complete_stage": lambda ex: store.complete_stage(KEY, ex, "resize", {"duration_ms": 5}),
        "record_stage_error": lambda ex: store.record_stage_error(KEY, ex, {"stage": "resize"}),
    }
    assert calls[write]("intruder-a1") is False
    assert store.get(KEY) == before
    assert calls[write]("run-a1") is True
    assert store.get(KEY) != before


def test_owned_writes_on_an_uploaded_record_are_refused(store):
    assert store.record_upload(upload())
    assert store.complete(KEY, "run-a1", {"display": "s3://x"}) is None
    assert store.fail(KEY, "run-a1", {"type": "Boom"}, final=True) is False
    assert store.get(KEY)["status"] == UPLOADED


def test_complete_records_outputs_and_history(store):
    processing(store)
    outputs = {"display": "s3://qip-archive/d.jpg", "dimensions": {"width": 10, "height": 5}}
    written = store.complete(KEY, "run-a1", outputs)
    record = store.get(KEY)
    assert written == record  # the record as written comes back with the write: no read after it
    assert record["status"] == COMPLETED and record["outputs"] == outputs
    assert record["completed_at"] >= record["started_at"]
    assert statuses(record) == [UPLOADED, PROCESSING, COMPLETED]
    assert [entry["at"] for entry in record["history"]] == sorted(entry["at"] for entry in record["history"])
    assert store.complete(KEY, "run-a1", outputs) is None  # not PROCESSING any more


def test_fail_keeps_error_and_finality(store):
    processing(store)
    error = {"type": "TransientError", "message": "slow down", "stage": "resize", "duration": 1.5}
    assert store.fail(KEY, "run-a1", error, final=True)
    record = store.get(KEY)
    assert record["status"] == FAILED
    assert record["error"] == error  # floats survive the round trip through Decimal
    assert record["final_failure"] is True
    assert statuses(record) == [UPLOADED, PROCESSING, FAILED]


def test_complete_stage_keeps_each_stage_and_extra_data(store):
    processing(store)
    assert store.complete_stage(KEY, "run-a1", "validate", {"completed_at": "t1", "duration_ms": 3})
    assert store.complete_stage(KEY, "run-a1", "extract_metadata", {"completed_at": "t2", "duration_ms": 4},
                                {"metadata": {"width": 10, "height": 5, "aspect": 2.0}})
    record = store.get(KEY)
    assert record["stages"] == {"validate": {"completed_at": "t1", "duration_ms": 3},
                                "extract_metadata": {"completed_at": "t2", "duration_ms": 4}}
    assert record["metadata"] == {"width": 10, "height": 5, "aspect": 2}
    assert record["status"] == PROCESSING


# ---------------------------------------------------------------------- reads
def _fill(store, count: int, day: str = "2026-11-28", status: str = UPLOADED, prefix: str = "img") -> list[str]:
    """`count` records uploaded one minute apart on `day`; their uploaded_at, oldest first."""
    times = []
    for index in range(count):
        at = f"{day}T10:{index:02d}:00.000Z"
        assert store.record_upload(upload(key=f"{prefix}-{day}-{index:02d}.jpg", uploaded_at=at), status,
                                   Rejection("x", "y") if status == REJECTED else None)
        times.append(at)
    return times


def test_by_status_pages_newest_first(store):
    times = _fill(store, 7)
    _fill(store, 3, status=REJECTED, prefix="bad")
    pages = []
    token = None
    while True:
        page = store.by_status(UPLOADED, limit=3, token=token)
        pages.append(page.items)
        token = page.next_token
        if token is None:
            break
    assert [len(items) for items in pages if items] == [3, 3, 1]
    seen = [item["uploaded_at"] for items in pages for item in items]
    assert seen == sorted(times, reverse=True)
    assert all(item["status"] == UPLOADED for items in pages for item in items)


def test_by_status_time_range(store):
    times = _fill(store, 10)
    page = store.by_status(UPLOADED, since=times[2], until=times[5])
    assert [item["uploaded_at"] for item in page.items] == times[5:1:-1]
    assert [i["uploaded_at"] for i in store.by_status(UPLOADED, since=times[8]).items] == [times[9], times[8]]
    assert [i["uploaded_at"] for i in store.by_status(UPLOADED, until=times[1]).items] == [times[1], times[0]]
    assert page.next_token is None


def test_by_upload_date_keeps_days_apart(store):
    first = _fill(store, 4, day="2026-11-27")
    second = _fill(store, 5, day="2026-11-28")
    assert [i["uploaded_at"] for i in store.by_upload_date("2026-11-27").items] == first[::-1]
    assert [i["uploaded_at"] for i in store.by_upload_date("2026-11-28", since=second[3]).items] == second[:2:-1]
    assert store.by_upload_date("2026-11-29").items == []


def test_iter_pages_returns_every_item_once_across_pages(store):
    times = _fill(store, 11)
    items = list(store.iter_pages(store.by_status, status=UPLOADED, limit=4))
    assert [item["uploaded_at"] for item in items] == sorted(times, reverse=True)
    assert len({item["image_key"] for item in items}) == 11
    by_day = list(store.iter_pages(store.by_upload_date, date="2026-11-28", limit=2, until=times[4]))
    assert [item["uploaded_at"] for item in by_day] == times[4::-1]


def test_page_items_are_plain_python_numbers(store):
    _fill(store, 1)
    item = store.by_status(UPLOADED).items[0]
    assert type(item["size"]) is int and type(item["attempt"]) is int


def test_get_of_a_missing_key_is_none(store):
    assert store.get("never uploaded.jpg") is None


def test_count_by_status(store):
    _fill(store, 5)
    _fill(store, 2, status=REJECTED, prefix="bad")
    assert store.count_by_status(UPLOADED) == 5
    assert store.count_by_status(REJECTED) == 2
    assert store.count_by_status(COMPLETED) == 0
