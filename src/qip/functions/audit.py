"""Audit: stores every event of the project's bus in the audit table, per image.

Fed by the bus's catch-all rule through the audit queue (durable: an event is never lost
while this function is busy or failing); failures are reported per message.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import aws, config
from qip.core.audit_trail import AuditTrail
from qip.functions import runtime

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def trail() -> AuditTrail:
    return AuditTrail(aws.table(runtime.required(config.AUDIT_TABLE_NAME)))


def store(record: SQSRecord) -> bool:
    return trail().record(json.loads(record.body), config.AUDIT_RETENTION_DAYS.get())


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=store, processor=processor, context=context)
