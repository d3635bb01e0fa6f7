"""The Python API of a running stack: its outputs, uploads, and the records of images.

`qip` (the command line), the tests and any tool use this; it works the same against the
local engine and against AWS.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from qip import aws
from qip.exceptions import ConflictError, NotFoundError, UploadError
from qip.store import COMPLETED, FAILED, REJECTED, STATUSES, TERMINAL, MetadataStore, parse_iso

# Stack output name -> field of `qip outputs --json` (a contract: keep the names stable).
OUTPUT_FIELDS = {
    "UploadBucket": "upload_bucket",
    "ArchiveBucket": "archive_bucket",
    "MetadataTable": "metadata_table",
    "QueueUrl": "queue_url",
    "DlqUrl": "dlq_url",
    "StateMachineArn": "state_machine_arn",
    "EventBus": "event_bus",
    "TopicArn": "topic_arn",
    "AuditTable": "audit_table",
    "StackName": "stack_name",
}


@dataclass(frozen=True)
class StackInfo:
    """Where a deployed stack's resources are."""

    endpoint_url: str | None
    region: str
    upload_bucket: str
    archive_bucket: str
    metadata_table: str
    queue_url: str
    dlq_url: str
    state_machine_arn: str
    event_bus: str
    topic_arn: str
    audit_table: str
    stack_name: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, str], endpoint_url: str | None, region: str) -> "StackInfo":
        missing = [name for name in OUTPUT_FIELDS if name not in outputs]
        if missing:
            raise NotFoundError(f"the stack has no output(s) {', '.join(missing)}; redeploy it with `qip up`")
        return cls(endpoint_url, region, **{field: outputs[name] for name, field in OUTPUT_FIELDS.items()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def client(self, service: str):
        return aws.client(service, self.endpoint_url, self.region)


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What `qip status --json` shows of a record (a contract: keep the field names stable)."""
    view: dict[str, Any] = {
        "key": record["image_key"],
        "status": record["status"],
        "uploaded_at": record.get("uploaded_at"),
        "size": record.get("size"),
        "content_type": record.get("content_type"),
        "attempt": record.get("attempt"),
    }
    metadata = record.get("metadata") or {}
    if metadata:
        view["format"] = metadata.get("format")
        view["width"], view["height"] = metadata.get("width"), metadata.get("height")
    stages = record.get("stages") or {}
    if stages:
        view["stages"] = {name: stage.get("completed_at") for name, stage in stages.items()}
    if record["status"] == COMPLETED:
        outputs = record.get("outputs") or {}
        view["outputs"] = [outputs.get("original"), outputs.get("display"), *outputs.get("thumbnails", [])]
        view["outputs"] = [uri for uri in view["outputs"] if uri]
        view["manifest"] = outputs.get("manifest")
        view["display_dimensions"] = outputs.get("dimensions")
    if record["status"] == REJECTED:
        reason = record.get("reason") or {}
        view["reason"] = reason.get("message")
        view["reason_code"] = reason.get("code")
    if record["status"] == FAILED:
        view["error"] = record.get("error")
        view["final"] = record.get("final_failure", False)
    return view


@dataclass(frozen=True)
class QueueState:
    """What SQS says about a queue: messages waiting, in flight and delayed; the oldest one's age."""

    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float | None = None

    @property
    def depth(self) -> int:
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, as read without taking it."""

    message_id: str
    sent_at: str
    receive_count: int
    kind: str  # "pipeline" (an image pointer the pipeline gave up on) or "upload event" (undelivered)
    image_key: str | None
    error: dict | None
    body: dict | str = field(repr=False)

    @classmethod
    def from_message(cls, message: dict) -> "DeadLetter":
        body = _json_or_text(message.get("Body", ""))
        data = body if isinstance(body, dict) else {}
        image = data.get("image") if isinstance(data.get("image"), dict) else None
        s3_object = (data.get("detail") or {}).get("object") or {}
        attributes = message.get("Attributes", {})
        sent = int(attributes.get("SentTimestamp", "0")) / 1000
        return cls(message["MessageId"], datetime.fromtimestamp(sent, timezone.utc).isoformat(timespec="seconds"),
                   int(attributes.get("ApproximateReceiveCount", "0")),
                   "pipeline" if image else "upload event" if s3_object else "unknown",
                   (image or {}).get("key") or s3_object.get("key"), data.get("error"), body)


@dataclass(frozen=True)
class Redrive:
    """What `Pipeline.redrive()` did: the keys sent back, and the messages left in the DLQ."""

    moved: list[str]
    kept: int


class Pipeline:
    """Uploads to, and reads the records of, one deployed stack."""

    def __init__(self, stack: StackInfo) -> None:
        self.stack = stack
        self.store = MetadataStore(aws.table(stack.metadata_table, stack.endpoint_url, stack.region))
        self._dlq_lock = threading.Lock()  # one reader of the DLQ at a time: peeks hide messages briefly

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
             limit: int | None = None) -> list[dict[str, Any]]:
        """Records by status or upload day through the indexes (newest first), filtered by prefix."""
        if status and date:
            items = (i for i in self.store.iter_pages(self.store.by_upload_date, date=date) if i["status"] == status)
        elif status:
            items = self.store.iter_pages(self.store.by_status, status=status)
        elif date:
            items = self.store.iter_pages(self.store.by_upload_date, date=date)
        else:
            items = self._all_statuses()
        found = []
        for item in items:
            if prefix and not item["image_key"].startswith(prefix):
                continue
            found.append(public_view(item))
            if limit and len(found) >= limit:
                break
        return found

    def _all_statuses(self) -> Iterable[dict[str, Any]]:
        for status in STATUSES:
            yield from self.store.iter_pages(self.store.by_status, status=status)

    def wait(self, keys: list[str], timeout: float = 300.0, poll: float = 0.5,
             progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, dict]:
        """Wait until every key has a terminal status (or a FAILED that will not be retried)."""
        deadline = time.monotonic() + timeout
        pending = set(keys)
        finished: dict[str, dict] = {}
        while pending and time.monotonic() < deadline:
            for key in sorted(pending):
                record = self.store.get(key)
                if record and _is_final(record):
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
        return aws.presigner(self.stack.endpoint_url, self.stack.region).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)

    def retry(self, key: str) -> dict[str, Any]:
        """Send a FAILED image back to the processing queue as its next attempt; returns the pointer.

        The new attempt number gives the run a new execution name, and lets the store move the
        record from FAILED to PROCESSING (it refuses an attempt that is not newer).
        """
        record = self.record(key)
        if record["status"] != FAILED:
            raise ConflictError(f"{key!r} is {record['status']}; only FAILED images can be retried")
        pointer = {name: record.get(name) for name in ("bucket", "etag", "sequencer", "size", "content_type")}
        pointer.update(key=key, attempt=int(record.get("attempt") or 0) + 1)
        if record.get("version_id"):
            pointer["version_id"] = record["version_id"]
        self._sqs().send_message(QueueUrl=self.stack.queue_url, MessageBody=json.dumps({"image": pointer}))
        return pointer

    def history(self, key: str) -> list[dict[str, Any]]:
        """Every event the bus carried about the image, oldest first (from the audit trail)."""
        from qip.audit import AuditTrail

        return AuditTrail(aws.table(self.stack.audit_table, self.stack.endpoint_url, self.stack.region)).history(key)

    def metrics(self, since_seconds: float | None = None) -> dict[str, Any]:
        """Per-stage counts and latency percentiles, from the metrics the functions emitted."""
        from qip.metrics_report import report

        return report(self.stack.client("logs"), self.stack.stack_name, since_seconds)

    def reconcile(self, older_than_minutes: float, max_attempts: int) -> dict[str, Any]:
        """Requeue or dead-letter images stuck in UPLOADED or PROCESSING (see qip.reconcile)."""
        from datetime import timedelta

        from qip.reconcile import Reconciler

        reconciler = Reconciler(self.store, self.stack.client("stepfunctions"), self._sqs(),
                                self.stack.state_machine_arn, self.stack.queue_url, self.stack.dlq_url,
                                max_attempts)
        return reconciler.run(timedelta(minutes=older_than_minutes)).to_dict()

    def queues(self) -> dict[str, QueueState]:
        """The processing queue's and the DLQ's depth, and the age of each one's oldest message.

        The processing queue is never received from (each receive counts towards its redrive
        limit): its oldest age comes from CloudWatch's ApproximateAgeOfOldestMessage where that
        metric exists (AWS), else it is unknown. The DLQ's oldest age comes from its messages.
        """
        oldest = min((letter.sent_at for letter in self.dead_letters()), default=None)
        return {"processing": self._queue_state(self.stack.queue_url, self._metric_age(self.stack.queue_url)),
                "dead_letter": self._queue_state(self.stack.dlq_url, _age_s(oldest))}

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        """The DLQ's messages, oldest first, read without taking them (each is released at once)."""
        sqs, seen, handles = self._sqs(), {}, []
        with self._dlq_lock:
            try:
                while len(seen) < limit:
                    messages = self._receive(sqs, self.stack.dlq_url, visibility=20)
                    fresh = [m for m in messages if m["MessageId"] not in seen]
                    handles += [m["ReceiptHandle"] for m in messages]
                    if not fresh:
                        break
                    seen.update((m["MessageId"], DeadLetter.from_message(m)) for m in fresh)
            finally:
                self._release(sqs, self.stack.dlq_url, handles)
        return sorted(seen.values(), key=lambda letter: letter.sent_at)[:limit]

    def redrive(self) -> Redrive:
        """Move the DLQ's pipeline messages back to the processing queue, each as a new attempt.

        Each is sent before it is deleted (at least once, like SQS itself). The attempt goes past
        the record's, so the run is not taken for the one that gave up. Upload events EventBridge
        could not deliver are no pipeline messages: they stay in the DLQ (`kept`).
        """
        sqs, moved, kept, seen = self._sqs(), [], [], set()
        with self._dlq_lock:
            try:
                while True:
                    messages = [m for m in self._receive(sqs, self.stack.dlq_url, visibility=60)
                                if m["MessageId"] not in seen]
                    if not messages:
                        break
                    for message in messages:
                        seen.add(message["MessageId"])
                        letter = DeadLetter.from_message(message)
                        if letter.kind != "pipeline":
                            kept.append(message["ReceiptHandle"])
                            continue
                        image = letter.body["image"]
                        record = self.store.get(image["key"]) or {}
                        attempt = max(int(image.get("attempt") or 1), int(record.get("attempt") or 0)) + 1
                        sqs.send_message(QueueUrl=self.stack.queue_url,
                                         MessageBody=json.dumps({"image": {**image, "attempt": attempt}}))
                        sqs.delete_message(QueueUrl=self.stack.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                        moved.append(image["key"])
            finally:
                self._release(sqs, self.stack.dlq_url, kept)
        return Redrive(moved, len(kept))

    def _sqs(self):
        return self.stack.client("sqs")

    def _queue_state(self, url: str, oldest_age_s: float | None) -> QueueState:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attributes = self._sqs().get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        visible, in_flight, delayed = (int(attributes.get(name, 0)) for name in names)
        return QueueState(visible, in_flight, delayed, oldest_age_s)

    def _metric_age(self, url: str) -> float | None:
        now = datetime.now(timezone.utc)
        try:
            points = self.stack.client("cloudwatch").get_metric_statistics(
                Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage",
                Dimensions=[{"Name": "QueueName", "Value": url.rstrip("/").rsplit("/", 1)[-1]}],
                StartTime=now.timestamp() - 600, EndTime=now, Period=60, Statistics=["Maximum"])["Datapoints"]
        except (ClientError, BotoCoreError):
            return None
        latest = max(points, key=lambda point: point["Timestamp"], default=None)
        return float(latest["Maximum"]) if latest else None

    @staticmethod
    def _receive(sqs, url: str, visibility: int) -> list[dict]:
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
                                   WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])

    @staticmethod
    def _release(sqs, url: str, handles: list[str]) -> None:
        """Make received messages visible again at once."""
        for start in range(0, len(handles), 10):
            entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                       for i, h in enumerate(handles[start:start + 10])]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _age_s(iso: str | None) -> float | None:
    at = parse_iso(iso)
    if at is None:
        return None
    return max(0.0, (datetime.now(timezone.utc) - at).total_seconds())


def _is_final(record: dict[str, Any]) -> bool:
    if record["status"] == FAILED:
        return bool(record.get("final_failure"))
    return record["status"] in TERMINAL
