"""Step 2, extract metadata: format, dimensions, colour, EXIF, checksum and BlurHash.

The full metadata goes to the store; the state machine carries only a summary.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import objects
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.step import Outcome, StepRequest, run_step
from qip.imaging import extract_metadata

SUMMARY_FIELDS = ("format", "width", "height", "frame_count", "sha256", "blurhash")


def extract(request: StepRequest) -> Outcome:
    data = objects.read(runtime.s3(), request.bucket, request.key)
    metadata = extract_metadata(data, runtime.limits())
    return Outcome({name: metadata.get(name) for name in SUMMARY_FIELDS}, {"metadata": metadata})


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.EXTRACT_METADATA, event, extract)
