"""Storage classes: only archived originals move to colder storage, and never objects under 128 KB."""

from __future__ import annotations

from qip.core import layout
from tests.unit import template_model as model

MIN_BILLABLE = 128 * 1024  # Standard-IA and Glacier IR bill each object as at least 128 KB


def _rules(bucket: str) -> list[dict]:
    return model.resources("AWS::S3::Bucket")[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]


def test_only_tagged_originals_of_128_kb_or_more_transition():
    moving = [rule for bucket in model.resources("AWS::S3::Bucket") for rule in _rules(bucket)
              if rule.get("Transitions") or rule.get("NoncurrentVersionTransitions")]
    assert [rule["Id"] for rule in moving] == ["OriginalsToLongTermStorage"]
    rule = moving[0]
    assert rule["Prefix"] == layout.ARCHIVE_ROOT
    assert rule["ObjectSizeGreaterThan"] + 1 >= MIN_BILLABLE
    assert {(t["Key"], t["Value"]) for t in rule["TagFilters"]} == set(layout.ORIGINAL_TAG.items())
