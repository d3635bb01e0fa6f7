"""The reconciler: finds images stuck in UPLOADED or PROCESSING and sets them moving again.

An image can be stranded when a message is lost past its retries, or a run dies without its
tracker recording the end. Past a threshold, the reconciler looks at what Step Functions knows:
a run still going is left alone; otherwise the image is queued again as a new attempt, or, once
the attempts are spent, recorded FAILED for good and sent to the dead-letter queue. Run by a
scheduled function in the stack and by `qip reconcile`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient
    from types_boto3_stepfunctions import SFNClient

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from qip.core import layout
from qip.core.aws import is_missing
from qip.core.clock import ago_iso
from qip.core.model import PROCESSING, UPLOADED, ImagePointer
from qip.core.store import MetadataStore

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
    def __init__(self, store: MetadataStore, sfn: SFNClient, sqs: SQSClient, state_machine_arn: str, queue_url: str,
                 dlq_url: str,
                 max_attempts: int, express: bool = False) -> None:
        self.store, self.sfn, self.sqs = store, sfn, sqs
        self.state_machine_arn, self.queue_url, self.dlq_url = state_machine_arn, queue_url, dlq_url
        self.max_attempts = max_attempts
        self.express = express

    def run(self, older_than: timedelta, limit: int = 500) -> Reconciliation:
        cutoff = ago_iso(older_than)
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

    def _status(self, pointer: ImagePointer) -> str | None:
        if self.express:
            # Express executions cannot be described, and none lasts more than 5 minutes: a record
            # stuck for longer (StuckAfterMinutes is at least 5) has no run going
            return None
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + layout.execution_name_of(pointer)
        try:
            return str(self.sfn.describe_execution(executionArn=arn)["status"])
        except ClientError as error:
            if is_missing(error):
                return None
            raise
