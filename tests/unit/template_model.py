"""The template as AWS will run it (SAM transform expanded), and its policies as reviewable lines.

Permissions are judged on the synthesized template, not the SAM source, because the transform
is where permissions appear unasked (policy templates, managed policies, event-source policies).
Each policy statement becomes one line per (action, resource) pair, with intrinsic functions
written back as `${Logical.Attr}` text, so an expectation can be a plain literal reviewed by a
person, and any widened action, resource, principal or condition changes a line.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from qip.tooling.cloudformation import Artifact, packaged_template
from qip.tooling.paths import TEMPLATE


@lru_cache(maxsize=1)
def synthesized() -> dict[str, Any]:
    """`template.yaml` after `sam package` (placeholder artifacts) and the SAM transform."""
    packaged = packaged_template(TEMPLATE, Artifact("artifacts", "code.zip"), Artifact("artifacts", "asl.json"))
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(packaged, parameter_values={}, get_managed_policy_map=lambda: {})


def resources(of_type: str | None = None) -> dict[str, dict]:
    found = synthesized()["Resources"]
    return {name: r for name, r in found.items() if of_type is None or r["Type"] == of_type}


def render(value: Any) -> str:
    """An intrinsic function as the text a reviewer reads: `${Table.Arn}`, `${AWS::Region}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else argument.split(".", 1)
            return f"${{{parts[0]}.{parts[1]}}}"
        if function == "Fn::Sub":
            if isinstance(argument, list):
                text, variables = argument
                for name, replacement in variables.items():
                    text = text.replace(f"${{{name}}}", render(replacement))
                return text
            return argument
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _condition(condition: dict | None) -> str:
    if not condition:
        return ""
    clauses = []
    for operator, tests in sorted(condition.items()):
        for key, expected in sorted(tests.items()):
            clauses.append(f"{operator} {key} = {', '.join(sorted(render(v) for v in _listed(expected)))}")
    return " when " + " and ".join(clauses)


def _principal(principal: Any) -> str:
    if principal == "*":
        return "*"
    parts = []
    for kind, names in sorted(principal.items()):
        parts.extend(f"{kind}:{render(name)}" for name in _listed(names))
    return " ".join(sorted(parts))


def statement_lines(document: dict, with_principal: bool = False) -> list[str]:
    """One line per (action, resource) of each statement: `Allow s3:GetObject ${Bucket.Arn}/* when ...`."""
    lines = []
    for statement in _listed(document["Statement"]):
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        who = f"[{_principal(statement['Principal'])}] " if with_principal else ""
        when = _condition(statement.get("Condition"))
        targets = [f" {render(r)}" for r in _listed(statement["Resource"])] if "Resource" in statement else [""]
        for action in _listed(statement["Action"]):
            lines.extend(f"{statement['Effect']} {who}{action}{target}{when}" for target in targets)
    return sorted(lines)


def role_grants(role: str) -> list[str]:
    """Every line a role is granted: its inline policies, and any policy resource attached to it."""
    properties = resources()[role]["Properties"]
    lines = [f"ManagedPolicy {render(arn)}" for arn in properties.get("ManagedPolicyArns", [])]
    for policy in properties.get("Policies", []):
        lines += statement_lines(policy["PolicyDocument"])
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for attached in resources(kind).values():
            if role in [render(r).strip("${}") for r in attached["Properties"].get("Roles", [])]:
                lines += statement_lines(attached["Properties"]["PolicyDocument"])
    return sorted(lines)


def role_trust(role: str) -> list[str]:
    document = resources()[role]["Properties"]["AssumeRolePolicyDocument"]
    return statement_lines(document, with_principal=True)


def resource_policy(name: str) -> list[str]:
    """The statements of a key, bucket or queue policy, principals included."""
    resource = resources()[name]
    properties = resource["Properties"]
    document = properties["KeyPolicy"] if resource["Type"] == "AWS::KMS::Key" else properties["PolicyDocument"]
    return statement_lines(document, with_principal=True)


def current() -> dict[str, Any]:
    """Every role's trust and grants and every resource policy, in the expectation file's shape."""
    kinds = ("AWS::KMS::Key", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy")
    return {
        "roles": {role: {"trust": role_trust(role), "grants": role_grants(role)}
                  for role in sorted(resources("AWS::IAM::Role"))},
        "resource_policies": {name: resource_policy(name) for kind in kinds for name in sorted(resources(kind))},
    }


if __name__ == "__main__":  # print the current state, to compare with (never to copy over) the review
    print(json.dumps(current(), indent=2))
