"""Package and deploy `template.yaml`, as `sam package` and `sam deploy` do, to AWS or the local engine.

The Lambda artifact (`qip build`) and the state machine definition are uploaded to an artifacts
bucket under content-addressed keys, the template's local paths are pointed at those objects,
and the stack is created or updated through a change set: the changes are shown, the set is
executed, the stack's events are shown while it runs, and a failed deploy (rolled back by
CloudFormation) reports the stack's own reasons. `qip up` and `qip deploy` both come here.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from qip.core.aws import is_missing
from qip.tooling.errors import DeployError
from qip.tooling.paths import STATE_MACHINE_DEFINITION, TEMPLATE

if TYPE_CHECKING:
    from types_boto3_cloudformation import CloudFormationClient
    from types_boto3_cloudformation.type_defs import DescribeChangeSetOutputTypeDef, StackEventTypeDef
    from types_boto3_s3 import S3Client

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# CloudFormation takes a TemplateBody up to 51,200 bytes; larger ones must come from S3 (TemplateURL).
TEMPLATE_BODY_LIMIT = 51_200
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
_FAILED = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
           "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED", "UPDATE_FAILED",
           "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED")
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class Artifact:
    """Something uploaded for the stack: where it went."""

    bucket: str
    key: str


def upload_artifact(s3: S3Client, bucket: str, prefix: str, data: bytes, suffix: str) -> Artifact:
    """Upload bytes under a key named by their hash (skipped when that object is already there)."""
    key = f"{prefix}/{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    if not _exists(s3, bucket, key):
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    return Artifact(bucket, key)


def upload_file(s3: S3Client, bucket: str, prefix: str, path: Path, sha256: str, suffix: str) -> Artifact:
    """Upload a (large) file under a key named by its hash, in parts, unless it is there already."""
    key = f"{prefix}/{sha256[:32]}{suffix}"
    if not _exists(s3, bucket, key):
        s3.upload_file(str(path), bucket, key)
    return Artifact(bucket, key)


def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_missing(error):
            return False
        raise
    return True


def ensure_bucket(s3: S3Client, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def packaged_template(template_path: Path, code: Artifact, definition: Artifact) -> dict[str, Any]:
    """The template with every local path replaced by the uploaded artifact's location."""
    from cfnlint.decode import cfn_yaml  # about 0.6 s to import: only deploying pays for it

    template: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(template_path))))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = f"s3://{code.bucket}/{code.key}"
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            properties["DefinitionUri"] = {"Bucket": definition.bucket, "Key": definition.key}
    return template


def package(s3: S3Client, bucket: str, artifact: Path, sha256: str,
            template_path: Path = TEMPLATE) -> dict[str, Any]:
    """Upload the Lambda artifact (from `qip build`) and the state machine; the packaged template."""
    code = upload_file(s3, bucket, "code", artifact, sha256, ".zip")
    definition = upload_artifact(s3, bucket, "statemachine", STATE_MACHINE_DEFINITION.read_bytes(), ".json")
    return packaged_template(template_path, code, definition)


def template_source(template: dict[str, Any], s3: S3Client | None = None,
                    bucket: str | None = None) -> dict[str, str]:
    """TemplateBody, or TemplateURL (uploaded to the bucket) when the body is over CloudFormation's limit."""
    body = json.dumps(template, separators=(",", ":"))
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    if s3 is None or not bucket:
        raise DeployError(f"the template is {len(body.encode())} bytes, over the {TEMPLATE_BODY_LIMIT}-byte "
                          f"TemplateBody limit, and no artifacts bucket was given for a TemplateURL")
    uploaded = upload_artifact(s3, bucket, "templates", body.encode(), ".json")
    return {"TemplateURL": f"{s3.meta.endpoint_url.rstrip('/')}/{uploaded.bucket}/{uploaded.key}"}


def change_set_request(stack: str, template: dict[str, str], parameters: dict[str, str], change_set_type: str,
                       name: str | None = None) -> dict[str, Any]:
    """The CreateChangeSet request: what a deploy sends, rendered without calling anything."""
    return {
        "StackName": stack,
        "ChangeSetName": name or time.strftime("qip-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6],
        "ChangeSetType": change_set_type,
        "Description": "qip deploy",
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in sorted(parameters.items())],
        "Capabilities": CAPABILITIES,
        **template,
    }


def deploy(cloudformation: CloudFormationClient, stack: str, template: dict[str, Any], parameters: dict[str, str],
           progress: Callable[[str], None] = lambda _: None, timeout: float = 1800.0,
           s3: S3Client | None = None, bucket: str | None = None) -> dict[str, str]:
    """Create or update the stack through a change set and wait; its outputs, or DeployError with reasons."""
    return deploy_changes(cloudformation, stack, template, parameters, progress, timeout, s3, bucket)[0]


def deploy_changes(cloudformation: CloudFormationClient, stack: str, template: dict[str, Any],
                   parameters: dict[str, str], progress: Callable[[str], None] = lambda _: None,
                   timeout: float = 1800.0, s3: S3Client | None = None,
                   bucket: str | None = None) -> tuple[dict[str, str], bool]:
    """`deploy`, and whether it changed the stack (False: it was up to date)."""
    status = _stack_status(cloudformation, stack)
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
        progress(f"stack {stack} is in {status} from an earlier failed create; deleting it first")
        cloudformation.delete_stack(StackName=stack)
        _wait_deleted(cloudformation, stack, timeout)
        status = None
    elif status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack} is busy ({status}); wait for it to finish and deploy again")
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    request = change_set_request(stack, template_source(template, s3, bucket), parameters, kind)
    try:
        created = cloudformation.create_change_set(**request)
    except ClientError as error:
        raise DeployError(f"CloudFormation refused the change set: {error}") from error
    change_set = created["Id"]
    described = _wait_change_set(cloudformation, change_set, timeout)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in _NO_CHANGES):
            cloudformation.delete_change_set(ChangeSetName=change_set)
            progress(f"stack {stack} is up to date (no changes)")
            return stack_outputs(cloudformation, stack), False
        raise DeployError(f"the change set for {stack} could not be created: {reason}")
    progress(f"{'creating' if kind == 'CREATE' else 'updating'} stack {stack}; change set {request['ChangeSetName']}:")
    for line in describe_changes(cloudformation, change_set):
        progress(line)
    seen = {e["EventId"] for e in _events(cloudformation, stack)}
    started = time.time()
    try:
        cloudformation.execute_change_set(ChangeSetName=change_set)
    except ClientError as error:
        raise DeployError(f"the change set could not be executed: {error}") from error
    final = _wait_stack(cloudformation, stack, seen, progress, timeout)
    if final not in _DONE:
        raise DeployError(f"stack {stack} ended in {final} (CloudFormation rolled back); why:\n"
                          + failure_report(cloudformation, stack, started))
    return stack_outputs(cloudformation, stack), True


def describe_changes(cloudformation: CloudFormationClient, change_set: str) -> list[str]:
    lines: list[str] = []
    token: str | None = None
    while True:
        more: dict[str, Any] = {"NextToken": token} if token else {}
        page = cloudformation.describe_change_set(ChangeSetName=change_set, **more)
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            replacement = resource.get("Replacement")
            note = {"True": " (replacement)", "Conditional": " (may be replaced)"}.get(replacement or "", "")
            lines.append(f"  {resource.get('Action', '?'):8} {resource.get('LogicalResourceId', '?')} "
                         f"[{resource.get('ResourceType', '?')}]{note}")
        token = page.get("NextToken")
        if not token:
            return lines or ["  (no resource changes listed)"]


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def failure_report(cloudformation: CloudFormationClient, stack: str, since: float) -> str:
    """The stack events that say why, oldest first."""
    try:
        events = _events(cloudformation, stack)
    except ClientError as error:
        return f"(stack events unavailable: {error})"
    lines = []
    for event in reversed(events):
        reason = event.get("ResourceStatusReason")
        if reason and "FAILED" in event.get("ResourceStatus", ""):
            lines.append(f"  {event['LogicalResourceId']} {event['ResourceStatus']}: {reason}")
    return "\n".join(lines) or "  (the stack gave no reason)"


def _events(cloudformation: CloudFormationClient, stack: str) -> list[StackEventTypeDef]:
    try:
        return cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError as error:
        if "does not exist" in str(error):
            return []
        raise


def _stack_status(cloudformation: CloudFormationClient, stack: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def _wait_change_set(cloudformation: CloudFormationClient, change_set: str,
                     timeout: float) -> DescribeChangeSetOutputTypeDef:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = cloudformation.describe_change_set(ChangeSetName=change_set)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        time.sleep(1.0)
    raise DeployError(f"the change set was not ready within {timeout:.0f} s")


def _wait_stack(cloudformation: CloudFormationClient, stack: str, seen: set[str], progress: Callable[[str], None],
                timeout: float) -> str | None:
    """Show the stack's new events until it settles; its final status."""
    deadline = time.monotonic() + timeout
    moving = False
    while time.monotonic() < deadline:
        for event in reversed(_events(cloudformation, stack)):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            moving = True
            reason = f": {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            progress(f"  {event['LogicalResourceId']} {event['ResourceStatus']}{reason}")
        status = _stack_status(cloudformation, stack)
        moving = moving or (status or "").endswith("_IN_PROGRESS")
        if moving and (status in _DONE or status in _FAILED):
            return status
        time.sleep(1.0)
    raise DeployError(f"stack {stack} did not finish within {timeout:.0f} s")


def _wait_deleted(cloudformation: CloudFormationClient, stack: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _stack_status(cloudformation, stack) in (None, "DELETE_COMPLETE"):
            return
        time.sleep(1.0)
    raise DeployError(f"stack {stack} was not deleted within {timeout:.0f} s")
