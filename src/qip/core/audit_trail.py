"""The audit trail: every event on the project's bus, kept per image, readable in order.

The catch-all rule on the bus delivers to the audit queue; the audit function stores each
event here (one item per event, keyed by image key and time). The event itself is kept as
compressed JSON: an item then stays under 1 KB, one write unit instead of two (docs/cost.md).
`qip history KEY` reads it back. Items expire after `AUDIT_RETENTION_DAYS` (DynamoDB TTL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_boto3_dynamodb.service_resource import Table

import json
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

from boto3.dynamodb.conditions import Key

DAY_SECONDS = 86_400


def image_key_of(event: dict[str, Any]) -> str | None:
    """The image an EventBridge event is about: our own events and S3's upload events."""
    detail = event.get("detail") or {}
    if isinstance(detail.get("image"), dict):
        return str(detail["image"].get("key") or "") or None
    if event.get("source") == "aws.s3" and isinstance(detail.get("object"), dict):
        return str(detail["object"].get("key") or "") or None
    return None


def audit_item(event: dict[str, Any], retention_days: int) -> dict[str, Any] | None:
    """The stored form of one event; None for an event about no image."""
    key = image_key_of(event)
    if not key:
        return None
    at = (event.get("detail") or {}).get("timestamp") or event.get("time") or ""
    return {
        "image_key": key,
        "event_at": f"{at}#{event.get('id', '')}",
        "detail_type": event.get("detail-type", ""),
        "source": event.get("source", ""),
        "event": zlib.compress(json.dumps(event, default=str, separators=(",", ":")).encode()),
        "expires_at": int(time.time()) + retention_days * DAY_SECONDS,
    }


def stored_event(value: Any) -> dict[str, Any]:
    """The event as `audit_item` stored it: compressed JSON (or, in items written before, JSON text)."""
    if isinstance(value, str):
        loaded: dict[str, Any] = json.loads(value)
        return loaded
    raw = value.value if hasattr(value, "value") else bytes(value)  # boto3 gives Binary
    decoded: dict[str, Any] = json.loads(zlib.decompress(raw))
    return decoded


class AuditTrail:
    """Writes and reads the audit table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def record(self, event: dict[str, Any], retention_days: int) -> bool:
        item = audit_item(event, retention_days)
        if item is None:
            return False
        self._table.put_item(Item=item)  # idempotent: a redelivered event rewrites the same item
        return True

    def record_many(self, items: list[dict[str, Any]]) -> None:
        """Write audit items with BatchWriteItem (25 a request; unprocessed ones sent again).

        One request per queue batch instead of one per event: an image's ~13 events cost about
        two requests instead of 13 (the same write units). Idempotent like `record`; the same
        event twice in one batch is written once (a request may not name a key twice).
        """
        with self._table.batch_writer(overwrite_by_pkeys=["image_key", "event_at"]) as batch:
            for item in items:
                batch.put_item(Item=item)

    def history(self, key: str) -> list[dict[str, Any]]:
        """Every recorded event about the image, oldest first.

        S3's own upload events on AWS carry the key URL-encoded, so that spelling is read too.
        """
        items = [item for spelling in dict.fromkeys([key, quote_plus(key, safe="/")])
                 for item in self._items(spelling)]
        return [stored_event(item["event"]) for item in sorted(items, key=lambda i: i["event_at"])]

    def _items(self, key: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("image_key").eq(key)}
        while True:
            page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
