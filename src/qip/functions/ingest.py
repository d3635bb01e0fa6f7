"""Ingest: every upload gets a record, UPLOADED or REJECTED; images go on to the pipeline.

Runs in the dispatcher, for each "Object Created" event that the EventBridge rule put on the
processing queue. Whether a file is an image is judged by its first bytes (magic numbers),
never by its name or declared content type; a non-image is REJECTED here and never starts the
state machine.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from qip.core import config, objects
from qip.core.model import REJECTED, UPLOADED, EventKind, ImagePointer, Rejection, Stage
from qip.core.store import Upload
from qip.core.telemetry import Transition
from qip.functions import runtime
from qip.imaging import SNIFF_BYTES, ImageTooLargeError, NotAnImageError, sniff


def judge(head: bytes, size: int, content_type: str) -> Rejection | None:
    """The rejection of a file that is plainly not an acceptable image, else None."""
    max_bytes = config.MAX_BYTES.get()
    if size == 0:
        return Rejection.from_error(NotAnImageError("the file is empty (0 bytes)", reason_code="empty"))
    if size > max_bytes:
        return Rejection.from_error(ImageTooLargeError(f"the file has {size} bytes; the limit is {max_bytes}"))
    if sniff(head) is None:
        return Rejection.from_error(NotAnImageError(
            f"the content is not a supported image format (declared type: {content_type})"))
    return None


def ingest(event: S3EventBridgeNotificationEvent) -> ImagePointer | None:
    """Record the upload; the image's pointer if the pipeline should run for it, else None."""
    s3 = runtime.s3()
    bucket = event.detail.bucket.name
    event_key = event.detail.object["key"]  # as sent: the data class's `.key` would decode it again
    found = objects.find(s3, bucket, event_key, event.detail.object.etag, first_bytes=SNIFF_BYTES)
    if found is None:
        runtime.logger.warning("object is gone before ingest; nothing to record",
                               extra={"bucket": bucket, "event_key": event_key})
        return None
    runtime.logger.append_keys(image_key=found.key, correlation_id=event.get_id)
    upload = Upload(bucket=bucket, key=found.key, size=found.size, content_type=found.content_type,
                    etag=found.etag, sequencer=event.detail.object.sequencer or "0",
                    uploaded_at=_event_time(event.time), version_id=found.version_id)
    rejection = judge(found.start, found.size, found.content_type)
    status = REJECTED if rejection else UPLOADED
    if not runtime.store().record_upload(upload, status, rejection):
        runtime.logger.info("stale or duplicate upload event ignored")
        return None
    telemetry = runtime.telemetry()
    kind = EventKind.UPLOAD_REJECTED if rejection else EventKind.UPLOAD_RECEIVED
    transition = Transition(kind, bucket, upload.key, Stage.INGEST, status,
                            error=rejection.to_dict() if rejection else None,
                            extra={"size": upload.size, "content_type": upload.content_type})
    telemetry.emit(transition)
    if rejection:
        telemetry.notify(transition, f"Rejected: {upload.key}")
        runtime.measure(Stage.INGEST, ImagesRejected=(MetricUnit.Count, 1))
        return None
    return upload.pointer()


def _event_time(time: str) -> str:
    """EventBridge gives whole seconds (`2026-11-28T15:00:00Z`); store milliseconds like the rest."""
    return time.replace("Z", ".000Z") if time.endswith("Z") and "." not in time else time
