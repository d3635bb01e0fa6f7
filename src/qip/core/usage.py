"""What this process asked of AWS, counted as it happens: the raw counts behind `qip cost`.

Every client made by `qip.core.aws` counts its calls by service and operation, and the billing
units that depend on the request (EventBridge entries and SNS/SQS messages in 64 KB chunks,
bytes put to S3, items written per DynamoDB table). `take()` hands the counts over and starts
again: the handler frame writes them in its closing line on the local engine, once per call.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

CHUNK = 64 * 1024  # EventBridge, SNS and SQS bill each 64 KB of a request as one
_calls: Counter[str] = Counter()
_units: Counter[str] = Counter()


def _chunks(text: Any) -> int:
    size = len(text.encode() if isinstance(text, str) else (text or b""))
    return max(1, math.ceil(size / CHUNK))


def count(params: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore's `before-parameter-build` hook: one API call, with its billing units."""
    operation = f"{model.service_model.service_name}.{model.name}"
    _calls[operation] += 1
    if operation == "events.PutEvents":
        _units["events.entries_64kb"] += sum(_chunks(json.dumps(entry, default=str)) for entry in params["Entries"])
    elif operation == "sns.Publish":
        _units["sns.publish_64kb"] += _chunks(params.get("Message", ""))
    elif operation == "sqs.SendMessage":
        _units["sqs.requests_64kb"] += _chunks(params.get("MessageBody", ""))
    elif operation == "s3.PutObject":
        body = params.get("Body", b"")
        _units["s3.put_bytes"] += len(body) if isinstance(body, bytes | str) else 0
    elif operation == "dynamodb.BatchWriteItem":
        for table, requests in params.get("RequestItems", {}).items():
            _units[f"dynamodb.items_written.{table}"] += len(requests)
    elif operation in ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem"):
        _units[f"dynamodb.items_written.{params.get('TableName', '')}"] += 1
    elif operation == "dynamodb.GetItem":
        _units[f"dynamodb.items_read.{params.get('TableName', '')}"] += 1


def track(events: Any) -> None:
    """Count every call of a client (its `meta.events`)."""
    events.register("before-parameter-build", count)


def take() -> dict[str, dict[str, int]]:
    """The counts since the last take, and zero again."""
    taken = {"calls": dict(_calls), "units": dict(_units)}
    _calls.clear()
    _units.clear()
    return taken
