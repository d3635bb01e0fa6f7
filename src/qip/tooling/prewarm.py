"""Start the local engine's Lambda workers right after `qip up`, before the first upload needs them.

The engine starts a worker process for a call only when none of the function's workers is idle,
and an update of the stack (or a restart of the engine) ends them all. Without this, the first
image after `qip up` met about seven cold starts in a row (one per function it passes through),
and the first burst started a storm of them at once. So each function is called with
`{"warmup": true}` (which builds its clients and returns, with no side effects: see
`qip.functions.runtime.handler`) as many times at once as it will run at once: that is as many
workers as it will need.

How many: the pipeline's functions (tracker and the five steps) run at most as many calls at
once as images may run at once (the dispatcher's MAX_RUNNING_IMAGES), and a function fed by a
queue at most its event source's MaximumConcurrency. All read from the deployed stack. Two
functions are warmed at a time, so the spawns do not crowd the engine's two cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from qip.client.stack import StackInfo
from qip.core import config

LambdaClient = Any  # the project installs no Lambda type stubs (nothing else calls Lambda)

WARMUP_EVENT = json.dumps({"warmup": True}).encode()
PIPELINE_FUNCTIONS = ("tracker", "validate", "extract-metadata", "resize", "thumbnails", "archive")
FUNCTIONS_AT_ONCE = 2


@dataclass(frozen=True)
class Warmed:
    """What pre-warming did: workers per function, and how long it took."""

    workers: dict[str, int]
    seconds: float
    failures: list[str]

    def summary(self) -> str:
        total = sum(self.workers.values())
        text = f"{total} Lambda workers warmed in {self.seconds:.1f} s (" + ", ".join(
            f"{name} {count}" for name, count in self.workers.items()) + ")"
        return text + (f"; not warmed: {'; '.join(self.failures)}" if self.failures else "")


def plan(lambda_client: LambdaClient, stack: str) -> dict[str, int]:
    """How many workers each of the stack's functions will need at once."""
    names = [f["FunctionName"] for page in lambda_client.get_paginator("list_functions").paginate()
             for f in page["Functions"] if f["FunctionName"].startswith(f"{stack}-")]
    wanted = dict.fromkeys(names, 0)
    dispatcher = f"{stack}-dispatcher"
    running = 0
    if dispatcher in wanted:
        variables = lambda_client.get_function_configuration(FunctionName=dispatcher).get("Environment", {})
        running = int(variables.get("Variables", {}).get("MAX_RUNNING_IMAGES", "0") or 0)
    for name in names:
        if name.removeprefix(f"{stack}-") in PIPELINE_FUNCTIONS:
            wanted[name] = running or 1
    for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        name = mapping["FunctionArn"].rsplit(":", 1)[-1]
        if name in wanted:
            wanted[name] = max(wanted[name], int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 1)))
    limit = config.PREWARM_WORKERS.get()
    if limit >= 0:
        wanted = {name: min(count, limit) for name, count in wanted.items()}
    return {name: count for name, count in wanted.items() if count > 0}


def warm(info: StackInfo, progress: Callable[[str], None] = print) -> Warmed:
    """Call every function of the stack with a warm-up event, each as many times at once as planned."""
    started = time.monotonic()
    client = info.client("lambda")
    wanted = plan(client, info.stack_name)
    failures: list[str] = []

    def warm_one(item: tuple[str, int]) -> None:
        name, count = item
        with ThreadPoolExecutor(count) as calls:
            for answer in calls.map(lambda _: _invoke(client, name), range(count)):
                if answer.get("warm") is not True:
                    failures.append(f"{name}: {answer}")

    with ThreadPoolExecutor(FUNCTIONS_AT_ONCE) as functions:
        list(functions.map(warm_one, sorted(wanted.items(), key=lambda kv: -kv[1])))
    warmed = Warmed({name.removeprefix(f"{info.stack_name}-"): n for name, n in wanted.items()},
                    time.monotonic() - started, failures)
    progress(warmed.summary())
    return warmed


def after_up(info: StackInfo, progress: Callable[[str], None] = print) -> StackInfo:
    """`qip up`'s last step: warm the workers (unless QIP_PREWARM_WORKERS=0), then the stack's outputs."""
    if config.PREWARM_WORKERS.get() != 0:
        warm(info, progress)
    return info


def _invoke(client: LambdaClient, name: str) -> dict[str, Any]:
    try:
        response = client.invoke(FunctionName=name, Payload=WARMUP_EVENT)
        answer: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"}
    return answer
