"""The Python API of a running stack: uploads, the records of images, and the operations on them.

`qip` (the command line), the dashboard, the tests and any tool use this; it works the same
against the local engine and against AWS.
"""

from __future__ import annotations

import builtins
import mimetypes
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from qip.client import listing
from qip.client.errors import ConflictError, NotFoundError, UploadError
from qip.client.queues import DeadLetter, Queues, QueueState, Redrive
from qip.client.stack import StackInfo
from qip.client.views import public_view
from qip.core import aws
from qip.core.model import FAILED, STATUSES, ImagePointer, is_settled
from qip.core.store import MetadataStore
from qip.imaging.renditions import Selection

__all__ = ["DeadLetter", "Pipeline", "QueueState", "Redrive", "StackInfo", "public_view"]


class Pipeline:
    """Uploads to, and reads the records of, one deployed stack."""

    def __init__(self, stack: StackInfo) -> None:
        self.stack = stack
        self.store = MetadataStore(aws.table(stack.metadata_table, stack.endpoint_url, stack.region),
                                   stack.upload_bucket)
        self._queues = Queues(stack, self.store)

    def upload(self, path: Path, key: str) -> None:
        """Put one file in the upload bucket; UploadError, with the reason, if it did not land."""
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            self.stack.client("s3").upload_file(str(path), self.stack.upload_bucket, key,
                                                ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError, S3UploadFailedError, OSError) as error:
            raise UploadError(f"could not upload {path} to s3://{self.stack.upload_bucket}/{key}: {error}") from error

    def record(self, key: str) -> dict[str, Any]:
        record = self.store.get(key)
        if record is None:
            raise NotFoundError(f"no image with key {key!r} in {self.stack.metadata_table}")
        return record

    def status(self, key: str) -> dict[str, Any]:
        return public_view(self.record(key))

    def list(self, status: str | None = None, date: str | None = None, prefix: str | None = None,
             limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """Records by status, upload day and key prefix through the indexes, newest first."""
        found = listing.records(self.store, listing.Query(status, date, prefix or None))
        return [public_view(item) for item in islice(found, limit)]

    def page(self, status: str | None = None, date: str | None = None, prefix: str | None = None,
             limit: int = 25, token: str | None = None) -> tuple[builtins.list[dict[str, Any]], str | None]:
        """Up to `limit` records, newest first, from `token` on; and the token of the rest (None: no more)."""
        query = listing.Query(status, date, prefix or None)
        items: builtins.list[dict[str, Any]] = []
        while True:  # a page may come back short (a rare status within a day); read on until it is full
            page = listing.browse(self.store, query, limit - len(items), token)
            items += page.items
            token = page.next_token
            if token is None or len(items) >= limit:
                return [public_view(item) for item in items], token

    def wait(self, keys: builtins.list[str], timeout: float = 300.0, poll: float = 0.5,
             progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, dict[str, Any]]:
        """Wait until every key has a terminal status (or a FAILED that will not be retried)."""
        deadline = time.monotonic() + timeout
        pending = set(keys)
        finished: dict[str, dict[str, Any]] = {}
        while pending and time.monotonic() < deadline:
            for key in sorted(pending):
                record = self.store.get(key)
                if record and is_settled(record):
                    finished[key] = record
            pending -= finished.keys()
            progress(len(finished), len(keys))
            if pending:
                time.sleep(poll)
        for key in pending:
            finished[key] = self.store.get(key) or {"image_key": key, "status": "MISSING"}
        return finished

    # ------------------------------------------------------------------ operations (dashboard, CLI)
    def counts(self) -> dict[str, int]:
        """How many images are in each status (COUNT queries on the status index)."""
        return {status: self.store.count_by_status(status) for status in STATUSES}

    def presign(self, uri: str, expires: int = 600) -> str:
        """A short-lived GET URL for an s3:// URI in this stack's buckets (the buckets stay private)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if bucket not in (self.stack.upload_bucket, self.stack.archive_bucket) or not key:
            raise NotFoundError(f"{uri} is not an object of this stack")
        url: str = aws.presigner(self.stack.endpoint_url, self.stack.region).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
        return url

    def retry(self, key: str) -> ImagePointer:
        """Send a FAILED image back to the processing queue as its next attempt; returns the pointer.

        The new attempt number gives the run a new execution name, and lets the store move the
        record from FAILED to PROCESSING (it refuses an attempt that is not newer).
        """
        record = self.record(key)
        if record["status"] != FAILED:
            raise ConflictError(f"{key!r} is {record['status']}; only FAILED images can be retried")
        pointer = ImagePointer.from_record(record, int(record.get("attempt") or 0) + 1)
        self.stack.client("sqs").send_message(QueueUrl=self.stack.queue_url, MessageBody=pointer.to_message())
        return pointer

    def history(self, key: str) -> builtins.list[dict[str, Any]]:
        """Every event the bus carried about the image, oldest first (from the audit trail)."""
        from qip.core.audit_trail import AuditTrail

        return AuditTrail(aws.table(self.stack.audit_table, self.stack.endpoint_url, self.stack.region)).history(key)

    def metrics(self, since_seconds: float | None = None) -> dict[str, Any]:
        """Per-stage counts and latency percentiles, from the metrics the functions emitted."""
        from qip.client.metrics import report

        return report(self.stack.client("logs"), self.stack.stack_name, since_seconds)

    def reconcile(self, older_than_minutes: float, max_attempts: int, uploads: bool = False,
                  orphaned_before: str | None = None) -> dict[str, Any]:
        """Requeue or dead-letter images stuck in UPLOADED or PROCESSING; with `uploads`, first queue
        every upload that has no record; runs started before `orphaned_before` that are still
        RUNNING are stopped as orphans (see qip.core.reconciliation)."""
        from qip.core.reconciliation import Reconciler, UploadSweep

        reconciler = Reconciler(self.store, self.stack.client("stepfunctions"), self.stack.client("sqs"),
                                self.stack.state_machine_arn, self.stack.queue_url, self.stack.dlq_url,
                                max_attempts)
        sweep = UploadSweep(self.stack.client("s3"), self.stack.upload_bucket) if uploads else None
        return reconciler.run(timedelta(minutes=older_than_minutes), uploads=sweep,
                              orphaned_before=orphaned_before).to_dict()

    def queues(self) -> dict[str, QueueState]:
        """The processing queue's and the DLQ's depth, and the age of each one's oldest message."""
        return self._queues.states()

    def dead_letters(self, limit: int = 50) -> builtins.list[DeadLetter]:
        """The DLQ's messages, oldest first, read without taking them."""
        return self._queues.dead_letters(limit)

    def redrive(self) -> Redrive:
        """Move the DLQ's pipeline messages back to the processing queue, each as a new attempt."""
        return self._queues.redrive()

    # ------------------------------------------------------------------ erasure and reprocessing
    def delete(self, key: str) -> dict[str, Any]:
        """Erase an image: the upload, the archive (every version), the audit trail; the record
        becomes a tombstone and an `Image Deleted` event goes out. NotFoundError if nothing of
        the key exists. A run in progress is stopped first; none can bring anything back."""
        from qip.client.operations import invoke

        result = invoke(self.stack, "erase", key=key)
        if not result.get("found"):
            raise NotFoundError(f"nothing to erase: no image, upload or archive with key {key!r}")
        return result

    def keys(self, prefix: str) -> builtins.list[str]:
        """The keys of every image (any status but DELETED) starting with `prefix`."""
        return [record["image_key"] for record in listing.records(self.store, listing.Query(None, None, prefix))]

    def renditions(self) -> Selection:
        """The renditions in force on the stack (asked of its functions, not read from this checkout)."""
        from qip.client.operations import invoke

        return Selection.from_dict(invoke(self.stack, "renditions"))

    def reprocess_plan(self, selection: Selection, prefix: str | None = None,
                       rendition: str | None = None) -> Iterator[tuple[dict[str, Any], bool]]:
        """Each COMPLETED image under `prefix`, and whether the renditions in force make it stale."""
        from qip.client import reprocess

        return reprocess.plan(self.store, selection, prefix, rendition)

    def reprocess(self, record: dict[str, Any]) -> ImagePointer | None:
        """Queue one stale image for a new run (next generation); None if it moved on meanwhile."""
        from qip.client import reprocess

        return reprocess.queue(self.store, self.stack.client("sqs"), self.stack.queue_url, record)
