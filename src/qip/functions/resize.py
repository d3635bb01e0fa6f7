"""Step 3, resize: the display image, fitted to MAX_SIDE, written to the archive bucket."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import config, layout, objects
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.step import StepRequest, run_step
from qip.imaging import Derivative, resize


def store_derivative(image_key: str, derivative: Derivative) -> dict[str, Any]:
    """Write a derivative under the image's archive prefix; return its pointer."""
    bucket = runtime.required(config.ARCHIVE_BUCKET)
    key = layout.archive_key(image_key, layout.derivative_name(derivative.name, derivative.format))
    objects.write(runtime.s3(), bucket, key, derivative.data, derivative.content_type)
    return {"bucket": bucket, "key": key, "uri": layout.s3_uri(bucket, key), "bytes": len(derivative.data),
            **derivative.to_dict()}


def make_display(request: StepRequest) -> dict[str, Any]:
    data = objects.read(runtime.s3(), request.bucket, request.key)
    return store_derivative(request.key, resize(data, runtime.render_options()))


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.RESIZE, event, make_display)
