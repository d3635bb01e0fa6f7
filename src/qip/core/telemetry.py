"""Events on the project's EventBridge bus and notifications on the SNS topic.

Every transition of an image is one event (`detail-type` names the kind, `detail` carries the
image, stage, status, timestamp, execution, attempt and, where they apply, duration and error).
The contract is `schemas/pipeline-event.schema.json`; tests hold real events to it.
Notifications carry `status` and `stage` message attributes so subscribers can filter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_boto3_events import EventBridgeClient
    from types_boto3_sns import SNSClient

import json
from dataclasses import dataclass
from typing import Any

from qip.core import config
from qip.core.clock import now_iso
from qip.core.errors import TransientError
from qip.core.model import EventKind


@dataclass(frozen=True)
class Transition:
    """One thing that happened to one image."""

    kind: EventKind
    bucket: str
    key: str
    stage: str
    status: str
    execution: str | None = None
    attempt: int = 0
    duration_ms: int | None = None
    error: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "image": {"bucket": self.bucket, "key": self.key},
            "stage": self.stage,
            "status": self.status,
            "timestamp": now_iso(),
            "execution": self.execution,
            "attempt": self.attempt,
        }
        if self.duration_ms is not None:
            detail["duration_ms"] = self.duration_ms
        if self.error:
            detail["error"] = self.error
        if self.extra:
            detail.update(self.extra)
        return detail


class Telemetry:
    """Publishes transitions; a publish that fails raises TransientError so the step retries."""

    def __init__(self, events: EventBridgeClient, sns: SNSClient, bus: str, topic_arn: str,
                 source: str | None = None) -> None:
        self._events = events
        self._sns = sns
        self._bus = bus
        self._topic = topic_arn
        self._source = source or config.EVENT_SOURCE.get()

    def emit(self, transition: Transition) -> dict[str, Any]:
        detail = transition.detail()
        response = self._events.put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": self._source,
                    "DetailType": transition.kind,
                    "Detail": json.dumps(detail, default=str),
                    "Resources": [f"arn:aws:s3:::{transition.bucket}/{transition.key}"],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise TransientError(f"EventBridge refused the event: {response.get('Entries')}")
        return detail

    def notify(self, transition: Transition, subject: str, summary: dict[str, Any] | None = None) -> None:
        message = {"kind": transition.kind, **transition.detail(), **(summary or {})}
        self._sns.publish(
            TopicArn=self._topic,
            Subject=_subject(subject),
            Message=json.dumps(message, default=str),
            MessageAttributes={
                "status": {"DataType": "String", "StringValue": transition.status},
                "stage": {"DataType": "String", "StringValue": transition.stage},
                "kind": {"DataType": "String", "StringValue": transition.kind},
            },
        )


def _subject(text: str) -> str:
    """SNS refuses a subject with line breaks or control characters, or of 100 characters or more
    (S3 keys, which subjects name, may hold any character)."""
    return "".join(char if char.isprintable() else " " for char in text)[:99]
