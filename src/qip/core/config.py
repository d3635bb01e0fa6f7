"""Every setting of the project, declared once with its default and a line of help.

Lambda functions get their values from environment variables that `template.yaml` sets;
the command line gets them from its flags, then the environment, then these defaults.
`resolve()` is the one place that applies that order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from qip.imaging import Limits, RenderOptions

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A named setting: its environment variable, default, parser and a line of help."""

    env: str
    default: T
    help: str
    parse: Callable[[str], T] = field(default=str)  # type: ignore[assignment]  # str for str settings

    def get(self, override: T | None = None) -> T:
        """Argument, else environment, else default."""
        if override is not None:
            return override
        raw = os.environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        return self.parse(raw)


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _ints(raw: str) -> tuple[int, ...]:
    return tuple(int(part) for part in raw.replace(" ", "").split(",") if part)


# --- resources, passed to functions by the template -------------------------------------
TABLE_NAME = Setting("TABLE_NAME", "", "DynamoDB metadata table")
UPLOAD_BUCKET = Setting("UPLOAD_BUCKET", "", "S3 bucket users upload to")
ARCHIVE_BUCKET = Setting("ARCHIVE_BUCKET", "", "S3 bucket for originals and derivatives")
QUEUE_URL = Setting("QUEUE_URL", "", "processing queue (SQS)")
DLQ_URL = Setting("DLQ_URL", "", "dead-letter queue for permanent failures")
EVENT_BUS_NAME = Setting("EVENT_BUS_NAME", "", "the project's EventBridge bus")
TOPIC_ARN = Setting("TOPIC_ARN", "", "SNS topic for notifications")
STATE_MACHINE_ARN = Setting("STATE_MACHINE_ARN", "", "the Processing Pipeline state machine")
AUDIT_TABLE_NAME = Setting("AUDIT_TABLE_NAME", "", "DynamoDB table of the audit trail (every bus event)")
AUDIT_RETENTION_DAYS = Setting("AUDIT_RETENTION_DAYS", 90, "days the audit trail keeps an event", int)

# --- behaviour of the pipeline ------------------------------------------------------------
EVENT_SOURCE = Setting("EVENT_SOURCE", "qip.pipeline", "source of the events the pipeline publishes")
MONITORING_ENABLED = Setting("MONITORING_ENABLED", True, "emit CloudWatch metrics", _bool)
PIPELINE_MAX_ATTEMPTS = Setting(
    "PIPELINE_MAX_ATTEMPTS", 3, "whole-pipeline attempts before a message goes to the DLQ", int
)
PIPELINE_RETRY_DELAY_SECONDS = Setting(
    "PIPELINE_RETRY_DELAY_SECONDS", 30, "delay before the 2nd attempt; doubles after", int
)
WORKFLOW_TYPE = Setting(
    "WORKFLOW_TYPE", "STANDARD", "the Processing Pipeline's type: STANDARD or EXPRESS (template parameter WorkflowType)"
)
MAX_RUNNING_IMAGES = Setting(
    "MAX_RUNNING_IMAGES", 0, "most pipeline executions running at once; 0 = no limit (dispatcher)", int
)
DEFER_SECONDS: Setting[tuple[int, ...]] = Setting(
    "DEFER_SECONDS", (2, 10), "delay range (s) for an image over that limit", _ints
)
ADMISSION_WAIT_SECONDS = Setting(
    "ADMISSION_WAIT_SECONDS", 0.0, "how long a dispatcher batch waits for a free slot before deferring", float
)
STUCK_AFTER_MINUTES = Setting(
    "STUCK_AFTER_MINUTES", 30, "an image UPLOADED or PROCESSING this long is checked by the reconciler", int
)
# Image limits and rendering: the defaults are the image core's own (qip.imaging.Limits, RenderOptions).
MAX_BYTES = Setting("MAX_BYTES", Limits.max_bytes, "largest upload accepted, in bytes", int)
MAX_PIXELS = Setting("MAX_PIXELS", Limits.max_pixels, "largest image accepted, in pixels", int)
MAX_FRAMES = Setting("MAX_FRAMES", Limits.max_frames, "most frames accepted in an animation", int)
MAX_METADATA_BYTES = Setting(
    "MAX_METADATA_BYTES", Limits.max_metadata_bytes,
    "most bytes of embedded metadata (EXIF, XMP, ICC, comments) accepted", int
)
MAX_SIDE = Setting("MAX_SIDE", RenderOptions.max_side, "long side of the resized (display) image, in pixels", int)
THUMBNAIL_SIZES = Setting("THUMBNAIL_SIZES", RenderOptions.thumbnail_sizes, "thumbnail long sides", _ints)
THUMBNAIL_FORMAT = Setting("THUMBNAIL_FORMAT", RenderOptions.thumbnail_format, "thumbnail format: webp or jpeg")
RENDITIONS_FILE: Setting[Path | None] = Setting(
    "RENDITIONS_FILE", None, "the renditions file (default: renditions.yaml shipped beside the qip package)", Path
)

# Set by the local engine for its Lambda workers (AWS's standard variable); empty on AWS.
LOCAL_ENGINE_ENDPOINT = Setting("AWS_ENDPOINT_URL", "", "endpoint the local engine gives its Lambda workers")

# --- the local engine and the command line --------------------------------------------------
REGION = Setting("QIP_REGION", "us-east-1", "AWS region (the local engine's region)")
STACK_NAME = Setting("QIP_STACK_NAME", "qip", "CloudFormation stack name")
ENGINE_PORT = Setting("QIP_PORT", 4566, "port of the local engine on 127.0.0.1", int)
STATE_DIR: Setting[Path | None] = Setting(
    "QIP_HOME", None, "folder for the local engine's state and logs (default: .qip in the project folder)", Path
)
ENGINE_START_TIMEOUT = Setting(
    "QIP_START_TIMEOUT", 60.0, "seconds to wait for the local engine to answer", float
)
PREWARM_WORKERS = Setting(
    "QIP_PREWARM_WORKERS", -1,
    "Lambda workers `qip up` starts per function: -1 = as many as it will run at once, 0 = none", int
)
ENDPOINT_URL = Setting("QIP_ENDPOINT_URL", "", "AWS endpoint; empty means the local engine")
