"""Step 4, thumbnails: cascaded down from the display image (already oriented and sRGB)."""

from __future__ import annotations

from qip import objects
from qip.functions import runtime, settings
from qip.functions.resize import store_derivative
from qip.functions.step import StepRequest, run_step
from qip.imaging import thumbnails


def make_thumbnails(request: StepRequest) -> dict:
    display = request.extras["display"]
    data = objects.read(runtime.s3(), display["bucket"], display["key"])
    made = thumbnails(data, settings.render_options())
    return {"items": [store_derivative(request.key, thumb) for thumb in made]}


@runtime.logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return run_step("thumbnails", event, make_thumbnails)
