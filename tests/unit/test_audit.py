"""The audit function: a queue batch of bus events in one BatchWriteItem, failures per message."""

from __future__ import annotations

import json

import pytest

from qip.core import aws as qip_aws
from qip.core.audit_trail import AuditTrail
from qip.functions import audit
from tests.unit.mock_stack import LambdaContext, shared_client

AUDIT_TABLE = "qip-audit"


@pytest.fixture
def audit_table(aws, monkeypatch):
    shared_client("dynamodb").create_table(
        TableName=AUDIT_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "image_key", "AttributeType": "S"},
                              {"AttributeName": "event_at", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "image_key", "KeyType": "HASH"},
                   {"AttributeName": "event_at", "KeyType": "RANGE"}])
    monkeypatch.setenv("AUDIT_TABLE_NAME", AUDIT_TABLE)
    audit.trail.cache_clear()
    return AuditTrail(qip_aws.table(AUDIT_TABLE))


def _event(key: str, n: int) -> dict:
    return {"id": f"event-{n}", "source": "qip.pipeline", "detail-type": "Stage Started",
            "detail": {"image": {"bucket": "b", "key": key}, "timestamp": f"2026-12-01T10:00:{n:02d}.000Z"}}


def _record(message_id: str, body: str) -> dict:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs"}


def test_a_batch_is_stored_in_one_request_and_a_bad_message_is_reported_alone(audit_table, monkeypatch):
    calls = []
    client = audit.trail()._table.meta.client
    original = client.batch_write_item
    monkeypatch.setattr(client, "batch_write_item", lambda **kw: calls.append(kw) or original(**kw))
    events = [_event("a.jpg", n) for n in range(8)]
    records = [_record(f"m{n}", json.dumps(e)) for n, e in enumerate(events)]
    records.append(_record("m-dup", json.dumps(events[0])))  # the same event delivered twice
    records.append(_record("m-bad", "not json"))
    answer = audit.handler({"Records": records}, LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert len(calls) == 1
    assert [e["id"] for e in audit_table.history("a.jpg")] == [e["id"] for e in events]


def test_a_failed_write_reports_every_message_so_the_queue_delivers_them_again(audit_table, monkeypatch):
    def refuse(**kwargs):
        raise RuntimeError("DynamoDB is unavailable")

    monkeypatch.setattr(audit.trail()._table.meta.client, "batch_write_item", refuse)
    records = [_record(f"m{n}", json.dumps(_event("b.jpg", n))) for n in range(3)]
    answer = audit.handler({"Records": records}, LambdaContext())
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["m0", "m1", "m2"]


def test_a_warm_up_call_writes_nothing(audit_table):
    assert audit.handler({"warmup": True}, LambdaContext())["warm"] is True
    assert audit_table.history("a.jpg") == []


def test_an_audit_item_stays_under_one_write_unit_and_reads_back_whole():
    from qip.client.cost import item_bytes
    from qip.core.audit_trail import audit_item, stored_event

    event = _event("holiday/2026/a long key of a photo.jpg", 7) | {
        "resources": ["arn:aws:s3:::qip-uploadbucket-d87080f720b82/holiday/2026/a long key of a photo.jpg"],
        "detail": _event("holiday/2026/a long key of a photo.jpg", 7)["detail"] | {
            "result": {"uri": "s3://qip-archivebucket/images/holiday/2026/a long key of a photo.jpg/display.jpg",
                       "bytes": 612345, "width": 2048, "height": 1536, "format": "jpeg"}}}
    item = audit_item(event, 90)
    assert item_bytes(item) < 1024
    assert stored_event(item["event"]) == event
    assert stored_event(json.dumps(event)) == event  # items written before compression read back too
