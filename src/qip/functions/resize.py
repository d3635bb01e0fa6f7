"""Step 3, resize: the image key's large renditions (src/renditions.yaml), from one decode of the
upload, written to the archive bucket (by default: display.jpg, fitted to MaxSide)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import objects
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.outputs import Written, renditions
from qip.functions.step import Outcome, StepRequest, run_step
from qip.imaging import make_renditions
from qip.imaging.renditions import split, thumbnail_source


def make_large(request: StepRequest) -> Outcome:
    config = renditions()
    wanted = config.select(request.key)
    large, _ = split(wanted)
    data = objects.read(runtime.s3(), request.bucket, request.key)
    rendered = make_renditions(data, large, runtime.render_options(), runtime.limits())
    written = Written()
    items = [written.output(request.key, output) for output in rendered.outputs]
    source = thumbnail_source(wanted)
    pointer = next((i for i in items if source and i["name"] == source.name), None)
    return Outcome({"renditions_version": config.version, "items": items, "rights": rendered.rights.to_dict(),
                    "source": {"bucket": pointer["bucket"], "key": pointer["key"]} if pointer else None},
                   take_back=written.take_back)


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.RESIZE, event, make_large)
