"""The pipeline end to end on the real local engine: upload -> EventBridge -> ingest -> queue ->
dispatcher -> state machine (five Lambda steps) -> archive bucket and metadata store.

R1.1-R1.5, R2.1-R2.3, R3.1-R3.5, R5.1, R5.2, R5.4.
"""

from __future__ import annotations

import io
import json
import os
import uuid

import pytest
from PIL import Image

from tests import imaging_corpus as corpus
from tests import readme
from tests.integration.stack import wait_until

STAGES = ["validate", "extract_metadata", "resize", "thumbnails", "archive"]


def unique(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:8]}/"


def read_archive(stack, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_photo_goes_through_every_step_and_is_archived(stack):
    key = unique("e2e") + "camera/IMG 0001.jpg"
    data = corpus.make_oriented_jpeg(6)  # stored sideways; EXIF says rotate for display
    stack.put(key, data, "image/jpeg")

    record = stack.wait([key])[key]

    assert record["status"] == "COMPLETED"
    # R1.3 / R5.1: what was uploaded
    assert record["image_key"] == key
    assert record["size"] == len(data)
    assert record["content_type"] == "image/jpeg"
    assert record["uploaded_at"].endswith("Z") and record["upload_date"] == record["uploaded_at"][:10]
    # R2.2 / R2.3: the status history went UPLOADED -> PROCESSING -> COMPLETED
    assert [h["status"] for h in record["history"]] == ["UPLOADED", "PROCESSING", "COMPLETED"]
    # R3.1-R3.5 / R5.2: each step ran once, in order, with its completion time
    stages = record["stages"]
    assert sorted(stages, key=lambda s: stages[s]["completed_at"]) == STAGES
    assert all(stages[s]["started_at"] <= stages[s]["completed_at"] for s in STAGES)
    # R5.4: the final locations, and the files there are what they claim
    outputs = record["outputs"]
    prefix = f"s3://{stack.info.archive_bucket}/images/{key}/"
    assert outputs["original"] == prefix + "original"
    assert read_archive(stack, outputs["original"]) == data
    assert Image.open(io.BytesIO(data)).size == (48, 64)  # stored sideways...
    display = Image.open(io.BytesIO(read_archive(stack, outputs["display"])))
    assert display.size == (64, 48)  # ...and published upright, its EXIF orientation applied
    thumbs = [Image.open(io.BytesIO(read_archive(stack, uri))) for uri in outputs["thumbnails"]]
    assert [t.format for t in thumbs] == ["WEBP"] * 3
    manifest = json.loads(read_archive(stack, outputs["manifest"]))
    assert manifest["image"]["key"] == key and len(manifest["thumbnails"]) == 3
    # the metadata step's findings are in the record
    assert record["metadata"]["width"] == 64 and record["metadata"]["height"] == 48


@pytest.mark.parametrize("name", ["png_alpha", "webp_lossy", "gif_animated", "tiff_rgb", "heif", "avif",
                                  "jpeg_cmyk", "png_16bit_rgb"])
def test_every_supported_format_completes(stack, name):
    key = unique("formats") + f"{name}.bin"  # the extension says nothing: bytes decide
    stack.put(key, corpus.good_images()[name])
    record = stack.wait([key])[key]
    assert record["status"] == "COMPLETED", record.get("error")
    assert len(record["outputs"]["thumbnails"]) == 3


def test_a_text_file_named_jpg_is_rejected_and_never_starts_the_pipeline(stack):
    key = unique("reject") + "notes.jpg"
    stack.put(key, b"meeting notes, not a picture\n", "image/jpeg")

    record = stack.wait([key])[key]

    assert record["status"] == "REJECTED"
    assert record["reason"]["code"] == "not_an_image"
    assert "image/jpeg" in record["reason"]["message"]  # says what it claimed to be
    assert stack.executions_for(key) == []


def test_a_truncated_jpeg_is_rejected_by_the_validate_step_without_retries(stack):
    key = unique("reject") + "half.jpg"
    jpeg = corpus.make_jpeg(256, 192)
    stack.put(key, jpeg[: len(jpeg) // 2], "image/jpeg")

    record = stack.wait([key])[key]

    assert record["status"] == "REJECTED"
    assert record["reason"]["code"] == "truncated"
    assert [h["status"] for h in record["history"]] == ["UPLOADED", "PROCESSING", "REJECTED"]
    assert record["stages"]["validate"]["attempt"] == 1
    # The record is written by the run's last task; the run itself ends a moment later.
    executions = wait_until(lambda: [e for e in stack.executions_for(key) if e["status"] != "RUNNING"] or None,
                            timeout=30, message="the run ended")
    assert [e["status"] for e in stack.executions_for(key)] == ["SUCCEEDED"]  # one run, ended in Rejected
    assert len(executions) == 1


KEYS = [
    "any key/é+1.jpg",
    "100% real/photo%20one.jpg",
    "deep/ly/nested/pre fix/x+y z.jpg",
    "日本/写真 (1).jpg",
    "plus+only.jpg",
]


def test_keys_with_spaces_plus_percent_unicode_and_prefixes_via_boto3(stack):
    prefix = unique("keys-boto3")
    keys = [prefix + k for k in KEYS]
    for key in keys:
        stack.put(key, corpus.make_jpeg(), "image/jpeg")
    records = stack.wait(keys)
    assert {k: r["status"] for k, r in records.items()} == dict.fromkeys(keys, "COMPLETED")
    for key in keys:
        assert records[key]["outputs"]["original"].endswith(f"/images/{key}/original")


def test_keys_with_special_characters_via_the_aws_cli(stack, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(corpus.make_jpeg())
    prefix = unique("keys-cli")
    keys = [prefix + k for k in KEYS[:3]]
    for key in keys:
        stack.aws_cli("s3", "cp", str(photo), f"s3://{stack.info.upload_bucket}/{key}")
    records = stack.wait(keys)
    assert {k: r["status"] for k, r in records.items()} == dict.fromkeys(keys, "COMPLETED")


def test_outputs_never_trigger_the_pipeline_again(stack):
    key = unique("recursion") + "once.jpg"
    stack.put(key, corpus.make_jpeg(), "image/jpeg")
    stack.wait([key])
    archive_objects = stack.client("s3").list_objects_v2(Bucket=stack.info.archive_bucket,
                                                         Prefix=f"images/{key}/")["KeyCount"]
    assert archive_objects == 6  # original, display, three thumbnails, manifest
    assert stack.pipeline.store.get(f"images/{key}/display.jpg") is None
    assert len(stack.executions_for(key)) == 1


def test_a_burst_of_fifty_uploads_all_complete(stack):
    prefix = unique("burst")
    data = corpus.make_jpeg(640, 480)
    keys = [f"{prefix}img-{i:02d}.jpg" for i in range(50)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: stack.put(k, data, "image/jpeg"), keys))
    records = stack.wait(keys, timeout=240)
    statuses = {r["status"] for r in records.values()}
    assert statuses == {"COMPLETED"}, {k: r.get("error") for k, r in records.items() if r["status"] != "COMPLETED"}
    assert all(len(stack.executions_for(k)) == 1 for k in keys[:5])


def test_the_readme_main_job_qip_demo_processes_the_samples(stack, tmp_path):
    """The quick start's command, read from the README and run as written (against the session's stack,
    through the standard QIP_* settings), on a PATH where a browser or a package manager fails loudly."""
    command = readme.block("Quick start", 0)
    assert command.strip() == "./dev demo"  # the main job: what a new user runs first
    shims = tmp_path / "unreachable"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "QIP_"))}
    env.update(readme.unreachable_tools(shims), QIP_PORT=str(stack.engine.port), QIP_HOME=str(stack.engine.home),
               QIP_STACK_NAME=stack.name, COLUMNS="200")
    result = readme.run_block(command, readme.ROOT, env, timeout=420)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert readme.touched(shims) == []  # no browser, no apt: the main job needs neither
    table = result.stdout
    assert table.count("COMPLETED") == 4 and table.count("REJECTED") == 2
    assert "not_an_image" in table and "truncated" in table
    assert "thumb-128.webp" in table and "display.jpg" in table
