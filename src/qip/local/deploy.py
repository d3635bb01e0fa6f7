"""Package and deploy `template.yaml`, as `sam package` and `sam deploy` do.

The function code is zipped and uploaded to an artifacts bucket, the state machine definition
too, the template's local paths are pointed at those objects, and the stack is created or
updated through the CloudFormation API. A failed deploy reports the stack's own reasons.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from botocore.exceptions import ClientError
from cfnlint.decode import cfn_yaml

from qip.exceptions import DeployError
from qip.paths import PROJECT_ROOT, STATE_MACHINE_DEFINITION, TEMPLATE

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
_FAILED = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
           "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED", "UPDATE_FAILED")


@dataclass(frozen=True)
class Artifact:
    """Something uploaded for the stack: where it went and its content hash."""

    bucket: str
    key: str


def code_zip(source: Path = PROJECT_ROOT / "src") -> bytes:
    """The function code: the `qip` package's Python files, deterministic (fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((source / "qip").rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def upload_artifact(s3, bucket: str, prefix: str, data: bytes, suffix: str) -> Artifact:
    key = f"{prefix}/{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    ensure_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return Artifact(bucket, key)


def ensure_bucket(s3, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def packaged_template(template_path: Path, code: Artifact, definition: Artifact) -> dict:
    """The template with every local path replaced by the uploaded artifact's location."""
    template = json.loads(json.dumps(cfn_yaml.load(str(template_path))))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = f"s3://{code.bucket}/{code.key}"
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            properties["DefinitionUri"] = {"Bucket": definition.bucket, "Key": definition.key}
    return template


def package(s3, bucket: str, template_path: Path = TEMPLATE,
            code: bytes | None = None) -> dict:
    code_artifact = upload_artifact(s3, bucket, "code", code if code is not None else code_zip(), ".zip")
    definition_artifact = upload_artifact(s3, bucket, "statemachine", STATE_MACHINE_DEFINITION.read_bytes(), ".json")
    return packaged_template(template_path, code_artifact, definition_artifact)


def deploy(cloudformation, stack: str, template: dict, parameters: dict[str, str],
           progress: Callable[[str], None] = lambda _: None, timeout: float = 600.0) -> dict[str, str]:
    """Create or update the stack and wait; returns its outputs, or raises DeployError with reasons."""
    body = json.dumps(template)
    params = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()]
    exists = _stack_status(cloudformation, stack)
    if exists in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
        progress(f"stack {stack} is in {exists} from an earlier failure; deleting it first")
        cloudformation.delete_stack(StackName=stack)
        _wait(cloudformation, stack, ("DELETE_COMPLETE", None), progress, timeout)
        exists = None
    started = time.time()
    try:
        if exists is None:
            progress(f"creating stack {stack}")
            cloudformation.create_stack(StackName=stack, TemplateBody=body, Parameters=params,
                                        Capabilities=CAPABILITIES)
        else:
            progress(f"updating stack {stack}")
            cloudformation.update_stack(StackName=stack, TemplateBody=body, Parameters=params,
                                        Capabilities=CAPABILITIES)
    except ClientError as error:
        if "No updates are to be performed" in str(error):
            progress("stack is up to date")
            return stack_outputs(cloudformation, stack)
        raise DeployError(f"CloudFormation refused the template: {error}") from error
    status = _wait(cloudformation, stack, _DONE, progress, timeout)
    if status not in _DONE:
        raise DeployError(f"stack {stack} ended in {status}:\n" + failure_report(cloudformation, stack, started))
    return stack_outputs(cloudformation, stack)


def stack_outputs(cloudformation, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def failure_report(cloudformation, stack: str, since: float) -> str:
    """The stack events that say why, oldest first."""
    try:
        events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError as error:
        return f"(stack events unavailable: {error})"
    lines = []
    for event in reversed(events):
        reason = event.get("ResourceStatusReason")
        if reason and "FAILED" in event.get("ResourceStatus", ""):
            lines.append(f"  {event['LogicalResourceId']} {event['ResourceStatus']}: {reason}")
    return "\n".join(lines) or "  (the stack gave no reason)"


def _stack_status(cloudformation, stack: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def _wait(cloudformation, stack: str, done: tuple, progress, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        status = _stack_status(cloudformation, stack)
        if status != last:
            progress(f"stack {stack}: {status}")
            last = status
        if status in done or status is None or status in _FAILED or status.endswith("_COMPLETE"):
            return status
        time.sleep(1.0)
    raise DeployError(f"stack {stack} did not finish within {timeout:.0f} s (last status {last})")
