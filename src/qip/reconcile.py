"""The reconciler: finds images stuck in UPLOADED or PROCESSING and sets them moving again.

An image can be stranded when a message is lost past its retries, or a run dies without its
tracker recording the end. Past a threshold, the reconciler looks at what Step Functions knows:
a run still going is left alone; otherwise the image is queued again as a new attempt, or, once
the attempts are spent, recorded FAILED for good and sent to the dead-letter queue. Run by a
scheduled function in the stack and by `qip reconcile`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from qip import layout
from qip.store import PROCESSING, UPLOADED, MetadataStore

RUNNING = "RUNNING"


@dataclass
class Reconciliation:
    """What one pass found and did."""

    checked: int = 0
    running: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "running": self.running, "requeued": self.requeued,
                "dead_lettered": self.dead_lettered}


class Reconciler:
    def __init__(self, store: MetadataStore, sfn, sqs, state_machine_arn: str, queue_url: str, dlq_url: str,
                 max_attempts: int) -> None:
        self.store, self.sfn, self.sqs = store, sfn, sqs
        self.state_machine_arn, self.queue_url, self.dlq_url = state_machine_arn, queue_url, dlq_url
        self.max_attempts = max_attempts

    def run(self, older_than: timedelta, limit: int = 500) -> Reconciliation:
        cutoff = (datetime.now(timezone.utc) - older_than).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        result = Reconciliation()
        for status in (UPLOADED, PROCESSING):
            for record in self.store.iter_pages(self.store.by_status, status=status, until=cutoff):
                if result.checked >= limit:
                    return result
                result.checked += 1
                if record.get("updated_at", record.get("uploaded_at", "")) > cutoff:
                    continue  # recently moved: not stuck
                self._settle(record, result)
        return result

    def _settle(self, record: dict[str, Any], result: Reconciliation) -> None:
        key = record["image_key"]
        pointer = self._pointer(record)
        runs = {a: self._status(pointer, a) for a in range(1, self.max_attempts + 1)}
        if RUNNING in runs.values():
            result.running.append(key)
            return
        started = [attempt for attempt, status in runs.items() if status is not None]
        next_attempt = max(started + [int(record.get("attempt") or 0)]) + 1
        if next_attempt > self.max_attempts:
            error = {"type": "Stranded", "message": "no run finished this image within its attempts",
                     "stage": record.get("last_error", {}).get("stage", "unknown"), "attempt": next_attempt - 1}
            if self.store.fail_stranded(key, record["sequencer"], error):
                self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps({"image": pointer, "error": error}))
                result.dead_lettered.append(key)
            return
        self.sqs.send_message(QueueUrl=self.queue_url,
                              MessageBody=json.dumps({"image": {**pointer, "attempt": next_attempt}}))
        result.requeued.append(key)

    def _pointer(self, record: dict[str, Any]) -> dict[str, Any]:
        pointer = {name: record.get(name) for name in ("bucket", "etag", "size", "content_type")}
        pointer.update(key=record["image_key"], sequencer=record["sequencer"].lstrip("0") or "0")
        if record.get("version_id"):
            pointer["version_id"] = record["version_id"]
        return pointer

    def _status(self, pointer: dict[str, Any], attempt: int) -> str | None:
        name = layout.execution_name(pointer["bucket"], pointer["key"], pointer["sequencer"], attempt)
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
        try:
            return self.sfn.describe_execution(executionArn=arn)["status"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "ResourceNotFound"):
                return None
            raise
