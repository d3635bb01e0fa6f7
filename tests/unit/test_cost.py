"""The cost model's arithmetic on a run whose counts are known (the counting itself runs against
the local engine in tests/integration/test_cost.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from qip.client import cost

PRICES = cost.prices()
TABLES = {"metadata": "meta", "audit": "audit"}


def run(**changes) -> cost.Run:
    functions = {
        "validate": cost.FunctionUse(invocations=10, ms=1000.0, memory_mb=1024, arch="x86_64",
                                     calls=Counter({"s3.GetObject": 10, "events.PutEvents": 20, "sns.Publish": 10}),
                                     units=Counter({"events.entries_64kb": 20, "sns.publish_64kb": 10,
                                                    "dynamodb.wcu.meta": 30, "dynamodb.wcu.meta/by-status": 50,
                                                    "dynamodb.wcu.meta/by-key": 10, "dynamodb.rcu.meta": 20,
                                                    "dynamodb.rcu.meta/by-status": 5}),
                                     log_bytes=10_000, info_log_bytes=4_000),
        "audit": cost.FunctionUse(invocations=100, ms=500.0, memory_mb=256, arch="x86_64",
                                  units=Counter({"dynamodb.wcu.audit": 210})),
    }
    fields = {"images": 10, "functions": functions, "executions": 10, "transitions": 100,
              "execution_ms": [1234.0] * 10, "record_bytes": 2600.0, "audit_item_bytes": 900.0, "audit_items": 210,
              "upload_bytes": 4e6, "archived": {"original": 4e6, "derivatives": 1e6, "derivative_count": 5.0},
              "tables": TABLES, "workflow": "STANDARD", "batching": {"audit": (10, 0)}}
    fields.update(changes)
    return cost.Run(**fields)


def term(terms: list[cost.Term], what: str) -> cost.Term:
    return next(t for t in terms if t.what.startswith(what))


def test_standard_bills_each_state_transition():
    found = cost.terms(run(), PRICES, cost.Options(workflow="STANDARD"))
    assert term(found, "Standard: state transitions").per_million_usd == pytest.approx(10 * 25.0)


def test_express_bills_requests_and_64_mb_gb_seconds_in_100_ms_steps():
    found = cost.terms(run(), PRICES, cost.Options(workflow="EXPRESS"))
    assert term(found, "Express: requests").per_million_usd == pytest.approx(1.0)
    assert term(found, "Express: GB-seconds").per_image == pytest.approx(64 / 1024 * 1.3)


def test_lambda_is_priced_from_measured_ms_and_configured_memory_on_the_chosen_architecture():
    found = cost.terms(run(), PRICES, cost.Options(architecture="arm64"))
    gb_s = term(found, "validate: GB-seconds")
    assert gb_s.per_image == pytest.approx(1024 / 1024 * 100 / 1000)  # 100 ms a call, 1 GB
    assert gb_s.unit_usd == PRICES["lambda"]["gb_second"]["arm64"]


def test_dynamodb_is_priced_from_the_units_dynamodb_itself_counted_per_table_and_index():
    indexes = [cost.IndexUse("by-status", "KEYS_ONLY", 120.0), cost.IndexUse("by-key", "INCLUDE", 300.0),
               cost.IndexUse("by-upload-date", "KEYS_ONLY", 110.0)]
    found = cost.terms(run(indexes=indexes), PRICES)
    unit = PRICES["dynamodb"]["write_request_unit"]
    assert term(found, "metadata writes").per_million_usd == pytest.approx(3 * unit * 1e6)
    assert term(found, "index by-status writes").per_image == pytest.approx(5)
    assert term(found, "index by-key writes").per_image == pytest.approx(1)
    assert not any(t.what.startswith("index by-upload-date") for t in found)  # nothing written: no term
    assert term(found, "metadata reads").per_image == pytest.approx(2.5)  # the table's and its indexes'
    assert term(found, "audit writes").per_image == pytest.approx(21)


def test_index_entries_are_sized_by_projection_for_their_storage():
    table = {"KeySchema": [{"AttributeName": "image_key", "KeyType": "HASH"}],
             "GlobalSecondaryIndexes": [
                 {"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
                  "KeySchema": [{"AttributeName": "status"}, {"AttributeName": "uploaded_at"}]},
                 {"IndexName": "by-key", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
                  "KeySchema": [{"AttributeName": "bucket"}, {"AttributeName": "image_key"}]},
                 {"IndexName": "by-day", "Projection": {"ProjectionType": "KEYS_ONLY"},
                  "KeySchema": [{"AttributeName": "upload_date"}]}]}
    record = {"image_key": "a.jpg", "bucket": "up", "status": "COMPLETED", "uploaded_at": "2026-12-02T10:00:00Z",
              "metadata": {"exif": "x" * 1000}}
    by_status, by_key, by_day = cost.index_uses(table, [record])
    assert by_status.entry_bytes == cost.item_bytes(record)
    subset = {k: record[k] for k in ("image_key", "bucket", "status")}
    assert by_key.entry_bytes == cost.item_bytes(subset) + 100
    assert by_day.entry_bytes == 0.0  # sparse: no record has upload_date


def test_kms_for_the_encrypted_topic_is_a_monthly_cost_per_publishing_function_not_per_image():
    assert not any(t.service == "KMS" for t in cost.terms(run(), PRICES))
    fixed = cost.report(run(), PRICES)["fixed_monthly_usd"]
    (label,) = [label for label in fixed if label.startswith("KMS: SNS data keys")]
    assert "1 publishing functions" in label  # validate is the only one that published in this run
    assert fixed[label] == pytest.approx(round(30 * 86400 / 300 * 2 * 1 * PRICES["kms"]["request"], 2))


def test_a_batching_window_prices_full_audit_batches_and_no_window_prices_what_ran():
    without = term(cost.terms(run(), PRICES), "audit: requests").per_image
    with_window = term(cost.terms(run(batching={"audit": (10, 5)}), PRICES), "audit: requests").per_image
    assert without == 10 and with_window == pytest.approx((2 + 1) / 10)


def test_choices_change_only_what_they_name():
    base = sum(t.per_million_usd for t in cost.terms(run(), PRICES))
    no_audit = sum(t.per_million_usd for t in cost.terms(run(), PRICES, cost.Options(audit=False)))
    warning = cost.terms(run(), PRICES, cost.Options(log_level="WARNING"))
    assert no_audit < base
    assert term(warning, "ingestion").per_image == pytest.approx(6_000 / 10 / 2**30)


def test_log_lines_follow_the_calls_aws_would_make():
    def with_audit_logs(**changes) -> cost.Run:
        made = run(**changes)
        made.functions["audit"] = cost.FunctionUse(invocations=100, ms=500.0, memory_mb=256, log_bytes=100_000)
        return made

    ingestion = [term(cost.terms(r, PRICES), "ingestion").per_image
                 for r in (with_audit_logs(), with_audit_logs(batching={"audit": (10, 5)}))]
    validate_only = 10_000 / 10 / 2**30
    assert ingestion[0] == pytest.approx(validate_only + 100_000 / 10 / 2**30)  # as the engine ran it
    # on AWS the 5 s window gathers the audit function's 10 calls an image into (2 + 1) / 10 calls
    assert ingestion[1] == pytest.approx(validate_only + 100_000 / 10 / 2**30 * 0.3 / 10)


def test_only_originals_of_128_kb_or_more_are_priced_in_colder_classes():
    big = [t.what for t in cost.storage_year(run(), PRICES)]
    small = [t.what for t in cost.storage_year(run(archived={"original": 100_000.0, "derivatives": 1e5,
                                                             "derivative_count": 5.0}), PRICES)]
    assert any("Glacier IR" in w for w in big) and not any("Glacier IR" in w or "IA" in w for w in small)
    assert any("derivatives" in w and "Standard, 12 months" in w for w in big)


def test_the_report_names_its_total_its_biggest_terms_and_its_prices():
    report = cost.report(run(), PRICES)
    assert report["per_million_usd"] == pytest.approx(sum(t["per_million_usd"] for t in report["terms"]), abs=0.1)
    assert len(report["biggest"]) == 3 and report["prices"]["as_of"] == PRICES["as_of"]
    assert report["prices"]["free_tiers"] == "left out"


def test_item_sizes_follow_dynamodb_rules():
    from boto3.dynamodb.types import Binary

    assert cost.item_bytes({"ab": "xyz"}) == 3 + 2 + 3
    assert cost.item_bytes({"b": Binary(b"\0" * 100)}) == 3 + 1 + 100
    assert cost.item_bytes({"n": 12345}) == 3 + 1 + 4


def test_only_the_runs_own_executions_are_counted_whatever_their_attempt_or_generation():
    from qip.core import layout
    record = {"bucket": "uploads", "image_key": "cost-run/1/000.jpg", "sequencer": "0" * 16 + "18A2B3",
              "etag": "e", "size": 10}
    stems = cost.run_names([record])
    own = [layout.execution_name("uploads", "cost-run/1/000.jpg", "18A2B3", attempt, generation)
           for attempt in (1, 2) for generation in (0, 3)]
    other = [layout.execution_name("uploads", "cost-run/1/000.jpg", "18A2B4", 1),  # a later upload of the key
             layout.execution_name("uploads", "cost-run/1/001.jpg", "18A2B3", 1)]
    assert all(name.startswith(stems) for name in own)
    assert not any(name.startswith(stems) for name in other)
