"""Reconciler: the scheduled sweep for images stuck in UPLOADED or PROCESSING (see qip.reconcile)."""

from __future__ import annotations

from datetime import timedelta

from qip import aws, config
from qip.functions import runtime
from qip.reconcile import Reconciler


def reconciler() -> Reconciler:
    return Reconciler(runtime.store(), aws.client("stepfunctions"), aws.client("sqs"),
                      runtime.required(config.STATE_MACHINE_ARN), runtime.required(config.QUEUE_URL),
                      runtime.required(config.DLQ_URL), config.PIPELINE_MAX_ATTEMPTS.get())


@runtime.logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    result = reconciler().run(timedelta(minutes=config.STUCK_AFTER_MINUTES.get())).to_dict()
    runtime.logger.info("reconciled", extra=result)
    return result
