"""The five step functions end to end through moto S3 and DynamoDB, fed as the state machine feeds them."""

from __future__ import annotations

import copy
import hashlib
import io
import json

import pytest
from PIL import Image

from qip.client.views import public_view
from qip.core import layout
from qip.core.model import COMPLETED, PROCESSING, REJECTED
from qip.core.store import Upload
from qip.functions import archive, extract_metadata, outputs, resize, thumbnails, tracker, validate
from tests import imaging_corpus as corpus
from tests.unit.mock_stack import ARCHIVE_BUCKET, UPLOAD_BUCKET

KEY = "holiday/2026/my photo+1.jpg"  # the sample events' image


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return corpus.make_jpeg(800, 600)


@pytest.fixture(scope="module")
def bad_images() -> dict[str, tuple[bytes, str]]:
    return corpus.bad_images()


GOOD = {  # small accepted images of each kind, and their displayed size
    "jpeg": (lambda: corpus.make_jpeg(96, 64), (96, 64)),
    "png_alpha": (corpus.make_png_alpha, (64, 48)),
    "webp": (lambda: corpus.save(corpus.photo(64, 48), "WEBP", quality=80), (64, 48)),
    "gif_animated": (lambda: corpus.make_animated("GIF"), (48, 32)),
    "jpeg_orientation_6": (lambda: corpus.make_oriented_jpeg(6), None),  # size: as displayed, see the test
}


@pytest.fixture
def uploaded(aws, store, sample_event):
    """Put `data` at the sample key and make its record PROCESSING for the sample execution."""

    def put(data: bytes, content_type: str = "image/jpeg") -> dict:
        etag = aws.put_upload(KEY, data, content_type)
        image = {**sample_event("step_validate")["image"], "etag": etag, "size": len(data),
                 "content_type": content_type}
        execution = sample_event("step_validate")["context"]["execution"]
        assert store.record_upload(Upload(bucket=UPLOAD_BUCKET, key=KEY, size=len(data), content_type=content_type,
                                          etag=etag, sequencer=image["sequencer"],
                                          uploaded_at="2026-11-28T15:00:00.000Z"))
        assert store.start_processing(KEY, image["sequencer"], execution, 1)
        return image

    return put


def step_input(sample_event, name: str, image: dict, **extras) -> dict:
    event = copy.deepcopy(sample_event(f"step_{name}"))
    event["image"] = image
    event.update(extras)
    return event


def read_archive(aws, key: str) -> tuple[bytes, str]:
    obj = aws.s3.get_object(Bucket=ARCHIVE_BUCKET, Key=key)
    return obj["Body"].read(), obj["ContentType"]


# ---------------------------------------------------------------------- validate
@pytest.mark.parametrize("name", sorted(GOOD))
def test_validate_accepts_images(aws, store, sample_event, lambda_context, uploaded, name):
    make, size = GOOD[name]
    data = make()
    image = uploaded(data)
    result = validate.handler(step_input(sample_event, "validate", image), lambda_context)
    assert result["verdict"] == "accepted"
    expected = size or Image.open(io.BytesIO(corpus.make_oriented_jpeg(1))).size  # displayed = upright size
    assert (result["width"], result["height"]) == expected
    assert result["byte_size"] == len(data)
    stage = store.get(KEY)["stages"]["validate"]
    assert stage["completed_at"] >= stage["started_at"]


@pytest.mark.parametrize("name", ["truncated_jpeg", "corrupt_png", "png_header_60000x60000", "text_named_jpg",
                                  "svg_with_script"])
def test_validate_rejects_invalid_images_as_a_verdict(aws, store, sample_event, lambda_context, uploaded, name,
                                                       bad_images):
    data, reason_code = bad_images[name]
    image = uploaded(data)
    result = validate.handler(step_input(sample_event, "validate", image), lambda_context)
    assert result["verdict"] == "rejected"
    assert result["reason_code"] == reason_code
    assert result["reason"]
    record = store.get(KEY)
    assert record["status"] == PROCESSING and "validate" in record["stages"]  # a verdict, not an error
    assert "last_error" not in record


def test_validate_respects_the_byte_limit(aws, sample_event, lambda_context, uploaded, monkeypatch):
    data = corpus.make_jpeg(96, 64)
    monkeypatch.setenv("MAX_BYTES", str(len(data) - 1))
    result = validate.handler(step_input(sample_event, "validate", uploaded(data)), lambda_context)
    assert result == {"verdict": "rejected", "reason_code": "too_many_bytes", "reason": result["reason"]}


def test_rejected_verdict_then_tracker_gives_a_rejected_record(aws, store, sample_event, lambda_context, uploaded,
                                                               bad_images):
    data, _ = bad_images["truncated_jpeg"]
    image = uploaded(data)
    verdict = validate.handler(step_input(sample_event, "validate", image), lambda_context)
    mark = {**copy.deepcopy(sample_event("tracker_rejected")), "image": image, "validation": verdict}
    tracker.handler(mark, lambda_context)
    view = public_view(store.get(KEY))
    assert view["status"] == REJECTED and view["reason_code"] == "truncated"


def test_a_corrupt_avif_is_a_rejected_verdict_not_a_retried_error(aws, store, sample_event, lambda_context,
                                                                  uploaded):
    image = uploaded(corpus.make_avif_with_damaged_pixels(), "image/avif")
    result = validate.handler(step_input(sample_event, "validate", image), lambda_context)
    assert result["verdict"] == "rejected" and result["reason_code"] == "corrupt"
    assert "Failed to decode frame 0" in result["reason"]
    assert "last_error" not in store.get(KEY)


def test_running_out_of_memory_while_decoding_is_a_transient_error_the_state_machine_retries(
        aws, store, sample_event, lambda_context, uploaded, monkeypatch):
    from PIL import AvifImagePlugin

    from qip.core.errors import TransientError

    def load(self):
        raise MemoryError

    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", load)
    image = uploaded(corpus.save(corpus.photo(64, 48), "AVIF", quality=70), "image/avif")
    with pytest.raises(TransientError, match="out of memory decoding AVIF"):
        validate.handler(step_input(sample_event, "validate", image), lambda_context)
    error = store.get(KEY)["last_error"]
    assert error["stage"] == "validate" and error["retryable"] is True


# ---------------------------------------------------------------------- extract_metadata
def test_extract_metadata_hands_the_metadata_on_and_announces_a_summary(aws, store, sample_event, lambda_context,
                                                                        uploaded):
    data = corpus.make_gps_jpeg()
    image = uploaded(data)
    metadata = extract_metadata.handler(step_input(sample_event, "extract_metadata", image), lambda_context)
    assert metadata["format"] == "jpeg" and metadata["frame_count"] == 1
    assert metadata["width"] > 0 and metadata["height"] > 0
    assert len(metadata["sha256"]) == 64 and metadata["blurhash"]
    assert metadata["exif"]["has_gps"]  # the whole of it, EXIF and all, for the archive step
    assert len(json.dumps(metadata)) < 4096  # EXIF texts are capped: far under Step Functions' 256 KB
    # the record stays small (under 1 KB) until the archive step: each write bills one unit, not two
    assert "metadata" not in store.get(KEY)
    [succeeded] = [e for e in aws.bus_events() if e["detail-type"] == "Stage Succeeded"]
    assert succeeded["detail"]["result"] == {name: metadata[name] for name in extract_metadata.SUMMARY_FIELDS}


def test_extract_metadata_counts_frames(aws, store, sample_event, lambda_context, uploaded):
    image = uploaded(corpus.make_animated("GIF", frames=4), "image/gif")
    result = extract_metadata.handler(step_input(sample_event, "extract_metadata", image), lambda_context)
    assert result["frame_count"] == 4


# ---------------------------------------------------------------------- resize, thumbnails, archive
def test_resize_writes_the_display_image_to_the_archive(aws, sample_event, lambda_context, uploaded, monkeypatch):
    monkeypatch.setenv("MAX_SIDE", "64")
    image = uploaded(corpus.make_jpeg(200, 100))
    made = resize.handler(step_input(sample_event, "resize", image), lambda_context)
    [result] = made["items"]  # the default rule: one large rendition, display, in JPEG
    key = layout.archive_key(KEY, "display.jpg")
    assert key == "images/holiday/2026/my photo+1.jpg/display.jpg"
    assert made["source"] is None  # 64 px is too small to make thumb-512 from: the thumbnails read the upload
    assert result["bucket"] == ARCHIVE_BUCKET and result["key"] == key
    assert result["rendition"] == "display" and result["version_id"]
    assert result["uri"] == f"s3://{ARCHIVE_BUCKET}/{key}"
    assert (result["width"], result["height"]) == (64, 32)
    data, content_type = read_archive(aws, key)
    assert content_type == "image/jpeg" and result["bytes"] == len(data)
    with Image.open(io.BytesIO(data)) as display:
        assert display.format == "JPEG" and display.size == (64, 32)
    assert aws.s3.list_objects_v2(Bucket=UPLOAD_BUCKET)["KeyCount"] == 1  # nothing written where uploads land


def test_resize_applies_exif_orientation(aws, sample_event, lambda_context, uploaded):
    data = corpus.make_oriented_jpeg(6)
    stored = Image.open(io.BytesIO(data)).size
    result = resize.handler(step_input(sample_event, "resize", uploaded(data)), lambda_context)["items"][0]
    with Image.open(io.BytesIO(read_archive(aws, result["key"])[0])) as display:
        assert display.size == (stored[1], stored[0])
        assert not display.getexif().get(0x0112)


def test_thumbnails_are_written_for_each_size(aws, sample_event, lambda_context, uploaded, big_jpeg):
    image = uploaded(big_jpeg)
    display = resize.handler(step_input(sample_event, "resize", image), lambda_context)
    assert display["source"] == {"bucket": ARCHIVE_BUCKET, "key": layout.archive_key(KEY, "display.jpg")}
    result = thumbnails.handler(step_input(sample_event, "thumbnails", image, display=display), lambda_context)
    assert [item["key"] for item in result["items"]] == [
        layout.archive_key(KEY, f"thumb-{size}.webp") for size in (512, 256, 128)]
    for item, size in zip(result["items"], (512, 256, 128), strict=True):
        data, content_type = read_archive(aws, item["key"])
        assert content_type == "image/webp"
        with Image.open(io.BytesIO(data)) as thumb:
            assert thumb.format == "WEBP"
            assert max(thumb.size) == size
            assert thumb.size == (size, size * 3 // 4)
        assert (item["width"], item["height"]) == thumb.size


def test_archive_copies_the_original_and_writes_the_manifest(aws, store, sample_event, lambda_context, uploaded,
                                                              big_jpeg):
    image = uploaded(big_jpeg)
    execution = sample_event("step_archive")["context"]["execution"]
    metadata = extract_metadata.handler(step_input(sample_event, "extract_metadata", image), lambda_context)
    display = resize.handler(step_input(sample_event, "resize", image), lambda_context)
    thumbs = thumbnails.handler(step_input(sample_event, "thumbnails", image, display=display), lambda_context)
    result = archive.handler(step_input(sample_event, "archive", image, display=display, thumbnails=thumbs,
                                        metadata=metadata), lambda_context)

    original, _ = read_archive(aws, layout.archive_key(KEY, "original"))
    assert original == big_jpeg
    raw, content_type = read_archive(aws, layout.archive_key(KEY, "manifest.json"))
    manifest = json.loads(raw)
    assert content_type == "application/json"
    assert manifest["version"] == archive.MANIFEST_VERSION
    assert manifest["image"] == {"bucket": UPLOAD_BUCKET, "key": KEY, "etag": image["etag"]}
    assert manifest["execution"] == execution
    assert manifest["metadata"] == metadata
    assert store.get(KEY)["metadata"] == metadata  # the archive step keeps it in the record too
    assert manifest["original"] == {"uri": f"s3://{ARCHIVE_BUCKET}/images/{KEY}/original", "bytes": len(big_jpeg),
                                    "content_type": "image/jpeg"}
    assert manifest["display"] == display["items"][0]
    assert [t["key"] for t in manifest["thumbnails"]] == [t["key"] for t in thumbs["items"]]
    assert [(o["rendition"], o["format"]) for o in manifest["outputs"]] == [
        ("display", "jpeg"), ("thumb-512", "webp"), ("thumb-256", "webp"), ("thumb-128", "webp")]
    assert manifest["renditions_version"] == outputs.renditions().version
    assert manifest["renditions"] == outputs.renditions().digests(KEY)
    for output in manifest["outputs"]:  # every output listed exists, at its size, with its checksum
        data, _ = read_archive(aws, output["key"])
        assert len(data) == output["bytes"] and hashlib.sha256(data).hexdigest() == output["sha256"]

    assert {name: result[name] for name in ("original", "display", "thumbnails", "manifest", "dimensions")} == {
        "original": f"s3://{ARCHIVE_BUCKET}/images/{KEY}/original",
        "display": display["items"][0]["uri"],
        "thumbnails": [t["uri"] for t in thumbs["items"]],
        "manifest": f"s3://{ARCHIVE_BUCKET}/images/{KEY}/manifest.json",
        "dimensions": {"width": 800, "height": 600},
    }
    assert result["renditions_version"] == manifest["renditions_version"]
    assert result["renditions"] == manifest["renditions"]


def test_whole_pipeline_through_the_handlers(aws, store, sample_event, lambda_context, big_jpeg):
    """What the state machine does, step by step: the record ends COMPLETED with every stage and output."""
    etag = aws.put_upload(KEY, big_jpeg)
    image = {**sample_event("tracker_started")["image"], "etag": etag, "size": len(big_jpeg)}
    assert store.record_upload(Upload(bucket=UPLOAD_BUCKET, key=KEY, size=len(big_jpeg), content_type="image/jpeg",
                                      etag=etag, sequencer=image["sequencer"], uploaded_at="2026-11-28T15:00:00.000Z"))
    state = {"image": image}
    assert tracker.handler({**sample_event("tracker_started"), "image": image}, lambda_context)["proceed"]
    state["validation"] = validate.handler(step_input(sample_event, "validate", image), lambda_context)
    assert state["validation"]["verdict"] == "accepted"
    state["metadata"] = extract_metadata.handler(step_input(sample_event, "extract_metadata", image), lambda_context)
    state["display"] = resize.handler(step_input(sample_event, "resize", image), lambda_context)
    state["thumbnails"] = thumbnails.handler(step_input(sample_event, "thumbnails", image, display=state["display"]),
                                             lambda_context)
    state["archive"] = archive.handler(step_input(sample_event, "archive", image, display=state["display"],
                                                  thumbnails=state["thumbnails"], metadata=state["metadata"]),
                                       lambda_context)
    assert len(json.dumps(state)) < 256 * 1024 // 8  # pointers, never pixels
    tracker.handler({**sample_event("tracker_completed"), "image": image, "archive": state["archive"]},
                    lambda_context)

    record = store.get(KEY)
    assert record["status"] == COMPLETED
    assert set(record["stages"]) == {"validate", "extract_metadata", "resize", "thumbnails", "archive"}
    view = public_view(record)
    assert view["outputs"][0] == state["archive"]["original"] and len(view["outputs"]) == 5
    assert view["manifest"] == state["archive"]["manifest"]
    assert (view["width"], view["height"]) == (800, 600)
    kinds = [event["detail-type"] for event in aws.bus_events()]
    assert kinds[0] == "Pipeline Started" and kinds[-1] == "Pipeline Completed"
    assert kinds.count("Stage Succeeded") == 5
    subjects = [note["subject"] for note in aws.notifications()]
    assert subjects == [f"{stage} done: {KEY}" for stage in
                        ("validate", "extract_metadata", "resize", "thumbnails", "archive")] + [f"Completed: {KEY}"]


def test_step_on_a_missing_upload_fails_and_records_the_error(aws, store, sample_event, lambda_context, uploaded):
    from botocore.exceptions import ClientError

    image = uploaded(corpus.make_jpeg(32, 32))
    aws.s3.delete_object(Bucket=UPLOAD_BUCKET, Key=KEY)
    with pytest.raises(ClientError):
        resize.handler(step_input(sample_event, "resize", image), lambda_context)
    error = store.get(KEY)["last_error"]
    assert error["stage"] == "resize" and error["retryable"] is False


def test_archive_tags_the_original_for_the_lifecycle_rule_and_nothing_else(aws, sample_event, lambda_context, uploaded,
                                                                           big_jpeg):
    from tests.unit.mock_stack import shared_client

    image = uploaded(big_jpeg)
    display = resize.handler(step_input(sample_event, "resize", image), lambda_context)
    thumbs = thumbnails.handler(step_input(sample_event, "thumbnails", image, display=display), lambda_context)
    archive.handler(step_input(sample_event, "archive", image, display=display, thumbnails=thumbs, metadata={}),
                    lambda_context)
    s3 = shared_client("s3")
    listed = s3.list_objects_v2(Bucket=ARCHIVE_BUCKET, Prefix=layout.archive_prefix(KEY))["Contents"]
    tags = {item["Key"].rsplit("/", 1)[1]: {t["Key"]: t["Value"] for t in s3.get_object_tagging(
        Bucket=ARCHIVE_BUCKET, Key=item["Key"])["TagSet"]} for item in listed}
    assert tags.pop("original") == layout.ORIGINAL_TAG
    assert tags and all(not tag for tag in tags.values()), tags
