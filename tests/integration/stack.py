"""Helpers for tests against a stack on the real local engine: upload, wait, read back."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass

from qip.client.pipeline import Pipeline
from qip.client.stack import StackInfo
from qip.core.model import TERMINAL
from qip.tooling.engine import Engine


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


class Capture:
    """An SQS queue subscribed to the stack's bus or topic, drained by the test (deleted after)."""

    def __init__(self, stack: LocalStack, name: str) -> None:
        self.stack = stack
        self.sqs = stack.client("sqs")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]
        self.arn = attributes["QueueArn"]
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": _delivery_policy(self.arn)})
        self.messages: list[dict] = []

    def drain(self, settle: float = 1.0) -> list[dict]:
        """Every message so far (bodies parsed), waiting until none arrives for `settle` seconds."""
        import json

        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                             MessageAttributeNames=["All"]).get("Messages", [])
            for message in batch:
                self.messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            if batch:
                quiet_since = time.monotonic()
            else:
                time.sleep(0.2)
        return self.messages


def _delivery_policy(queue_arn: str) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "sns.amazonaws.com"]},
        "Action": "sqs:SendMessage", "Resource": queue_arn}]})


def capture_bus(stack: LocalStack, name: str) -> Capture:
    """Every event the pipeline publishes on the project's bus, into a fresh queue."""
    import json

    capture = Capture(stack, name)
    events = stack.client("events")
    events.put_rule(Name=name, EventBusName=stack.info.event_bus,
                    EventPattern=json.dumps({"source": ["qip.pipeline"]}))
    events.put_targets(Rule=name, EventBusName=stack.info.event_bus, Targets=[{"Id": "capture", "Arn": capture.arn}])
    return capture


def capture_topic(stack: LocalStack, name: str, filter_policy: dict | None = None) -> Capture:
    """The topic's notifications (raw, with message attributes), optionally filtered."""
    import json

    capture = Capture(stack, name)
    attributes = {"RawMessageDelivery": "false"}
    if filter_policy:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    stack.client("sns").subscribe(TopicArn=stack.info.topic_arn, Protocol="sqs", Endpoint=capture.arn,
                                  Attributes=attributes)
    return capture
