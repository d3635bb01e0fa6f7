"""Ingest: every upload gets a record, UPLOADED or REJECTED, and only images go on to the pipeline.

Ingest runs in the dispatcher for each "Object Created" event the upload rule puts on the
processing queue; `ingest()` returns the image's pointer when the pipeline should run for it.
"""

from __future__ import annotations

import copy
import json
from urllib.parse import quote_plus

import pytest
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from qip.core import layout
from qip.core.model import PROCESSING, REJECTED, UPLOADED
from qip.functions import dispatcher
from qip.functions.ingest import ingest
from tests.imaging_corpus import make_jpeg, photo, save
from tests.unit.mock_stack import UPLOAD_BUCKET

KEY = "holiday/2026/my photo+1.jpg"  # what the sample event's URL-encoded key names
SAMPLE_SEQUENCER = "0065F1A2B3C4D5E6F7"


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return make_jpeg(96, 64)


def object_created(sample_event, aws, key: str, data: bytes, content_type: str = "image/jpeg", *,
                   sequencer: str = SAMPLE_SEQUENCER, encode: bool = True, put: bool = True) -> dict:
    """The sample "Object Created" event for `key`, after putting `data` there (as S3 would)."""
    event = copy.deepcopy(sample_event("s3_object_created"))
    etag = aws.put_upload(key, data, content_type) if put else "0" * 32
    event["detail"]["object"].update(key=quote_plus(key, safe="/") if encode else key, size=len(data),
                                     etag=etag, sequencer=sequencer)
    return event


def run(event: dict) -> dict | None:
    pointer = ingest(S3EventBridgeNotificationEvent(event))
    return pointer.to_dict() if pointer else None


def as_queue_batch(*events: dict) -> dict:
    """Events as the upload rule delivers them to the processing queue, and SQS to the dispatcher."""
    return {"Records": [{"messageId": f"message-{index}", "receiptHandle": f"handle-{index}", "body": json.dumps(event),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:qip-processing",
                         "awsRegion": "us-east-1"} for index, event in enumerate(events)]}


def test_sample_event_names_the_key_url_encoded(sample_event):
    detail = sample_event("s3_object_created")["detail"]
    assert detail["bucket"]["name"] == UPLOAD_BUCKET
    assert detail["object"]["key"] == quote_plus(KEY, safe="/")


def test_image_upload_is_recorded_and_announced(aws, store, sample_event, jpeg):
    event = object_created(sample_event, aws, KEY, jpeg)
    pointer = run(event)

    record = store.get(KEY)
    assert record["status"] == UPLOADED
    assert record["image_key"] == KEY
    assert record["uploaded_at"] == "2026-11-28T15:00:00.000Z"  # event time, in milliseconds
    assert record["upload_date"] == "2026-11-28"
    assert record["size"] == len(jpeg)
    assert record["content_type"] == "image/jpeg"
    assert record["etag"] == event["detail"]["object"]["etag"]

    assert pointer == {"bucket": UPLOAD_BUCKET, "key": KEY, "etag": record["etag"], "sequencer": SAMPLE_SEQUENCER,
                       "size": len(jpeg), "content_type": "image/jpeg", "version_id": None, "attempt": 1}

    [bus_event] = aws.bus_events()
    assert bus_event["detail-type"] == "Image Uploaded"
    assert bus_event["source"] == "qip.pipeline"
    detail = bus_event["detail"]
    assert detail["image"] == {"bucket": UPLOAD_BUCKET, "key": KEY}
    assert detail["status"] == UPLOADED and detail["stage"] == "ingest"
    assert detail["size"] == len(jpeg) and detail["content_type"] == "image/jpeg"
    assert detail["timestamp"].endswith("Z")
    assert aws.notifications() == []


def test_upload_event_on_the_queue_starts_the_pipeline(aws, store, sample_event, lambda_context, jpeg):
    event = object_created(sample_event, aws, KEY, jpeg)
    assert dispatcher.handler(as_queue_batch(event), lambda_context) == {"batchItemFailures": []}
    [execution] = aws.executions()
    assert execution["name"] == layout.execution_name(UPLOAD_BUCKET, KEY, SAMPLE_SEQUENCER, 1)
    started = aws.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"])["image"]["key"] == KEY
    assert store.get(KEY)["status"] == UPLOADED


def test_key_sent_raw_by_the_local_engine_is_found_too(aws, store, sample_event, jpeg):
    key = "café/menü 100%.jpg"
    event = object_created(sample_event, aws, key, jpeg, encode=False)
    assert run(event)["key"] == key
    assert store.get(key)["status"] == UPLOADED


def test_text_named_jpg_is_rejected_and_goes_no_further(aws, store, sample_event, lambda_context):
    text = b"These are meeting notes, saved with the wrong extension.\n"
    event = object_created(sample_event, aws, "notes.jpg", text, "image/jpeg")
    assert dispatcher.handler(as_queue_batch(event), lambda_context) == {"batchItemFailures": []}

    record = store.get("notes.jpg")
    assert record["status"] == REJECTED
    assert record["reason"]["code"] == "not_an_image"
    assert "image/jpeg" in record["reason"]["message"]  # names the declared type it did not match
    assert aws.executions() == []
    [bus_event] = aws.bus_events()
    assert bus_event["detail-type"] == "Image Rejected"
    assert bus_event["detail"]["error"]["code"] == "not_an_image"
    [note] = aws.notifications()
    assert note["subject"] == "Rejected: notes.jpg"
    assert note["attributes"]["status"] == REJECTED
    assert note["message"]["image"]["key"] == "notes.jpg"


def test_empty_file_is_rejected_as_empty(aws, store, sample_event):
    event = object_created(sample_event, aws, "empty.png", b"", "image/png")
    assert run(event) is None
    assert store.get("empty.png")["status"] == REJECTED
    assert store.get("empty.png")["reason"]["code"] == "empty"


def test_file_over_the_byte_limit_is_rejected(aws, store, sample_event, monkeypatch, jpeg):
    monkeypatch.setenv("MAX_BYTES", str(len(jpeg) - 1))
    assert run(object_created(sample_event, aws, "big.jpg", jpeg)) is None
    assert store.get("big.jpg")["reason"]["code"] == "too_many_bytes"


def test_png_with_a_lying_extension_is_still_an_image(aws, store, sample_event):
    event = object_created(sample_event, aws, "really a png.txt", save(photo(32, 24), "PNG"), "text/plain")
    assert run(event)["key"] == "really a png.txt"
    assert store.get("really a png.txt")["status"] == UPLOADED


def test_duplicate_event_after_processing_started_changes_nothing(aws, store, sample_event, jpeg):
    event = object_created(sample_event, aws, KEY, jpeg)
    run(event)
    assert store.start_processing(KEY, SAMPLE_SEQUENCER, "run-a1", 1)
    aws.bus_events()
    before = store.get(KEY)

    assert run(copy.deepcopy(event)) is None
    assert store.get(KEY) == before
    assert before["status"] == PROCESSING
    assert aws.bus_events() == []


def test_duplicate_event_of_a_rejected_upload_changes_nothing(aws, store, sample_event):
    event = object_created(sample_event, aws, "notes.jpg", b"plain text")
    run(event)
    before = store.get("notes.jpg")
    aws.bus_events(), aws.notifications()
    assert run(copy.deepcopy(event)) is None
    assert store.get("notes.jpg") == before
    assert aws.bus_events() == [] and aws.notifications() == []


def test_duplicate_event_while_uploaded_starts_one_execution(aws, store, sample_event, lambda_context, jpeg):
    """Passed on again on purpose (a crash may have lost the first start); the name keeps it to one run."""
    event = object_created(sample_event, aws, KEY, jpeg)
    assert dispatcher.handler(as_queue_batch(event, event), lambda_context) == {"batchItemFailures": []}
    assert dispatcher.handler(as_queue_batch(event), lambda_context) == {"batchItemFailures": []}
    [execution] = aws.executions()
    assert execution["name"] == layout.execution_name(UPLOAD_BUCKET, KEY, SAMPLE_SEQUENCER, 1)


def test_stale_event_of_an_older_upload_is_ignored(aws, store, sample_event, lambda_context, jpeg):
    newer = make_jpeg(40, 30)
    run(object_created(sample_event, aws, KEY, newer, sequencer="0065F1A2B3C4D5E700"))
    stale = object_created(sample_event, aws, KEY, jpeg, sequencer=SAMPLE_SEQUENCER, put=False)
    assert run(stale) is None
    record = store.get(KEY)
    assert record["size"] == len(newer)
    assert record["sequencer"] == layout.padded_sequencer("0065F1A2B3C4D5E700")
    assert dispatcher.handler(as_queue_batch(stale), lambda_context) == {"batchItemFailures": []}
    assert aws.executions() == []


def test_object_deleted_before_ingest_leaves_no_record(aws, store, sample_event, lambda_context, jpeg):
    event = object_created(sample_event, aws, KEY, jpeg)
    aws.s3.delete_object(Bucket=UPLOAD_BUCKET, Key=KEY)
    assert run(event) is None
    assert store.get(KEY) is None
    assert aws.bus_events() == []
    assert dispatcher.handler(as_queue_batch(event), lambda_context) == {"batchItemFailures": []}
    assert aws.executions() == []
