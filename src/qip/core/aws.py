"""boto3 clients, made once per process and shared (Lambda keeps them warm between calls).

Endpoints come from the standard AWS configuration chain: on the local engine its workers get
`AWS_ENDPOINT_URL`, and the command line passes the engine's URL explicitly.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from qip.core import usage

if TYPE_CHECKING:
    from types_boto3_cloudformation import CloudFormationClient
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_dynamodb.service_resource import Table
    from types_boto3_events import EventBridgeClient
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_s3 import S3Client
    from types_boto3_sns import SNSClient
    from types_boto3_sqs import SQSClient
    from types_boto3_stepfunctions import SFNClient
    from types_boto3_sts import STSClient

_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=60)
# What AWS answers, service by service, when the thing asked for does not exist.
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket", "ExecutionDoesNotExist",
                           "ResourceNotFound", "ResourceNotFoundException"})
# The local engine's fixed account credentials (not a secret: the engine accepts them from anyone
# on loopback). Used only when an explicit local endpoint is given; AWS uses the default chain.
LOCAL_ENGINE_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


# Endpoint -> the certificate its clients trust (the local engine serves HTTPS with its own).
_TRUSTED: dict[str, str] = {}


def trust(endpoint_url: str, ca_bundle: str) -> None:
    """Verify TLS to `endpoint_url` against `ca_bundle` (the local engine's own certificate)."""
    if _TRUSTED.get(endpoint_url) != ca_bundle:
        _TRUSTED[endpoint_url] = ca_bundle
        for cached in (_client, presigner, table):
            cached.cache_clear()


def _verify(endpoint_url: str | None) -> str | None:
    """None: the default trust store (AWS); else the certificate registered for the endpoint."""
    return _TRUSTED.get(endpoint_url) if endpoint_url else None


def trusted_certificate(endpoint_url: str | None) -> str | None:
    """The certificate trusted for `endpoint_url` (the local engine's own), or None: the default store."""
    return _verify(endpoint_url)


# Every client made here, so that release_connections() can reach them.
_MADE: list[BaseClient] = []


def _kept(made: BaseClient) -> BaseClient:
    _MADE.append(made)
    usage.track(made.meta.events)
    return made


def release_connections() -> None:
    """Drop the idle connections of every client made here (each reconnects on its next call).

    A TLS server cannot finish stopping while its peers keep connections open: stopping the
    local engine from a process that still holds some took about 20 s (and risked a kill
    before the engine saved its state), against 1 s after this.
    """
    for made in _MADE:
        made.close()


# One session per endpoint, shared by every client made here: a new session loads the SDK's data files
# again (endpoints, partitions, retry rules), about 0.08 s a client. Sessions are not thread-safe, so
# clients are made one at a time (the clients themselves are).
_MAKING = threading.Lock()


@cache
def _session(endpoint_url: str | None) -> boto3.session.Session:
    if endpoint_url:
        return boto3.session.Session(aws_access_key_id=LOCAL_ENGINE_CREDENTIALS["aws_access_key_id"],
                                     aws_secret_access_key=LOCAL_ENGINE_CREDENTIALS["aws_secret_access_key"])
    return boto3.session.Session()


@overload
def client(service: Literal["s3"], endpoint_url: str | None = None, region: str | None = None) -> S3Client: ...
@overload
def client(service: Literal["sqs"], endpoint_url: str | None = None, region: str | None = None) -> SQSClient: ...
@overload
def client(service: Literal["sns"], endpoint_url: str | None = None, region: str | None = None) -> SNSClient: ...
@overload
def client(service: Literal["events"], endpoint_url: str | None = None,
           region: str | None = None) -> EventBridgeClient: ...
@overload
def client(service: Literal["stepfunctions"], endpoint_url: str | None = None,
           region: str | None = None) -> SFNClient: ...
@overload
def client(service: Literal["logs"], endpoint_url: str | None = None,
           region: str | None = None) -> CloudWatchLogsClient: ...
@overload
def client(service: Literal["cloudwatch"], endpoint_url: str | None = None,
           region: str | None = None) -> CloudWatchClient: ...
@overload
def client(service: Literal["cloudformation"], endpoint_url: str | None = None,
           region: str | None = None) -> CloudFormationClient: ...
@overload
def client(service: Literal["sts"], endpoint_url: str | None = None, region: str | None = None) -> STSClient: ...
@overload
def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any: ...
def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A client for AWS (no endpoint: the default chain) or for the engine at `endpoint_url`."""
    return _client(service, endpoint_url, region)


@cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> BaseClient:
    with _MAKING:
        session: Any = _session(endpoint_url)
        return _kept(session.client(service, endpoint_url=endpoint_url or None, region_name=region,
                                    config=_CONFIG, verify=_verify(endpoint_url)))


@cache
def presigner(endpoint_url: str | None = None, region: str | None = None) -> S3Client:
    """An S3 client for presigned URLs: SigV4 (needed for KMS-encrypted objects) and the same endpoint."""
    with _MAKING:
        made = _session(endpoint_url).client("s3", endpoint_url=endpoint_url or None, region_name=region,
                                             config=_CONFIG.merge(Config(signature_version="s3v4")),
                                             verify=_verify(endpoint_url))
    _kept(made)
    return made


@cache
def table(name: str, endpoint_url: str | None = None, region: str | None = None) -> Table:
    with _MAKING:
        resource = _session(endpoint_url).resource("dynamodb", endpoint_url=endpoint_url or None,
                                                   region_name=region, config=_CONFIG, verify=_verify(endpoint_url))
    _kept(resource.meta.client)
    return resource.Table(name)


def error_code(error: ClientError) -> str:
    """The error code AWS gave (`NoSuchKey`, `ThrottlingException`, `404`...); "" when none."""
    return str(error.response.get("Error", {}).get("Code") or "")


def is_missing(error: ClientError) -> bool:
    """The request failed because what it names does not exist."""
    return error_code(error) in MISSING_CODES
