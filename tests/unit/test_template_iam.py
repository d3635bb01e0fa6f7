"""Least privilege, proven on the synthesized template (R7.1, R7.2, R7.3, R7.5).

The exact grants of every role and every resource policy are compared with a reviewed literal
(`iam_expectations.json`), so a widened action, resource, principal or condition fails here
before it reaches an account. The rules below hold whatever the expectation says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qip.tooling.paths import STATE_MACHINE_DEFINITION, TEMPLATE
from tests.unit import template_model as model

EXPECTED = json.loads((Path(__file__).parent / "iam_expectations.json").read_text())
# Actions AWS authorises on no resource narrower than "*" (Service Authorization Reference).
NO_RESOURCE_LEVEL = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


def _diff(actual: list[str], expected: list[str]) -> str:
    added = sorted(set(actual) - set(expected))
    removed = sorted(set(expected) - set(actual))
    return "granted but not reviewed:\n  " + "\n  ".join(added) + "\nreviewed but gone:\n  " + "\n  ".join(removed)


def test_the_roles_are_exactly_the_reviewed_ones():
    assert sorted(model.resources("AWS::IAM::Role")) == sorted(EXPECTED["roles"])


@pytest.mark.parametrize("role", sorted(EXPECTED["roles"]))
def test_each_role_grants_exactly_what_was_reviewed(role):
    grants = model.role_grants(role)
    assert grants == sorted(EXPECTED["roles"][role]["grants"]), _diff(grants, EXPECTED["roles"][role]["grants"])


@pytest.mark.parametrize("role", sorted(EXPECTED["roles"]))
def test_each_role_trusts_exactly_the_reviewed_service(role):
    assert model.role_trust(role) == sorted(EXPECTED["roles"][role]["trust"])


@pytest.mark.parametrize("name", sorted(EXPECTED["resource_policies"]))
def test_each_resource_policy_is_exactly_what_was_reviewed(name):
    lines = model.resource_policy(name)
    expected = EXPECTED["resource_policies"][name]
    assert lines == sorted(expected), _diff(lines, expected)


def test_every_resource_policy_was_reviewed():
    kinds = ("AWS::KMS::Key", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy",
             "AWS::Lambda::Permission", "AWS::Events::EventBusPolicy")
    found = {name for kind in kinds for name in model.resources(kind)}
    permissions = set(model.resources("AWS::Lambda::Permission"))
    assert found - permissions == set(EXPECTED["resource_policies"])


def test_lambda_permissions_name_one_service_and_source():
    for name, permission in model.resources("AWS::Lambda::Permission").items():
        properties = permission["Properties"]
        assert properties["Action"] == "lambda:InvokeFunction", name
        assert properties["Principal"].endswith(".amazonaws.com"), name
        assert "SourceArn" in properties or "SourceAccount" in properties, f"{name} is not scoped to its source"


def test_every_function_has_its_own_role_trusted_by_lambda_only():
    functions = model.resources("AWS::Lambda::Function")
    roles = {name: model.render(function["Properties"]["Role"]) for name, function in functions.items()}
    assert len(set(roles.values())) == len(roles), f"functions share a role: {roles}"
    for function, role in roles.items():
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}", role)
        assert match, f"{function} must use a role of this stack, not {role}"
        assert model.role_trust(match.group(1)) == ["Allow [Service:lambda.amazonaws.com] sts:AssumeRole"]


def test_no_wildcard_action_and_no_wildcard_resource_without_need():
    for role in model.resources("AWS::IAM::Role"):
        for line in model.role_grants(role):
            effect, action, resource = line.split(" when ")[0].split(" ")
            assert "*" not in action, f"{role}: {line}"
            if resource == "*":
                assert action in NO_RESOURCE_LEVEL, f"{role} grants {action} on every resource"


def test_no_managed_policies_no_users_no_access_keys():
    for role in model.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    kinds = {resource["Type"] for resource in model.resources().values()}
    assert not kinds & {"AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::IAM::Group"}


def test_no_credentials_in_the_template_or_function_environments():
    text = TEMPLATE.read_text()
    assert not re.search(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", text)
    for name, function in model.resources("AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for variable in variables:
            assert not re.search(r"SECRET|ACCESS_KEY|PASSWORD|TOKEN", variable), f"{name}: {variable}"


def test_state_machine_invokes_exactly_the_functions_its_definition_names():
    machine = model.resources("AWS::StepFunctions::StateMachine")["ProcessingPipeline"]["Properties"]
    used = set(re.findall(r"\$\{(\w+)\}", STATE_MACHINE_DEFINITION.read_text()))
    substitutions = machine["DefinitionSubstitutions"]
    invoked = {model.render(substitutions[name]) for name in used if name.endswith("FunctionArn")}
    role = model.render(machine["RoleArn"]).strip("${}").removesuffix(".Arn")
    granted = {line.split(" ")[2] for line in model.role_grants(role) if " lambda:" in line}
    assert granted == invoked
    assert all(" lambda:InvokeFunction " in line for line in model.role_grants(role) if " lambda:" in line)
