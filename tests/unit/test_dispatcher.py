"""The dispatcher: one Step Functions execution per queued image, failures reported per message.

The processing queue carries two kinds of message (see the sample batch): an upload event the
upload rule put there (ingested first), and a pipeline retry the tracker queued.
"""

from __future__ import annotations

import copy
import json

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from qip.core import layout
from qip.core.model import UPLOADED
from qip.functions import dispatcher
from tests.imaging_corpus import make_jpeg
from tests.unit.mock_stack import UPLOAD_BUCKET

UPLOAD_KEY = "holiday/2026/my photo+1.jpg"  # the upload event's key, decoded


@pytest.fixture
def batch(aws, sample_event) -> dict:
    """The sample batch, with the upload its first message announces put in the upload bucket."""
    batch = copy.deepcopy(sample_event("sqs_processing_batch"))
    upload_event = json.loads(batch["Records"][0]["body"])
    upload_event["detail"]["object"]["etag"] = aws.put_upload(UPLOAD_KEY, make_jpeg(48, 32))
    batch["Records"][0]["body"] = json.dumps(upload_event)
    return batch


def retry_image(batch: dict) -> dict:
    return json.loads(batch["Records"][-1]["body"])["image"]


def name_of(image: dict) -> str:
    return layout.execution_name(image["bucket"], image["key"], image["sequencer"], image["attempt"])


def upload_name() -> str:
    return layout.execution_name(UPLOAD_BUCKET, UPLOAD_KEY, "0065F1A2B3C4D5E6F7", 1)


def with_record(batch: dict, message_id: str, body: str) -> dict:
    batch = copy.deepcopy(batch)
    record = copy.deepcopy(batch["Records"][0])
    record.update(messageId=message_id, body=body)
    batch["Records"].insert(1, record)
    return batch


def test_sample_batch_holds_an_upload_event_and_a_retry(sample_event):
    upload, retry = (json.loads(r["body"]) for r in sample_event("sqs_processing_batch")["Records"])
    assert upload["source"] == "aws.s3" and upload["detail-type"] == "Object Created"
    assert retry["image"]["attempt"] == 2


def test_each_message_starts_its_execution(aws, store, batch, lambda_context):
    assert dispatcher.handler(batch, lambda_context) == {"batchItemFailures": []}
    executions = {e["name"]: e for e in aws.executions()}
    assert set(executions) == {upload_name(), name_of(retry_image(batch))}
    retried = aws.sfn.describe_execution(executionArn=executions[name_of(retry_image(batch))]["executionArn"])
    assert json.loads(retried["input"]) == {"image": retry_image(batch)}
    uploaded = aws.sfn.describe_execution(executionArn=executions[upload_name()]["executionArn"])
    assert json.loads(uploaded["input"])["image"]["key"] == UPLOAD_KEY
    assert store.get(UPLOAD_KEY)["status"] == UPLOADED


def test_same_messages_twice_start_one_execution_each(aws, batch, lambda_context):
    twice = with_record(batch, "redelivered", batch["Records"][0]["body"])
    twice = with_record(twice, "redelivered-retry", batch["Records"][-1]["body"])
    assert dispatcher.handler(twice, lambda_context) == {"batchItemFailures": []}
    assert dispatcher.handler(batch, lambda_context) == {"batchItemFailures": []}
    assert sorted(e["name"] for e in aws.executions()) == sorted([upload_name(), name_of(retry_image(batch))])


def test_message_for_a_finished_execution_is_not_a_failure(aws, batch, lambda_context):
    retry_only = {"Records": batch["Records"][1:]}
    dispatcher.handler(retry_only, lambda_context)
    for execution in aws.executions():
        aws.sfn.stop_execution(executionArn=execution["executionArn"])
    assert dispatcher.handler(retry_only, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 1


def test_each_attempt_gets_an_execution_of_its_own(aws, batch, lambda_context):
    image = retry_image(batch)
    third = copy.deepcopy({"Records": batch["Records"][1:]})
    third["Records"][0]["body"] = json.dumps({"image": {**image, "attempt": 3}})
    dispatcher.handler(batch, lambda_context)
    dispatcher.handler(third, lambda_context)
    names = {e["name"] for e in aws.executions()}
    assert names == {upload_name(), name_of(image), name_of({**image, "attempt": 3})}
    assert name_of(image).endswith("-a2") and name_of({**image, "attempt": 3}).endswith("-a3")


@pytest.mark.parametrize("body", [
    "this is not JSON",
    json.dumps({"no_image": {}}),
    json.dumps(["a", "list"]),
    json.dumps({"image": {"key": "missing bucket and sequencer.jpg"}}),
    json.dumps({"source": "aws.s3", "detail": {"bucket": {"name": UPLOAD_BUCKET}}}),
])
def test_bad_message_is_reported_and_the_others_still_start(aws, batch, lambda_context, body):
    batch = with_record(batch, "poison-1", body)
    assert dispatcher.handler(batch, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert {e["name"] for e in aws.executions()} == {upload_name(), name_of(retry_image(batch))}


def test_execution_that_cannot_start_is_reported(aws, batch, lambda_context, monkeypatch):
    """A state machine that does not exist: every message fails and stays on the queue."""
    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn + "-missing")
    with pytest.raises(BatchProcessingError, match="All records failed"):
        dispatcher.handler(batch, lambda_context)
    assert aws.executions() == []


def test_images_over_the_running_limit_are_recorded_then_queued_again_with_a_delay(aws, store, batch,
                                                                                    lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_RUNNING_IMAGES", "1")
    monkeypatch.setenv("DEFER_SECONDS", "0,0")  # moto's queue would hide a delayed message from this test
    assert dispatcher.handler(batch, lambda_context) == {"batchItemFailures": []}

    assert [e["name"] for e in aws.executions()] == [upload_name()]  # the first takes the only place
    assert store.get(UPLOAD_KEY)["status"] == UPLOADED
    deferred = aws.queued(aws.queue_url)
    assert deferred == [{"image": retry_image(batch)}]  # the second waits, as a fresh message

    # with the place still taken (the first run is RUNNING), it is deferred again, not started
    again = {"Records": [{**batch["Records"][-1], "messageId": "deferred-once"}]}
    assert dispatcher.handler(again, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 1 and aws.queued(aws.queue_url) == [{"image": retry_image(batch)}]

    # once the run ends, the deferred image starts
    for execution in aws.executions():
        aws.sfn.stop_execution(executionArn=execution["executionArn"])
    assert dispatcher.handler(again, lambda_context) == {"batchItemFailures": []}
    assert sorted(e["name"] for e in aws.executions()) == sorted([upload_name(), name_of(retry_image(batch))])


def test_without_a_limit_nothing_is_deferred(aws, batch, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_RUNNING_IMAGES", "0")
    assert dispatcher.handler(batch, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 2 and aws.queued(aws.queue_url) == []


def test_express_admission_counts_processing_records_where_listing_is_refused(aws, store, batch, lambda_context,
                                                                              monkeypatch):
    """AWS refuses ListExecutions for Express machines: the images PROCESSING in the store count."""
    from botocore.exceptions import ClientError

    from qip.core import aws as qip_aws

    monkeypatch.setenv("MAX_RUNNING_IMAGES", "1")
    monkeypatch.setenv("DEFER_SECONDS", "0,0")
    monkeypatch.setattr(dispatcher, "_LISTING_REFUSED", [])
    sfn = qip_aws.client("stepfunctions")

    def refused(name):
        if name == "list_executions":
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": "This operation is not supported by EXPRESS state machines"}},
                              "ListExecutions")
        return type(sfn).get_paginator(sfn, name)

    monkeypatch.setattr(sfn, "get_paginator", refused)
    assert dispatcher.handler(batch, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 1 and len(aws.queued(aws.queue_url)) == 1  # one started, one deferred

    started = aws.executions()[0]["name"]
    assert store.start_processing(UPLOAD_KEY, store.get(UPLOAD_KEY)["sequencer"], started, 1)  # its MarkProcessing
    again = {"Records": [{**batch["Records"][-1], "messageId": "deferred-once"}]}
    assert dispatcher.handler(again, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 1, "started over the limit"
    assert len(aws.queued(aws.queue_url)) == 1  # deferred again

    assert store.complete(UPLOAD_KEY, started, {})  # the place frees when the image is done
    assert dispatcher.handler(again, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 2


@pytest.fixture
def waiting_batch(batch, lambda_context, monkeypatch):
    """One place (MAX_RUNNING_IMAGES=1), and a batch allowed to wait for it (a minute of time left)."""
    monkeypatch.setenv("MAX_RUNNING_IMAGES", "1")
    monkeypatch.setenv("DEFER_SECONDS", "0,0")
    monkeypatch.setenv("ADMISSION_WAIT_SECONDS", "5")
    lambda_context.remaining_ms = 60_000
    return batch


def test_a_waiting_batch_starts_its_image_as_soon_as_a_run_ends(aws, store, waiting_batch, lambda_context,
                                                                monkeypatch):
    polls: list[float] = []

    def first_run_ends_during_the_second_poll(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            for execution in aws.executions():
                aws.sfn.stop_execution(executionArn=execution["executionArn"])

    monkeypatch.setattr(dispatcher.time, "sleep", first_run_ends_during_the_second_poll)
    assert dispatcher.handler(waiting_batch, lambda_context) == {"batchItemFailures": []}
    assert polls == [dispatcher.POLL_SECONDS] * 2  # counted again every poll, started at the first free one
    assert sorted(e["name"] for e in aws.executions()) == sorted([upload_name(), name_of(retry_image(waiting_batch))])
    assert aws.queued(aws.queue_url) == []  # nothing was sent again


def test_a_batch_that_waited_in_vain_queues_its_images_again(aws, store, waiting_batch, lambda_context, monkeypatch):
    monkeypatch.setenv("ADMISSION_WAIT_SECONDS", "0.5")
    assert dispatcher.handler(waiting_batch, lambda_context) == {"batchItemFailures": []}
    assert [e["name"] for e in aws.executions()] == [upload_name()]
    assert store.get(UPLOAD_KEY)["status"] == UPLOADED
    assert aws.queued(aws.queue_url) == [{"image": retry_image(waiting_batch)}]


def test_the_wait_never_eats_into_the_time_the_function_needs_to_queue_them(aws, waiting_batch, lambda_context,
                                                                            monkeypatch):
    lambda_context.remaining_ms = 9_000  # under SPARE_SECONDS
    monkeypatch.setattr(dispatcher.time, "sleep", lambda seconds: pytest.fail("waited with no time to spare"))
    assert dispatcher.handler(waiting_batch, lambda_context) == {"batchItemFailures": []}
    assert len(aws.executions()) == 1 and aws.queued(aws.queue_url) == [{"image": retry_image(waiting_batch)}]
