"""The Python API of a running stack: its outputs, uploads, and the records of images.

`qip` (the command line), the tests and any tool use this; it works the same against the
local engine and against AWS.
"""

from __future__ import annotations

import mimetypes
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from qip import aws
from qip.exceptions import NotFoundError, UploadError
from qip.store import COMPLETED, FAILED, REJECTED, TERMINAL, MetadataStore

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


class Pipeline:
    """Uploads to, and reads the records of, one deployed stack."""

    def __init__(self, stack: StackInfo) -> None:
        self.stack = stack
        self.store = MetadataStore(aws.table(stack.metadata_table, stack.endpoint_url, stack.region))

    def upload(self, path: Path, key: str) -> None:
        """Put one file in the upload bucket; UploadError, with the reason, if it did not land."""
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            self.stack.client("s3").upload_file(str(path), self.stack.upload_bucket, key,
                                                ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError, OSError) as error:
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
        from qip.store import STATUSES

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


def _is_final(record: dict[str, Any]) -> bool:
    if record["status"] == FAILED:
        return bool(record.get("final_failure"))
    return record["status"] in TERMINAL
