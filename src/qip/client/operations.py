"""Calls to the stack's operations function (`<stack>-operations`): erasure and the renditions in
force run there, with that function's narrow role; the caller needs only lambda:InvokeFunction."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qip.client.errors import NotFoundError
from qip.client.stack import StackInfo
from qip.core.errors import QipError


class OperationError(QipError):
    """The operations function could not do what was asked (its own error message follows)."""


def function_name(stack: StackInfo) -> str:
    return f"{stack.stack_name}-operations"


def invoke(stack: StackInfo, action: str, **fields: Any) -> dict[str, Any]:
    """Run one action and return its result; OperationError with the function's own message."""
    name = function_name(stack)
    try:
        response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"action": action, **fields}))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise NotFoundError(f"the stack has no function {name}; redeploy it (`qip up` or `qip deploy`)") from error
        raise OperationError(f"could not call {name}: {error}") from error
    except BotoCoreError as error:
        raise OperationError(f"could not call {name}: {error}") from error
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        detail = payload if isinstance(payload, dict) else {}
        raise OperationError(f"{action} failed in {name}: {detail.get('errorType', 'error')}: "
                             f"{detail.get('errorMessage', payload)}")
    result: dict[str, Any] = payload
    return result
