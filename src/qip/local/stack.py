"""The stack on the local engine: `qip up` and `qip down` in code."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable

from botocore.exceptions import ClientError

from qip import aws, config
from qip.api import StackInfo
from qip.exceptions import EngineError, StackNotFoundError
from qip.local import deploy
from qip.local.engine import Engine

ARTIFACTS_BUCKET = "qip-artifacts"
# Local-only template parameters; the template's defaults are the AWS-safe ones.
LOCAL_PARAMETERS = {
    # The engine reports every Python exception as Runtime.HandlerError, not by class name.
    "EngineRetryableError": "Runtime.HandlerError",
    "PipelineRetryDelaySeconds": "2",
    "Architecture": "arm64" if platform.machine() in ("arm64", "aarch64") else "x86_64",
}


def engine(port: int | None = None, home: Path | None = None) -> Engine:
    return Engine(port=config.ENGINE_PORT.get(port), home=Path(config.STATE_DIR.get(home)).resolve())


def up(local: Engine, stack: str, progress: Callable[[str], None] = print,
       parameters: dict[str, str] | None = None, engine_env: dict[str, str] | None = None) -> StackInfo:
    """Start the engine if needed, deploy or update the stack, and return its outputs."""
    local.home.mkdir(parents=True, exist_ok=True)
    if local.start(timeout=config.ENGINE_START_TIMEOUT.get(), extra_env=engine_env):
        progress(f"local engine started on {local.endpoint_url} (state in {local.home})")
    else:
        progress(f"local engine already running on {local.endpoint_url}")
    region = config.REGION.get()
    s3 = aws.client("s3", local.endpoint_url, region)
    template = deploy.package(s3, ARTIFACTS_BUCKET)
    outputs = deploy.deploy(aws.client("cloudformation", local.endpoint_url, region), stack, template,
                            {**LOCAL_PARAMETERS, **(parameters or {})}, progress)
    return StackInfo.from_outputs(outputs, local.endpoint_url, region)


def info(local: Engine, stack: str) -> StackInfo:
    """The outputs of the stack on a running engine."""
    if not local.healthy():
        raise EngineError(f"the local engine is not running on {local.endpoint_url}; start it with `qip up`")
    region = config.REGION.get()
    try:
        outputs = deploy.stack_outputs(aws.client("cloudformation", local.endpoint_url, region), stack)
    except ClientError as error:
        raise StackNotFoundError(f"stack {stack!r} is not deployed on {local.endpoint_url}; run `qip up`") from error
    return StackInfo.from_outputs(outputs, local.endpoint_url, region)
