"""Encryption at rest and in transit, on the synthesized template (R7.4).

The bucket policies are also *evaluated*: a small evaluator with IAM's condition semantics runs
the requests that matter (plain HTTP, other encryption, other keys, customer keys) against
them. The local engine cannot show all of this: it serves TLS only, and it does not resolve
the KMS key-id and customer-key condition keys, so this is where those cases are proven.
"""

from __future__ import annotations

import fnmatch

import pytest

from tests.unit import template_model as model

DATA_KEY = "${DataKey.Arn}"
BUCKETS = {"UploadBucket": "UploadBucketPolicy", "ArchiveBucket": "ArchiveBucketPolicy"}


def _values(value) -> list[str]:
    return [model.render(v) for v in (value if isinstance(value, list) else [value])]


def _condition_holds(operator: str, key: str, expected: list[str], context: dict[str, str]) -> bool:
    """IAM semantics: a missing key fails every test except the negated ones (and Null: true)."""
    present = key in context
    if operator == "Null":
        return (not present) == (expected == ["true"])
    if operator == "Bool":
        return present and context[key] in expected
    if operator == "StringEquals":
        return present and context[key] in expected
    if operator == "StringNotEquals":
        return not present or context[key] not in expected
    raise AssertionError(f"the evaluator does not know {operator}: extend it before using it in a policy")


def denied(policy: str, action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether any Deny statement of the bucket policy applies to the request."""
    document = model.resources()[policy]["Properties"]["PolicyDocument"]
    for statement in document["Statement"]:
        if statement["Effect"] != "Deny" or statement["Principal"] != "*":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in _values(statement["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _values(statement["Resource"])):
            continue
        if all(_condition_holds(operator, key, _values(expected), context)
               for operator, tests in statement.get("Condition", {}).items() for key, expected in tests.items()):
            return True
    return False


TLS = {"aws:SecureTransport": "true"}
PLAIN = {"aws:SecureTransport": "false"}
PUTS = [  # (request headers as condition keys, denied?)
    ({}, False),
    ({"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": DATA_KEY},
     False),
    ({"s3:x-amz-server-side-encryption": "AES256"}, True),
    ({"s3:x-amz-server-side-encryption": "aws:kms"}, True),  # S3 would use the aws/s3 key
    ({"s3:x-amz-server-side-encryption": "aws:kms",
      "s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/other"}, True),
    ({"s3:x-amz-server-side-encryption": "aws:kms:dsse",
      "s3:x-amz-server-side-encryption-aws-kms-key-id": DATA_KEY}, True),
    ({"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}, True),
]


@pytest.mark.parametrize("bucket", sorted(BUCKETS))
def test_requests_without_tls_are_denied_whatever_they_do(bucket):
    policy, arn = BUCKETS[bucket], f"${{{bucket}.Arn}}"
    for action, resource in (("s3:GetObject", f"{arn}/a.jpg"), ("s3:PutObject", f"{arn}/a.jpg"),
                             ("s3:ListBucket", arn), ("s3:DeleteObject", f"{arn}/images/a.jpg")):
        assert denied(policy, action, resource, PLAIN), (action, resource)
        assert not denied(policy, action, resource, TLS), (action, resource)


@pytest.mark.parametrize("bucket", sorted(BUCKETS))
@pytest.mark.parametrize(("headers", "expected"), PUTS)
def test_uploads_asking_for_other_encryption_are_denied(bucket, headers, expected):
    resource = f"${{{bucket}.Arn}}/images/a.jpg"
    assert denied(BUCKETS[bucket], "s3:PutObject", resource, {**TLS, **headers}) is expected


def test_the_evaluator_knows_iam_semantics_for_missing_keys():
    assert _condition_holds("StringNotEquals", "k", ["v"], {}) is True
    assert _condition_holds("Bool", "k", ["false"], {}) is False
    assert _condition_holds("Null", "k", ["false"], {}) is False
    assert _condition_holds("Null", "k", ["true"], {}) is True


@pytest.mark.parametrize("bucket", sorted(BUCKETS))
def test_buckets_use_the_data_key_with_bucket_keys_and_block_public_access(bucket):
    properties = model.resources()[bucket]["Properties"]
    rule, = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert model.render(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == DATA_KEY
    assert rule["BucketKeyEnabled"] is True
    block = properties["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                     "RestrictPublicBuckets": True}
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_archive_is_versioned_with_long_term_lifecycle():
    properties = model.resources()["ArchiveBucket"]["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    storage = [t["StorageClass"] for rule in rules.values() for t in rule.get("Transitions", [])]
    assert {"STANDARD_IA", "GLACIER_IR"} <= set(storage)
    assert any("NoncurrentVersionExpiration" in rule for rule in rules.values())
    assert all(rule["Status"] == "Enabled" for rule in rules.values())


def test_the_data_key_rotates():
    key = model.resources()["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True


def test_queues_topic_and_table_are_encrypted_with_the_data_key():
    for name, queue in model.resources("AWS::SQS::Queue").items():
        assert model.render(queue["Properties"].get("KmsMasterKeyId")) == "${DataKey}", name
    for name, topic in model.resources("AWS::SNS::Topic").items():
        assert model.render(topic["Properties"].get("KmsMasterKeyId")) == "${DataKey}", name
    for name, table in model.resources("AWS::DynamoDB::Table").items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS", name
        assert model.render(sse["KMSMasterKeyId"]) == DATA_KEY, name
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_function_and_the_state_machine_log_to_an_encrypted_group_with_retention():
    groups = model.resources("AWS::Logs::LogGroup").values()
    by_name = {model.render(group["Properties"]["LogGroupName"]): group["Properties"] for group in groups}
    expected = [f"/aws/lambda/${{{name}}}" for name in model.resources("AWS::Lambda::Function")]
    expected.append("/aws/vendedlogs/states/${AWS::StackName}-pipeline")
    for name in expected:
        assert name in by_name, f"no log group {name}"
        assert model.render(by_name[name]["RetentionInDays"]) == "${LogRetentionInDays}", name
        assert model.render(by_name[name]["KmsKeyId"]) == DATA_KEY, name


def test_function_log_groups_match_the_names_their_roles_may_write():
    """The roles name `/aws/lambda/<stack>-<short>`; the groups are named after the functions."""
    for name, function in model.resources("AWS::Lambda::Function").items():
        function_name = model.render(function["Properties"]["FunctionName"])
        assert function_name.startswith("${AWS::StackName}-"), name
        role = model.render(function["Properties"]["Role"]).strip("${}").removesuffix(".Arn")
        log_lines = [line for line in model.role_grants(role) if " logs:" in line]
        expected = f":log-group:/aws/lambda/{function_name}:*"
        assert log_lines and all(line.endswith(expected) for line in log_lines), (name, log_lines)
