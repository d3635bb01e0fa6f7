"""`qip list --prefix` and the dashboard's prefix filter: the by-key index, whose cost follows the answer.

Every item DynamoDB sends back is recorded (a botocore hook on the store's own client), so the
tests see what a listing read, not only what it returned.
"""

from __future__ import annotations

import pytest

from qip.client import listing
from qip.client.pipeline import Pipeline
from qip.client.stack import StackInfo
from qip.core import aws as qip_aws
from qip.core.model import COMPLETED, UPLOADED
from qip.core.store import MetadataStore, Upload
from tests.dynamo_reads import Reads
from tests.unit.mock_stack import REGION, TABLE, UPLOAD_BUCKET


def put(store: MetadataStore, key: str, minute: int, status: str = UPLOADED) -> None:
    upload = Upload(bucket=UPLOAD_BUCKET, key=key, size=10, content_type="image/jpeg", etag="e", sequencer="01",
                    uploaded_at=f"2026-11-28T10:{minute:02}:00.000Z")
    assert store.record_upload(upload, status)


@pytest.fixture
def table(aws):
    store = MetadataStore(qip_aws.table(TABLE), UPLOAD_BUCKET)
    for minute in range(40):  # 40 records under other prefixes, some sorting before and after "holiday/"
        put(store, f"{'archive' if minute % 2 else 'work'}/{minute:02}.jpg", minute, COMPLETED)
    for minute in (5, 17, 33, 2, 21):
        put(store, f"holiday/2026/img-{minute:02}.jpg", minute)
    put(store, "holiday.jpg", 50)  # a key that shares the text "holiday" but not the prefix "holiday/"
    return store


def test_a_prefix_query_reads_no_record_outside_the_prefix(table):
    reads = Reads(table._table.meta.client)
    pages, token = [], None
    while True:
        page = listing.browse(table, listing.Query(prefix="holiday/"), limit=2, token=token)
        pages.append([item["image_key"] for item in page.items])
        token = page.next_token
        if not token:
            break
    assert pages == [["holiday/2026/img-33.jpg", "holiday/2026/img-21.jpg"],
                     ["holiday/2026/img-17.jpg", "holiday/2026/img-05.jpg"], ["holiday/2026/img-02.jpg"]]
    assert reads.keys and all(key.startswith("holiday/") for key in reads.keys), reads.keys
    assert set(reads.operations) == {("Query", "by-key"), ("BatchGetItem", None)}


def test_pipeline_list_and_page_use_the_same_index(table, monkeypatch):
    monkeypatch.setattr(qip_aws, "table", lambda *args, **kwargs: table._table)
    pipeline = Pipeline(StackInfo(None, REGION, UPLOAD_BUCKET, "archive", TABLE, "q", "dlq", "sm", "bus", "topic",
                                  "audit", "qip"))
    reads = Reads(table._table.meta.client)
    assert [view["key"] for view in pipeline.list(prefix="holiday/2026/", limit=3)] == [
        "holiday/2026/img-33.jpg", "holiday/2026/img-21.jpg", "holiday/2026/img-17.jpg"]
    first, token = pipeline.page(prefix="holiday/", limit=4)
    rest, end = pipeline.page(prefix="holiday/", limit=4, token=token)
    assert [v["key"] for v in first + rest] == [f"holiday/2026/img-{m:02}.jpg" for m in (33, 21, 17, 5, 2)]
    assert end is None
    assert all(key.startswith("holiday/") for key in reads.keys)


def test_the_index_entries_are_small_and_records_are_read_only_for_the_page(table):
    entries = list(table.keys_with_prefix("holiday/"))
    assert {frozenset(entry) for entry in entries} == {frozenset({"bucket", "image_key", "uploaded_at"})}
    reads = Reads(table._table.meta.client)
    page = listing.browse(table, listing.Query(prefix="holiday/"), limit=2)
    assert len(page.items) == 2 and "history" in page.items[0]  # full records for the page
    assert sorted(reads.items) == sorted([("Query", f"holiday/2026/img-{m:02}.jpg") for m in (2, 5, 17, 21, 33)]
                                         + [("BatchGetItem", f"holiday/2026/img-{m:02}.jpg") for m in (33, 21)])


def test_a_token_of_another_listing_is_refused(table):
    other = listing.browse(table, listing.Query(), limit=2).next_token
    with pytest.raises(listing.BadToken):
        listing.browse(table, listing.Query(prefix="holiday/"), limit=2, token=other)


def test_a_status_within_a_prefix_fills_its_pages_from_the_records(table):
    """The index keeps no status (a status change then rewrites no entry): the records say it, and a
    page of one status reads on past the records of others until it is full."""
    for minute in (40, 41, 42):
        put(table, f"holiday/2026/done-{minute}.jpg", minute, COMPLETED)
    query = listing.Query(prefix="holiday/", status=COMPLETED)
    first = listing.browse(table, query, limit=2)
    assert [item["image_key"] for item in first.items] == ["holiday/2026/done-42.jpg", "holiday/2026/done-41.jpg"]
    rest = listing.browse(table, query, limit=2, token=first.next_token)
    assert [item["image_key"] for item in rest.items] == ["holiday/2026/done-40.jpg"]
    assert rest.next_token is None  # it read on to the prefix's end for a second match, and found none
    assert [r["image_key"] for r in listing.records(table, listing.Query(prefix="holiday/2026/img", status=UPLOADED))
            ] == [f"holiday/2026/img-{m:02}.jpg" for m in (33, 21, 17, 5, 2)]
