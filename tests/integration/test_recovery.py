"""Nothing lost, nothing done twice: retries with backoff (R3.6, R6.1), FAILED with details after
three pipeline attempts and the DLQ (R2.4, R6.2, R6.3, R6.5), duplicates, crashes, stuck images,
an unreachable upload bucket (R6.4), and a corpus of bad inputs through the real pipeline.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from qip.cli import app as cli
from qip.client.errors import UploadError
from qip.client.pipeline import Pipeline
from qip.core import faults
from qip.core.clock import now_iso
from qip.core.model import COMPLETED, FAILED, REJECTED
from qip.core.store import Upload
from tests import imaging_corpus as corpus
from tests.integration.stack import capture_bus, capture_topic, wait_until
from tests.integration.test_observability import SCHEMA

EVENTS = Path(__file__).resolve().parents[1] / "events"


@pytest.fixture
def fault(stack):
    """Set fault rules for the test (only for its own keys), cleared afterwards."""
    path = stack.engine.faults_file

    def set_rules(**rules: faults.Rule) -> None:
        faults.write(path, rules)

    yield set_rules
    faults.write(path, {})


def qip(stack, *args: str) -> int:
    """The command line, in process, against the session's stack."""
    return cli.main(["--port", str(stack.engine.port), "--home", str(stack.engine.home), "--stack", stack.name,
                     *args])


def unique(name: str) -> str:
    return f"recovery/{uuid.uuid4().hex[:8]}/{name}"


def dlq_messages_for(stack, key: str) -> list[dict]:
    return [letter for letter in stack.pipeline.dead_letters(limit=200) if letter.image_key == key]


def test_a_transient_fault_is_retried_with_backoff_and_the_image_completes(stack, fault):
    key = unique("flaky.jpg")
    fault(thumbnails=faults.Rule("fail", times=2, key_contains=key))
    bus = capture_bus(stack, f"flaky-{uuid.uuid4().hex[:8]}")
    stack.put(key, corpus.make_jpeg(), "image/jpeg")

    record = stack.wait([key])[key]

    assert record["status"] == COMPLETED
    assert record["attempt"] == 1  # the step's own retries sufficed: no pipeline retry
    assert record["stages"]["thumbnails"]["attempt"] == 3
    events = wait_until(lambda: [e for e in bus.drain() if e["detail"]["image"]["key"] == key
                                 and e["detail"]["stage"] == "thumbnails"], message="thumbnail events")
    kinds = [e["detail-type"] for e in sorted(events, key=lambda e: e["detail"]["timestamp"])]
    assert kinds == ["Stage Started", "Stage Failed", "Stage Retrying", "Stage Failed", "Stage Retrying",
                     "Stage Succeeded"]


def test_a_permanent_fault_ends_failed_after_three_attempts_with_one_dlq_message_and_notification(stack, fault):
    key = unique("doomed.jpg")
    fault(resize=faults.Rule("fail", key_contains=key))
    failures = capture_topic(stack, f"failed-{uuid.uuid4().hex[:8]}", {"status": ["FAILED"], "stage": ["pipeline"]})
    bus = capture_bus(stack, f"doomed-{uuid.uuid4().hex[:8]}")
    stack.put(key, corpus.make_jpeg(), "image/jpeg")

    record = stack.wait([key], timeout=240)[key]

    assert record["status"] == FAILED and record["final_failure"] is True
    assert record["attempt"] == 3
    error = record["error"]
    assert error["stage"] == "resize" and error["type"] == "InjectedFault" and error["attempt"] == 3
    assert "injected fault in resize" in error["message"]
    assert [h["status"] for h in record["history"]] == ["UPLOADED"] + ["PROCESSING", "FAILED"] * 3
    assert len(dlq_messages_for(stack, key)) == 1
    # every transition of the failing image, in order, each valid against the event schema
    def until_failed():
        mine = [e for e in bus.drain() if e["detail"]["image"]["key"] == key]
        return mine if any(e["detail-type"] == "Pipeline Failed" for e in mine) else None

    events = sorted(wait_until(until_failed, message="failure events"), key=lambda e: e["detail"]["timestamp"])
    for event in events:
        jsonschema.validate(event, SCHEMA)
    kinds = [e["detail-type"] for e in events]
    assert kinds[0] == "Image Uploaded" and kinds[-1] == "Pipeline Failed"
    assert kinds.count("Pipeline Started") == 3 and kinds.count("Pipeline Retrying") == 2
    resize = [(e["detail-type"], e["detail"]["attempt"]) for e in events if e["detail"]["stage"] == "resize"]
    one_run = [("Stage Started", 1), ("Stage Failed", 1)] + [
        kind for attempt in (2, 3, 4) for kind in (("Stage Retrying", attempt), ("Stage Failed", attempt))]
    assert resize == one_run * 3  # four tries (one and three retries) in each of three pipeline runs
    failed = events[-1]["detail"]
    assert failed["error"]["stage"] == "resize" and failed["attempt"] == 3 and failed["final"] is True
    notes = [json.loads(n["Message"]) for n in failures.drain(settle=2.0)]
    assert [n["kind"] for n in notes if n["image"]["key"] == key] == ["Pipeline Failed"]

    # fixed (the fault cleared), the image is retried from the command line and completes
    fault()
    assert qip(stack, "retry", key) == 0
    assert wait_until(lambda: stack.pipeline.store.get(key)["status"] == COMPLETED, timeout=90,
                      message="retried image completes")
    # and `qip redrive` empties the DLQ of it without processing it a second time
    assert qip(stack, "redrive") == 0
    assert dlq_messages_for(stack, key) == []
    wait_until(lambda: len(stack.executions_for(key)) == 5, timeout=30, message="the redriven run")
    record = stack.pipeline.store.get(key)
    assert record["status"] == COMPLETED and record["attempt"] == 4  # the redriven run found it done


def test_a_crashed_worker_loses_nothing(stack, fault):
    key = unique("crash.jpg")
    fault(archive=faults.Rule("crash", times=1, key_contains=key))
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    record = stack.wait([key])[key]
    assert record["status"] == COMPLETED
    assert record["stages"]["archive"]["attempt"] == 2


def test_the_same_upload_event_delivered_twice_processes_once(stack):
    key = unique("twice.jpg")
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    first = stack.wait([key])[key]
    pointer = {name: first[name] for name in ("bucket", "etag", "size", "content_type")}
    pointer.update(key=key, sequencer=first["sequencer"].lstrip("0"), attempt=1)
    sqs = stack.client("sqs")
    for _ in range(2):  # a duplicate delivery of the run that already finished
        sqs.send_message(QueueUrl=stack.info.queue_url, MessageBody=json.dumps({"image": pointer}))

    wait_until(lambda: sqs.get_queue_attributes(
        QueueUrl=stack.info.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"] == "0", message="queue drained")
    assert len(stack.executions_for(key)) == 1
    again = stack.pipeline.store.get(key)
    assert again["status"] == COMPLETED and again["completed_at"] == first["completed_at"]


def test_a_new_upload_to_the_same_key_processes_the_new_version(stack):
    key = unique("replaced.jpg")
    stack.put(key, corpus.make_jpeg(100, 80), "image/jpeg")
    assert stack.wait([key])[key]["metadata"]["width"] == 100
    second = corpus.make_jpeg(60, 40)
    stack.put(key, second, "image/jpeg")
    record = wait_until(lambda: (r := stack.pipeline.store.get(key)) and r["status"] == COMPLETED
                        and r["metadata"]["width"] == 60 and r, timeout=90, message="second version done")
    assert record["size"] == len(second)
    assert len(stack.executions_for(key)) == 2


def test_the_reconciler_requeues_an_image_whose_message_was_lost(stack):
    key = unique("stranded.jpg")
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    done = stack.wait([key])[key]
    # a newer upload of the key whose queue message never arrived: recorded, then nothing
    stranded = Upload(bucket=done["bucket"], key=key, size=done["size"], content_type=done["content_type"],
                      etag=done["etag"], sequencer="F" * 20, uploaded_at=now_iso())
    assert stack.pipeline.store.record_upload(stranded)

    result = stack.pipeline.reconcile(older_than_minutes=0, max_attempts=3)

    assert key in result["requeued"]
    record = wait_until(lambda: (r := stack.pipeline.store.get(key)) and r["status"] == COMPLETED
                        and r["sequencer"].endswith("F" * 20) and r, timeout=90, message="stranded image done")
    assert record["attempt"] == 1


def test_the_scheduled_reconciler_function_settles_a_stuck_image_as_its_own_role(stack):
    """The deployed function (the engine runs it as ReconcilerRole, IAM enforced) finds an image
    stuck long enough in the by-status index, reads its record whole and requeues it."""
    key = unique("stuck.jpg")
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    done = stack.wait([key])[key]
    long_ago = "2026-01-01T00:00:00.000Z"  # older than any StuckAfterMinutes
    stranded = Upload(bucket=done["bucket"], key=key, size=done["size"], content_type=done["content_type"],
                      etag=done["etag"], sequencer="F" * 20, uploaded_at=long_ago)
    assert stack.pipeline.store.record_upload(stranded)
    stack.client("dynamodb").update_item(TableName=stack.info.metadata_table, Key={"image_key": {"S": key}},
                                         UpdateExpression="SET updated_at = :at",
                                         ExpressionAttributeValues={":at": {"S": long_ago}})
    answer = stack.client("lambda").invoke(FunctionName=f"{stack.name}-reconciler",
                                           Payload=(EVENTS / "scheduled_sweep.json").read_bytes())
    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, result
    assert key in result["requeued"], result
    wait_until(lambda: (r := stack.pipeline.store.get(key)) and r["status"] == COMPLETED
               and r["sequencer"].endswith("F" * 20), timeout=90, message="stuck image done")


def test_an_unreachable_upload_bucket_is_a_clear_error_and_nothing_is_recorded(stack, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(corpus.make_jpeg())
    from dataclasses import replace

    missing = Pipeline(replace(stack.info, upload_bucket=f"no-such-bucket-{uuid.uuid4().hex[:8]}"))
    key = unique("never.jpg")
    with pytest.raises(UploadError, match="could not upload .*no-such-bucket"):
        missing.upload(photo, key)
    assert stack.pipeline.store.get(key) is None


def test_every_bad_input_is_rejected_with_a_specific_reason(stack):
    bad = {name: (data, code, "image/jpeg") for name, (data, code) in corpus.bad_images().items()}
    bad["text_declared_as_png"] = (b"plain text, declared as a PNG", "not_an_image", "image/png")
    prefix = unique("bad/")
    keys = {f"{prefix}{name}.jpg": (data, code, declared) for name, (data, code, declared) in bad.items()}
    for key, (data, _code, declared) in keys.items():
        stack.put(key, data, declared)
    records = stack.wait(list(keys), timeout=180)

    assert {k: r["status"] for k, r in records.items()} == dict.fromkeys(keys, REJECTED)
    for key, record in records.items():
        expected = keys[key][1]
        # ingest names an empty file "empty"; the image core calls it not_an_image
        assert record["reason"]["code"] == expected or (expected, record["reason"]["code"]) == (
            "not_an_image", "empty"), (key, record["reason"])
        assert record["reason"]["message"]
    assert [e for k in keys for e in stack.executions_for(k) if e["status"] == "RUNNING"] == []
