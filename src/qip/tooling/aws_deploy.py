"""`qip deploy`: build the Lambda artifact, upload it, and create or update the stack on AWS.

The same steps as `qip up` (local/deploy.py: package, change set, events, outputs), with what AWS
needs on top: credentials and region from the standard AWS chain (a --profile, environment, SSO,
instance roles; never keys in files of this project), an artifacts bucket of the account's own
(`qip-artifacts-<account>-<region>`, created encrypted, private and TLS-only when missing), and
parameters that are the template's defaults plus explicit --parameter values only: nothing of the
local engine's settings can reach an AWS deployment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from qip.core import aws
from qip.core.errors import ConfigurationError
from qip.tooling import build, renditions
from qip.tooling import cloudformation as deploy
from qip.tooling.errors import DeployError
from qip.tooling.parameters import LOCAL_ONLY_PARAMETERS
from qip.tooling.paths import TEMPLATE

if TYPE_CHECKING:
    from types_boto3_cloudformation import CloudFormationClient
    from types_boto3_s3 import S3Client
    from types_boto3_sts import STSClient


@dataclass(frozen=True)
class Target:
    """Where a deploy goes: AWS through the default chain, or an explicit endpoint (the local engine)."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None

    @overload
    def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def client(self, service: Literal["sts"]) -> STSClient: ...
    @overload
    def client(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def client(self, service: str) -> Any: ...
    def client(self, service: str) -> Any:
        if self.endpoint_url:
            return aws.client(service, self.endpoint_url, self.region)
        # Session.client's overloads take literal service names only; the overloads above type the result.
        session: Any = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        return session.client(service)


def resolve_target(region: str | None, profile: str | None, endpoint_url: str | None) -> Target:
    """The region from --region, else the profile's or environment's (the standard chain)."""
    if endpoint_url:
        return Target(region or "us-east-1", None, endpoint_url)
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as error:
        raise ConfigurationError(f"--profile {profile}: {error}") from error
    if not session.region_name:
        raise ConfigurationError("no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile")
    return Target(session.region_name, profile, None)


def template_parameters(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """The template's parameters, each with its Type, Default and Description."""
    from cfnlint.decode import cfn_yaml

    return dict(cfn_yaml.load(str(template)).get("Parameters", {}))


def aws_parameters(explicit: dict[str, str], arch: str | None = None,
                   template: Path = TEMPLATE) -> dict[str, str]:
    """What an AWS deploy passes: explicit values only (the rest keep the template's defaults)."""
    known = template_parameters(template)
    unknown = sorted(set(explicit) - set(known))
    if unknown:
        raise ConfigurationError(f"--parameter {', '.join(unknown)}: not a parameter of template.yaml "
                                 f"(known: {', '.join(known)})")
    local = sorted(set(explicit) & set(LOCAL_ONLY_PARAMETERS))
    if local:
        raise ConfigurationError(f"--parameter {', '.join(local)}: for the local engine only; AWS keeps the default")
    parameters = dict(explicit)
    if arch:
        if parameters.get("Architecture", arch) != arch:
            raise ConfigurationError(f"--arch {arch} and --parameter Architecture={parameters['Architecture']} "
                                     "disagree")
        parameters["Architecture"] = arch
    return parameters


def architecture(parameters: dict[str, str], template: Path = TEMPLATE) -> str:
    """The functions' architecture: the explicit parameter, else the template's default."""
    return parameters.get("Architecture") or str(template_parameters(template)["Architecture"]["Default"])


def artifacts_bucket(account: str, region: str) -> str:
    return f"qip-artifacts-{account}-{region}"


def ensure_artifacts_bucket(s3: S3Client, bucket: str, region: str, account: str,
                            progress: Callable[[str], None]) -> None:
    """The account's own bucket for deploy artifacts: private, encrypted, TLS-only; created if missing."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return
    except ClientError as error:
        code = aws.error_code(error)
        if not aws.is_missing(error):
            raise DeployError(f"artifacts bucket {bucket} exists but is not usable by account {account} ({code}); "
                              f"choose another with --artifacts-bucket") from error
    progress(f"creating artifacts bucket {bucket} (private, encrypted, TLS only)")
    location: dict[str, Any] = (
        {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}})
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))


def account_id(target: Target) -> str:
    try:
        return target.client("sts").get_caller_identity()["Account"]
    except NoCredentialsError as error:
        raise ConfigurationError("no AWS credentials: configure them the standard way (aws configure sso, "
                                 "AWS_PROFILE / --profile, or an instance role); never put keys in this "
                                 "project") from error
    except (ClientError, BotoCoreError) as error:
        raise DeployError(f"could not identify the AWS account: {error}") from error


def ship(stack: str, target: Target, explicit: dict[str, str] | None = None, arch: str | None = None,
         bucket: str | None = None, progress: Callable[[str], None] = print, timeout: float = 1800.0) -> dict[str, str]:
    """Build, upload, and create or update the stack through a change set; the stack's outputs."""
    parameters = aws_parameters(explicit or {}, arch)
    renditions.check(parameters)  # a bad renditions file stops the deploy before anything is built
    arch = architecture(parameters)
    account = account_id(target)
    where = target.endpoint_url or f"AWS account {account}, {target.region}"
    progress(f"deploying stack {stack} to {where} ({arch})")
    artifact = build.build(arch, progress=progress)
    progress(f"artifact: {artifact.summary()}")
    s3 = target.client("s3")
    bucket = bucket or artifacts_bucket(account, target.region)
    ensure_artifacts_bucket(s3, bucket, target.region, account, progress)
    template = deploy.package(s3, bucket, artifact.path, artifact.sha256)
    return deploy.deploy(target.client("cloudformation"), stack, template, parameters, progress, timeout,
                         s3=s3, bucket=bucket)


def stack_outputs(stack: str, target: Target) -> dict[str, str]:
    """The outputs of a deployed stack (for `qip --aws status` and friends)."""
    try:
        return deploy.stack_outputs(target.client("cloudformation"), stack)
    except NoCredentialsError as error:
        raise ConfigurationError("no AWS credentials: configure them the standard way "
                                 "(see docs/deploy-to-aws.md)") from error
