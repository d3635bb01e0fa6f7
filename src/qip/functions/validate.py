"""Step 1, validate: is the upload a whole, decodable image within the limits?

An invalid image is a verdict, not an error: the state machine sends it to REJECTED, final
and never retried.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import objects
from qip.core.model import Rejection, Stage
from qip.functions import runtime
from qip.functions.step import StepRequest, run_step
from qip.imaging import validate
from qip.imaging.exceptions import InvalidImageError


def check(request: StepRequest) -> dict[str, Any]:
    limits = runtime.limits()
    data = objects.read(runtime.s3(), request.bucket, request.key, limit=limits.max_bytes + 1)
    try:
        info = validate(data, limits)
    except InvalidImageError as invalid:
        return Rejection.from_error(invalid).to_verdict()
    return {"verdict": "accepted", **info.to_dict()}


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.VALIDATE, event, check)
