"""Finding the object an S3 event names, whether its key arrived raw or URL-encoded (qip.core.objects)."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from qip.core import objects
from tests.unit.mock_stack import UPLOAD_BUCKET


def aws_encoded(key: str) -> str:
    """A key as AWS puts it in S3 event notifications: form-encoded, with `/` kept."""
    return quote_plus(key, safe="/")


@pytest.mark.parametrize("key", [
    "my photo+1.jpg",
    "holiday/2026/my photo+1.jpg",
    "100% done.jpg",
    "café/menü 東京.png",
    "a" * 40 + "/" + "deep/" * 30 + "x y.jpg",
])
def test_find_resolves_the_url_encoded_key_of_an_event(aws, key):
    etag = aws.put_upload(key, b"bytes of " + key.encode())
    for event_key in (aws_encoded(key), key):  # as AWS sends it, and as the local engine sends it
        found = objects.find(aws.s3, UPLOAD_BUCKET, event_key, etag)
        assert found is not None, event_key
        assert found.key == key
        assert found.etag == etag
        assert found.size == len(b"bytes of " + key.encode())
        assert found.content_type == "image/jpeg"


def test_find_the_documented_example(aws):
    aws.put_upload("my photo+1.jpg", b"x")
    found = objects.find(aws.s3, UPLOAD_BUCKET, "my+photo%2B1.jpg")
    assert found is not None and found.key == "my photo+1.jpg"


@pytest.mark.parametrize("wanted", ["a+b.jpg", "a b.jpg"])
def test_etag_tells_apart_two_keys_with_the_same_encoding_ambiguity(aws, wanted):
    """`a+b.jpg` in an event is `a b.jpg` encoded by AWS, or `a+b.jpg` sent raw: the ETag decides."""
    etags = {key: aws.put_upload(key, f"content of {key}".encode()) for key in ("a+b.jpg", "a b.jpg")}
    assert etags["a+b.jpg"] != etags["a b.jpg"]
    for event_key in ("a+b.jpg", aws_encoded(wanted)):
        found = objects.find(aws.s3, UPLOAD_BUCKET, event_key, etags[wanted])
        assert found is not None and found.key == wanted, (event_key, found)
        assert found.etag == etags[wanted]


def test_event_etag_in_quotes_still_matches(aws):
    etags = {key: aws.put_upload(key, key.encode()) for key in ("a+b.jpg", "a b.jpg")}
    found = objects.find(aws.s3, UPLOAD_BUCKET, "a+b.jpg", f'"{etags["a b.jpg"]}"')
    assert found.key == "a b.jpg"


def test_find_of_a_deleted_object_is_none(aws):
    aws.put_upload("gone soon.jpg", b"x")
    aws.s3.delete_object(Bucket=UPLOAD_BUCKET, Key="gone soon.jpg")
    assert objects.find(aws.s3, UPLOAD_BUCKET, "gone+soon.jpg", "whatever") is None
    assert objects.head(aws.s3, UPLOAD_BUCKET, "gone soon.jpg") is None


def test_read_whole_and_ranged(aws):
    aws.put_upload("data.bin", bytes(range(256)) * 40)
    assert objects.read(aws.s3, UPLOAD_BUCKET, "data.bin") == bytes(range(256)) * 40
    assert objects.read(aws.s3, UPLOAD_BUCKET, "data.bin", limit=10) == bytes(range(10))
    assert objects.read(aws.s3, UPLOAD_BUCKET, "data.bin", limit=1) == b"\x00"


def test_ranged_read_of_an_empty_object_is_empty(aws):
    aws.put_upload("empty.jpg", b"")
    assert objects.read(aws.s3, UPLOAD_BUCKET, "empty.jpg", limit=4096) == b""


def test_write_and_copy_keep_bytes_and_content_type(aws):
    objects.write(aws.s3, "qip-archive", "images/x y/display.jpg", b"jpeg bytes", "image/jpeg")
    head = objects.head(aws.s3, "qip-archive", "images/x y/display.jpg")
    assert head.size == len(b"jpeg bytes") and head.content_type == "image/jpeg"
    aws.put_upload("orig+inal.png", b"png bytes", "image/png")
    objects.copy(aws.s3, UPLOAD_BUCKET, "orig+inal.png", "qip-archive", "images/orig+inal.png/original")
    copied = aws.s3.get_object(Bucket="qip-archive", Key="images/orig+inal.png/original")
    assert copied["Body"].read() == b"png bytes"
    assert copied["ContentType"] == "image/png"


@pytest.mark.parametrize("size", [0, 1, 100, 5000])
def test_find_with_first_bytes_reads_head_and_start_in_one_request(aws, size):
    """The dispatcher's one request per upload: a ranged GET answers size, type, ETag and the bytes
    a sniff needs (an empty object, which has no byte 0, falls back to HEAD)."""
    data = bytes(range(256)) * 20
    etag = aws.put_upload("peeked.jpg", data[:size])
    calls: list[str] = []
    aws.s3.meta.events.register("before-call.s3", lambda model, **kwargs: calls.append(model.name))
    found = objects.find(aws.s3, UPLOAD_BUCKET, "peeked.jpg", etag, first_bytes=1024)
    assert found is not None
    assert (found.key, found.size, found.etag, found.content_type) == ("peeked.jpg", size, etag, "image/jpeg")
    assert found.start == data[:min(size, 1024)]
    assert calls == (["GetObject", "HeadObject"] if size == 0 else ["GetObject"])
