"""Least privilege on the running stack: the local engine enforces IAM (`AUTH=true`) and TLS.

Each test takes a function's own execution role (STS AssumeRole into the role the stack made
for it) and shows one call inside its policy succeeding and one outside it denied, so a
widened or missing permission shows up as behaviour, not only as template text.

What the engine cannot show is proven on the template (tests/unit/test_template_*): it does
not check KMS use through S3/SQS/SNS/DynamoDB encryption, it lets the account root (the CLI's
dummy keys) past bucket policies (AWS would not), and it resolves neither the KMS key-id nor the
customer-key condition keys of S3 PutObject.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.imaging_corpus import good_images
from tests.integration.stack import LocalStack

_CLIENTS: list = []  # closed after the module: open TLS connections would slow the engine's stop


@pytest.fixture(scope="module", autouse=True)
def _close_clients():
    yield
    for made in _CLIENTS:
        made.close()


def _client(session: boto3.session.Session, stack: LocalStack, service: str):
    made = session.client(service, endpoint_url=stack.info.endpoint_url, verify=str(stack.engine.certificate))
    _CLIENTS.append(made)
    return made


def _role_arn(stack: LocalStack, logical_id: str) -> str:
    resource = stack.client("cloudformation").describe_stack_resource(
        StackName=stack.name, LogicalResourceId=logical_id)["StackResourceDetail"]
    return stack.client("iam").get_role(RoleName=resource["PhysicalResourceId"])["Role"]["Arn"]


class RoleSession:
    """Clients that call the engine as one of the stack's roles, over TLS."""

    def __init__(self, stack: LocalStack, logical_id: str) -> None:
        credentials = stack.client("sts").assume_role(RoleArn=_role_arn(stack, logical_id),
                                                      RoleSessionName="iam-test")["Credentials"]
        self._session = boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                              aws_secret_access_key=credentials["SecretAccessKey"],
                                              aws_session_token=credentials["SessionToken"],
                                              region_name=stack.info.region)
        self._stack = stack

    def client(self, service: str):
        return _client(self._session, self._stack, service)


def _denied(call, code: str = "AccessDenied") -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == code, raised.value.response["Error"]
    return raised.value.response["Error"].get("Message", "")


@pytest.fixture(scope="module")
def upload(stack) -> str:
    """An object in the upload bucket, put with the engine's root keys."""
    key = "iam-test/original.bin"
    stack.client("s3").put_object(Bucket=stack.info.upload_bucket, Key=key, Body=b"not really an image")
    return key


def test_the_engine_enforces_signatures_and_runs_sessions_as_their_role(stack):
    stranger = boto3.session.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x" * 40,
                                     region_name=stack.info.region)
    sts = _client(stranger, stack, "sts")
    with pytest.raises(ClientError) as raised:
        sts.get_caller_identity()
    assert raised.value.response["Error"]["Code"] in ("InvalidClientTokenId", "SignatureDoesNotMatch")
    identity = RoleSession(stack, "ValidateRole").client("sts").get_caller_identity()
    assert ":assumed-role/" in identity["Arn"] and "ValidateRole" in identity["Arn"]


def test_validate_may_read_uploads_but_not_delete_or_write_the_archive(stack, upload):
    s3 = RoleSession(stack, "ValidateRole").client("s3")
    assert s3.get_object(Bucket=stack.info.upload_bucket, Key=upload)["Body"].read() == b"not really an image"
    message = _denied(lambda: s3.delete_object(Bucket=stack.info.archive_bucket, Key=f"images/{upload}/original"))
    assert "s3:DeleteObject" in message
    _denied(lambda: s3.put_object(Bucket=stack.info.archive_bucket, Key=f"images/{upload}/x", Body=b"x"))
    _denied(lambda: s3.delete_object(Bucket=stack.info.upload_bucket, Key=upload))


def test_thumbnails_may_write_under_images_only_and_never_write_records_freely(stack, upload):
    role = RoleSession(stack, "ThumbnailsRole")
    s3, dynamodb = role.client("s3"), role.client("dynamodb")
    written = s3.put_object(Bucket=stack.info.archive_bucket, Key="images/iam-test/thumb-1.webp", Body=b"thumb")
    _denied(lambda: s3.put_object(Bucket=stack.info.archive_bucket, Key="elsewhere/thumb.webp", Body=b"x"))
    # it may take back the exact version it wrote, but not hide the current object (DeleteObject)
    _denied(lambda: s3.delete_object(Bucket=stack.info.archive_bucket, Key="images/iam-test/thumb-1.webp"))
    s3.delete_object(Bucket=stack.info.archive_bucket, Key="images/iam-test/thumb-1.webp",
                     VersionId=written["VersionId"])
    s3.get_object(Bucket=stack.info.upload_bucket, Key=upload)  # small renditions may come from the upload
    dynamodb.get_item(TableName=stack.info.metadata_table, Key={"image_key": {"S": upload}})  # ownership check
    message = _denied(lambda: dynamodb.put_item(TableName=stack.info.metadata_table,
                                                Item={"image_key": {"S": upload}}), "AccessDeniedException")
    assert "dynamodb:PutItem" in message


def test_only_the_operations_function_erases(stack):
    for role in ("ArchiveRole", "ResizeRole", "ReconcilerRole"):
        s3 = RoleSession(stack, role).client("s3")
        _denied(lambda s3=s3: s3.list_object_versions(Bucket=stack.info.archive_bucket, Prefix="images/"))
    operations = RoleSession(stack, "OperationsRole").client("s3")
    operations.list_object_versions(Bucket=stack.info.archive_bucket, Prefix="images/iam-test/")
    _denied(lambda: operations.put_object(Bucket=stack.info.archive_bucket, Key="images/iam-test/x", Body=b"x"))


def test_tracker_may_read_records_but_dispatcher_may_only_create_them(stack):
    key = {"image_key": {"S": "iam-test/none"}}
    tracker = RoleSession(stack, "TrackerRole").client("dynamodb")
    assert "Item" not in tracker.get_item(TableName=stack.info.metadata_table, Key=key)
    dispatcher = RoleSession(stack, "DispatcherRole").client("dynamodb")
    _denied(lambda: dispatcher.get_item(TableName=stack.info.metadata_table, Key=key), "AccessDeniedException")
    _denied(lambda: dispatcher.delete_item(TableName=stack.info.metadata_table, Key=key), "AccessDeniedException")


def test_the_engine_serves_tls_only(stack):
    plain = stack.info.endpoint_url.replace("https://", "http://")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"{plain}/_ministack/health", timeout=5)


def test_a_request_that_did_not_arrive_over_tls_is_denied_by_the_bucket_policy(stack, upload):
    """The engine, like a TLS-terminating proxy, takes the scheme from X-Forwarded-Proto; a request
    marked as forwarded from plain HTTP stands in for one (the engine has no plaintext listener).
    The same role reads the same object over TLS (test above), so only the bucket policy denies it."""
    s3 = RoleSession(stack, "ValidateRole").client("s3")

    def from_plain_http(request, **_):
        request.headers["X-Forwarded-Proto"] = "http"

    s3.meta.events.register("before-sign.s3.*", from_plain_http)
    message = _denied(lambda: s3.get_object(Bucket=stack.info.upload_bucket, Key=upload))
    assert "explicit deny in a resource-based policy" in message


def test_the_pipeline_completes_with_every_function_as_its_own_role(stack):
    key = "iam-test/photo.jpg"
    stack.put(key, good_images()["jpeg_baseline"], "image/jpeg")
    record = stack.wait([key], timeout=180)[key]
    assert record["status"] == "COMPLETED", record.get("error") or record
