"""The stack on the local engine: `qip up` and `qip down` in code."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from qip.client.errors import StackNotFoundError
from qip.client.stack import StackInfo
from qip.core import aws, config
from qip.core.clock import now_iso
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
       parameters: dict[str, str] | None = None, engine_env: dict[str, str] | None = None,
       recovered: Callable[[dict[str, Any]], None] = lambda _: None) -> StackInfo:
    """Start the engine if needed, deploy or update the stack, and return its outputs.

    The engine saves its queues, tables, runs and the stack itself only when it stops cleanly, so
    a deploy that changed the stack is followed by a clean restart (a save point: a crash later
    cannot take the stack with it). An engine that had ended without one is reported; after every
    start, what the engine lost is repaired: uploads with no record are queued again, stranded
    images requeued and runs left RUNNING by the old engine stopped (see qip.core.reconciliation).
    """
    renditions.check({**LOCAL_PARAMETERS, **(parameters or {})})  # a bad renditions file stops here
    local.home.mkdir(parents=True, exist_ok=True)
    aws.trust(local.endpoint_url, str(local.certificate))
    crashed = local.unclean_stop()
    if crashed:
        progress(f"warning: {crashed.describe()}")
    started = local.start(timeout=config.ENGINE_START_TIMEOUT.get(), extra_env=engine_env)
    if started:
        progress(f"local engine started on {local.endpoint_url} (state in {local.home})")
    else:
        progress(f"local engine already running on {local.endpoint_url}")
    started_at = now_iso()
    region = config.REGION.get()
    artifact = local_artifact(progress)
    s3 = aws.client("s3", local.endpoint_url, region)
    deploy.ensure_bucket(s3, ARTIFACTS_BUCKET)
    template = deploy.package(s3, ARTIFACTS_BUCKET, artifact.path, artifact.sha256)
    outputs, changed = deploy.deploy_changes(aws.client("cloudformation", local.endpoint_url, region), stack,
                                             template, {**LOCAL_PARAMETERS, **(parameters or {})}, progress,
                                             s3=s3, bucket=ARTIFACTS_BUCKET)
    if changed:
        save_point(local, progress, engine_env)
        started, started_at = True, now_iso()
    info = StackInfo.from_outputs(outputs, local.endpoint_url, region)
    if started:  # no run survives an engine's restart: images it left in flight are stranded now
        recovered(recover(info, started_at, crashed is not None, progress))
    return prewarm.after_up(info, progress)


def save_point(local: Engine, progress: Callable[[str], None], engine_env: dict[str, str] | None) -> None:
    """Restart the engine cleanly, so that what it holds now (the stack just deployed) is on disk."""
    began = time.monotonic()
    local.stop()
    local.start(timeout=config.ENGINE_START_TIMEOUT.get(), extra_env=engine_env)
    progress(f"engine state saved (a clean restart, {time.monotonic() - began:.1f} s): the stack survives a crash")


def recover(info: StackInfo, engine_started_at: str, crashed: bool,
            progress: Callable[[str], None]) -> dict[str, Any]:
    """After the engine (re)started: queue every upload that has no record (its event was lost: even
    a clean stop drops events not yet delivered), requeue the images it left UPLOADED or PROCESSING,
    and stop the runs it still calls RUNNING."""
    from qip.client.pipeline import Pipeline
    from qip.core.reconciliation import summarise

    result = Pipeline(info).reconcile(0, config.PIPELINE_MAX_ATTEMPTS.get(), uploads=True,
                                      orphaned_before=engine_started_at)
    if crashed or result["checked"] or result["unrecorded"]:
        progress(f"recovered after {'the unclean stop' if crashed else 'the restart'}: {summarise(result)}")
    return result


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
