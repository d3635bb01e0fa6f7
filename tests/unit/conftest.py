"""Offline AWS for the unit tests: a fresh moto account per test with the stack's resources.

`aws` makes the upload and archive buckets, the metadata table (same keys and indexes as the
template's MetadataTable), the processing queue and its DLQ, the event bus, the topic and a state
machine, and points the functions' environment variables at them. Events put on the bus and
notifications published to the topic are captured in queues of their own (see `MockAws`).
"""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from qip.core import aws as qip_aws
from qip.functions import runtime
from tests.unit.mock_stack import (
    ARCHIVE_BUCKET,
    BUS,
    EVENT_SOURCE,
    PASS_DEFINITION,
    REGION,
    SESSION,
    TABLE,
    UPLOAD_BUCKET,
    LambdaContext,
    MockAws,
    clear_caches,
    create_table,
    make_queue,
    shared_client,
)


@pytest.fixture
def aws(monkeypatch) -> MockAws:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_SESSION_TOKEN", "QIP_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "qip")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.setattr(qip_aws, "_session", lambda endpoint_url: SESSION)
    clear_caches()
    with mock_aws():
        s3, sqs, sns, events, sfn, dynamodb = (shared_client(service) for service in
                                               ("s3", "sqs", "sns", "events", "stepfunctions", "dynamodb"))
        for bucket in (UPLOAD_BUCKET, ARCHIVE_BUCKET):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=ARCHIVE_BUCKET, VersioningConfiguration={"Status": "Enabled"})  # as deployed
        create_table(dynamodb)
        queue_url, _ = make_queue(sqs, "qip-processing")
        dlq_url, _ = make_queue(sqs, "qip-dlq")
        bus_capture_url, bus_capture_arn = make_queue(sqs, "capture-bus")
        sns_capture_url, sns_capture_arn = make_queue(sqs, "capture-sns")
        events.create_event_bus(Name=BUS)
        events.put_rule(Name="capture-all", EventBusName=BUS, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(Rule="capture-all", EventBusName=BUS,
                           Targets=[{"Id": "capture", "Arn": bus_capture_arn}])
        topic_arn = sns.create_topic(Name="qip-notifications")["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=sns_capture_arn)
        state_machine_arn = sfn.create_state_machine(
            name="qip-pipeline", definition=json.dumps(PASS_DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/qip-pipeline")["stateMachineArn"]
        for name, value in {"TABLE_NAME": TABLE, "UPLOAD_BUCKET": UPLOAD_BUCKET, "ARCHIVE_BUCKET": ARCHIVE_BUCKET,
                            "QUEUE_URL": queue_url, "DLQ_URL": dlq_url, "EVENT_BUS_NAME": BUS,
                            "TOPIC_ARN": topic_arn, "STATE_MACHINE_ARN": state_machine_arn,
                            "EVENT_SOURCE": EVENT_SOURCE, "MONITORING_ENABLED": "false"}.items():
            monkeypatch.setenv(name, value)
        yield MockAws(s3=s3, sqs=sqs, sns=sns, events=events, sfn=sfn, dynamodb=dynamodb, queue_url=queue_url,
                      dlq_url=dlq_url, topic_arn=topic_arn, state_machine_arn=state_machine_arn,
                      bus_capture_url=bus_capture_url, sns_capture_url=sns_capture_url)
    clear_caches()


@pytest.fixture
def store(aws):
    """The metadata store the functions use, bound to the mocked table."""
    return runtime.store()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
