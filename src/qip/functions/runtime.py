"""What every handler shares: settings, clients, the store, telemetry, logger and metrics.

Built lazily, once per warm Lambda environment.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from qip.core import aws, config, faults, usage
from qip.core.errors import ConfigurationError
from qip.core.store import MetadataStore
from qip.core.telemetry import Telemetry
from qip.imaging import Limits, RenderOptions

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_s3 import S3Client

R = TypeVar("R")
WARMUP = "warmup"
"""An event `{"warmup": true}` only builds the environment's clients and returns: no side effects."""
INVOCATION = "qip_invocation"

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


def handler(function: Callable[[dict[str, Any], LambdaContext], R]) -> Callable[[dict[str, Any], LambdaContext], R]:
    """The frame of every Lambda handler: Powertools' Lambda context on the log lines, warm-up
    calls answered without running the handler, and (on the local engine only) one closing
    line on stderr.

    The closing line: the local engine waits 50 ms after each call for a line of output,
    holding its worker, unless one came (docs/engine-notes/silent-handler-drain.md); on AWS
    the line would only cost log ingestion, so it is written only where `AWS_ENDPOINT_URL`
    names a local engine.
    """
    logged = logger.inject_lambda_context(function)

    @functools.wraps(function)
    def run(event: dict[str, Any], context: LambdaContext) -> R:
        if isinstance(event, dict) and event.get(WARMUP) is True:
            return warm()  # type: ignore[return-value]  # a warm-up caller reads only this
        started = time.perf_counter()
        try:
            return logged(event, context)
        finally:
            if on_local_engine():
                print(invocation_line(started), file=sys.stderr, flush=True)

    return run


def invocation_line(started: float) -> str:
    """The closing line on the local engine: this call's duration and the AWS calls it made
    (`qip cost` reads them back from the function's log; on AWS the REPORT line and the bill
    say the same)."""
    return json.dumps({INVOCATION: {"ms": round((time.perf_counter() - started) * 1000, 2), **usage.take()}},
                      separators=(",", ":"))


def warm() -> dict[str, Any]:
    """Make the clients this environment will use (botocore loads each service's model once,
    ~50 ms each), so the first real call does not pay for it. Never raises: on the local engine a
    raising handler kills its worker, which is what a warm-up call is there to keep."""
    made = []
    try:
        if config.TABLE_NAME.get():
            store()
            made.append("dynamodb")
        if config.EVENT_BUS_NAME.get() and config.TOPIC_ARN.get():
            telemetry()
            made.append("events+sns")
        for service, setting in (("s3", config.TABLE_NAME), ("sqs", config.QUEUE_URL),
                                 ("stepfunctions", config.STATE_MACHINE_ARN)):
            if setting.get():
                aws.client(service)
                made.append(service)
    except Exception as error:
        return {"warm": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        usage.take()  # a warm-up makes no call worth counting
        if on_local_engine():
            print(file=sys.stderr, flush=True)
    return {"warm": True, "clients": made}


@cache
def on_local_engine() -> bool:
    """True in a worker of the local engine (its endpoint is on this machine's loopback)."""
    return urlparse(config.LOCAL_ENGINE_ENDPOINT.get()).hostname in faults.LOCAL_HOSTS
