"""The frame every pipeline step runs in: parse the request, run the work, record the outcome.

A step's work sees a `StepRequest` and returns a small JSON-serialisable dict (S3 pointers,
never pixels), or an `Outcome` when it also has data for the store. The frame records the
stage's timestamps in the store, publishes the stage's
events and notification, emits its metrics, and turns errors into the two kinds the state
machine tells apart: `TransientError` (retried with backoff) and everything else (caught and
recorded as FAILED).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from qip.core import faults
from qip.core.clock import now_iso
from qip.core.errors import TransientError
from qip.core.model import PROCESSING, EventKind, ImagePointer, Status
from qip.core.telemetry import Transition
from qip.functions import runtime
from qip.imaging.exceptions import ImageProcessingError

# botocore's throttling codes (SQS says RequestThrottled, SNS ThrottledException), and a few transient ones.
_THROTTLING = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
               "RequestThrottled", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
               "BandwidthLimitExceeded", "TransactionInProgressException", "PriorRequestNotComplete",
               "KMSThrottlingException", "SlowDown", "ServiceUnavailable", "InternalError",
               "TooManyRequestsException", "RequestTimeout", "RequestTimeoutException"}


@dataclass(frozen=True)
class StepRequest:
    """The state machine's input to a step: the image pointer, execution context, and extras."""

    stage: str
    image: ImagePointer
    execution: str
    retry: int
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return self.image.bucket

    @property
    def key(self) -> str:
        return self.image.key

    @property
    def attempt(self) -> int:
        """Which try of this step this is (1 = first), within this pipeline attempt."""
        return self.retry + 1

    @classmethod
    def parse(cls, stage: str, event: dict[str, Any]) -> StepRequest:
        context = event.get("context") or {}
        extras = {k: v for k, v in event.items() if k not in ("image", "context")}
        return cls(stage, ImagePointer.from_dict(event["image"]), context.get("execution", ""),
                   int(context.get("retry", 0)), extras)


@dataclass(frozen=True)
class Outcome:
    """A step's result for the state machine, what else to keep in the image's record, what its
    success event says when that should be less than the result, and how to undo what it wrote
    if its run turns out to have lost the image (its stage write is then refused)."""

    result: dict[str, Any]
    stored: dict[str, Any] | None = None
    announced: dict[str, Any] | None = None
    take_back: Callable[[], None] | None = None


def is_transient(error: BaseException) -> bool:
    """Worth retrying: our transient errors, network trouble, and throttling by AWS."""
    if isinstance(error, ClientError):
        return (error.response.get("Error", {}).get("Code") in _THROTTLING
                or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500)
    return isinstance(error, (TransientError, ImageProcessingError, BotoCoreError))


@contextmanager
def transient_errors() -> Iterator[None]:
    """Raise throttling and network errors as TransientError: the one error the state machine retries.

    For the frame's own AWS calls (events, store) as for the work's; a step or tracker call
    throttled after the client's own retries must be retried, not fail the image.
    """
    try:
        yield
    except Exception as error:
        if is_transient(error) and not isinstance(error, TransientError):
            raise TransientError(f"{type(error).__name__}: {str(error)[:1000]}") from error
        raise


def run_step(stage: str, event: dict[str, Any],
             work: Callable[[StepRequest], dict[str, Any] | Outcome]) -> dict[str, Any]:
    """Run one step and record its outcome."""
    with transient_errors():
        return _run_step(stage, event, work)


def _run_step(stage: str, event: dict[str, Any],
              work: Callable[[StepRequest], dict[str, Any] | Outcome]) -> dict[str, Any]:
    request = StepRequest.parse(stage, event)
    runtime.logger.append_keys(image_key=request.key, correlation_id=request.execution, stage=stage)
    telemetry = runtime.telemetry()

    def transition(kind: EventKind, status: Status, **kwargs: Any) -> Transition:
        return Transition(kind, request.bucket, request.key, stage, status,
                          request.execution, request.attempt, **kwargs)

    telemetry.emit(transition(EventKind.STAGE_RETRYING if request.retry else EventKind.STAGE_STARTED, PROCESSING))
    started_at, started = now_iso(), time.perf_counter()
    try:
        faults.inject(stage, request.key, request.execution, request.retry)
        outcome = work(request)
    except Exception as error:
        duration_ms = round((time.perf_counter() - started) * 1000)
        details = {"type": type(error).__name__, "message": str(error)[:1000], "stage": stage,
                   "attempt": request.attempt, "pipeline_attempt": request.image.attempt,
                   "retryable": is_transient(error), "at": now_iso()}
        runtime.logger.exception("step failed", extra={"error": details})
        runtime.store().record_stage_error(request.key, request.execution, details)
        telemetry.emit(transition(EventKind.STAGE_FAILED, PROCESSING, duration_ms=duration_ms, error=details))
        _count(stage, succeeded=False)
        if details["retryable"] and not isinstance(error, TransientError):
            raise TransientError(f"{details['type']}: {details['message']}") from error
        raise
    if not isinstance(outcome, Outcome):
        outcome = Outcome(outcome)
    result = outcome.result
    duration_ms = round((time.perf_counter() - started) * 1000)
    stage_record = {"started_at": started_at, "completed_at": now_iso(), "duration_ms": duration_ms,
                    "attempt": request.attempt}
    if not runtime.store().complete_stage(request.key, request.execution, stage, stage_record, outcome.stored):
        runtime.logger.info("record owned by another run or upload; this stage's success is not announced")
        if outcome.take_back:
            outcome.take_back()
        return result
    announced = result if outcome.announced is None else outcome.announced
    done = transition(EventKind.STAGE_SUCCEEDED, PROCESSING, duration_ms=duration_ms, extra={"result": announced})
    telemetry.emit(done)
    telemetry.notify(done, f"{stage} done: {request.key}")
    _count(stage, succeeded=True, duration_ms=duration_ms)
    return result


def _count(stage: str, succeeded: bool, duration_ms: int | None = None) -> None:
    """StageSucceeded and StageFailed as 1/0 each run: their Sums count runs, their Averages are rates."""
    values = {"StageSucceeded": (MetricUnit.Count, int(succeeded)),
              "StageFailed": (MetricUnit.Count, int(not succeeded))}
    if duration_ms is not None:
        values["StageDuration"] = (MetricUnit.Milliseconds, duration_ms)
    runtime.measure(stage, **values)
