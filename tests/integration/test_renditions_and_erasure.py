"""Renditions, reprocessing and erasure on the real local engine (IAM enforced, TLS).

- a prefix rule in action, and a change of renditions followed by `qip reprocess` that runs
  exactly the stale images again (once, however often it is run);
- erasure of a COMPLETED image: no object and no object version left under its archive prefix,
  the upload gone, a tombstone record, an `Image Deleted` event; a later upload is new;
- erasure racing a running execution: the run is stopped and nothing of it comes back.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from qip.cli.app import main
from qip.core import faults, layout
from qip.core.model import COMPLETED, DELETED
from tests import imaging_corpus as corpus
from tests.integration.stack import capture_bus, wait_until

RENDITION_FUNCTIONS = ("resize", "thumbnails", "archive", "operations")


@pytest.fixture
def prefix() -> str:
    return f"renditions-{uuid.uuid4().hex[:8]}/"


def cli(stack, *args: str) -> list[str]:
    return ["--port", str(stack.engine.port), "--home", str(stack.engine.home), "--stack", stack.name, *args]


def current_objects(stack, key: str) -> set[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.info.archive_bucket, Prefix=layout.archive_prefix(key),
                                                Delimiter="/")
    return {item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", [])}


def every_version(stack, key: str) -> list[str]:
    listed = stack.client("s3").list_object_versions(Bucket=stack.info.archive_bucket,
                                                     Prefix=layout.archive_prefix(key))
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def set_renditions(stack, path: str | None) -> None:
    """Point the functions that read the renditions at another file (None: the shipped one)."""
    lam = stack.client("lambda")
    for function in RENDITION_FUNCTIONS:
        name = f"{stack.name}-{function}"
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        variables.pop("RENDITIONS_FILE", None)
        if path:
            variables["RENDITIONS_FILE"] = path
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        wait_until(lambda n=name: lam.get_function_configuration(FunctionName=n).get("LastUpdateStatus")
                   in (None, "Successful"), timeout=60, message=f"{name} updated")


def test_a_prefix_rule_and_reprocessing_exactly_the_stale_images(stack, prefix, tmp_path, capsys):
    plain, avatar = prefix + "plain.jpg", prefix + "users/ada.jpg"
    for key in (plain, avatar):
        stack.put(key, corpus.make_jpeg(900, 600), "image/jpeg")
    before = stack.wait([plain, avatar])
    assert current_objects(stack, avatar) == {"original", "manifest.json", "display.jpg", "thumb-512.webp",
                                              "thumb-256.webp", "thumb-128.webp"}
    changed = tmp_path / "renditions.yaml"
    changed.write_text(f"""
renditions:
  avatar: {{width: 96, height: 96, fit: cover, crop: attention, formats: [webp, avif]}}
rules:
  - prefix: {prefix}users/
    renditions: [avatar, display]
""")
    set_renditions(stack, str(changed))
    try:
        assert main(cli(stack, "reprocess", "--prefix", prefix, "--dry-run", "--json")) == 0
        dry = json.loads(capsys.readouterr().out)
        assert (dry["checked"], dry["stale"], dry["queued"], dry["keys"]) == (2, 1, 0, [avatar])

        assert main(cli(stack, "reprocess", "--prefix", prefix, "--wait", "--timeout", "180", "--json")) == 0
        done = json.loads(capsys.readouterr().out)
        assert (done["stale"], done["queued"], done["completed"]) == (1, 1, 1)
        assert current_objects(stack, avatar) == {"original", "manifest.json", "display.jpg", "avatar.webp",
                                                  "avatar.avif"}  # the thumbnails it no longer has are gone
        record = stack.pipeline.record(avatar)
        assert record["status"] == COMPLETED and record["generation"] == 1
        assert record["outputs"]["renditions_version"] == done["renditions_version"]
        untouched = stack.pipeline.record(plain)
        assert untouched["completed_at"] == before[plain]["completed_at"] and "generation" not in untouched

        assert main(cli(stack, "reprocess", "--prefix", prefix, "--json")) == 0  # again: nothing to do
        assert json.loads(capsys.readouterr().out)["queued"] == 0

        newcomer = prefix + "users/grace.jpg"  # the rule for a new upload
        stack.put(newcomer, corpus.make_jpeg(640, 480), "image/jpeg")
        stack.wait([newcomer])
        assert {"avatar.webp", "avatar.avif", "display.jpg"} <= current_objects(stack, newcomer)
        manifest = json.loads(stack.client("s3").get_object(
            Bucket=stack.info.archive_bucket, Key=layout.archive_key(newcomer, "manifest.json"))["Body"].read())
        assert [(o["rendition"], o["format"]) for o in manifest["outputs"]] == [
            ("display", "jpeg"), ("avatar", "webp"), ("avatar", "avif")]
        assert [(o["width"], o["height"]) for o in manifest["outputs"][1:]] == [(96, 96), (96, 96)]
    finally:
        set_renditions(stack, None)


def test_erasing_a_completed_image_leaves_no_version_and_a_tombstone(stack, prefix, capsys):
    key = prefix + "erase me.jpg"
    bus = capture_bus(stack, f"erasure-{uuid.uuid4().hex[:8]}")
    stack.put(key, corpus.make_gps_jpeg(), "image/jpeg")
    stack.wait([key])
    assert every_version(stack, key)

    assert main(cli(stack, "delete", key)) == 2  # no terminal: asks for --yes, erases nothing
    assert "add --yes" in " ".join(capsys.readouterr().err.split())
    assert stack.pipeline.record(key)["status"] == COMPLETED

    assert main(cli(stack, "delete", key, "--yes", "--json")) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["upload"] == 1 and result["archive_versions"] >= 6
    assert every_version(stack, key) == []
    assert "Contents" not in stack.client("s3").list_objects_v2(Bucket=stack.info.upload_bucket, Prefix=key)
    assert main(cli(stack, "status", key, "--json")) == 0
    view = json.loads(capsys.readouterr().out)
    assert set(view) == {"key", "status", "deleted_at", "erased"} and view["status"] == DELETED
    deleted = wait_until(lambda: [e for e in bus.drain(settle=0.5) if e["detail-type"] == "Image Deleted"],
                         timeout=30, message="Image Deleted event")
    assert deleted[0]["detail"]["image"]["key"] == key

    stack.put(key, corpus.make_jpeg(300, 200), "image/jpeg")  # the same key again: processed as new
    wait_until(lambda: stack.pipeline.record(key)["status"] != DELETED, timeout=60, message="a new record")
    assert stack.wait([key])[key]["status"] == COMPLETED
    assert "display.jpg" in current_objects(stack, key)


def test_erasure_racing_a_running_execution(stack, prefix):
    key = prefix + "racing.jpg"
    faults.write(stack.engine.faults_file, {"resize": faults.Rule("slow", seconds=4, key_contains="racing")})
    try:
        stack.put(key, corpus.make_jpeg(1200, 900), "image/jpeg")
        wait_until(lambda: (stack.pipeline.store.get(key) or {}).get("stages", {}).get("extract_metadata"),
                   timeout=90, message="the run reached resize")
        result = stack.pipeline.delete(key)
        assert result["status_before"] == "PROCESSING" and result["stopped_execution"]
        [execution] = [e for e in stack.executions_for(key) if e["name"] == result["stopped_execution"]]
        assert execution["status"] != "RUNNING"
        time.sleep(6)  # past the slow resize: whatever it does now must not stay
        assert every_version(stack, key) == []
        record = stack.pipeline.store.get(key)
        assert record["status"] == DELETED and "outputs" not in record and "metadata" not in record
    finally:
        faults.write(stack.engine.faults_file, {})
