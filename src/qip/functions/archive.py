"""Step 5, archive: the original into the archive bucket, and a manifest of every output."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import config, layout, objects
from qip.core.clock import now_iso
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.step import StepRequest, run_step

MANIFEST_VERSION = 1


def archive(request: StepRequest) -> dict[str, Any]:
    bucket = runtime.required(config.ARCHIVE_BUCKET)
    s3 = runtime.s3()
    original_key = layout.archive_key(request.key, "original")
    objects.copy(s3, request.bucket, request.key, bucket, original_key, tags=layout.ORIGINAL_TAG)
    display = request.extras["display"]
    thumbs = request.extras["thumbnails"]["items"]
    manifest = {
        "version": MANIFEST_VERSION,
        "image": {"bucket": request.bucket, "key": request.key, "etag": request.image.etag},
        "archived_at": now_iso(),
        "execution": request.execution,
        "metadata": request.extras.get("metadata"),
        "original": {"uri": layout.s3_uri(bucket, original_key), "bytes": request.image.size,
                     "content_type": request.image.content_type},
        "display": display,
        "thumbnails": thumbs,
    }
    manifest_key = layout.archive_key(request.key, "manifest.json")
    objects.write(s3, bucket, manifest_key, json.dumps(manifest, indent=2).encode(), "application/json")
    return {
        "original": layout.s3_uri(bucket, original_key),
        "display": display["uri"],
        "thumbnails": [thumb["uri"] for thumb in thumbs],
        "manifest": layout.s3_uri(bucket, manifest_key),
        "dimensions": {"width": display["width"], "height": display["height"]},
    }


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.ARCHIVE, event, archive)
