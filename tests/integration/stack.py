"""Helpers for tests against a stack on the real local engine: upload, wait, read back."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass

from qip.api import Pipeline, StackInfo
from qip.local.engine import Engine
from qip.store import TERMINAL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalStack:
    """A deployed stack on a running engine, with what tests need to drive it."""

    engine: Engine
    info: StackInfo
    name: str

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.info)

    def client(self, service: str):
        return self.info.client(service)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client("s3").put_object(Bucket=self.info.upload_bucket, Key=key, Body=data, ContentType=content_type)

    def wait(self, keys: list[str], timeout: float = 120.0) -> dict[str, dict]:
        """Records of the keys once each is terminal (final FAILED counts); fails at the deadline."""
        records = self.pipeline.wait(keys, timeout=timeout, poll=0.25)
        pending = {k: r.get("status") for k, r in records.items() if not _final(r)}
        assert not pending, f"not terminal after {timeout} s: {pending}"
        return records

    def executions_for(self, key: str) -> list[dict]:
        """Step Functions executions whose input names this key."""
        import json

        sfn = self.client("stepfunctions")
        found = []
        paginator = sfn.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=self.info.state_machine_arn):
            for execution in page["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                if json.loads(described["input"])["image"]["key"] == key:
                    found.append(described)
        return found

    def aws_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The real AWS CLI against the engine."""
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",  # the engine's dummy keys
               "AWS_DEFAULT_REGION": self.info.region, "PATH": _path(),
               "AWS_CA_BUNDLE": str(self.engine.certificate)}  # the engine serves HTTPS
        return subprocess.run(["aws", "--endpoint-url", self.info.endpoint_url, *args], env=env,
                              capture_output=True, text=True, check=check, timeout=120)


def _final(record: dict) -> bool:
    if record.get("status") == "FAILED":
        return bool(record.get("final_failure"))
    return record.get("status") in TERMINAL


def _path() -> str:
    import os
    import sys
    from pathlib import Path

    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.25, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not met within {timeout} s")
