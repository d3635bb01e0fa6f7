"""The web dashboard end to end: headless Chromium (Debian's) driven by Playwright, against the
dashboard of the session's stack on the real local engine.

Each test uses keys under its own prefix, so it only looks at what it made. Screenshots of the
overview and of a detail page are saved under test-artifacts/.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from qip.core import aws
from qip.core.clock import now_iso
from qip.core.model import COMPLETED, FAILED
from qip.core.model import STEPS as STAGES
from qip.dashboard.server import DashboardServer
from tests import imaging_corpus as corpus
from tests.integration.stack import free_port, wait_until

# The system's Chromium: the one `./dev test` found or installed (QIP_TEST_CHROMIUM), else the one on PATH.
CHROMIUM = (os.environ.get("QIP_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
            or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PIPELINE_TIMEOUT_MS = 240_000  # cold Lambda workers on 2 shared cores
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dashboard(stack) -> str:
    server = DashboardServer(stack.pipeline, "127.0.0.1", free_port()).start()
    yield server.url.rstrip("/")
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def dialogs() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def page(browser, dialogs) -> Page:
    """A fresh page; confirm() is accepted, and every dialog is recorded (an alert means XSS)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)

    def on_dialog(dialog) -> None:
        dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", on_dialog)
    yield page
    context.close()


@pytest.fixture
def prefix() -> str:
    return f"dashboard-{uuid.uuid4().hex[:8]}/"


# ---------------------------------------------------------------------- helpers
def photo_jpeg() -> bytes:
    """800x600 with camera EXIF and GPS: thumbnails come out at 512, 256 and 128 px wide."""
    return corpus.make_jpeg(800, 600, exif=corpus.camera_exif(gps=True))


def upload_through_page(page: Page, dashboard: str, prefix: str, files: list[tuple[str, bytes]], drop: bool) -> None:
    """Upload like a person: choose the files in the file input, or drop them on the drop zone."""
    page.goto(dashboard + "/upload")
    page.fill("#prefix", prefix)
    payloads = [{"name": name, "mimeType": "image/jpeg", "buffer": data} for name, data in files]
    if not drop:
        page.set_input_files("#file-input", payloads)
        return
    transfer = page.evaluate_handle(
        """files => { const dt = new DataTransfer();
             for (const f of files) {
               const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
               dt.items.add(new File([bytes], f.name, {type: "image/jpeg"}));
             }
             return dt; }""",
        [{"name": name, "data": base64.b64encode(data).decode()} for name, data in files])
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def upload_row_badge(page: Page, key: str):
    return page.locator("#uploads tr", has=page.get_by_role("link", name=key, exact=True)).locator(".badge")


def detail_url(dashboard: str, key: str) -> str:
    return dashboard + "/image?" + urlencode({"key": key})


def completed(stack, key: str) -> dict:
    stack.put(key, photo_jpeg(), "image/jpeg")
    record = stack.wait([key], timeout=PIPELINE_TIMEOUT_MS / 1000)[key]
    assert record["status"] == COMPLETED, record
    return record


def mark_failed(stack, key: str) -> None:
    """Turn a COMPLETED record into a final FAILED one, as the tracker writes it (no fault injection)."""
    at = now_iso()
    aws.table(stack.info.metadata_table, stack.info.endpoint_url, stack.info.region).update_item(
        Key={"image_key": key},
        UpdateExpression="SET #status = :failed, #error = :error, final_failure = :final, failed_at = :at,"
                         " history = list_append(history, :entry) REMOVE outputs",
        ConditionExpression="#status = :completed",
        ExpressionAttributeNames={"#status": "status", "#error": "error"},
        ExpressionAttributeValues={":failed": FAILED, ":completed": COMPLETED, ":final": True, ":at": at,
                                   ":entry": [{"status": FAILED, "at": at}],
                                   ":error": {"type": "ResizeTimeout", "message": "the resize step timed out",
                                              "stage": "resize", "attempt": 1}})


def statuses(record: dict) -> list[str]:
    return [entry["status"] for entry in record["history"]]


# ---------------------------------------------------------------------- tests
def test_an_upload_through_the_page_completes_and_its_detail_shows_thumbnails_and_five_stages(
        page, dashboard, prefix):
    key = prefix + "sunset photo.jpg"
    upload_through_page(page, dashboard, prefix, [("sunset photo.jpg", photo_jpeg())], drop=False)

    expect(upload_row_badge(page, key)).to_have_text(COMPLETED, timeout=PIPELINE_TIMEOUT_MS)
    page.get_by_role("link", name=key, exact=True).click()

    expect(page.locator("#image-key")).to_have_text(key)
    page.wait_for_function("""() => { const images = [...document.querySelectorAll('img.derivative')];
                                      return images.length && images.every(i => i.complete && i.naturalWidth > 0); }""")
    widths = page.locator("img.thumbnail").evaluate_all("images => images.map(i => i.naturalWidth)")
    assert widths == [512, 256, 128]
    stages = page.locator("#timeline li.stage-done")
    expect(stages).to_have_count(5)
    assert stages.evaluate_all("items => items.map(i => i.dataset.stage)") == list(STAGES)
    for stage in stages.all():
        expect(stage.locator(".stage-times")).to_contain_text("\u2192")  # start -> end . duration
    expect(page.locator("#gps")).to_contain_text("GPS location")
    expect(page.locator("#exif")).to_contain_text("QuantumCam")
    expect(page.locator("#history .badge")).to_have_text(["UPLOADED", "PROCESSING", "COMPLETED"])

    def audit_complete() -> bool:  # the audit trail is written a moment after the pipeline's last step
        page.reload()
        return page.locator("#events tr[data-kind='Pipeline Completed']").count() == 1

    wait_until(audit_complete, timeout=30, interval=1.0, message="the image's events on its page")
    expect(page.locator("#events tr[data-kind='Pipeline Completed'] td").last).to_have_text("SNS")
    expect(page.locator("#events tr[data-kind='Stage Succeeded']")).to_have_count(5)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-detail.png"), full_page=True)


def test_a_text_file_named_jpg_dropped_on_the_page_shows_its_rejection_reason(page, dashboard, prefix):
    key = prefix + "notes.jpg"
    upload_through_page(page, dashboard, prefix, [("notes.jpg", b"shopping list: milk, eggs\n")], drop=True)

    expect(upload_row_badge(page, key)).to_have_text("REJECTED", timeout=PIPELINE_TIMEOUT_MS)
    page.get_by_role("link", name=key, exact=True).click()
    expect(page.locator("#reason")).to_contain_text("not_an_image")
    expect(page.locator("#reason")).to_contain_text("not a supported image format")
    expect(page.locator("#timeline li.stage-done")).to_have_count(0)


def test_a_key_with_a_script_tag_is_shown_as_text_and_never_run(page, dialogs, dashboard, stack, prefix):
    hostile = prefix + "<script>alert(1)</script>/"
    key = hostile + "<img src=x onerror=alert(2)>.jpg"
    upload_through_page(page, dashboard, hostile, [("<img src=x onerror=alert(2)>.jpg", photo_jpeg())], drop=False)
    expect(page.get_by_role("link", name=key, exact=True)).to_be_visible()
    wait_until(lambda: stack.pipeline.store.get(key), timeout=60, message="record of the hostile key")

    page.goto(dashboard + "/images?" + urlencode({"prefix": prefix}))
    expect(page.get_by_role("link", name=key, exact=True)).to_be_visible()
    page.get_by_role("link", name=key, exact=True).click()
    expect(page.locator("#image-key")).to_have_text(key)
    page.wait_for_timeout(2500)  # the polled fragment has been fetched and swapped in meanwhile
    expect(page.locator("#image-key")).to_have_text(key)

    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('script').length") == 1  # only /static/dashboard.js
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0


def test_a_failed_image_is_retried_from_its_page_and_completes(page, dialogs, dashboard, stack, prefix):
    key = prefix + "retry me.jpg"
    completed(stack, key)
    mark_failed(stack, key)

    page.goto(detail_url(dashboard, key))
    expect(page.locator("#error")).to_contain_text("ResizeTimeout")
    expect(page.locator("#error")).to_contain_text("the resize step timed out")
    page.click("#retry")

    expect(page.locator(".toast")).to_contain_text("attempt 2")
    expect(page.locator(".detail-actions .badge")).to_have_text(COMPLETED, timeout=PIPELINE_TIMEOUT_MS)
    expect(page.locator("#retry")).to_have_count(0)
    record = stack.pipeline.record(key)
    assert record["attempt"] == 2
    assert statuses(record)[-3:] == [FAILED, "PROCESSING", COMPLETED]
    assert [kind for kind, _ in dialogs] == ["confirm"]


def test_dead_letters_are_listed_and_redriven_from_the_page(page, dashboard, stack, prefix):
    key = prefix + "gave up.jpg"
    record = completed(stack, key)
    mark_failed(stack, key)
    pointer = {name: record[name] for name in ("bucket", "etag", "sequencer", "size", "content_type")}
    stack.client("sqs").send_message(QueueUrl=stack.info.dlq_url, MessageBody=json.dumps(
        {"image": {**pointer, "key": key, "attempt": 1}, "error": {"type": "ResizeTimeout", "stage": "resize",
                                                                    "message": "the resize step timed out"}}))

    page.goto(dashboard + "/dead-letters")
    row = page.locator("tr", has=page.get_by_role("link", name=key, exact=True))
    expect(row).to_contain_text("ResizeTimeout")
    page.click("#redrive")
    expect(page.locator(".toast")).to_contain_text("back to the processing queue")
    expect(row).to_have_count(0)

    wait_until(lambda: stack.pipeline.record(key)["status"] == COMPLETED, timeout=PIPELINE_TIMEOUT_MS / 1000,
               message="the redriven image completes")
    assert stack.pipeline.record(key)["attempt"] == 2
    assert key not in [letter.image_key for letter in stack.pipeline.dead_letters()]


def test_presigned_urls_can_point_the_browser_at_the_engine_itself(browser, stack, prefix):
    """Without the relay the page links the engine's 127.0.0.1 endpoint directly (as on AWS: S3)."""
    key = prefix + "direct.jpg"
    completed(stack, key)
    server = DashboardServer(stack.pipeline, "127.0.0.1", free_port(), relay=False).start()
    # The engine's certificate is the project's own; a browser that trusts it is what this models.
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(detail_url(server.url.rstrip("/"), key))
        page.wait_for_function("""() => { const images = [...document.querySelectorAll('img.thumbnail')];
            return images.length && images.every(i => i.complete && i.naturalWidth > 0); }""")
        sources = page.locator("img.thumbnail").evaluate_all("images => images.map(i => i.src)")
        assert sources and all(src.startswith(stack.info.endpoint_url + "/") for src in sources)
        assert all("X-Amz-Signature=" in src and "X-Amz-Expires=600" in src for src in sources)
    finally:
        context.close()
        server.stop()


def test_actions_need_the_dashboards_header_and_a_loopback_host(dashboard):
    request = urllib.request.Request(dashboard + "/api/redrive", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        DIRECT.open(request, timeout=10)
    assert refused.value.code == 403
    rebound = urllib.request.Request(dashboard + "/", headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as wrong_host:
        DIRECT.open(rebound, timeout=10)
    assert wrong_host.value.code == 400


def test_the_overview_updates_live_while_an_image_is_processed(page, dashboard, stack, prefix):
    page.goto(dashboard + "/")
    page.evaluate("window.notReloaded = true")
    before = int(page.locator('[data-count="COMPLETED"]').inner_text())

    completed(stack, prefix + "live.jpg")

    expect(page.locator('[data-count="COMPLETED"]')).not_to_have_text(str(before))
    assert int(page.locator('[data-count="COMPLETED"]').inner_text()) > before
    assert page.evaluate("window.notReloaded") is True
    latency_rows = page.locator("svg .bar-p50")
    expect(latency_rows).to_have_count(len(STAGES))
    expect(page.locator("svg .bar-completed").first).to_be_visible()
    expect(page.locator('[data-queue="dead_letter"]')).to_have_text(str(stack.pipeline.queues()["dead_letter"].depth))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)


def test_an_image_is_erased_from_its_page_after_confirmation(page, dialogs, dashboard, stack, prefix):
    key = prefix + "erase me.jpg"
    completed(stack, key)
    page.goto(detail_url(dashboard, key))
    page.click("#delete")
    expect(page.locator(".toast")).to_contain_text("Erased")
    expect(page.locator(".detail-actions .badge")).to_have_text("DELETED", timeout=PIPELINE_TIMEOUT_MS)
    expect(page.locator("#delete")).to_have_count(0)
    assert [kind for kind, _ in dialogs] == ["confirm"]
    assert stack.pipeline.record(key)["status"] == "DELETED"
    assert "Contents" not in stack.client("s3").list_objects_v2(Bucket=stack.info.archive_bucket,
                                                                 Prefix=f"images/{key}/")
