"""The processing queue and the dead-letter queue as an operator sees them: depths, ages, letters, redrive.

The processing queue is never received from (each receive counts towards its redrive limit);
the DLQ is read without taking its messages: each one received is released again at once.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qip.client.stack import StackInfo
from qip.core.clock import age_seconds
from qip.core.model import ImagePointer
from qip.core.store import MetadataStore


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
    error: dict[str, Any] | None
    body: dict[str, Any] | str = field(repr=False)

    @property
    def image(self) -> ImagePointer | None:
        """The pointer of a pipeline message; None for any other kind."""
        return ImagePointer.from_message(self.body) if isinstance(self.body, dict) else None

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> DeadLetter:
        body = _json_or_text(message.get("Body", ""))
        data = body if isinstance(body, dict) else {}
        image = data.get("image") if isinstance(data.get("image"), dict) else None
        s3_object = (data.get("detail") or {}).get("object") or {}
        attributes = message.get("Attributes", {})
        sent = int(attributes.get("SentTimestamp", "0")) / 1000
        return cls(message["MessageId"], datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds"),
                   int(attributes.get("ApproximateReceiveCount", "0")),
                   "pipeline" if image else "upload event" if s3_object else "unknown",
                   (image or {}).get("key") or s3_object.get("key"), data.get("error"), body)


@dataclass(frozen=True)
class Redrive:
    """What `Queues.redrive()` did: the keys sent back, and the messages left in the DLQ."""

    moved: list[str]
    kept: int


class Queues:
    """The stack's two queues."""

    def __init__(self, stack: StackInfo, store: MetadataStore) -> None:
        self.stack, self.store = stack, store
        self._dlq_lock = threading.Lock()  # one reader of the DLQ at a time: peeks hide messages briefly

    def states(self) -> dict[str, QueueState]:
        """The processing queue's and the DLQ's depth, and the age of each one's oldest message.

        The processing queue's oldest age comes from CloudWatch's ApproximateAgeOfOldestMessage
        where that metric exists (AWS), else it is unknown. The DLQ's comes from its messages.
        """
        oldest = min((letter.sent_at for letter in self.dead_letters()), default=None)
        return {"processing": self._queue_state(self.stack.queue_url, self._metric_age(self.stack.queue_url)),
                "dead_letter": self._queue_state(self.stack.dlq_url, age_seconds(oldest))}

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        """The DLQ's messages, oldest first, read without taking them (each is released at once)."""
        sqs = self._sqs()
        seen: dict[str, DeadLetter] = {}
        handles: list[str] = []
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
                        image = DeadLetter.from_message(message).image
                        if image is None:
                            kept.append(message["ReceiptHandle"])
                            continue
                        record = self.store.get(image.key) or {}
                        retry = image.next_attempt(after=max(image.attempt, int(record.get("attempt") or 0)))
                        sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=retry.to_message())
                        sqs.delete_message(QueueUrl=self.stack.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                        moved.append(image.key)
            finally:
                self._release(sqs, self.stack.dlq_url, kept)
        return Redrive(moved, len(kept))

    def _sqs(self) -> Any:
        return self.stack.client("sqs")

    def _queue_state(self, url: str, oldest_age_s: float | None) -> QueueState:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attributes = self._sqs().get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        visible, in_flight, delayed = (int(attributes.get(name, 0)) for name in names)
        return QueueState(visible, in_flight, delayed, oldest_age_s)

    def _metric_age(self, url: str) -> float | None:
        now = datetime.now(UTC)
        try:
            points = self.stack.client("cloudwatch").get_metric_statistics(
                Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage",
                Dimensions=[{"Name": "QueueName", "Value": url.rstrip("/").rsplit("/", 1)[-1]}],
                StartTime=now.timestamp() - 600,  # type: ignore[arg-type]  # botocore also takes epoch seconds
                EndTime=now, Period=60, Statistics=["Maximum"])["Datapoints"]
        except (ClientError, BotoCoreError):
            return None
        latest = max(points, key=lambda point: point["Timestamp"], default=None)
        return float(latest["Maximum"]) if latest else None

    @staticmethod
    def _receive(sqs: Any, url: str, visibility: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility, WaitTimeSeconds=0,
            AttributeNames=["All"]).get("Messages", [])
        return messages

    @staticmethod
    def _release(sqs: Any, url: str, handles: list[str]) -> None:
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
