"""Step 4, thumbnails: cascaded down from the display image (already oriented and sRGB)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import objects
from qip.core.model import Stage
from qip.functions import runtime
from qip.functions.resize import store_derivative
from qip.functions.step import StepRequest, run_step
from qip.imaging import thumbnails


def make_thumbnails(request: StepRequest) -> dict[str, Any]:
    display = request.extras["display"]
    data = objects.read(runtime.s3(), display["bucket"], display["key"])
    made = thumbnails(data, runtime.render_options())
    return {"items": [store_derivative(request.key, thumb) for thumb in made]}


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(Stage.THUMBNAILS, event, make_thumbnails)
