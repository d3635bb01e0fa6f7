"""The reconciler: finds images stuck in UPLOADED or PROCESSING and sets them moving again.

An image can be stranded when a message is lost past its retries, or a run dies without its
tracker recording the end. Past a threshold, the reconciler looks at what Step Functions knows:
a run still going is left alone; otherwise the image is queued again as a new attempt, or, once
the attempts are spent, recorded FAILED for good and sent to the dead-letter queue. Run by a
scheduled function in the stack and by `qip reconcile`.

Two repairs are for what a stopped engine lost (the local engine keeps objects on disk as it
writes them, but its queues, tables and runs only from its last clean stop, and drops events not
yet delivered even then); they run when asked (`qip reconcile --uploads`, and `qip up` after each
start of the engine):
- the upload sweep pages through the upload bucket and queues an "Object Created" event for
  each object that has no record at all, as if its lost event had arrived;
- runs started before `orphaned_before` (the engine's restart) that it still calls RUNNING have
  nothing running them: they are stopped, and their image counts as stranded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_sqs import SQSClient
    from types_boto3_stepfunctions import SFNClient

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from qip.core import layout
from qip.core.aws import is_missing
from qip.core.clock import ago_iso, iso
from qip.core.model import PROCESSING, UPLOADED, ImagePointer, object_created_event
from qip.core.store import MetadataStore

RUNNING = "RUNNING"


@dataclass
class Reconciliation:
    """What one pass found and did."""

    checked: int = 0
    running: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    uploads_checked: int = 0
    unrecorded: list[str] = field(default_factory=list)
    orphans_stopped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "running": self.running, "requeued": self.requeued,
                "dead_lettered": self.dead_lettered, "uploads_checked": self.uploads_checked,
                "unrecorded": self.unrecorded, "orphans_stopped": self.orphans_stopped}


def summarise(result: dict[str, Any]) -> str:
    """One line for a reconciliation's result (`qip reconcile`, and `qip up` after a crash)."""
    line = (f"checked {result['checked']}: {len(result['running'])} still running, "
            f"{len(result['requeued'])} requeued, {len(result['dead_lettered'])} dead-lettered")
    if result.get("uploads_checked"):
        line += (f"; {result['uploads_checked']} upload(s) checked, {len(result['unrecorded'])} had no record "
                 f"and were queued")
    if result.get("orphans_stopped"):
        line += f"; {len(result['orphans_stopped'])} orphaned run(s) stopped"
    return line


@dataclass(frozen=True)
class UploadSweep:
    """Where the upload sweep looks: the upload bucket, read through this S3 client."""

    s3: S3Client
    bucket: str


class Reconciler:
    def __init__(self, store: MetadataStore, sfn: SFNClient, sqs: SQSClient, state_machine_arn: str, queue_url: str,
                 dlq_url: str,
                 max_attempts: int, express: bool = False) -> None:
        self.store, self.sfn, self.sqs = store, sfn, sqs
        self.state_machine_arn, self.queue_url, self.dlq_url = state_machine_arn, queue_url, dlq_url
        self.max_attempts = max_attempts
        self.express = express
        self._orphaned_before: str | None = None
        self._stopped: list[str] = []

    def run(self, older_than: timedelta, limit: int = 500, uploads: UploadSweep | None = None,
            orphaned_before: str | None = None) -> Reconciliation:
        """One pass over at most `limit` stuck records; with `uploads`, the upload sweep first
        (the whole bucket, page by page); with `orphaned_before`, orphaned runs are stopped."""
        cutoff = ago_iso(older_than)
        result = Reconciliation()
        self._orphaned_before, self._stopped = orphaned_before, []
        if uploads is not None:
            self._sweep(uploads, cutoff, result)
        self._settle_stuck(cutoff, limit, result)
        result.orphans_stopped = list(dict.fromkeys(self._stopped))
        return result

    def _settle_stuck(self, cutoff: str, limit: int, result: Reconciliation) -> None:
        for status in (UPLOADED, PROCESSING):
            for record in self.store.iter_pages(self.store.by_status, status=status, until=cutoff):
                if result.checked >= limit:
                    return
                result.checked += 1
                if record.get("updated_at", record.get("uploaded_at", "")) > cutoff:
                    continue  # recently moved: not stuck
                self._settle(record, result)

    def _settle(self, record: dict[str, Any], result: Reconciliation) -> None:
        key = record["image_key"]
        pointer = ImagePointer.from_record(record, int(record.get("attempt") or 1))
        runs = {a: self._status(replace(pointer, attempt=a)) for a in range(1, self.max_attempts + 1)}
        if RUNNING in runs.values():
            result.running.append(key)
            return
        started = [attempt for attempt, status in runs.items() if status is not None]
        next_attempt = max(started + [int(record.get("attempt") or 0)]) + 1
        if next_attempt > self.max_attempts:
            error = {"type": "Stranded", "message": "no run finished this image within its attempts",
                     "stage": record.get("last_error", {}).get("stage", "unknown"), "attempt": next_attempt - 1}
            if self.store.fail_stranded(key, record["sequencer"], error):
                self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=pointer.to_message(error))
                result.dead_lettered.append(key)
            return
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=replace(pointer, attempt=next_attempt).to_message())
        result.requeued.append(key)

    def _sweep(self, uploads: UploadSweep, cutoff: str, result: Reconciliation) -> None:
        """Queue an upload event for each object older than `cutoff` that has no record.

        A page of the bucket's listing (up to 1000 keys) costs one LIST request and one
        BatchGetItem per 100 of its keys; nothing else is read.
        """
        for page in uploads.s3.get_paginator("list_objects_v2").paginate(Bucket=uploads.bucket):
            listed = [item for item in page.get("Contents", []) if iso(item["LastModified"]) <= cutoff]
            result.uploads_checked += len(listed)
            recorded = self.store.get_many([item["Key"] for item in listed]) if listed else {}
            for item in listed:
                if item["Key"] in recorded:
                    continue
                event = object_created_event(uploads.bucket, item["Key"], item.get("ETag", "").strip('"'),
                                             int(item.get("Size", 0)), iso(item["LastModified"]),
                                             f"reconciled-{uuid.uuid4()}")
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(event))
                result.unrecorded.append(item["Key"])

    def _status(self, pointer: ImagePointer) -> str | None:
        if self.express:
            # Express executions cannot be described, and none lasts more than 5 minutes: a record
            # stuck for longer (StuckAfterMinutes is at least 5) has no run going
            return None
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + layout.execution_name_of(pointer)
        try:
            described = self.sfn.describe_execution(executionArn=arn)
        except ClientError as error:
            if is_missing(error):
                return None
            raise
        status = str(described["status"])
        if status == RUNNING and self._orphaned_before and iso(described["startDate"]) < self._orphaned_before:
            # started before the engine restarted: the engine kept it as RUNNING, but nothing runs it
            self.sfn.stop_execution(executionArn=arn, error="qip.EngineRestarted",
                                    cause="the local engine restarted; nothing runs this execution any more")
            self._stopped.append(pointer.key)
            return "ABORTED"
        return status
