"""The stack's resources in moto, made the way template.yaml makes them, and ways to read them back.

Used by the `aws` fixture in conftest.py; tests import the names and helpers from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3

from qip.core import aws as qip_aws
from qip.functions import outputs, runtime

REGION = "us-east-1"
UPLOAD_BUCKET = "qip-uploads"  # the bucket the sample events name
ARCHIVE_BUCKET = "qip-archive"
TABLE = "qip-metadata"
BUS = "qip-events"
EVENT_SOURCE = "qip.pipeline"
# moto does not run executions unless asked, so the dispatcher's tests need only a state machine to start.
PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
# One boto3 session for every test: a new session loads each service's model files again (about
# 0.1 s a service), which would dominate the run time. The code's clients (qip.core.aws) are still made
# afresh in each test, from this session; the tests' own clients are made once.
SESSION = boto3.session.Session(region_name=REGION)


@cache
def shared_client(service: str):
    """The tests' own client of a service, made once (a client works in every later mock_aws())."""
    return SESSION.client(service)


def clear_caches() -> None:
    """Forget clients built earlier, so the next ones bind to the current mock."""
    for module in (qip_aws, runtime, outputs):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@dataclass
class LambdaContext:
    """The fields of a Lambda context object that Powertools reads."""

    function_name: str = "qip-test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:qip-test-function"
    aws_request_id: str = "0b8a3b9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class MockAws:
    """Clients of the mocked account and where the stack's resources are."""

    s3: Any
    sqs: Any
    sns: Any
    events: Any
    sfn: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    topic_arn: str
    state_machine_arn: str
    bus_capture_url: str
    sns_capture_url: str

    # ------------------------------------------------------------------ reading queues
    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message now in a queue (received and deleted), as dicts with Body and attributes."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                             AttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages += batch

    def queued(self, queue_url: str) -> list[dict[str, Any]]:
        """The JSON bodies of every message now in a queue."""
        return [json.loads(m["Body"]) for m in self.drain(queue_url)]

    def bus_events(self) -> list[dict[str, Any]]:
        """Every event the code put on the project's bus since the last call (whole envelopes)."""
        return self.queued(self.bus_capture_url)

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS notification since the last call: Subject, parsed Message and attributes."""
        found = []
        for envelope in self.queued(self.sns_capture_url):
            attributes = {name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()}
            found.append({"subject": envelope.get("Subject"), "message": json.loads(envelope["Message"]),
                          "attributes": attributes})
        return found

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def put_upload(self, key: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Put an object in the upload bucket; its ETag (without quotes)."""
        response = self.s3.put_object(Bucket=UPLOAD_BUCKET, Key=key, Body=data, ContentType=content_type)
        return response["ETag"].strip('"')


def create_table(dynamodb) -> None:
    """The MetadataTable exactly as template.yaml declares its keys and indexes (read from it, never copied)."""
    dynamodb.create_table(TableName=TABLE, **metadata_table_keys())


@cache
def metadata_table_keys() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    from qip.tooling.paths import TEMPLATE

    properties = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))["Resources"]["MetadataTable"]["Properties"]))
    return {name: properties[name] for name in ("BillingMode", "AttributeDefinitions", "KeySchema",
                                                "GlobalSecondaryIndexes")}


def make_queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


