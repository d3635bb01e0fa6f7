"""Where a deployed stack's resources are: its outputs, read once, as one typed object."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from qip.client.errors import NotFoundError
from qip.core import aws

if TYPE_CHECKING:
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_s3 import S3Client
    from types_boto3_sqs import SQSClient
    from types_boto3_stepfunctions import SFNClient

OUTPUT_FIELDS = {
    "UploadBucket": "upload_bucket",
    "ArchiveBucket": "archive_bucket",
    "MetadataTable": "metadata_table",
    "QueueUrl": "queue_url",
    "DlqUrl": "dlq_url",
    "StateMachineArn": "state_machine_arn",
    "EventBus": "event_bus",
    "TopicArn": "topic_arn",
    "AuditTable": "audit_table",
    "StackName": "stack_name",
}


@dataclass(frozen=True)
class StackInfo:
    """Where a deployed stack's resources are."""

    endpoint_url: str | None
    region: str
    upload_bucket: str
    archive_bucket: str
    metadata_table: str
    queue_url: str
    dlq_url: str
    state_machine_arn: str
    event_bus: str
    topic_arn: str
    audit_table: str
    stack_name: str
    # The certificate a client must trust to reach `endpoint_url`: the local engine's own (it serves
    # HTTPS with a certificate made for it). None on AWS, whose endpoints the system's trust store knows.
    ca_bundle: str | None = None

    @classmethod
    def from_outputs(cls, outputs: dict[str, str], endpoint_url: str | None, region: str) -> StackInfo:
        missing = [name for name in OUTPUT_FIELDS if name not in outputs]
        if missing:
            raise NotFoundError(f"the stack has no output(s) {', '.join(missing)}; redeploy it with `qip up`")
        return cls(endpoint_url, region, **{field: outputs[name] for name, field in OUTPUT_FIELDS.items()},
                   ca_bundle=aws.trusted_certificate(endpoint_url))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @overload
    def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def client(self, service: Literal["logs"]) -> CloudWatchLogsClient: ...
    @overload
    def client(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def client(self, service: str) -> Any: ...
    def client(self, service: str) -> Any:
        """A client of the stack's endpoint and region (typed for the services the client uses)."""
        return aws.client(service, self.endpoint_url, self.region)


