"""Step 5, archive: the original into the archive bucket, a manifest of every output (by
rendition and format, with the renditions' version), and outputs of renditions the image no
longer has removed (after a change of src/renditions.yaml and `qip reprocess`). The extracted
metadata, which the state machine carried here, goes into the manifest and the record."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import config, layout, objects
from qip.core.clock import now_iso
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.outputs import Written, renditions
from qip.functions.step import Outcome, StepRequest, run_step
from qip.imaging.renditions import BUILTIN_DISPLAY

MANIFEST_VERSION = 2


def archive(request: StepRequest) -> Outcome:
    current = renditions()
    bucket = runtime.required(config.ARCHIVE_BUCKET)
    written = Written()
    original_key = layout.archive_key(request.key, layout.ORIGINAL)
    written.copy(request.bucket, request.key, original_key, tags=layout.ORIGINAL_TAG)
    large = request.extras["display"]
    small = request.extras["thumbnails"]
    outputs = [*large.get("items", []), *small.get("items", [])]
    made_by = {large.get("renditions_version"), small.get("renditions_version")}
    version = made_by.pop() if len(made_by) == 1 else ""  # a deploy between the steps: stale, redo
    display = _display(outputs)
    thumbnails = [o for o in outputs if o is not display and o in small.get("items", [])]
    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "renditions_version": version,
        "renditions": {o["rendition"]: o["digest"] for o in outputs if o.get("rendition")},
        "image": {"bucket": request.bucket, "key": request.key, "etag": request.image.etag},
        "archived_at": now_iso(),
        "execution": request.execution,
        "metadata": request.extras.get("metadata"),
        "original": {"uri": layout.s3_uri(bucket, original_key), "bytes": request.image.size,
                     "content_type": request.image.content_type},
        "outputs": outputs,
        "display": display,
        "thumbnails": thumbnails,
    }
    manifest_key = layout.archive_key(request.key, layout.MANIFEST)
    written.put(manifest_key, json.dumps(manifest, indent=2).encode(), "application/json")
    keep = {original_key, manifest_key, *(o["key"] for o in outputs)}
    for key in objects.children(runtime.s3(), bucket, layout.archive_prefix(request.key)):
        if key not in keep and layout.is_own_output(request.key, key):
            written.delete(key)  # a rendition the image no longer has (a delete marker: versions expire)
    metadata = request.extras.get("metadata")
    return Outcome({
        "original": layout.s3_uri(bucket, original_key),
        "display": display["uri"] if display else None,
        "thumbnails": [o["uri"] for o in thumbnails],
        "manifest": layout.s3_uri(bucket, manifest_key),
        "dimensions": {"width": display["width"], "height": display["height"]} if display else None,
        "renditions_version": version,
        "renditions": manifest["renditions"] if version == current.version else {},
        "outputs": [{"rendition": o.get("rendition"), "format": o["format"], "uri": o["uri"],
                     "width": o["width"], "height": o["height"]} for o in outputs],
    }, {"metadata": metadata} if metadata else None, take_back=written.take_back)


def _display(outputs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The output shown as the image: the `display` rendition's (its first format), else the largest."""
    named = [o for o in outputs if o.get("name") == BUILTIN_DISPLAY]
    return named[0] if named else max(outputs, key=lambda o: o["width"] * o["height"], default=None)


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.ARCHIVE, event, archive)
