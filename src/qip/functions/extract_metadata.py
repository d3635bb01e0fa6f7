"""Step 2, extract metadata: format, dimensions, colour, EXIF, checksum and BlurHash.

The metadata (a few hundred bytes to about 2 KB: EXIF texts are capped) travels in the state
machine to the archive step, which keeps it in the record and the manifest. Stored here, it would
make each later write of the record (resize, thumbnails, archive) bill two write units instead of
one, as DynamoDB bills a write by the larger of the item's old and new size. Its success event
says only the summary.
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
    return Outcome(metadata, announced={name: metadata.get(name) for name in SUMMARY_FIELDS})


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.EXTRACT_METADATA, event, extract)
