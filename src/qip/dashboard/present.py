"""What the pages show of a record: outputs with their links, facts, EXIF, the stage timeline.

Records are turned into plain view objects here so templates only lay them out. Links to
objects are presigned, short-lived GET URLs (the buckets stay private); they are cached for a
while so a polled fragment renders the same HTML and the page does not reload its images.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from qip.core.clock import parse_iso
from qip.core.model import STEPS
from qip.dashboard.charts import format_ms

LINK_SECONDS = 600  # a presigned URL's lifetime
LINK_REUSE_SECONDS = 300  # reuse a cached URL while it has at least this long to live
BROWSER_IMAGE_TYPES = {"jpeg", "png", "gif", "webp", "avif", "bmp"}
STAGE_LABELS = {"validate": "Validate", "extract_metadata": "Extract metadata", "resize": "Resize",
                "thumbnails": "Thumbnails", "archive": "Archive"}
EXIF_LABELS = {"make": "Camera make", "model": "Camera model", "lens": "Lens", "exposure_time": "Exposure time",
               "exposure": "Exposure", "f_number": "F-number", "focal_length": "Focal length", "iso": "ISO",
               "taken_at": "Taken at", "orientation": "Orientation"}
_THUMB = re.compile(r"thumb-(\d+)\.")


class Links:
    """Presigned URLs, cached per s3:// URI until they get close to expiring.

    With `relay`, each URL is wrapped as `/relay?url=<presigned URL>`: the dashboard fetches it for
    the browser, for an engine whose TLS certificate the browser does not know (see app.relay).
    """

    def __init__(self, presign: Callable[[str, int], str], relay: bool = False) -> None:
        self._presign = presign
        self._relay = relay
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def url(self, uri: str | None) -> str | None:
        if not uri:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(uri)
            if cached and cached[1] - now > LINK_REUSE_SECONDS:
                return cached[0]
            url = self._presign(uri, LINK_SECONDS)
            if self._relay:
                url = "/relay?" + urlencode({"url": url})
            self._cache[uri] = (url, now + LINK_SECONDS)
            if len(self._cache) > 5000:
                self._cache = {k: v for k, v in self._cache.items() if v[1] - now > LINK_REUSE_SECONDS}
            return url


@dataclass(frozen=True)
class Output:
    label: str
    name: str
    url: str | None
    viewable: bool
    width: int | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    label: str
    started_at: str | None
    completed_at: str | None
    duration: str
    attempt: int | None
    offset_pct: float = 0.0
    width_pct: float = 0.0

    @property
    def done(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Detail:
    record: dict[str, Any]
    outputs: list[Output] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    exif: list[tuple[str, str]] = field(default_factory=list)
    gps: dict[str, Any] | None = None
    manifest_url: str | None = None


@dataclass(frozen=True)
class EventRow:
    """One event of the image's audit trail, as the detail page lists it."""

    at: str
    kind: str
    stage: str
    attempt: str
    note: str
    notified: bool


# The transitions that also go to the SNS topic as notifications (see qip.core.telemetry's callers).
NOTIFIED = {"Stage Succeeded", "Image Rejected", "Pipeline Completed", "Pipeline Failed"}


def event_rows(events: list[dict[str, Any]]) -> list[EventRow]:
    """The audit trail's events, oldest first, with what each says and whether it was notified."""
    rows = []
    for event in events:
        detail = event.get("detail") or {}
        error = detail.get("error") or {}
        note = error.get("message") or (format_ms(detail["duration_ms"]) if "duration_ms" in detail else "")
        if event.get("source") == "aws.s3":
            note = f"S3 {event.get('detail-type', '')}: {detail.get('object', {}).get('size', '?')} bytes"
        rows.append(EventRow(detail.get("timestamp") or event.get("time", ""), event.get("detail-type", ""),
                             detail.get("stage", "upload" if event.get("source") == "aws.s3" else ""),
                             str(detail.get("attempt", "")), note,
                             event.get("source") == "qip.pipeline" and event.get("detail-type") in NOTIFIED))
    return rows


def thumbnail_uri(record: dict[str, Any]) -> str | None:
    """The smallest thumbnail of a completed record, for lists."""
    thumbnails = (record.get("outputs") or {}).get("thumbnails") or []
    return min(thumbnails, key=_thumb_size, default=None)


def detail(record: dict[str, Any], links: Links) -> Detail:
    metadata = record.get("metadata") or {}
    exif = metadata.get("exif") or {}
    outputs = record.get("outputs") or {}
    return Detail(record, _outputs(record, outputs, links), timeline(record), _facts(record, metadata),
                  [(EXIF_LABELS.get(k, k), _text(v)) for k, v in exif.items()
                   if k not in ("gps", "has_gps") and v not in (None, "", [])],
                  exif.get("gps") if exif.get("has_gps") else None,
                  links.url(outputs.get("manifest")))


def timeline(record: dict[str, Any]) -> list[Stage]:
    """The five stages in pipeline order, placed on one time axis (percent of the whole run)."""
    recorded = record.get("stages") or {}
    parsed = [parse_iso(value) for stage in recorded.values() for value in (stage.get("started_at"),
                                                                          stage.get("completed_at"))]
    times = [t for t in parsed if t is not None]
    start, end = (min(times), max(times)) if times else (None, None)
    span = (end - start).total_seconds() if start and end else 0
    stages = []
    for name in STEPS:
        data = recorded.get(name) or {}
        begin, finish = parse_iso(data.get("started_at")), parse_iso(data.get("completed_at"))
        offset = width = 0.0
        if start and begin and finish and span > 0:
            offset = (begin - start).total_seconds() / span * 100
            width = max((finish - begin).total_seconds() / span * 100, 0.8)
        stages.append(Stage(name, STAGE_LABELS[name], data.get("started_at"), data.get("completed_at"),
                            format_ms(data.get("duration_ms")), data.get("attempt"), round(offset, 2),
                            round(min(width, 100 - offset), 2)))
    return stages


def _outputs(record: dict[str, Any], outputs: dict[str, Any], links: Links) -> list[Output]:
    found: list[Output] = []
    dimensions = outputs.get("dimensions") or {}
    if outputs.get("display"):
        size = f" \u00b7 {dimensions['width']}\u00d7{dimensions['height']}" if dimensions.get("width") else ""
        found.append(Output(f"Display{size}", _name(outputs["display"]), links.url(outputs["display"]), True))
    for uri in sorted(outputs.get("thumbnails") or [], key=_thumb_size, reverse=True):
        side = _thumb_size(uri)
        found.append(Output(f"Thumbnail \u00b7 {side} px", _name(uri), links.url(uri), True, side))
    if outputs.get("original"):
        image_format = (record.get("metadata") or {}).get("format") or ""
        found.append(Output("Original", _name(outputs["original"]), links.url(outputs["original"]),
                            image_format.lower() in BROWSER_IMAGE_TYPES))
    return found


def _facts(record: dict[str, Any], metadata: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("Status", record.get("status", "")), ("Uploaded", f"{short_time(record.get('uploaded_at'))} UTC"),
             ("Size", human_size(record.get("size"))), ("Content type", record.get("content_type") or ""),
             ("Attempt", str(record.get("attempt", "")))]
    if metadata.get("width"):
        facts.append(("Dimensions", f"{metadata['width']} \u00d7 {metadata['height']} px"))
    for key, label in (("format", "Format"), ("mode", "Colour mode"), ("bit_depth", "Bit depth"),
                       ("frame_count", "Frames"), ("icc_profile", "ICC profile"), ("sha256", "SHA-256"),
                       ("blurhash", "BlurHash")):
        if metadata.get(key) not in (None, ""):
            facts.append((label, _text(metadata[key])))
    if metadata.get("has_alpha") is not None:
        facts.append(("Transparency", "yes" if metadata["has_alpha"] else "no"))
    return facts


def human_size(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def short_time(value: str | None) -> str:
    """`2026-11-28 15:39:13` from an ISO timestamp (UTC), for tables."""
    parsed = parse_iso(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") if parsed else (value or "")


def clock(value: str | None) -> str:
    """`15:39:13.499` from an ISO timestamp (UTC), for the timeline."""
    parsed = parse_iso(value)
    return parsed.strftime("%H:%M:%S.%f")[:-3] if parsed else "\u2014"


def _thumb_size(uri: str) -> int:
    match = _THUMB.search(uri.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else 0


def _name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


