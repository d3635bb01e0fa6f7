"""What every handler shares: settings, clients, the store, telemetry, logger and metrics.

Built lazily, once per warm Lambda environment.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from qip.core import aws, config
from qip.core.errors import ConfigurationError
from qip.core.store import MetadataStore
from qip.core.telemetry import Telemetry
from qip.imaging import Limits, RenderOptions

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

logger = Logger(service="qip")
metrics = Metrics(namespace="QuantumImageProcessor", service="qip")


def required(setting: config.Setting[str]) -> str:
    value = setting.get()
    if not value:
        raise ConfigurationError(f"environment variable {setting.env} is not set ({setting.help})")
    return value


@cache
def store() -> MetadataStore:
    return MetadataStore(aws.table(required(config.TABLE_NAME)))


@cache
def telemetry() -> Telemetry:
    return Telemetry(
        aws.client("events"), aws.client("sns"), required(config.EVENT_BUS_NAME), required(config.TOPIC_ARN)
    )


def s3() -> S3Client:
    return aws.client("s3")


def limits() -> Limits:
    """The image limits the template configured (MAX_BYTES, MAX_PIXELS, MAX_FRAMES, MAX_METADATA_BYTES)."""
    return Limits(max_bytes=config.MAX_BYTES.get(), max_pixels=config.MAX_PIXELS.get(),
                  max_frames=config.MAX_FRAMES.get(), max_metadata_bytes=config.MAX_METADATA_BYTES.get())


def render_options() -> RenderOptions:
    """How the display image and the thumbnails are made (MAX_SIDE, THUMBNAIL_SIZES, THUMBNAIL_FORMAT)."""
    return RenderOptions(max_side=config.MAX_SIDE.get(), thumbnail_sizes=config.THUMBNAIL_SIZES.get(),
                         thumbnail_format=config.THUMBNAIL_FORMAT.get())


def monitoring_enabled() -> bool:
    return config.MONITORING_ENABLED.get()


def measure(stage: str, **values: tuple[MetricUnit, float]) -> None:
    """Emit metrics (EMF, namespace QuantumImageProcessor, dimensions service and Stage).

    `measure("thumbnails", StageSucceeded=(MetricUnit.Count, 1))`. Nothing is emitted when
    monitoring is off (template parameter MonitoringEnabled).
    """
    if not monitoring_enabled():
        return
    metrics.add_dimension(name="Stage", value=stage)
    for name, (unit, value) in values.items():
        metrics.add_metric(name=name, unit=unit, value=value)
    metrics.flush_metrics()
