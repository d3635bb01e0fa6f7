"""The messages between the parts of the pipeline, typed once: statuses, stages, event kinds,
the image pointer, rejections and the shape of an image's record.

Every part that writes or reads one of these goes through this module, so a field is named in
one place: the dispatcher and the tracker put `ImagePointer.to_message()` on the queues, the
state machine carries `ImagePointer.to_dict()`, and validate, ingest and the tracker speak of a
rejection only as a `Rejection`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol, TypedDict

SEQUENCER_WIDTH = 32


class Status(StrEnum):
    """Where an image is: statuses only move forward (FAILED -> PROCESSING for a retry)."""

    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    DELETED = "DELETED"
    """Erased on request: the record is a tombstone (key, sequencer, times), every object is gone."""


UPLOADED, PROCESSING, COMPLETED, FAILED, REJECTED = (Status.UPLOADED, Status.PROCESSING, Status.COMPLETED,
                                                      Status.FAILED, Status.REJECTED)
DELETED = Status.DELETED
STATUSES: tuple[Status, ...] = (UPLOADED, PROCESSING, COMPLETED, FAILED, REJECTED)
"""The statuses of images that exist: what listings and counts cover. DELETED is not among them:
a tombstone is not an image (it is in neither index, so no listing or count can see it); `qip
status KEY` and `qip history KEY` still show that the key was erased."""
TERMINAL: tuple[Status, ...] = (COMPLETED, FAILED, REJECTED, DELETED)
"""Nothing more happens on its own (a FAILED image may still be retried: see `is_settled`)."""


class Stage(StrEnum):
    """Who did something to an image: ingest, one of the five steps, or the pipeline as a whole."""

    INGEST = "ingest"
    VALIDATE = "validate"
    EXTRACT_METADATA = "extract_metadata"
    RESIZE = "resize"
    THUMBNAILS = "thumbnails"
    ARCHIVE = "archive"
    PIPELINE = "pipeline"
    ERASURE = "erasure"


STEPS: tuple[Stage, ...] = (Stage.VALIDATE, Stage.EXTRACT_METADATA, Stage.RESIZE, Stage.THUMBNAILS, Stage.ARCHIVE)
"""The state machine's image steps, in the order they run (one Lambda function each)."""


class EventKind(StrEnum):
    """The `detail-type` of each event on the project's bus (schemas/pipeline-event.schema.json)."""

    UPLOAD_RECEIVED = "Image Uploaded"
    UPLOAD_REJECTED = "Image Rejected"
    PIPELINE_STARTED = "Pipeline Started"
    STAGE_STARTED = "Stage Started"
    STAGE_RETRYING = "Stage Retrying"
    STAGE_SUCCEEDED = "Stage Succeeded"
    STAGE_FAILED = "Stage Failed"
    PIPELINE_RETRYING = "Pipeline Retrying"
    PIPELINE_COMPLETED = "Pipeline Completed"
    PIPELINE_FAILED = "Pipeline Failed"
    IMAGE_DELETED = "Image Deleted"


def padded_sequencer(sequencer: str | None) -> str:
    """S3 sequencers compare as hex strings only once padded to one width."""
    return (sequencer or "0").upper().rjust(SEQUENCER_WIDTH, "0")


class PointerDict(TypedDict, total=False):
    """`ImagePointer` as JSON: the state machine's `$.image` and the queue message's `image`."""

    bucket: str
    key: str
    etag: str
    sequencer: str
    size: int
    content_type: str
    version_id: str | None
    attempt: int
    generation: int


@dataclass(frozen=True)
class ImagePointer:
    """Which upload of which object a run is about (never the bytes), and which attempt it is.

    The sequencer is S3's, as its event gave it; records keep it padded to one width (so it
    sorts), and a pointer made from a record strips that padding again, so a pointer made from an
    S3 event, from a record or from a queue message names the same upload the same way.

    `generation` counts the runs asked for after the first one completed (`qip reprocess`): a new
    generation is a new execution name, with its own attempts.
    """

    bucket: str
    key: str
    etag: str
    sequencer: str
    size: int
    content_type: str
    version_id: str | None = None
    attempt: int = 1
    generation: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "attempt", int(self.attempt))
        object.__setattr__(self, "generation", int(self.generation))

    @classmethod
    def from_dict(cls, value: PointerDict | dict[str, Any]) -> ImagePointer:
        return cls(bucket=str(value["bucket"]), key=str(value["key"]), etag=str(value.get("etag") or ""),
                   sequencer=str(value.get("sequencer") or "0"), size=int(value.get("size") or 0),
                   content_type=str(value.get("content_type") or "application/octet-stream"),
                   version_id=value.get("version_id") or None, attempt=int(value.get("attempt") or 1),
                   generation=int(value.get("generation") or 0))

    @classmethod
    def from_record(cls, record: ImageRecord | Mapping[str, Any], attempt: int) -> ImagePointer:
        """The pointer of the upload a record is about, as its `attempt`-th run."""
        return cls(bucket=record["bucket"], key=record["image_key"], etag=record.get("etag", ""),
                   sequencer=record["sequencer"].lstrip("0") or "0", size=int(record.get("size") or 0),
                   content_type=record.get("content_type") or "application/octet-stream",
                   version_id=record.get("version_id") or None, attempt=attempt,
                   generation=int(record.get("generation") or 0))

    def next_attempt(self, after: int | None = None) -> ImagePointer:
        """The same upload as the run after `after` (default: after this one)."""
        return replace(self, attempt=(self.attempt if after is None else after) + 1)

    def to_dict(self) -> PointerDict:
        pointer: PointerDict = {"bucket": self.bucket, "key": self.key, "etag": self.etag,
                                "sequencer": self.sequencer, "size": self.size,
                                "content_type": self.content_type, "version_id": self.version_id,
                                "attempt": self.attempt}
        if self.generation:
            pointer["generation"] = self.generation
        return pointer

    def to_message(self, error: dict[str, Any] | None = None) -> str:
        """The body of a processing-queue (or, with the error, dead-letter) message."""
        body: dict[str, Any] = {"image": self.to_dict()}
        if error is not None:
            body["error"] = error
        return json.dumps(body)

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> ImagePointer | None:
        """The pointer of a pipeline message; None for any other message (an S3 event, junk)."""
        image = body.get("image")
        return cls.from_dict(image) if isinstance(image, dict) else None


def object_created_event(bucket: str, key: str, etag: str, size: int, time: str, event_id: str) -> dict[str, Any]:
    """An S3 "Object Created" event in EventBridge's shape, for an upload whose own event was lost.

    The reconciler puts it on the processing queue where the upload rule would have, so ingest
    records and judges the upload as it does any other. Its key is raw (ingest reads either
    spelling); it has no sequencer (S3's is known only from the lost event), so a later real
    event of the same upload still wins over it.
    """
    return {"version": "0", "id": event_id, "detail-type": "Object Created", "source": "aws.s3", "time": time,
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": size, "etag": etag, "sequencer": "0"},
                       "reason": "Reconciled"}}


class _ReasonCarrier(Protocol):
    """What `Rejection.from_error` reads of an imaging rejection (`InvalidImageError`)."""

    reason_code: str


@dataclass(frozen=True)
class Rejection:
    """Why an upload is not an acceptable image: a stable code and a sentence for people."""

    code: str
    message: str

    @classmethod
    def from_error(cls, error: _ReasonCarrier) -> Rejection:
        """From an imaging rejection (`qip.imaging.InvalidImageError` and its subclasses)."""
        return cls(error.reason_code, str(error))

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Rejection:
        return cls(str(value.get("code") or "invalid_image"), str(value.get("message") or ""))

    def to_dict(self) -> dict[str, str]:
        """As stored in the record's `reason` and sent as an event's `error`."""
        return {"code": self.code, "message": self.message}

    def to_verdict(self) -> dict[str, str]:
        """The validate step's result for the state machine (its Choice reads `verdict`)."""
        return {"verdict": "rejected", "reason_code": self.code, "reason": self.message}

    @classmethod
    def from_verdict(cls, verdict: dict[str, Any]) -> Rejection:
        return cls(str(verdict.get("reason_code") or "invalid_image"), str(verdict.get("reason") or ""))


class StageRecord(TypedDict, total=False):
    """One step's entry in the record's `stages`."""

    started_at: str
    completed_at: str
    duration_ms: int
    attempt: int


class HistoryEntry(TypedDict):
    status: str
    at: str


class ImageRecord(TypedDict, total=False):
    """One item of the metadata table (keyed by `image_key`), as the store reads it back."""

    image_key: str
    bucket: str
    size: int
    content_type: str
    etag: str
    sequencer: str
    version_id: str
    uploaded_at: str
    upload_date: str
    status: str
    attempt: int
    execution: str
    updated_at: str
    started_at: str
    completed_at: str
    failed_at: str
    history: list[HistoryEntry]
    stages: dict[str, StageRecord]
    metadata: dict[str, Any]
    outputs: dict[str, Any]
    reason: dict[str, str]
    error: dict[str, Any]
    last_error: dict[str, Any]
    final_failure: bool
    generation: int
    reprocess_requested_at: str
    deleted_at: str
    erased: dict[str, int]


def is_settled(record: ImageRecord | dict[str, Any]) -> bool:
    """Nothing more will happen to the image on its own: COMPLETED, REJECTED, or FAILED for good."""
    if record.get("status") == FAILED:
        return bool(record.get("final_failure"))
    return record.get("status") in TERMINAL
