"""Every step visible: events on the bus (R2.5, R4.1, R4.4), notifications (R4.2, R4.3),
metrics (R4.5), the audit trail, and store queries by key, date and status (R5.3).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from qip.core.model import COMPLETED, REJECTED
from tests import imaging_corpus as corpus
from tests.integration.stack import capture_bus, capture_topic, wait_until

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "pipeline-event.schema.json").read_text())
STAGES = ["validate", "extract_metadata", "resize", "thumbnails", "archive"]


@pytest.fixture(scope="module")
def bus(stack):
    return capture_bus(stack, f"bus-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def everything(stack):
    return capture_topic(stack, f"all-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def finals(stack):
    return capture_topic(stack, f"final-{uuid.uuid4().hex[:8]}", {"status": ["COMPLETED", "FAILED"],
                                                                    "stage": ["pipeline"]})


def events_for(capture, key: str) -> list[dict]:
    def present():
        return [e for e in capture.drain() if e["detail"]["image"]["key"] == key]

    found = wait_until(present, timeout=30, message=f"events for {key}")
    return sorted(found, key=lambda e: e["detail"]["timestamp"])


def notes_for(capture, key: str) -> list[dict]:
    return [json.loads(n["Message"]) | {"_attributes": n.get("MessageAttributes", {})}
            for n in capture.drain(settle=2.0) if json.loads(n["Message"])["image"]["key"] == key]


def test_a_good_image_emits_every_transition_in_order_with_context(stack, bus, everything, finals):
    key = f"observe/{uuid.uuid4().hex[:8]}/photo.jpg"
    stack.put(key, corpus.make_jpeg(320, 240), "image/jpeg")
    assert stack.wait([key])[key]["status"] == COMPLETED

    events = events_for(bus, key)
    for event in events:
        jsonschema.validate(event, SCHEMA)
        assert event["detail"]["image"]["bucket"] == stack.info.upload_bucket
    kinds = [(e["detail-type"], e["detail"]["stage"]) for e in events]
    expected = [("Image Uploaded", "ingest"), ("Pipeline Started", "pipeline")]
    for stage in STAGES:
        expected += [("Stage Started", stage), ("Stage Succeeded", stage)]
    expected.append(("Pipeline Completed", "pipeline"))
    assert kinds == expected
    execution = events[1]["detail"]["execution"]
    assert all(e["detail"]["execution"] == execution for e in events[1:])
    assert all(e["detail"]["duration_ms"] >= 0 for e in events if e["detail-type"] == "Stage Succeeded")
    times = [datetime.fromisoformat(e["detail"]["timestamp"].replace("Z", "+00:00")) for e in events]
    assert times == sorted(times) and (datetime.now(UTC) - times[0]).total_seconds() < 300

    # R4.2: a notification per completed stage; R4.3: a final one with the processing summary
    notes = notes_for(everything, key)
    stage_notes = [n for n in notes if n["kind"] == "Stage Succeeded"]
    assert sorted(n["stage"] for n in stage_notes) == sorted(STAGES)
    assert all(n["_attributes"]["stage"]["Value"] == n["stage"] for n in stage_notes)
    final = [n for n in notes if n["kind"] == "Pipeline Completed"]
    assert len(final) == 1
    summary = final[0]["summary"]
    assert summary["dimensions"] == {"width": 320, "height": 240}
    assert sorted(summary["stage_ms"]) == sorted(STAGES) and summary["total_ms"] >= 0
    assert len(summary["outputs"]["thumbnails"]) == 3

    # a subscription filtered on the status and stage attributes sees only the final notification
    filtered = notes_for(finals, key)
    assert [n["kind"] for n in filtered] == ["Pipeline Completed"]


def test_a_rejected_file_emits_the_rejection_and_its_notification(stack, bus, everything):
    key = f"observe/{uuid.uuid4().hex[:8]}/notes.jpg"
    stack.put(key, b"not an image at all", "image/jpeg")
    assert stack.wait([key])[key]["status"] == REJECTED

    events = events_for(bus, key)
    assert [(e["detail-type"], e["detail"]["status"]) for e in events] == [("Image Rejected", "REJECTED")]
    jsonschema.validate(events[0], SCHEMA)
    assert events[0]["detail"]["error"]["code"] == "not_an_image"
    notes = notes_for(everything, key)
    assert [n["_attributes"]["status"]["Value"] for n in notes] == ["REJECTED"]


def test_the_audit_trail_reads_back_the_full_history(stack):
    key = f"observe/{uuid.uuid4().hex[:8]}/audited.jpg"
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    stack.wait([key])

    def complete():
        history = stack.pipeline.history(key)
        return history if any(e["detail-type"] == "Pipeline Completed" for e in history) else None

    history = wait_until(complete, timeout=30, message="audit trail complete")
    kinds = [e["detail-type"] for e in history if e["source"] == "qip.pipeline"]
    assert kinds[0] == "Image Uploaded" and kinds[-1] == "Pipeline Completed"
    assert kinds.count("Stage Succeeded") == 5
    assert any(e["source"] == "aws.s3" for e in history)  # the upload event itself, routed to the bus


def test_each_stage_emits_metrics_that_qip_metrics_reads(stack):
    key = f"observe/{uuid.uuid4().hex[:8]}/measured.jpg"
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    stack.wait([key])

    def measured():
        report = stack.pipeline.metrics()
        return report if report["end_to_end"]["count"] >= 1 and len(report["stages"]) >= 5 else None

    report = wait_until(measured, timeout=30, message="metrics in the function logs")
    for stage in STAGES:
        assert report["stages"][stage]["succeeded"] >= 1
        assert report["stages"][stage]["p95_ms"] >= report["stages"][stage]["p50_ms"] >= 0
    assert report["bytes_processed"] > 0


def test_the_store_answers_by_key_date_and_status_across_pages(stack):
    prefix = f"paged/{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}{i}.jpg" for i in range(7)]
    for key in keys:
        stack.put(key, corpus.make_jpeg(), "image/jpeg")
    records = stack.wait(keys)
    store = stack.pipeline.store

    assert store.get(keys[3])["image_key"] == keys[3]
    day = records[keys[0]]["upload_date"]
    since = min(r["uploaded_at"] for r in records.values())
    until = max(r["uploaded_at"] for r in records.values())
    pages, token = [], None
    while True:
        page = store.by_upload_date(day, since=since, until=until, limit=3, token=token)
        pages.append(page.items)
        token = page.next_token
        if not token:
            break
    found = [item["image_key"] for items in pages for item in items if item["image_key"].startswith(prefix)]
    assert sorted(found) == sorted(keys) and len(pages) >= 3
    uploaded = [item["uploaded_at"] for items in pages for item in items]
    assert uploaded == sorted(uploaded, reverse=True)  # newest first, across pages

    by_status = [i["image_key"] for i in store.iter_pages(store.by_status, status=COMPLETED, since=since, until=until,
                                                          limit=2) if i["image_key"].startswith(prefix)]
    assert sorted(by_status) == sorted(keys)
