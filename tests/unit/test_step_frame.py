"""The frame every pipeline step runs in (qip.functions.step): records, events and error kinds."""

from __future__ import annotations

import copy
import json
import os

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from qip.core import aws as qip_aws
from qip.core.errors import TransientError
from qip.core.store import Upload
from qip.functions.step import Outcome, StepRequest, is_transient, run_step
from qip.imaging.exceptions import ImageProcessingError


@pytest.fixture
def step_event(store, sample_event) -> dict:
    """The sample Validate input, for a record PROCESSING under the sample execution."""
    event = copy.deepcopy(sample_event("step_validate"))
    image = event["image"]
    assert store.record_upload(Upload(bucket=image["bucket"], key=image["key"], size=image["size"],
                                      content_type=image["content_type"], etag=image["etag"],
                                      sequencer=image["sequencer"], uploaded_at="2026-11-28T15:00:00.000Z"))
    assert store.start_processing(image["key"], image["sequencer"], event["context"]["execution"], 1)
    return event


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, "PutObject")


def test_step_request_parses_the_state_machine_input(sample_event):
    event = sample_event("step_thumbnails")
    request = StepRequest.parse("thumbnails", event)
    assert request.key == event["image"]["key"] and request.bucket == event["image"]["bucket"]
    assert request.execution == event["context"]["execution"]
    assert request.attempt == 1
    assert request.extras == {"display": event["display"]}  # everything but image and context
    retried = StepRequest.parse("thumbnails", {**event, "context": {**event["context"], "retry": 2}})
    assert retried.attempt == 3


def test_success_records_the_stage_and_announces_it(aws, store, step_event):
    result = run_step("validate", step_event, lambda request: {"verdict": "accepted", "key": request.key})
    assert result == {"verdict": "accepted", "key": step_event["image"]["key"]}

    stage = store.get(step_event["image"]["key"])["stages"]["validate"]
    assert stage["started_at"] <= stage["completed_at"]
    assert stage["completed_at"].endswith("Z")
    assert stage["attempt"] == 1 and stage["duration_ms"] >= 0

    started, succeeded = aws.bus_events()
    assert started["detail-type"] == "Stage Started" and succeeded["detail-type"] == "Stage Succeeded"
    assert succeeded["detail"]["stage"] == "validate"
    assert succeeded["detail"]["execution"] == step_event["context"]["execution"]
    assert succeeded["detail"]["result"] == result
    assert "duration_ms" in succeeded["detail"]
    [note] = aws.notifications()
    assert note["subject"] == f"validate done: {step_event['image']['key']}"
    assert note["attributes"]["stage"] == "validate"


def test_outcome_data_goes_to_the_record_and_only_the_result_to_the_state_machine(aws, store, step_event):
    result = run_step("extract_metadata", step_event,
                      lambda request: Outcome({"width": 3}, {"metadata": {"width": 3, "exif": {"Make": "QIP"}}}))
    assert result == {"width": 3}
    record = store.get(step_event["image"]["key"])
    assert record["metadata"] == {"width": 3, "exif": {"Make": "QIP"}}
    assert "extract_metadata" in record["stages"]


def test_an_outcome_may_announce_less_than_it_returns(aws, store, step_event):
    result = run_step("extract_metadata", step_event,
                      lambda request: Outcome({"width": 3, "exif": {"Make": "QIP"}}, announced={"width": 3}))
    assert result == {"width": 3, "exif": {"Make": "QIP"}}
    [succeeded] = [e for e in aws.bus_events() if e["detail-type"] == "Stage Succeeded"]
    assert succeeded["detail"]["result"] == {"width": 3}


@pytest.mark.parametrize("code", ["ThrottlingException", "SlowDown", "ProvisionedThroughputExceededException",
                                  "ServiceUnavailable"])
def test_throttling_becomes_a_transient_error(aws, store, step_event, code):
    def work(request):
        raise client_error(code)

    event = {**step_event, "context": {**step_event["context"], "retry": 1}}
    with pytest.raises(TransientError) as raised:
        run_step("resize", event, work)
    assert isinstance(raised.value.__cause__, ClientError)
    error = store.get(step_event["image"]["key"])["last_error"]
    assert error["stage"] == "resize" and error["attempt"] == 2 and error["pipeline_attempt"] == 1
    assert error["type"] == "ClientError" and code in error["message"]
    assert error["retryable"] is True
    started, failed = aws.bus_events()
    assert failed["detail-type"] == "Stage Failed" and failed["detail"]["error"]["stage"] == "resize"


@pytest.mark.parametrize(("error", "retryable"), [
    (client_error("AccessDenied"), False),
    (ValueError("a bug"), False),
    (KeyError("display"), False),
    (TransientError("try again"), True),
])
def test_other_errors_are_recorded_and_reraised_as_they_are(aws, store, step_event, error, retryable):
    def work(request):
        raise error

    with pytest.raises(type(error)) as raised:
        run_step("thumbnails", step_event, work)
    assert raised.value is error
    recorded = store.get(step_event["image"]["key"])["last_error"]
    assert recorded["type"] == type(error).__name__ and recorded["stage"] == "thumbnails"
    assert recorded["retryable"] is retryable
    assert "thumbnails" not in store.get(step_event["image"]["key"])["stages"]


def test_image_processing_error_is_retried(aws, store, step_event):
    def work(request):
        raise ImageProcessingError("out of memory while resizing")

    with pytest.raises(TransientError, match="out of memory"):
        run_step("resize", step_event, work)


def test_is_transient():
    assert is_transient(client_error("Throttling"))
    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert not is_transient(client_error("NoSuchKey"))
    assert not is_transient(RuntimeError("bug"))


def test_step_of_a_run_that_lost_the_record_leaves_the_record_alone(aws, store, step_event):
    """A step still running for an execution that no longer owns the record writes nothing to it."""
    other = {**step_event, "context": {**step_event["context"], "execution": "someone-else-a1"}}
    before = store.get(step_event["image"]["key"])
    assert run_step("validate", other, lambda request: {"verdict": "accepted"}) == {"verdict": "accepted"}
    assert store.get(step_event["image"]["key"]) == before
    kinds = [e["detail-type"] for e in aws.bus_events()]
    assert "Stage Succeeded" not in kinds and aws.notifications() == []  # nor announced as done


def test_a_step_whose_stage_write_is_refused_takes_back_what_it_wrote(aws, store, step_event):
    """The stage write is the ownership check (no read before it): refused, the step's outputs go."""
    undone: list[str] = []
    other = {**step_event, "context": {**step_event["context"], "execution": "someone-else-a1"}}
    run_step("resize", other, lambda request: Outcome({"ok": True}, take_back=lambda: undone.append("lost")))
    assert undone == ["lost"]
    run_step("resize", step_event, lambda request: Outcome({"ok": True}, take_back=lambda: undone.append("owned")))
    assert undone == ["lost"]  # its own run's step keeps what it wrote


def test_metrics_are_emitted_when_monitoring_is_on(aws, store, step_event, monkeypatch, capsys):
    monkeypatch.setenv("MONITORING_ENABLED", "true")
    run_step("resize", step_event, lambda request: {"ok": True})
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [metrics] = [doc for doc in documents if "StageSucceeded" in doc]
    assert metrics["Stage"] == "resize"
    assert metrics["StageSucceeded"] == [1.0]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "QuantumImageProcessor"
    assert "StageDuration" in metrics
    names = [m["Name"] for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert {"StageSucceeded", "StageDuration"} <= set(names)


def _throttled(operation: str):
    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)

    return refuse


def test_throttled_event_bus_at_stage_start_is_a_transient_error(aws, store, step_event, monkeypatch):
    """Outside the work too: a throttled AWS call in the frame must be retried, not fail the image."""
    monkeypatch.setattr(qip_aws.client("events"), "put_events", _throttled("PutEvents"))
    ran = []
    with pytest.raises(TransientError, match="ThrottlingException"):
        run_step("resize", step_event, lambda request: ran.append(request) or {"ok": True})
    assert ran == []


def test_throttled_store_after_the_work_is_a_transient_error(aws, store, step_event, monkeypatch):
    monkeypatch.setattr(qip_aws.table(os.environ["TABLE_NAME"]), "update_item", _throttled("UpdateItem"))
    with pytest.raises(TransientError, match="ThrottlingException"):
        run_step("resize", step_event, lambda request: {"ok": True})


@pytest.mark.parametrize(("code", "status", "transient"), [
    ("RequestThrottled", 400, True),  # SQS
    ("ThrottledException", 400, True),  # SNS
    ("InternalFailure", 500, True),
    ("ServiceUnavailableException", 503, True),
    ("AccessDenied", 403, False),
    ("ConditionalCheckFailedException", 400, False),
])
def test_is_transient_for_aws_error_codes(code, status, transient):
    error = ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                        "Call")
    assert is_transient(error) is transient


def test_no_metrics_are_emitted_when_monitoring_is_off(aws, store, step_event, monkeypatch, capsys):
    monkeypatch.setenv("MONITORING_ENABLED", "false")
    run_step("resize", step_event, lambda request: {"ok": True})
    assert '"_aws"' not in capsys.readouterr().out


def test_a_failed_run_counts_as_a_failure_for_the_failure_rate(aws, store, step_event, monkeypatch, capsys):
    monkeypatch.setenv("MONITORING_ENABLED", "true")
    with pytest.raises(ValueError):
        run_step("resize", step_event, lambda request: (_ for _ in ()).throw(ValueError("boom")))
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [metrics] = [doc for doc in documents if "StageFailed" in doc]
    assert metrics["StageFailed"] == [1.0] and metrics["StageSucceeded"] == [0.0]


def test_a_step_error_is_logged_as_json_with_the_image_key_and_correlation_id(aws, store, step_event, caplog):
    from qip.functions import runtime

    with pytest.raises(ValueError):
        run_step("resize", step_event, lambda request: (_ for _ in ()).throw(ValueError("bad pixels")))
    [record] = [r for r in caplog.records if r.getMessage() == "step failed"]
    failure = json.loads(runtime.logger.registered_formatter.format(record))  # the line Lambda would log
    assert failure["level"] == "ERROR"
    assert failure["image_key"] == step_event["image"]["key"]
    assert failure["correlation_id"] == step_event["context"]["execution"]
    assert failure["error"]["type"] == "ValueError" and "bad pixels" in failure["error"]["message"]
