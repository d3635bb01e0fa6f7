"""Operations an operator asks for (`qip delete`, `qip reprocess`, the dashboard, the Python API),
invoked directly, never by an event: so erasure happens only on request.

- `{"action": "erase", "key": K}`: erase one image (qip.core.erasure), with this function's
  narrow role; the caller needs only lambda:InvokeFunction on it.
- `{"action": "renditions"}`: the renditions in force here (version, rules, digests), so the
  operator's side can tell which images are stale without holding the deployed file.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qip.core import aws, config
from qip.core.erasure import Eraser
from qip.functions import runtime
from qip.functions.outputs import renditions
from qip.functions.step import transient_errors


class UnknownActionError(ValueError):
    """The request names no action this function has."""


def erase(event: dict[str, Any]) -> dict[str, Any]:
    key = str(event.get("key") or "")
    if not key:
        raise UnknownActionError("erase needs a `key`")
    runtime.logger.append_keys(image_key=key)
    audit = aws.table(runtime.required(config.AUDIT_TABLE_NAME))
    eraser = Eraser(runtime.store(), runtime.s3(), aws.client("stepfunctions"), runtime.telemetry(), audit,
                    runtime.required(config.UPLOAD_BUCKET), runtime.required(config.ARCHIVE_BUCKET),
                    runtime.required(config.STATE_MACHINE_ARN))
    result = eraser.erase(key).to_dict()
    runtime.logger.info("erasure done", extra={"erasure": result})
    return result


def describe_renditions(event: dict[str, Any]) -> dict[str, Any]:
    current = renditions()
    return {**current.selection().to_dict(), "renditions": current.to_dict()["renditions"]}


ACTIONS = {"erase": erase, "renditions": describe_renditions}


@runtime.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = ACTIONS.get(str(event.get("action")))
    if action is None:
        raise UnknownActionError(f"unknown action {event.get('action')!r}; one of {', '.join(ACTIONS)}")
    with transient_errors():
        return action(event)
