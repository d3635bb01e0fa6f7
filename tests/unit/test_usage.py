"""The raw counts behind `qip cost`: calls by operation, and DynamoDB's own consumed capacity."""

from __future__ import annotations

from qip.core import usage
from qip.core.store import Upload
from tests.unit.mock_stack import TABLE


def test_every_dynamodb_request_asks_for_its_consumed_capacity_and_it_is_counted_by_table_and_index(store):
    usage.take()
    upload = Upload("up", "a.jpg", 10, "image/jpeg", "e", "0A", "2026-12-04T10:00:00.000Z")
    assert store.record_upload(upload)
    store.get("a.jpg")
    taken = usage.take()
    assert taken["calls"] == {"dynamodb.PutItem": 1, "dynamodb.GetItem": 1}
    assert taken["units"][f"dynamodb.wcu.{TABLE}"] >= 1  # moto answers with the table's units
    assert taken["units"][f"dynamodb.rcu.{TABLE}"] > 0


class _Model:
    def __init__(self, name: str) -> None:
        self.name = name


def test_units_per_index_are_kept_apart_and_a_failed_condition_counts_one_write():
    usage.take()
    usage.consumed({"ConsumedCapacity": {"TableName": "meta", "CapacityUnits": 6.0, "Table": {"CapacityUnits": 3.0},
                                         "GlobalSecondaryIndexes": {"by-status": {"CapacityUnits": 2.0},
                                                                    "by-key": {"CapacityUnits": 1.0}}}},
                   _Model("UpdateItem"))
    usage.consumed({"ConsumedCapacity": [{"TableName": "audit", "CapacityUnits": 4.0}]}, _Model("BatchWriteItem"))
    usage.consumed({"ConsumedCapacity": {"TableName": "meta", "CapacityUnits": 0.5}}, _Model("Query"))
    usage.consumed({"Error": {"Code": "ConditionalCheckFailedException"}}, _Model("UpdateItem"),
                   context={"qip_table": "meta"})
    usage.consumed({"ConsumedCapacity": {"TableName": "meta", "CapacityUnits": 9.0}}, _Model("DescribeTable"))
    assert usage.take()["units"] == {"dynamodb.wcu.meta": 4.0, "dynamodb.wcu.meta/by-status": 2.0,
                                     "dynamodb.wcu.meta/by-key": 1.0, "dynamodb.wcu.audit": 4.0,
                                     "dynamodb.rcu.meta": 0.5}


def test_a_refused_conditional_write_through_the_store_is_counted(store):
    upload = Upload("up", "b.jpg", 10, "image/jpeg", "e", "0B", "2026-12-04T10:00:00.000Z")
    assert store.record_upload(upload)
    usage.take()
    assert not store.start_processing("b.jpg", "0C", "exec", 1)  # another upload's sequencer: refused
    assert usage.take()["units"][f"dynamodb.wcu.{TABLE}"] == 1


def test_the_bytes_put_to_s3_are_counted_whatever_botocore_made_of_the_body(aws):
    from qip.core import aws as qip_aws
    from qip.core import objects
    from tests.unit.mock_stack import UPLOAD_BUCKET

    usage.take()
    objects.write(qip_aws.client("s3"), UPLOAD_BUCKET, "k", b"x" * 1234, "image/jpeg")
    assert usage.take()["units"]["s3.put_bytes"] == 1234


class _SeekReturnsNothing:
    """A file-like body whose seek() returns None, as some wrappers' do."""

    def __init__(self, size: int) -> None:
        self.size, self.at = size, 0

    def tell(self) -> int:
        return self.at

    def seek(self, offset: int, whence: int = 0) -> None:
        self.at = self.size + offset if whence == 2 else offset


class _Unseekable:
    def tell(self) -> int:
        raise OSError("not seekable")


def test_a_body_s_size_is_read_without_moving_it_and_an_unseekable_one_counts_nothing():
    body = _SeekReturnsNothing(500)
    body.seek(7)
    assert usage._size(body) == 500 and body.at == 7
    assert usage._size(_Unseekable()) == 0
    assert usage._size(b"abc") == 3
