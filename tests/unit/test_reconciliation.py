"""The reconciler's crash repairs on moto: the upload sweep (uploads whose event and record were
lost are queued as the upload rule would have) and orphaned runs (RUNNING in a restarted engine's
memory with nothing running them) stopped and requeued."""

from __future__ import annotations

import json
from datetime import timedelta

from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from qip.core import layout
from qip.core.clock import now_iso
from qip.core.model import PROCESSING, UPLOADED, ImagePointer
from qip.core.reconciliation import Reconciler, UploadSweep, summarise
from qip.core.store import Upload
from qip.functions.ingest import ingest
from tests.imaging_corpus import make_jpeg
from tests.unit.mock_stack import UPLOAD_BUCKET


def reconciler(aws, store, express: bool = False) -> Reconciler:
    return Reconciler(store, aws.sfn, aws.sqs, aws.state_machine_arn, aws.queue_url, aws.dlq_url, max_attempts=3,
                      express=express)


def recorded_upload(aws, store, key: str, status: str = UPLOADED) -> Upload:
    data = make_jpeg(32, 24)
    etag = aws.put_upload(key, data)
    upload = Upload(bucket=UPLOAD_BUCKET, key=key, size=len(data), content_type="image/jpeg", etag=etag,
                    sequencer="0065F1A2B3C4D5E6F7", uploaded_at=now_iso(), version_id=None)
    store.record_upload(upload, UPLOADED, None)
    if status == PROCESSING:
        pointer = upload.pointer()
        assert store.start_processing(key, upload.sequencer, layout.execution_name_of(pointer), 1, "run-1")
    return upload


def test_the_sweep_queues_an_upload_event_for_each_object_without_a_record(aws, store):
    recorded_upload(aws, store, "kept/a.jpg")
    lost = ["lost/b c+d.jpg", "lost/é.jpg"]
    etags = {key: aws.put_upload(key, make_jpeg(40, 30)) for key in lost}
    result = reconciler(aws, store).run(timedelta(0), uploads=UploadSweep(aws.s3, UPLOAD_BUCKET))
    assert result.uploads_checked == 3 and sorted(result.unrecorded) == sorted(lost)
    messages = [json.loads(message["Body"]) for message in aws.drain(aws.queue_url)]
    queued = [body for body in messages if "detail" in body]
    # the recorded one, stuck in UPLOADED, is requeued as a pipeline message, not swept
    assert result.requeued == ["kept/a.jpg"] and len(messages) == 3
    assert sorted(event["detail"]["object"]["key"] for event in queued) == sorted(lost)
    # each is an upload event ingest takes as the rule's own: the upload is recorded and judged
    for event in queued:
        assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
        pointer = ingest(S3EventBridgeNotificationEvent(event))
        assert pointer is not None and pointer.etag == etags[pointer.key]
        assert store.get(pointer.key)["status"] == UPLOADED
    assert "2 had no record and were queued" in summarise(result.to_dict())


def test_the_sweep_leaves_recent_uploads_to_their_own_events(aws, store):
    aws.put_upload("fresh.jpg", make_jpeg(20, 20))
    result = reconciler(aws, store).run(timedelta(minutes=30), uploads=UploadSweep(aws.s3, UPLOAD_BUCKET))
    assert result.uploads_checked == 0 and not result.unrecorded and not aws.drain(aws.queue_url)


def test_without_the_sweep_no_upload_is_listed(aws, store):
    aws.put_upload("lost.jpg", make_jpeg(20, 20))
    result = reconciler(aws, store).run(timedelta(0))
    assert result.uploads_checked == 0 and not result.unrecorded


def started_run(aws, upload: Upload) -> str:
    pointer = upload.pointer()
    return aws.sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=layout.execution_name_of(pointer),
                                   input=pointer.to_message())["executionArn"]


def test_a_run_left_running_by_a_restarted_engine_is_stopped_and_its_image_requeued(aws, store):
    upload = recorded_upload(aws, store, "orphan.jpg", PROCESSING)
    arn = started_run(aws, upload)
    assert aws.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    # a restart before the run started: the run is not the old engine's, and is left alone
    before = reconciler(aws, store).run(timedelta(0), orphaned_before="2000-01-01T00:00:00.000Z")
    assert before.running == ["orphan.jpg"] and not before.requeued and not before.orphans_stopped
    result = reconciler(aws, store).run(timedelta(0), orphaned_before=now_iso())
    assert result.orphans_stopped == ["orphan.jpg"] and result.requeued == ["orphan.jpg"]
    assert aws.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    (message,) = aws.drain(aws.queue_url)
    assert ImagePointer.from_message(json.loads(message["Body"])).attempt == 2
