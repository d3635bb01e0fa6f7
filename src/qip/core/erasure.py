"""Erasure on request: every copy of an image goes, and its record becomes a tombstone.

In order, so that nothing can come back:
1. the record is replaced by a tombstone (DELETED; the erased upload's sequencer, times and the
   status history, nothing about the image). Every write of a run is conditional on owning a
   PROCESSING record, so from here on no run can record anything, and a step that wrote objects
   takes them back when it finds it no longer owns the image (qip.functions.outputs);
2. a running execution is stopped, and waited for until it is no longer RUNNING;
3. the upload is deleted (if it is still the erased upload: a newer one of the key is not);
4. every object version and delete marker directly under `images/<key>/` in the versioned archive
   bucket is deleted for good (not those of keys below it: `images/<key>/x/...` is another image);
5. the image's audit trail entries (they carry its metadata summary) are deleted;
6. steps 4 and 5 again once the run has ended, then the `Image Deleted` event and notification.

Nothing else erases: lifecycle expiry of uploads deletes only the upload (no rule reacts to
deletions), and the archive keeps everything until an erasure is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_boto3_dynamodb.service_resource import Table
    from types_boto3_s3 import S3Client
    from types_boto3_stepfunctions import SFNClient

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from qip.core import layout, objects
from qip.core.aws import error_code, is_missing
from qip.core.model import DELETED, PROCESSING, EventKind, Stage
from qip.core.store import MetadataStore
from qip.core.telemetry import Telemetry, Transition

RUNNING = "RUNNING"


@dataclass
class Erasure:
    """What one erasure found and removed."""

    key: str
    found: bool = False
    status: str | None = None
    stopped: str | None = None
    upload_deleted: bool = False
    versions_deleted: int = 0
    audit_events_deleted: int = 0
    waited_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"upload": int(self.upload_deleted), "archive_versions": self.versions_deleted,
                "audit_events": self.audit_events_deleted}

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "found": self.found, "status_before": self.status,
                "stopped_execution": self.stopped, "waited_seconds": round(self.waited_seconds, 1),
                **self.counts(), "notes": self.notes}


class Eraser:
    def __init__(self, store: MetadataStore, s3: S3Client, sfn: SFNClient, telemetry: Telemetry, audit: Table | None,
                 upload_bucket: str, archive_bucket: str, state_machine_arn: str, wait_seconds: float = 40.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.s3, self.sfn, self.telemetry, self.audit = store, s3, sfn, telemetry, audit
        self.upload_bucket, self.archive_bucket = upload_bucket, archive_bucket
        self.state_machine_arn = state_machine_arn
        self.wait_seconds, self.sleep = wait_seconds, sleep

    def erase(self, key: str) -> Erasure:
        result = Erasure(key)
        record = self._tombstone(key, result)
        if record and record.get("status") == PROCESSING and record.get("execution"):
            self._stop(str(record["execution"]), result)
        self._delete_upload(key, record, result)
        self._sweep(key, result)
        if result.stopped:
            self._sweep(key, result)  # what a step wrote before it learnt the run was over
        if not result.found or (result.status == DELETED and not any(result.counts().values())):
            return result  # nothing to erase, or erased already: no second event
        self.store.record_erasure(key, result.counts())
        transition = Transition(EventKind.IMAGE_DELETED, self.upload_bucket, key, Stage.ERASURE, DELETED,
                                execution=result.stopped, extra={"erased": result.counts()})
        self.telemetry.emit(transition)
        self.telemetry.notify(transition, f"Deleted: {key}")
        return result

    def _tombstone(self, key: str, result: Erasure) -> dict[str, Any] | None:
        """Replace the record (re-read if a new upload replaced it meanwhile); the record erased."""
        for _ in range(5):
            record = self.store.get(key)
            sequencer = record.get("sequencer") if record else None
            if record is None and not self._anything_stored(key):
                return None
            if self.store.tombstone(key, sequencer):
                result.found = True
                result.status = record.get("status") if record else None
                return record
        raise RuntimeError(f"the record of {key!r} kept changing; erase it again")

    def _anything_stored(self, key: str) -> bool:
        return (objects.head(self.s3, self.upload_bucket, key) is not None
                or bool(objects.versions(self.s3, self.archive_bucket, layout.archive_prefix(key))))

    def _stop(self, execution: str, result: Erasure) -> None:
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + execution
        try:
            self.sfn.stop_execution(executionArn=arn, error="ImageDeleted", cause="the image was erased on request")
        except ClientError as error:
            if not (is_missing(error) or error_code(error) in ("ValidationException", "ExecutionDoesNotExist")):
                raise
        result.stopped = execution
        started = time.monotonic()
        while time.monotonic() - started < self.wait_seconds:
            try:
                status = self.sfn.describe_execution(executionArn=arn)["status"]
            except ClientError as error:
                # An Express run (AWS) can be neither stopped nor described: the steps' ownership checks
                # after each write take back whatever it still writes.
                if is_missing(error) or error_code(error) in ("ExecutionDoesNotExist", "ValidationException"):
                    break
                raise
            if status != RUNNING:
                break
            self.sleep(0.5)
        else:
            result.notes.append(f"execution {execution} still RUNNING after {self.wait_seconds:.0f} s; "
                                "its steps cannot record or keep anything (the record is a tombstone)")
        result.waited_seconds = time.monotonic() - started

    def _delete_upload(self, key: str, record: dict[str, Any] | None, result: Erasure) -> None:
        head = objects.head(self.s3, self.upload_bucket, key)
        if head is None:
            return
        if record and record.get("etag") and head.etag != record["etag"]:
            result.notes.append("the upload bucket holds a newer upload of this key; it was kept")
            return
        objects.delete(self.s3, self.upload_bucket, key)
        result.upload_deleted = True

    def _sweep(self, key: str, result: Erasure) -> None:
        prefix = layout.archive_prefix(key)
        for _ in range(5):  # a page deleted can reveal nothing new; loop only while versions remain
            found = [v for v in objects.versions(self.s3, self.archive_bucket, prefix)
                     if layout.is_own_output(key, v.key)]
            if not found:
                break
            result.versions_deleted += objects.delete_versions(self.s3, self.archive_bucket, found)
        if self.audit is not None:
            result.audit_events_deleted += self._scrub_audit(key)

    def _scrub_audit(self, key: str) -> int:
        """Delete the audit trail's events about the image (they carry its metadata summary)."""
        assert self.audit is not None  # noqa: S101 - checked by the caller
        deleted = 0
        with self.audit.batch_writer() as batch:
            for spelling in dict.fromkeys([key, quote_plus(key, safe="/")]):  # S3's events on AWS: URL-encoded
                deleted += self._scrub_spelling(spelling, batch)
        return deleted

    def _scrub_spelling(self, key: str, batch: Any) -> int:
        assert self.audit is not None  # noqa: S101 - checked by the caller
        deleted = 0
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("image_key").eq(key),
                                  "ProjectionExpression": "image_key, event_at"}
        while True:
            page = self.audit.query(**kwargs)
            for item in page.get("Items", []):
                batch.delete_item(Key={"image_key": item["image_key"], "event_at": item["event_at"]})
                deleted += 1
            if "LastEvaluatedKey" not in page:
                return deleted
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
