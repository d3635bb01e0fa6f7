"""The tracker: the pipeline's own transitions, and what happens after a failure."""

from __future__ import annotations

import copy
import json
import os

import pytest
from botocore.exceptions import ClientError

from qip.core import aws as qip_aws
from qip.core.errors import TransientError
from qip.core.model import COMPLETED, FAILED, PROCESSING, REJECTED, UPLOADED
from qip.core.store import Upload
from qip.functions import tracker


def record_upload(store, image: dict) -> None:
    assert store.record_upload(Upload(bucket=image["bucket"], key=image["key"], size=image["size"],
                                      content_type=image["content_type"], etag=image["etag"],
                                      sequencer=image["sequencer"], uploaded_at="2026-11-28T15:00:00.000Z"))


def event_for(sample_event, action: str, attempt: int = 1, execution: str | None = None) -> dict:
    event = copy.deepcopy(sample_event(f"tracker_{action}"))
    event["image"]["attempt"] = attempt
    if execution:
        event["context"]["execution"] = execution
    return event


def processing(store, sample_event, lambda_context, attempt: int = 1) -> dict:
    """A record PROCESSING for the sample execution (at `attempt`); the `started` event."""
    started = event_for(sample_event, "started", attempt)
    record_upload(store, started["image"])
    if attempt > 1:  # earlier attempts failed
        assert store.start_processing(started["image"]["key"], started["image"]["sequencer"], "earlier", attempt - 1)
        assert store.fail(started["image"]["key"], "earlier", {"type": "Boom"}, final=False)
    assert tracker.handler(started, lambda_context) == {"proceed": True}
    return started


def test_started_takes_the_record(aws, store, sample_event, lambda_context):
    started = processing(store, sample_event, lambda_context)
    record = store.get(started["image"]["key"])
    assert record["status"] == PROCESSING
    assert record["execution"] == started["context"]["execution"]
    [event] = aws.bus_events()
    assert event["detail-type"] == "Pipeline Started"
    assert event["detail"]["execution"] == started["context"]["execution"]
    assert event["detail"]["attempt"] == 1 and event["detail"]["stage"] == "pipeline"


def test_started_by_a_second_execution_does_not_proceed(aws, store, sample_event, lambda_context):
    processing(store, sample_event, lambda_context)
    aws.bus_events()
    other = event_for(sample_event, "started", execution="someone-else-a1")
    assert tracker.handler(other, lambda_context) == {"proceed": False}
    assert store.get(other["image"]["key"])["execution"] != "someone-else-a1"
    assert aws.bus_events() == []


def test_started_for_a_record_that_was_replaced_does_not_proceed(aws, store, sample_event, lambda_context):
    started = event_for(sample_event, "started")
    record_upload(store, {**started["image"], "sequencer": "FFFFFFFFFFFFFFFFFFFF"})
    assert tracker.handler(started, lambda_context) == {"proceed": False}
    assert store.get(started["image"]["key"])["status"] == UPLOADED


def test_rejected_records_the_reason_and_notifies(aws, store, sample_event, lambda_context):
    started = processing(store, sample_event, lambda_context)
    aws.bus_events()
    rejected = event_for(sample_event, "rejected")
    assert tracker.handler(rejected, lambda_context) == {"status": REJECTED}
    record = store.get(started["image"]["key"])
    assert record["status"] == REJECTED
    assert record["reason"] == {"code": "truncated", "message": rejected["validation"]["reason"]}
    [event] = aws.bus_events()
    assert event["detail-type"] == "Image Rejected" and event["detail"]["error"]["code"] == "truncated"
    [note] = aws.notifications()
    assert note["attributes"] == {"status": REJECTED, "stage": "pipeline", "kind": "Image Rejected"}


def test_completed_records_outputs_and_sends_a_summary(aws, store, sample_event, lambda_context):
    started = processing(store, sample_event, lambda_context)
    key, execution = started["image"]["key"], started["context"]["execution"]
    for stage, ms in (("validate", 5), ("extract_metadata", 7), ("resize", 40), ("thumbnails", 30), ("archive", 9)):
        assert store.complete_stage(key, execution, stage, {"duration_ms": ms, "completed_at": "t"})
    aws.bus_events()
    completed = event_for(sample_event, "completed")
    assert tracker.handler(completed, lambda_context) == {"status": COMPLETED}

    record = store.get(key)
    assert record["status"] == COMPLETED
    assert record["outputs"] == completed["archive"]  # the final location (R5.4)
    [note] = aws.notifications()
    assert note["subject"] == f"Completed: {key}"
    summary = note["message"]["summary"]
    assert summary["dimensions"] == {"width": 1024, "height": 683}
    assert summary["stage_ms"] == {"validate": 5, "extract_metadata": 7, "resize": 40, "thumbnails": 30,
                                   "archive": 9}
    assert isinstance(summary["total_ms"], int) and summary["total_ms"] >= 0
    [event] = aws.bus_events()
    assert event["detail-type"] == "Pipeline Completed"
    assert event["detail"]["status"] == COMPLETED and event["detail"]["summary"] == summary


def test_completed_by_an_execution_that_lost_the_record_changes_nothing(aws, store, sample_event, lambda_context):
    started = processing(store, sample_event, lambda_context)
    before = store.get(started["image"]["key"])
    aws.bus_events()
    late = event_for(sample_event, "completed", execution="someone-else-a1")
    tracker.handler(late, lambda_context)
    assert store.get(started["image"]["key"]) == before
    assert aws.bus_events() == [] and aws.notifications() == []


@pytest.mark.parametrize("attempt", [1, 2])
def test_failure_before_the_last_attempt_requeues_with_a_delay(aws, store, sample_event, lambda_context, attempt):
    started = processing(store, sample_event, lambda_context, attempt)
    key = started["image"]["key"]
    aws.bus_events()
    result = tracker.handler(event_for(sample_event, "failed", attempt), lambda_context)
    delay = 30 * 2 ** (attempt - 1)
    assert result == {"status": FAILED, "requeued": True, "delay_seconds": delay}

    record = store.get(key)
    assert record["status"] == FAILED and record["final_failure"] is False
    assert record["error"]["attempt"] == attempt
    attributes = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # not visible before the delay
    assert aws.queued(aws.dlq_url) == []
    [event] = aws.bus_events()
    assert event["detail-type"] == "Pipeline Retrying"
    assert event["detail"]["next_attempt"] == attempt + 1 and event["detail"]["delay_seconds"] == delay
    assert aws.notifications() == []


def test_requeued_message_is_the_next_attempt_of_the_same_upload(aws, store, sample_event, lambda_context,
                                                                 monkeypatch):
    monkeypatch.setenv("PIPELINE_RETRY_DELAY_SECONDS", "0")  # so the message can be read at once
    started = processing(store, sample_event, lambda_context)
    tracker.handler(event_for(sample_event, "failed"), lambda_context)
    [message] = aws.queued(aws.queue_url)
    assert message == {"image": {**started["image"], "attempt": 2}}


def test_retry_delay_is_capped_at_the_sqs_maximum(aws, store, sample_event, lambda_context, monkeypatch):
    monkeypatch.setenv("PIPELINE_RETRY_DELAY_SECONDS", "600")
    processing(store, sample_event, lambda_context, attempt=2)
    assert tracker.handler(event_for(sample_event, "failed", 2), lambda_context)["delay_seconds"] == 900


def test_failure_of_the_last_attempt_goes_to_the_dlq_and_notifies(aws, store, sample_event, lambda_context):
    started = processing(store, sample_event, lambda_context, attempt=3)
    key, execution = started["image"]["key"], started["context"]["execution"]
    step_error = {"type": "ClientError", "message": "SlowDown", "stage": "resize", "attempt": 3}
    assert store.record_stage_error(key, execution, step_error)
    aws.bus_events()
    failed = event_for(sample_event, "failed", 3)
    assert tracker.handler(failed, lambda_context) == {"status": FAILED, "requeued": False}

    record = store.get(key)
    assert record["status"] == FAILED and record["final_failure"] is True
    error = record["error"]
    assert error["stage"] == "resize" and error["type"] == "ClientError" and error["message"] == "SlowDown"
    assert error["attempt"] == 3 and error["step_attempts"] == 3
    assert error["state_machine_error"] == "TransientError"

    [dead] = aws.queued(aws.dlq_url)
    assert dead["image"] == failed["image"] and dead["error"] == error
    assert aws.queued(aws.queue_url) == []
    [note] = aws.notifications()
    assert note["subject"] == f"Failed: {key}"
    assert note["attributes"]["status"] == FAILED and note["attributes"]["kind"] == "Pipeline Failed"
    assert note["message"]["error"]["stage"] == "resize" and note["message"]["final"] is True
    [event] = aws.bus_events()
    assert event["detail-type"] == "Pipeline Failed"


def test_failure_without_a_step_record_uses_the_state_machine_cause(aws, store, sample_event, lambda_context):
    started = processing(store, sample_event, lambda_context, attempt=3)
    tracker.handler(event_for(sample_event, "failed", 3), lambda_context)
    error = store.get(started["image"]["key"])["error"]
    assert error["type"] == "TransientError"
    assert error["message"] == "SlowDown: Please reduce your request rate."
    assert error["stage"] == "unknown"


def test_failure_for_an_execution_that_does_not_own_the_record_records_nothing(aws, store, sample_event,
                                                                             lambda_context):
    started = processing(store, sample_event, lambda_context, attempt=3)
    before = store.get(started["image"]["key"])
    aws.bus_events()
    stray = event_for(sample_event, "failed", 3, execution="someone-else-a3")
    assert tracker.handler(stray, lambda_context) == {"status": PROCESSING, "requeued": False}
    assert store.get(started["image"]["key"]) == before
    assert aws.queued(aws.queue_url) == [] and aws.queued(aws.dlq_url) == []
    assert aws.bus_events() == [] and aws.notifications() == []


def test_describe_error_reads_a_cause_that_is_not_json():
    error = tracker.describe_error({"Error": "States.Timeout", "Cause": "Task timed out"}, None, 2)
    assert error == {"type": "States.Timeout", "message": "Task timed out", "stage": "unknown",
                     "step_attempts": None, "attempt": 2, "state_machine_error": "States.Timeout"}
    assert json.dumps(error)


@pytest.mark.parametrize("action", ["started", "completed", "failed"])
def test_throttled_store_is_a_transient_error_the_state_machine_retries(aws, store, sample_event, lambda_context,
                                                                        monkeypatch, action):
    """MarkFailed has no Catch: an error it does not retry leaves the record PROCESSING for good."""
    if action != "started":
        processing(store, sample_event, lambda_context)
    else:
        record_upload(store, event_for(sample_event, "started")["image"])

    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                          "UpdateItem")

    monkeypatch.setattr(qip_aws.table(os.environ["TABLE_NAME"]), "update_item", refuse)
    with pytest.raises(TransientError, match="ProvisionedThroughputExceededException"):
        tracker.handler(event_for(sample_event, action), lambda_context)


@pytest.mark.parametrize("attempt", [1, 3])
def test_retried_failure_still_requeues_after_a_throttled_send(aws, store, sample_event, lambda_context,
                                                               monkeypatch, attempt):
    """FAILED is written, then the send is throttled: the state machine's retry must finish the job."""
    started = processing(store, sample_event, lambda_context, attempt)
    sqs = qip_aws.client("sqs")

    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": "RequestThrottled", "Message": "slow down"}}, "SendMessage")

    with monkeypatch.context() as patch:
        patch.setattr(sqs, "send_message", refuse)
        with pytest.raises(TransientError):
            tracker.handler(event_for(sample_event, "failed", attempt), lambda_context)
    assert store.get(started["image"]["key"])["status"] == FAILED

    result = tracker.handler(event_for(sample_event, "failed", attempt), lambda_context)
    assert result["status"] == FAILED
    record = store.get(started["image"]["key"])
    earlier_failures = 1 if attempt > 1 else 0  # see processing()
    assert [entry["status"] for entry in record["history"]].count(FAILED) == earlier_failures + 1  # written once
    if attempt < 3:
        assert result["requeued"] is True
        attributes = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    else:
        [dead] = aws.queued(aws.dlq_url)
        assert dead["image"]["key"] == started["image"]["key"]
        assert [note["subject"] for note in aws.notifications()] == [f"Failed: {started['image']['key']}"]


def test_max_attempts_setting_decides_when_a_failure_is_final(aws, store, sample_event, lambda_context, monkeypatch):
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    started = processing(store, sample_event, lambda_context)
    assert tracker.handler(event_for(sample_event, "failed"), lambda_context) == {"status": FAILED, "requeued": False}
    assert store.get(started["image"]["key"])["final_failure"] is True
    assert len(aws.queued(aws.dlq_url)) == 1
