"""The dashboard's own logic without a browser: paging across indexes, overview numbers, chart
geometry and the detail view (qip.dashboard), on the moto store where a store is needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qip.client import listing
from qip.core import aws as qip_aws
from qip.core.model import COMPLETED, REJECTED, STEPS, UPLOADED, Rejection
from qip.core.store import MetadataStore, Upload
from qip.dashboard import charts, present, stats
from tests.unit.mock_stack import TABLE, UPLOAD_BUCKET


def put(store, key: str, uploaded_at: str, status: str = UPLOADED) -> None:
    upload = Upload(bucket="qip-uploads", key=key, size=10, content_type="image/jpeg", etag="e",
                    sequencer="01", uploaded_at=uploaded_at)
    assert store.record_upload(upload, status, Rejection("x", "y") if status == REJECTED else None)


def every_page(store, query: listing.Query, limit: int, scan: int = 1000) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = listing.browse(store, query, limit, token, scan=scan)
        pages.append([item["image_key"] for item in page.items])
        token = page.next_token
        if not token:
            return pages


@pytest.fixture
def many(aws, monkeypatch):
    """23 records over two statuses and two days, with small store pages so tokens are exercised."""
    store = MetadataStore(qip_aws.table(TABLE), UPLOAD_BUCKET)  # the operator's store, as Pipeline makes it
    monkeypatch.setattr(listing, "STORE_PAGE", 4)
    for i in range(23):
        day = "2026-11-27" if i < 8 else "2026-11-28"
        put(store, f"{'a' if i % 3 else 'b'}/img-{i:02}.jpg", f"{day}T10:{i:02}:00.000Z",
            REJECTED if i % 4 == 0 else UPLOADED)
    return store


def test_all_statuses_page_newest_first_without_gaps_or_repeats(many):
    pages = every_page(many, listing.Query(), limit=5)
    keys = [key for page in pages for key in page]
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert keys == [f"{'a' if i % 3 else 'b'}/img-{i:02}.jpg" for i in reversed(range(23))]


def test_status_date_and_prefix_filters_combine(many):
    rejected = [k for page in every_page(many, listing.Query(status=REJECTED), 2) for k in page]
    assert rejected == [f"{'a' if i % 3 else 'b'}/img-{i:02}.jpg" for i in (20, 16, 12, 8, 4, 0)]
    day = [k for page in every_page(many, listing.Query(date="2026-11-27", status=UPLOADED), 3) for k in page]
    assert day == [f"{'a' if i % 3 else 'b'}/img-{i:02}.jpg" for i in (7, 6, 5, 3, 2, 1)]
    prefixed = [k for page in every_page(many, listing.Query(prefix="b/"), 3) for k in page]
    assert prefixed == [f"b/img-{i:02}.jpg" for i in (21, 18, 15, 12, 9, 6, 3, 0)]


def test_a_prefix_pages_newest_first_with_the_other_filters(many):
    pages = every_page(many, listing.Query(prefix="b/"), limit=3)
    assert [len(page) for page in pages] == [3, 3, 2]
    uploaded = [k for page in every_page(many, listing.Query(prefix="b/", status=UPLOADED), 2) for k in page]
    assert uploaded == [f"b/img-{i:02}.jpg" for i in (21, 18, 15, 9, 6, 3)]
    day = [k for page in every_page(many, listing.Query(prefix="b/", date="2026-11-27"), 2) for k in page]
    assert day == [f"b/img-{i:02}.jpg" for i in (6, 3, 0)]
    assert every_page(many, listing.Query(prefix="b/img-00"), limit=5) == [["b/img-00.jpg"]]
    assert every_page(many, listing.Query(prefix="c/"), limit=5) == [[]]


def test_a_forged_token_is_refused(many):
    with pytest.raises(listing.BadToken):
        listing.browse(many, listing.Query(), 5, "bm90LWEtdG9rZW4=")


def record(stage_ms: list[int], started: str, completed: str, status: str = COMPLETED) -> dict:
    return {"status": status, "started_at": started, "completed_at": completed,
            "stages": {name: {"duration_ms": ms} for name, ms in zip(STEPS, stage_ms, strict=False)}}


def test_latency_percentiles_per_stage_and_end_to_end():
    records = [record([i, 10 * i, 100, 5, 1], "2026-11-28T10:00:00.000Z", f"2026-11-28T10:00:0{i}.000Z")
               for i in range(1, 11)]
    per_stage, end_to_end = stats.latencies(records)
    assert [(s.name, s.p50, s.p95, s.count) for s in per_stage[:2]] == [("validate", 5, 10, 10),
                                                                         ("extract_metadata", 50, 100, 10)]
    assert end_to_end.count == 9  # "10:00:010" is no timestamp: that run is left out, not guessed
    assert stats.percentile([], 50) is None and stats.percentile([7], 95) == 7


def test_throughput_counts_finished_images_per_minute_by_outcome():
    now = datetime(2026, 11, 28, 10, 30, 20, tzinfo=UTC)
    records = [record([], "", "2026-11-28T10:30:05.000Z"), record([], "", "2026-11-28T10:29:59.000Z"),
               {"status": REJECTED, "updated_at": "2026-11-28T10:30:01.000Z"},
               record([], "", "2026-11-28T09:00:00.000Z"), {"status": UPLOADED, "updated_at": "2026-11-28T10:30:00Z"}]
    minutes = stats.throughput(records, now, minutes=30)
    assert len(minutes) == 30 and minutes[-1].start == datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    assert (minutes[-1].completed, minutes[-1].rejected, minutes[-2].completed) == (1, 1, 1)
    assert sum(m.total for m in minutes) == 3


def test_charts_scale_to_a_round_maximum_and_stack_bars():
    assert [charts.nice_ceiling(v) for v in (0, 3, 7, 12, 480)] == [1, 5, 10, 20, 500]
    minute = stats.Minute(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), completed=3, rejected=1)
    chart = charts.throughput_chart([minute])
    completed, rejected = chart.rects
    assert completed.y + completed.height == pytest.approx(chart.plot[3])  # on the axis
    assert rejected.y + rejected.height == pytest.approx(completed.y)  # stacked on top
    assert completed.height == pytest.approx(3 * rejected.height, rel=0.01)
    latency = charts.latency_chart([stats.Latency("resize", 100, 400, 3)])
    p95, p50 = latency.rects
    assert p95.width == pytest.approx(4 * p50.width) and latency.notes[0].label == "100 ms / 400 ms"
    assert [charts.format_ms(v) for v in (None, 840, 1340, 125_000)] == ["\u2014", "840 ms", "1.3 s", "2 min 5 s"]


def test_detail_orders_outputs_and_places_stages_on_one_axis():
    outputs = {"display": "s3://arch/images/k/display.jpg", "original": "s3://arch/images/k/original",
               "thumbnails": ["s3://arch/images/k/thumb-128.webp", "s3://arch/images/k/thumb-512.webp"],
               "dimensions": {"width": 800, "height": 600}, "manifest": "s3://arch/images/k/manifest.json"}
    stages = {"validate": {"started_at": "2026-11-28T10:00:00.000Z", "completed_at": "2026-11-28T10:00:01.000Z",
                           "duration_ms": 1000, "attempt": 1},
              "archive": {"started_at": "2026-11-28T10:00:03.000Z", "completed_at": "2026-11-28T10:00:04.000Z",
                          "duration_ms": 1000, "attempt": 2}}
    metadata = {"format": "heif", "width": 800, "height": 600,
                "exif": {"make": "Cam", "model": None, "has_gps": True, "gps": {"latitude": 1.5, "longitude": 2}}}
    links = present.Links(lambda uri, expires: f"https://signed/{uri.rsplit('/', 1)[-1]}?e={expires}", relay=True)
    view = present.detail({"image_key": "k", "status": COMPLETED, "outputs": outputs, "stages": stages,
                           "metadata": metadata}, links)
    assert [o.name for o in view.outputs] == ["display.jpg", "thumb-512.webp", "thumb-128.webp", "original"]
    assert view.outputs[-1].viewable is False  # HEIF: a download link, not a broken <img>
    assert view.outputs[0].url == "/relay?url=https%3A%2F%2Fsigned%2Fdisplay.jpg%3Fe%3D600"
    assert [s.name for s in view.stages] == list(STEPS)
    assert (view.stages[0].offset_pct, view.stages[0].width_pct) == (0, 25)
    assert (view.stages[-1].offset_pct, view.stages[-1].width_pct, view.stages[-1].done) == (75, 25, True)
    assert not view.stages[1].done and view.stages[1].duration == "\u2014"
    assert view.exif == [("Camera make", "Cam")] and view.gps == {"latitude": 1.5, "longitude": 2}
    assert present.thumbnail_uri({"outputs": outputs}).endswith("thumb-128.webp")


def test_presigned_links_are_reused_until_they_near_expiry(monkeypatch):
    made = []
    links = present.Links(lambda uri, expires: made.append(uri) or f"url-{len(made)}")
    clock = iter([0.0, 100.0, 400.0])
    monkeypatch.setattr(present.time, "monotonic", lambda: next(clock))
    assert [links.url("s3://b/k"), links.url("s3://b/k"), links.url("s3://b/k")] == ["url-1", "url-1", "url-2"]
