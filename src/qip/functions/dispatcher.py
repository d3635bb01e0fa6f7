"""Dispatcher: consumes the processing queue, one message at a time, failures reported per message.

A message is either an upload event that EventBridge put on the queue (ingest records it and
judges it) or a pipeline retry the tracker queued. Each image gets one Step Functions execution:
its name is derived from the upload and the attempt, so a message delivered twice starts one.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from qip import aws, config, layout
from qip.functions import runtime
from qip.functions.ingest import ingest

processor = BatchProcessor(event_type=EventType.SQS)


class UnknownMessageError(ValueError):
    """A queue message that is neither an upload event nor a retry; it ends in the DLQ."""


def start(image: dict) -> str:
    """Start the pipeline for an image pointer; a repeated start of the same run is a no-op."""
    name = layout.execution_name(image["bucket"], image["key"], image["sequencer"], int(image.get("attempt", 1)))
    sfn = aws.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=runtime.required(config.STATE_MACHINE_ARN), name=name,
                            input=json.dumps({"image": image}))
    except sfn.exceptions.ExecutionAlreadyExists:
        runtime.logger.info("execution exists; duplicate message", extra={"execution": name})
    return name


def dispatch(record: SQSRecord) -> str | None:
    body = json.loads(record.body)
    if body.get("source") == "aws.s3" and "detail" in body:
        image = ingest(S3EventBridgeNotificationEvent(body))
    elif isinstance(body.get("image"), dict):
        image = body["image"]  # a pipeline retry
    else:
        raise UnknownMessageError(f"message {record.message_id} is neither an upload event nor a retry")
    return start(image) if image else None


@runtime.logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=dispatch, processor=processor, context=context)
