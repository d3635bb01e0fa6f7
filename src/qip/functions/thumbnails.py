"""Step 4, thumbnails: the image key's small renditions, cascaded down from the resize step's
largest uncropped output (already oriented and sRGB: by default display.jpg -> thumb-512, 256,
128), or from the upload when no large output is big enough."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import objects
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.outputs import Written, renditions
from qip.functions.step import Outcome, StepRequest, run_step
from qip.imaging import make_renditions
from qip.imaging.renditions import split
from qip.imaging.rights import Rights


def make_small(request: StepRequest) -> Outcome:
    config = renditions()
    _, small = split(config.select(request.key))
    large = request.extras.get("display") or {}
    source = large.get("source")
    written = Written()
    items: list[dict[str, Any]] = []
    if small:
        if source:  # an output carries only the rights its rendition kept: pass the upload's
            data = objects.read(runtime.s3(), source["bucket"], source["key"])
            rights: Rights | None = Rights.from_dict(large.get("rights"))
        else:
            data, rights = objects.read(runtime.s3(), request.bucket, request.key), None
        rendered = make_renditions(data, small, runtime.render_options(), runtime.limits(), rights)
        items = [written.output(request.key, output) for output in rendered.outputs]
    return Outcome({"renditions_version": config.version, "items": items}, take_back=written.take_back)


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.THUMBNAILS, event, make_small)
