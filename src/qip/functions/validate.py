"""Step 1, validate: is the upload a whole, decodable image within the limits?

An invalid image is a verdict, not an error: the state machine sends it to REJECTED, final
and never retried.
"""

from __future__ import annotations

from qip import objects
from qip.functions import runtime, settings
from qip.functions.step import StepRequest, run_step
from qip.imaging import validate
from qip.imaging.exceptions import InvalidImageError


def check(request: StepRequest) -> dict:
    limits = settings.limits()
    data = objects.read(runtime.s3(), request.bucket, request.key, limit=limits.max_bytes + 1)
    try:
        info = validate(data, limits)
    except InvalidImageError as invalid:
        return {"verdict": "rejected", "reason_code": invalid.reason_code, "reason": str(invalid)}
    return {"verdict": "accepted", **info.to_dict()}


@runtime.logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return run_step("validate", event, check)
