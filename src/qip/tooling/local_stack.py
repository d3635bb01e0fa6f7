"""The stack on the local engine: `qip up` and `qip down` in code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import ClientError

from qip.client.errors import StackNotFoundError
from qip.client.stack import StackInfo
from qip.core import aws, config
from qip.tooling import build, prewarm, renditions
from qip.tooling import cloudformation as deploy
from qip.tooling.engine import Engine
from qip.tooling.errors import DeployError, EngineError
from qip.tooling.parameters import LOCAL_PARAMETERS
from qip.tooling.paths import DEFAULT_HOME

ARTIFACTS_BUCKET = "qip-artifacts"
def engine(port: int | None = None, home: Path | None = None) -> Engine:
    return Engine(port=config.ENGINE_PORT.get(port), home=Path(config.STATE_DIR.get(home) or DEFAULT_HOME).resolve())


def up(local: Engine, stack: str, progress: Callable[[str], None] = print,
       parameters: dict[str, str] | None = None, engine_env: dict[str, str] | None = None) -> StackInfo:
    """Start the engine if needed, deploy or update the stack, and return its outputs."""
    renditions.check({**LOCAL_PARAMETERS, **(parameters or {})})  # a bad renditions file stops here
    local.home.mkdir(parents=True, exist_ok=True)
    aws.trust(local.endpoint_url, str(local.certificate))
    if local.start(timeout=config.ENGINE_START_TIMEOUT.get(), extra_env=engine_env):
        progress(f"local engine started on {local.endpoint_url} (state in {local.home})")
    else:
        progress(f"local engine already running on {local.endpoint_url}")
    region = config.REGION.get()
    artifact = local_artifact(progress)
    s3 = aws.client("s3", local.endpoint_url, region)
    deploy.ensure_bucket(s3, ARTIFACTS_BUCKET)
    template = deploy.package(s3, ARTIFACTS_BUCKET, artifact.path, artifact.sha256)
    outputs = deploy.deploy(aws.client("cloudformation", local.endpoint_url, region), stack, template,
                            {**LOCAL_PARAMETERS, **(parameters or {})}, progress, s3=s3, bucket=ARTIFACTS_BUCKET)
    return prewarm.after_up(StackInfo.from_outputs(outputs, local.endpoint_url, region), progress)


def local_artifact(progress: Callable[[str], None] = print) -> build.Artifact:
    """The code zip the local engine runs: `qip`'s shipped packages, dependencies from this venv
    (`build.build_local`: each worker the engine spawns unpacks it; the full zip cost ~0.5 s of
    the engine's CPU per worker).

    The engine runs each function on its own interpreter, with the zip's folder first on sys.path,
    so the runtime must be this interpreter's Python version.
    """
    runtime = build.runtime()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if build.python_version(runtime) != here:
        raise DeployError(f"the functions' runtime is {runtime} (template.yaml) but the local engine runs them on "
                          f"Python {here}: the artifact's native modules would not load. Use a Python "
                          f"{build.python_version(runtime)} venv "
                          f"(PYTHON=python{build.python_version(runtime)} ./dev install)")
    artifact = build.build_local(progress=progress)
    progress(f"artifact: {artifact.summary()}")
    return artifact


def info(local: Engine, stack: str) -> StackInfo:
    """The outputs of the stack on a running engine."""
    if not local.healthy():
        raise EngineError(f"the local engine is not running on {local.endpoint_url}; start it with `qip up`")
    aws.trust(local.endpoint_url, str(local.certificate))
    region = config.REGION.get()
    try:
        outputs = deploy.stack_outputs(aws.client("cloudformation", local.endpoint_url, region), stack)
    except ClientError as error:
        raise StackNotFoundError(f"stack {stack!r} is not deployed on {local.endpoint_url}; run `qip up`") from error
    return StackInfo.from_outputs(outputs, local.endpoint_url, region)
