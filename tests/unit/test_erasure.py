"""Erasure (offline, on moto): every copy goes, the record becomes a tombstone that fences every
later write of a run, a step that wrote after the erasure takes its outputs back, and a later
upload of the key is processed as new. Also reprocessing's store transitions."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError

from qip.client import reprocess
from qip.client.views import public_view
from qip.core import layout
from qip.core.model import COMPLETED, DELETED, STATUSES, TERMINAL, UPLOADED, ImagePointer, Status
from qip.core.store import Upload
from qip.functions import archive, extract_metadata, operations, outputs, resize, thumbnails, tracker, validate
from qip.imaging.renditions import RenditionSet
from tests import imaging_corpus as corpus
from tests.unit.mock_stack import ARCHIVE_BUCKET, UPLOAD_BUCKET

KEY = "holiday/2026/my photo+1.jpg"
AUDIT = "qip-audit"


@pytest.fixture
def audit(aws, monkeypatch):
    aws.dynamodb.create_table(TableName=AUDIT, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                                    for n in ("image_key", "event_at")],
                              KeySchema=[{"AttributeName": "image_key", "KeyType": "HASH"},
                                         {"AttributeName": "event_at", "KeyType": "RANGE"}])
    monkeypatch.setenv("AUDIT_TABLE_NAME", AUDIT)
    return aws.dynamodb


def step(sample_event, name: str, image: dict, **extras) -> dict:
    event = copy.deepcopy(sample_event(f"step_{name}"))
    event["image"] = image
    event.update(extras)
    return event


def upload(aws, store, sample_event, key: str = KEY, sequencer: str = "0065F1A2B3C4D5E6F7") -> dict:
    data = corpus.make_jpeg(800, 600)
    etag = aws.put_upload(key, data)
    image = {**sample_event("tracker_started")["image"], "key": key, "etag": etag, "size": len(data),
             "sequencer": sequencer}
    assert store.record_upload(Upload(bucket=UPLOAD_BUCKET, key=key, size=len(data), content_type="image/jpeg",
                                      etag=etag, sequencer=sequencer, uploaded_at="2026-11-28T15:00:00.000Z"))
    return image


def run(sample_event, lambda_context, image: dict, until: str = "completed") -> dict:
    """The state machine's steps through the handlers, up to `until`."""
    execution = layout.execution_name_of(ImagePointer.from_dict(image))
    context = {"execution": execution, "state": "x", "retry": 0}

    def call(module, name, **extras):
        return module.handler({**step(sample_event, name, image, **extras), "context": context}, lambda_context)

    state: dict = {"image": image}
    assert tracker.handler({**sample_event("tracker_started"), "image": image, "context": context},
                           lambda_context)["proceed"]
    state["validation"] = call(validate, "validate")
    state["metadata"] = call(extract_metadata, "extract_metadata")
    state["display"] = call(resize, "resize")
    if until == "resize":
        return state
    state["thumbnails"] = call(thumbnails, "thumbnails", display=state["display"])
    state["archive"] = call(archive, "archive", display=state["display"], thumbnails=state["thumbnails"],
                            metadata=state["metadata"])
    tracker.handler({**sample_event("tracker_completed"), "image": image, "archive": state["archive"],
                     "context": context}, lambda_context)
    return state


def versions_under(aws, key: str) -> list[str]:
    listed = aws.s3.list_object_versions(Bucket=ARCHIVE_BUCKET, Prefix=layout.archive_prefix(key))
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def test_erasing_a_completed_image_leaves_nothing_but_a_tombstone(aws, store, audit, sample_event, lambda_context):
    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image)
    below = upload(aws, store, sample_event, key=KEY + "/below.jpg", sequencer="0065F1A2B3C4D5E6F8")
    run(sample_event, lambda_context, below)  # images/<KEY>/below.jpg/... is another image's
    aws.s3.put_object(Bucket=ARCHIVE_BUCKET, Key=layout.archive_key(KEY, "display.jpg"), Body=b"v2")  # a 2nd version
    audit.put_item(TableName=AUDIT, Item={"image_key": {"S": KEY}, "event_at": {"S": "t#1"}, "event": {"S": "{}"}})
    assert store.get(KEY)["status"] == COMPLETED
    aws.bus_events(), aws.notifications()

    result = operations.handler({"action": "erase", "key": KEY}, lambda_context)

    assert result["found"] and result["status_before"] == COMPLETED and result["upload"] == 1
    assert result["archive_versions"] == 7  # original, manifest, display twice, three thumbnails
    assert result["audit_events"] >= 1
    assert [k for k in versions_under(aws, KEY) if layout.is_own_output(KEY, k)] == []
    assert all(k.startswith(layout.archive_prefix(KEY + "/below.jpg")) for k in versions_under(aws, KEY))
    assert store.get(KEY + "/below.jpg")["status"] == COMPLETED
    assert aws.s3.list_objects_v2(Bucket=UPLOAD_BUCKET, Prefix=KEY)["Contents"][0]["Key"] == KEY + "/below.jpg"
    assert audit.query(TableName=AUDIT, KeyConditionExpression="image_key = :k",
                       ExpressionAttributeValues={":k": {"S": KEY}})["Count"] == 0
    record = store.get(KEY)
    assert record["status"] == DELETED
    assert set(record) <= {"image_key", "status", "sequencer", "deleted_at", "updated_at", "history", "erased"}
    view = public_view(record)
    assert set(view) == {"key", "status", "deleted_at", "erased"}
    for personal in ("format", "width", "exif", "gps", "blurhash", "outputs", "metadata", "etag", "size"):
        assert personal not in json.dumps(view)
    [event] = aws.bus_events()
    assert event["detail-type"] == "Image Deleted" and event["detail"]["status"] == DELETED
    assert event["detail"]["stage"] == "erasure" and event["detail"]["image"]["key"] == KEY
    [note] = aws.notifications()
    assert note["subject"] == f"Deleted: {KEY}" and note["attributes"]["kind"] == "Image Deleted"


def test_erasing_twice_or_nothing(aws, store, audit, sample_event, lambda_context):
    assert not operations.handler({"action": "erase", "key": "never/was.jpg"}, lambda_context)["found"]
    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image)
    operations.handler({"action": "erase", "key": KEY}, lambda_context)
    aws.bus_events()
    again = operations.handler({"action": "erase", "key": KEY}, lambda_context)
    assert again["status_before"] == DELETED and again["archive_versions"] == 0
    assert aws.bus_events() == []  # no second event for nothing erased


def test_the_tombstone_fences_the_run_and_a_step_takes_back_what_it_wrote(aws, store, audit, sample_event,
                                                                           lambda_context):
    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image, until="resize")
    operations.handler({"action": "erase", "key": KEY}, lambda_context)
    # the run goes on (on AWS an in-flight invocation outlives StopExecution): its steps write, then see
    context = {"execution": layout.execution_name_of(ImagePointer.from_dict(image)), "state": "x", "retry": 0}
    aws.put_upload(KEY, corpus.make_jpeg(800, 600))  # even with its input back, nothing may stay
    event = {**step(sample_event, "resize", image), "context": context}
    again = resize.handler(event, lambda_context)
    assert again["items"] and versions_under(aws, KEY) == []  # written, then taken back
    with pytest.raises(ClientError, match="NoSuchKey"):  # the next step finds its input gone, and stops
        thumbnails.handler({**step(sample_event, "thumbnails", image, display=again), "context": context},
                           lambda_context)
    assert versions_under(aws, KEY) == []
    assert store.get(KEY)["status"] == DELETED
    assert not store.complete(KEY, context["execution"], {"original": "x"})
    assert not store.start_processing(KEY, image["sequencer"], context["execution"], 1)


def test_a_later_upload_of_the_key_is_processed_as_new(aws, store, audit, sample_event, lambda_context):
    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image)
    operations.handler({"action": "erase", "key": KEY}, lambda_context)
    stale = Upload(bucket=UPLOAD_BUCKET, key=KEY, size=1, content_type="image/jpeg", etag="x",
                   sequencer=image["sequencer"], uploaded_at="2026-11-28T15:00:00.000Z")
    assert not store.record_upload(stale)  # the erased upload's event again: ignored
    newer = upload(aws, store, sample_event, sequencer="0065F1A2B3C4D5E6FF")
    run(sample_event, lambda_context, newer)
    assert store.get(KEY)["status"] == COMPLETED and versions_under(aws, KEY)


def test_deleted_is_terminal_but_no_listed_status():
    assert Status.DELETED in TERMINAL and Status.DELETED not in STATUSES
    assert set(STATUSES) | {Status.DELETED} == set(Status)


def test_a_tombstone_is_in_no_listing_and_no_count(aws, store, audit, sample_event, lambda_context):
    from qip.client import listing

    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image)
    operations.handler({"action": "erase", "key": KEY}, lambda_context)
    assert list(listing.records(store, listing.Query())) == []
    assert sum(store.count_by_status(s) for s in Status) == 0


# ------------------------------------------------------------------ reprocessing
def test_reprocessing_queues_a_stale_image_once_as_a_new_generation(aws, store, audit, sample_event,
                                                                    lambda_context):
    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image)
    record = store.get(KEY)
    current = outputs.renditions().selection()
    assert not reprocess.is_stale(record, current)
    changed = RenditionSet.from_mapping({"renditions": {"avatar": {"width": 64, "height": 64, "fit": "cover"}},
                                         "rules": [{"prefix": "holiday/", "renditions": ["avatar"]}]}).selection()
    elsewhere = RenditionSet.from_mapping({"rules": [{"prefix": "other/", "renditions": ["display"]}]}).selection()
    assert reprocess.is_stale(record, changed)
    assert not reprocess.is_stale(record, elsewhere)  # another version, but this key's renditions are the same
    assert reprocess.is_stale(record, changed, rendition="avatar")
    assert reprocess.is_stale(record, changed, rendition="display")  # removed: its outputs must go
    assert not reprocess.is_stale(record, elsewhere, rendition="display")

    pointer = reprocess.queue(store, aws.sqs, aws.queue_url, record)
    assert pointer is not None and pointer.generation == 1 and pointer.attempt == 1
    assert reprocess.queue(store, aws.sqs, aws.queue_url, record) is None  # twice: queued once
    assert store.get(KEY)["status"] == UPLOADED and store.get(KEY)["generation"] == 1
    [message] = aws.queued(aws.queue_url)
    queued = ImagePointer.from_message(message)
    assert queued == pointer
    name = layout.execution_name_of(queued)
    assert name.endswith("-g1-a1") and name != layout.execution_name_of(ImagePointer.from_dict(image))
    assert len(name) <= 80


def test_a_reprocessed_run_removes_outputs_of_renditions_the_image_no_longer_has(aws, store, audit, sample_event,
                                                                                 lambda_context, tmp_path,
                                                                                 monkeypatch):
    image = upload(aws, store, sample_event)
    run(sample_event, lambda_context, image)
    config = tmp_path / "renditions.yaml"
    config.write_text("renditions: {avatar: {width: 64, height: 64, fit: cover, crop: attention, "
                      "formats: [webp, avif]}}\nrules: [{prefix: holiday/, renditions: [display, avatar]}]\n")
    monkeypatch.setenv("RENDITIONS_FILE", str(config))
    outputs.renditions.cache_clear()
    pointer = reprocess.queue(store, aws.sqs, aws.queue_url, store.get(KEY))
    run(sample_event, lambda_context, pointer.to_dict())
    record = store.get(KEY)
    assert record["status"] == COMPLETED and record["outputs"]["renditions_version"] == outputs.renditions().version
    current = {k.rsplit("/", 1)[1] for k in (o["Key"] for o in aws.s3.list_objects_v2(
        Bucket=ARCHIVE_BUCKET, Prefix=layout.archive_prefix(KEY))["Contents"])}
    assert current == {"original", "manifest.json", "display.jpg", "avatar.webp", "avatar.avif"}
    assert not reprocess.is_stale(record, outputs.renditions().selection())
