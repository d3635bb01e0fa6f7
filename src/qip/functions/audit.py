"""Audit: stores every event of the project's bus in the audit table, per image.

Fed by the bus's catch-all rule through the audit queue (durable: an event is never lost
while this function is busy or failing); failures are reported per message.
"""

from __future__ import annotations

import json
from functools import lru_cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from qip import aws, config
from qip.audit import AuditTrail
from qip.functions import runtime

processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=None)
def trail() -> AuditTrail:
    return AuditTrail(aws.table(runtime.required(config.AUDIT_TABLE_NAME)))


def store(record: SQSRecord) -> bool:
    return trail().record(json.loads(record.body), config.AUDIT_RETENTION_DAYS.get())


@runtime.logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=store, processor=processor, context=context)
