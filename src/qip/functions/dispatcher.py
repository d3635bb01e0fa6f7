"""Dispatcher: consumes the processing queue, one message at a time, failures reported per message.

A message is either an upload event that EventBridge put on the queue (ingest records it and
judges it) or a pipeline retry the tracker queued. Each image gets one Step Functions execution:
its name is derived from the upload and the attempt, so a message delivered twice starts one.

Admission control: with MAX_RUNNING_IMAGES set, no more than that many executions run at once.
An image over the limit is recorded as usual, then queued again with a short delay (sent before
its message is deleted, so nothing is lost, and a new message, so its receive count - which
sends poison messages to the DLQ - does not grow). This bounds the Lambda concurrency a burst
of uploads causes, on AWS and on the local engine alike.

With ADMISSION_WAIT_SECONDS, a batch first records all its uploads, then waits up to that long
for slots (counting the running executions every POLL_SECONDS) and starts its waiting images in
order as they free up; only what is still waiting then is queued again. A slot is then taken
within a fraction of a second instead of after the delay, and a burst is not re-sent every few
seconds. 0 (the template's default: a waiting Lambda bills its wait) queues them again at once.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from qip.core import aws, config, layout
from qip.core.model import PROCESSING, ImagePointer
from qip.functions import runtime
from qip.functions.ingest import ingest

processor = BatchProcessor(event_type=EventType.SQS)


class UnknownMessageError(ValueError):
    """A queue message that is neither an upload event nor a retry; it ends in the DLQ."""


def start(image: ImagePointer) -> str:
    """Start the pipeline for an image pointer; a repeated start of the same run is a no-op."""
    name = layout.execution_name_of(image)
    sfn = aws.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=runtime.required(config.STATE_MACHINE_ARN), name=name,
                            input=image.to_message())
    except sfn.exceptions.ExecutionAlreadyExists:
        runtime.logger.info("execution exists; duplicate message", extra={"execution": name})
    return name


POLL_SECONDS = 0.2
SPARE_SECONDS = 10.0  # of the function's time, kept for queueing the images still waiting


class Admission:
    """How many more executions may start in this batch (None: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = None if limit <= 0 else self._count_free()

    def _count_free(self) -> int:
        return max(0, self.limit - running_executions(self.limit))

    def take(self) -> bool:
        if self.free is None:
            return True
        if self.free <= 0:
            return False
        self.free -= 1
        return True

    def wait(self, until: float) -> bool:
        """Take a slot as soon as one is free, counting again every POLL_SECONDS; False at `until`."""
        while not self.take():
            if time.monotonic() + POLL_SECONDS > until:
                return False
            time.sleep(POLL_SECONDS)
            self.free = self._count_free()
        return True


def running_executions(limit: int) -> int:
    """Executions RUNNING now, counted up to `limit` (no need to know more).

    From ListExecutions, which counts a run from the moment it starts. AWS refuses it for
    Express machines; there the images PROCESSING in the store are counted instead (a COUNT
    query on the status index that stops at `limit`), which misses runs not yet past
    MarkProcessing, so a burst may overshoot the limit by a batch or two.
    """
    if not _LISTING_REFUSED:
        try:
            return _listed(limit)
        except ClientError as error:
            if aws.error_code(error) != "ValidationException":
                raise
            runtime.logger.info("ListExecutions refused (an Express machine): counting PROCESSING records")
            _LISTING_REFUSED.append(True)
    return runtime.store().count_by_status(PROCESSING, at_most=limit)


_LISTING_REFUSED: list[bool] = []


def _listed(limit: int) -> int:
    sfn = aws.client("stepfunctions")
    count = 0
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=runtime.required(config.STATE_MACHINE_ARN), statusFilter="RUNNING",
        PaginationConfig={"PageSize": min(max(limit, 1), 1000)})
    for page in pages:
        count += len(page["executions"])
        if count >= limit:
            break
    return count


def defer(image: ImagePointer) -> None:
    low, high = config.DEFER_SECONDS.get()
    delay = random.randint(low, high)  # noqa: S311 - jitter, not security
    aws.client("sqs").send_message(QueueUrl=runtime.required(config.QUEUE_URL), MessageBody=image.to_message(),
                                   DelaySeconds=delay)
    runtime.logger.info("too many images in flight; queued again", extra={"delay_seconds": delay})


def dispatch(record: SQSRecord, admission: Admission, waiting: list[ImagePointer] | None = None) -> str | None:
    body = json.loads(record.body)
    image: ImagePointer | None
    if body.get("source") == "aws.s3" and "detail" in body:
        image = ingest(S3EventBridgeNotificationEvent(body))
    else:
        image = ImagePointer.from_message(body)  # a pipeline retry, or an image deferred by admission control
        if image is None:
            raise UnknownMessageError(f"message {record.message_id} is neither an upload event nor a retry")
    if image is None:
        return None
    if not admission.take():
        if waiting is None:
            defer(image)
        else:
            waiting.append(image)
        return None
    return start(image)


def admit(waiting: list[ImagePointer], admission: Admission, until: float) -> None:
    """Start the waiting images in order as slots free up until `until`; queue the rest again."""
    for index, image in enumerate(waiting):
        if not admission.wait(until):
            for later in waiting[index:]:
                defer(later)
            return
        start(image)


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    admission = Admission(config.MAX_RUNNING_IMAGES.get())
    wait = config.ADMISSION_WAIT_SECONDS.get()
    waiting: list[ImagePointer] | None = [] if wait > 0 else None
    response = process_partial_response(
        event=event, record_handler=lambda record: dispatch(record, admission, waiting),
        processor=processor, context=context)
    if waiting:
        # an error here fails the whole batch: its messages come back, and recording them again is harmless
        budget = min(wait, context.get_remaining_time_in_millis() / 1000 - SPARE_SECONDS)
        admit(waiting, admission, time.monotonic() + budget)
    return response
