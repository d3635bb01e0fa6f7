"""Reconciler: the scheduled sweep for images stuck in UPLOADED or PROCESSING (see qip.core.reconciliation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import aws, config
from qip.core.reconciliation import Reconciler
from qip.functions import runtime


def reconciler() -> Reconciler:
    return Reconciler(runtime.store(), aws.client("stepfunctions"), aws.client("sqs"),
                      runtime.required(config.STATE_MACHINE_ARN), runtime.required(config.QUEUE_URL),
                      runtime.required(config.DLQ_URL), config.PIPELINE_MAX_ATTEMPTS.get(),
                      express=config.WORKFLOW_TYPE.get() == "EXPRESS")


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = reconciler().run(timedelta(minutes=config.STUCK_AFTER_MINUTES.get())).to_dict()
    runtime.logger.info("reconciled", extra=result)
    return result
