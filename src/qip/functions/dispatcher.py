"""Dispatcher: one Step Functions execution per queued upload, reported per message.

The execution name is derived from the upload and the attempt, so a message delivered twice
starts one execution: Step Functions refuses the second name.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from qip import aws, config, layout
from qip.functions import runtime

processor = BatchProcessor(event_type=EventType.SQS)


def start(record: SQSRecord) -> str:
    image = json.loads(record.body)["image"]
    name = layout.execution_name(image["bucket"], image["key"], image["sequencer"], int(image.get("attempt", 1)))
    sfn = aws.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=runtime.required(config.STATE_MACHINE_ARN), name=name,
                            input=json.dumps({"image": image}))
    except sfn.exceptions.ExecutionAlreadyExists:
        runtime.logger.info("execution exists; duplicate message", extra={"execution": name})
    return name


@runtime.logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=start, processor=processor, context=context)
