"""What every handler shares: settings, clients, the store, telemetry, logger and metrics.

Built lazily, once per warm Lambda environment.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from qip import aws, config
from qip.exceptions import ConfigurationError
from qip.store import MetadataStore
from qip.telemetry import Telemetry

logger = Logger(service="qip")
metrics = Metrics(namespace="QuantumImageProcessor", service="qip")


def required(setting: config.Setting) -> str:
    value = setting.get()
    if not value:
        raise ConfigurationError(f"environment variable {setting.env} is not set ({setting.help})")
    return value


@lru_cache(maxsize=None)
def store() -> MetadataStore:
    return MetadataStore(aws.table(required(config.TABLE_NAME)))


@lru_cache(maxsize=None)
def telemetry() -> Telemetry:
    return Telemetry(
        aws.client("events"), aws.client("sns"), required(config.EVENT_BUS_NAME), required(config.TOPIC_ARN)
    )


def s3():
    return aws.client("s3")


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
