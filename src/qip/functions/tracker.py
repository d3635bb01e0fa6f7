"""Tracker: the pipeline's own transitions (started, rejected, completed, failed).

Called by the state machine. `failed` also decides what happens next: the image is queued
again after a growing delay, or, after the last attempt, its message goes to the dead-letter
queue and a failure notification is published.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import aws, config
from qip.core.clock import elapsed_ms
from qip.core.model import COMPLETED, FAILED, PROCESSING, REJECTED, EventKind, ImagePointer, Rejection, Stage, Status
from qip.core.telemetry import Transition
from qip.functions import runtime
from qip.functions.step import transient_errors

STAGE = Stage.PIPELINE


@dataclass(frozen=True)
class TrackRequest:
    action: str
    image: ImagePointer
    execution: str
    body: dict[str, Any]

    @property
    def attempt(self) -> int:
        return self.image.attempt

    def transition(self, kind: EventKind, status: Status, **kwargs: Any) -> Transition:
        return Transition(kind, self.image.bucket, self.image.key, STAGE, status, self.execution,
                          self.attempt, **kwargs)


def started(request: TrackRequest) -> dict[str, Any]:
    store = runtime.store()
    proceed = store.start_processing(request.image.key, request.image.sequencer, request.execution,
                                     request.attempt, run_id=(request.body.get("context") or {}).get("run"))
    if proceed:
        runtime.telemetry().emit(request.transition(EventKind.PIPELINE_STARTED, PROCESSING))
    else:
        runtime.logger.info("record owned by another upload or run; this execution stops")
    return {"proceed": proceed}


def rejected(request: TrackRequest) -> dict[str, Any]:
    rejection = Rejection.from_verdict(request.body["validation"])
    if runtime.store().reject(request.image.key, request.execution, rejection):
        transition = request.transition(EventKind.UPLOAD_REJECTED, REJECTED, error=rejection.to_dict())
        runtime.telemetry().emit(transition)
        runtime.telemetry().notify(transition, f"Rejected: {request.image.key}")
        runtime.measure(STAGE, ImagesRejected=(MetricUnit.Count, 1))
    return {"status": REJECTED}


def completed(request: TrackRequest) -> dict[str, Any]:
    outputs = request.body["archive"]
    record = runtime.store().complete(request.image.key, request.execution, outputs)
    if record is not None:
        summary = processing_summary(record, outputs)
        transition = request.transition(EventKind.PIPELINE_COMPLETED, COMPLETED,
                                        duration_ms=summary["total_ms"], extra={"summary": summary})
        runtime.telemetry().emit(transition)
        runtime.telemetry().notify(transition, f"Completed: {request.image.key}", {"summary": summary})
        runtime.measure(STAGE, PipelineCompleted=(MetricUnit.Count, 1),
                        BytesProcessed=(MetricUnit.Bytes, record.get("size") or 0),
                        EndToEndLatency=(MetricUnit.Milliseconds,
                                         elapsed_ms(record.get("uploaded_at"), record.get("completed_at")) or 0))
    return {"status": COMPLETED}


def processing_summary(record: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """What the final notification tells: dimensions, outputs, per-stage and total time."""
    stages = record.get("stages", {})
    return {
        "dimensions": outputs.get("dimensions"),
        "outputs": outputs,
        "stage_ms": {name: stage.get("duration_ms") for name, stage in stages.items()},
        "total_ms": elapsed_ms(record.get("started_at"), record.get("completed_at")),
    }


def failed(request: TrackRequest) -> dict[str, Any]:
    store = runtime.store()
    key = request.image.key
    current = store.get(key) or {}
    error = describe_error(request.body.get("error") or {}, current.get("last_error"), request.attempt)
    final = request.attempt >= config.PIPELINE_MAX_ATTEMPTS.get()
    # A retried MarkFailed finds FAILED already written by this run: finish the requeue or dead-letter.
    written = current.get("status") == FAILED and current.get("execution") == request.execution
    if not written and not store.fail(key, request.execution, error, final, request.image.sequencer):
        runtime.logger.info("record not owned by this run; failure not recorded", extra={"error": error})
        return {"status": current.get("status"), "requeued": False}
    runtime.logger.error("pipeline failed", extra={"error": error, "final": final})
    telemetry = runtime.telemetry()
    sqs = aws.client("sqs")
    if final:
        sqs.send_message(QueueUrl=runtime.required(config.DLQ_URL), MessageBody=request.image.to_message(error))
        transition = request.transition(EventKind.PIPELINE_FAILED, FAILED, error=error, extra={"final": True})
        telemetry.emit(transition)
        telemetry.notify(transition, f"Failed: {key}")
        runtime.measure(STAGE, PipelineFailed=(MetricUnit.Count, 1))
        return {"status": FAILED, "requeued": False}
    delay = min(config.PIPELINE_RETRY_DELAY_SECONDS.get() * 2 ** (request.attempt - 1), 900)
    sqs.send_message(QueueUrl=runtime.required(config.QUEUE_URL), MessageBody=request.image.next_attempt().to_message(),
                     DelaySeconds=delay)
    telemetry.emit(request.transition(EventKind.PIPELINE_RETRYING, FAILED, error=error,
                                      extra={"final": False, "next_attempt": request.attempt + 1,
                                             "delay_seconds": delay}))
    return {"status": FAILED, "requeued": True, "delay_seconds": delay}


def describe_error(caught: dict[str, Any], last_step_error: dict[str, Any] | None, attempt: int) -> dict[str, Any]:
    """Error type, message, failed stage and attempt, from what the step recorded if it could."""
    cause = caught.get("Cause") or ""
    try:
        cause_fields = json.loads(cause)
    except (TypeError, ValueError):
        cause_fields = {}
    step = last_step_error or {}
    return {
        "type": step.get("type") or cause_fields.get("errorType") or caught.get("Error", "Unknown"),
        "message": step.get("message") or cause_fields.get("errorMessage") or cause[:1000],
        "stage": step.get("stage", "unknown"),
        "step_attempts": step.get("attempt"),
        "attempt": attempt,
        "state_machine_error": caught.get("Error"),
    }


ACTIONS: dict[str, Callable[[TrackRequest], dict[str, Any]]] = {
    "started": started, "rejected": rejected, "completed": completed, "failed": failed}


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    context_fields = event.get("context") or {}
    request = TrackRequest(event["action"], ImagePointer.from_dict(event["image"]), context_fields.get("execution", ""),
                           event)
    runtime.logger.append_keys(image_key=request.image.key, correlation_id=request.execution)
    with transient_errors():
        return ACTIONS[request.action](request)
