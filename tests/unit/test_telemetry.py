"""Events on the bus and notifications on the topic (qip.core.telemetry)."""

from __future__ import annotations

import pytest

from qip.core.errors import TransientError
from qip.core.model import EventKind
from qip.core.telemetry import Telemetry, Transition
from qip.functions import runtime

SNS_SUBJECT_LIMIT = 100  # SNS: "UTF-8 text with no line breaks or control characters, and less than 100 characters"


def transition(key: str = "holiday/photo.jpg", **kwargs) -> Transition:
    return Transition(EventKind.STAGE_SUCCEEDED, "qip-uploads", key, "resize", "PROCESSING", "run-a1", 2, **kwargs)


def test_emit_puts_one_event_with_the_details(aws):
    detail = runtime.telemetry().emit(transition(duration_ms=12, extra={"result": {"width": 5}}))
    [event] = aws.bus_events()
    assert event["source"] == "qip.pipeline" and event["detail-type"] == EventKind.STAGE_SUCCEEDED
    assert event["detail"] == detail
    assert detail["image"] == {"bucket": "qip-uploads", "key": "holiday/photo.jpg"}
    assert detail["stage"] == "resize" and detail["status"] == "PROCESSING"
    assert detail["execution"] == "run-a1" and detail["attempt"] == 2 and detail["duration_ms"] == 12
    assert detail["result"] == {"width": 5}
    assert detail["timestamp"].endswith("Z")
    assert event["resources"] == ["arn:aws:s3:::qip-uploads/holiday/photo.jpg"]


def test_notify_carries_filterable_attributes_and_a_summary(aws):
    runtime.telemetry().notify(transition(), "resize done: holiday/photo.jpg", {"summary": {"total_ms": 80}})
    [note] = aws.notifications()
    assert note["subject"] == "resize done: holiday/photo.jpg"
    assert note["attributes"] == {"status": "PROCESSING", "stage": "resize", "kind": EventKind.STAGE_SUCCEEDED}
    assert note["message"]["summary"] == {"total_ms": 80}
    assert note["message"]["kind"] == EventKind.STAGE_SUCCEEDED
    assert note["message"]["image"]["key"] == "holiday/photo.jpg"


@pytest.mark.parametrize("key", [
    "photos/line one\nline two.jpg",
    "tab\there\r\n.png",
    "bell\x07 and nul-ish \x1f.gif",
    "long/" * 40 + "café.jpg",
    "東京/写真 " * 20 + ".jpg",
])
def test_notification_subject_is_one_line_under_the_sns_limit(aws, key):
    """S3 keys may hold any character; SNS refuses a subject with line breaks or control characters."""
    runtime.telemetry().notify(transition(key), f"resize done: {key}")
    [note] = aws.notifications()
    subject = note["subject"]
    assert len(subject) < SNS_SUBJECT_LIMIT
    assert subject.isprintable(), repr(subject)
    assert subject.startswith("resize done: ")
    assert note["message"]["image"]["key"] == key  # the message keeps the key exactly


class _RefusingEvents:
    def put_events(self, Entries):
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}


def test_an_event_the_bus_refuses_is_a_transient_error():
    telemetry = Telemetry(_RefusingEvents(), sns=None, bus="bus", topic_arn="arn:topic", source="qip.pipeline")
    with pytest.raises(TransientError, match="refused"):
        telemetry.emit(transition())
