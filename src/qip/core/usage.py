"""What this process asked of AWS, counted as it happens: the raw counts behind `qip cost`.

Every client made by `qip.core.aws` counts its calls by service and operation, and the billing
units that depend on the request (EventBridge entries and SNS/SQS messages in 64 KB chunks,
bytes put to S3). DynamoDB says itself what a request cost: every read and write asks for its
consumed capacity (`ReturnConsumedCapacity=INDEXES`, which AWS and the local engine both answer
by DynamoDB's rules: the larger of the item's old and new size, each index entry written, moved
or left alone), and those units are counted per table and per index. `take()` hands the counts
over and starts again: the handler frame writes them in its closing line on the local engine,
once per call.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

CHUNK = 64 * 1024  # EventBridge, SNS and SQS bill each 64 KB of a request as one
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_calls: Counter[str] = Counter()
_units: defaultdict[str, float] = defaultdict(float)


def _chunks(text: Any) -> int:
    size = len(text.encode() if isinstance(text, str) else (text or b""))
    return max(1, math.ceil(size / CHUNK))


def _size(body: Any) -> int:
    """A request body's bytes: botocore has often made bytes into a file-like object by now."""
    if isinstance(body, bytes | str):
        return len(body)
    try:
        at = body.tell()
        body.seek(0, 2)  # not every file-like object's seek returns the position: ask tell()
        size = int(body.tell())
        body.seek(at)
    except (AttributeError, OSError, TypeError, ValueError):  # not seekable: a stream of unknown length
        return 0
    return size


def count(params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore's `before-parameter-build` hook: one API call, with its billing units."""
    service, name = model.service_model.service_name, model.name
    operation = f"{service}.{name}"
    _calls[operation] += 1
    if operation == "events.PutEvents":
        _units["events.entries_64kb"] += sum(_chunks(json.dumps(entry, default=str)) for entry in params["Entries"])
    elif operation == "sns.Publish":
        _units["sns.publish_64kb"] += _chunks(params.get("Message", ""))
    elif operation == "sqs.SendMessage":
        _units["sqs.requests_64kb"] += _chunks(params.get("MessageBody", ""))
    elif operation == "s3.PutObject":
        _units["s3.put_bytes"] += _size(params.get("Body", b""))
    elif service == "dynamodb" and (name in DYNAMODB_WRITES or name in DYNAMODB_READS):
        params.setdefault("ReturnConsumedCapacity", "INDEXES")
        if context is not None:
            context["qip_table"] = params.get("TableName", "?")


def consumed(parsed: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore's `after-call.dynamodb` hook: the capacity DynamoDB says the request consumed.

    Counted as `dynamodb.wcu.<table>` and `dynamodb.wcu.<table>/<index>` for writes (`rcu` for
    reads). A conditional write whose condition failed consumes write units too, but its error
    carries no figure: it is counted as one unit, the least it costs.
    """
    name = model.name
    kind = "wcu" if name in DYNAMODB_WRITES else "rcu" if name in DYNAMODB_READS else None
    if kind is None:
        return
    if parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
        _units[f"dynamodb.wcu.{(context or {}).get('qip_table', '?')}"] += 1
        return
    found = parsed.get("ConsumedCapacity")
    for entry in found if isinstance(found, list) else [found] if found else []:
        table = entry.get("TableName", "?")
        indexes = entry.get("GlobalSecondaryIndexes") or {}
        if "Table" in entry or indexes:
            _units[f"dynamodb.{kind}.{table}"] += float((entry.get("Table") or {}).get("CapacityUnits", 0))
            for index, used in indexes.items():
                _units[f"dynamodb.{kind}.{table}/{index}"] += float(used.get("CapacityUnits", 0))
        else:
            _units[f"dynamodb.{kind}.{table}"] += float(entry.get("CapacityUnits", 0))


def track(events: Any) -> None:
    """Count every call of a client (its `meta.events`)."""
    events.register("before-parameter-build", count)
    events.register("after-call.dynamodb", consumed)


def take() -> dict[str, Mapping[str, float]]:
    """The counts since the last take, and zero again."""
    taken: dict[str, Mapping[str, float]] = {"calls": dict(_calls), "units": dict(_units)}
    _calls.clear()
    _units.clear()
    return taken
