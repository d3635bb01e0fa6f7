"""What every handler shares: settings, clients, the store, telemetry, logger and metrics.

Built lazily, once per warm Lambda environment.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics

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
