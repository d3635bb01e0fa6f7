"""`qip cost` counts what a real run on the local stack did (the functions' closing lines, the
executions' histories, the store and the buckets) and prices it."""

from __future__ import annotations

import json

from qip.cli import app as cli


def test_qip_cost_prices_what_a_real_run_did(stack, capsys):
    code = cli.main(["--port", str(stack.engine.port), "--home", str(stack.engine.home), "--stack", stack.name,
                     "cost", "--images", "2", "--megapixels", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    run = report["run"]
    assert run["images"] == 2 and run["executions"] == 2, run  # other uploads' runs are not counted
    assert run["transitions_per_image"] >= 9  # MarkProcessing ... Completed, each state entered once
    calls = run["calls_per_image"]
    for operation in ("s3.GetObject", "s3.PutObject", "events.PutEvents", "sns.Publish", "dynamodb.UpdateItem"):
        assert calls[operation] >= 1, operation
    assert calls["events.PutEvents"] >= 12  # 2 per step, upload, started, completed
    assert set(run["invocations_per_image"]) >= {"validate", "resize", "thumbnails", "archive", "tracker"}
    services = {t["service"] for t in report["terms"]}
    assert services >= {"Lambda", "Step Functions", "EventBridge", "SNS", "SQS", "DynamoDB", "S3", "CloudWatch Logs"}
    assert abs(report["per_million_usd"] - sum(t["per_million_usd"] for t in report["terms"])) < 0.2
    # DynamoDB's units are the ones it counted itself, request by request (ReturnConsumedCapacity):
    units = {t["what"].split(" (")[0]: t["per_image"] for t in report["terms"] if t["service"] == "DynamoDB"}
    assert units["metadata writes"] >= 8  # UPLOADED, PROCESSING, five stages, COMPLETED: a unit each at least
    assert units["index by-status writes"] == 5  # keys only: made once, moved twice (a delete and a put each)
    assert units["index by-upload-date writes"] == 1  # keys only: written when the record is made, never again
    assert units["index by-key writes"] == 1  # upload time only: status changes do not move it
    assert calls["s3.GetObject"] == 5 and "s3.HeadObject" not in calls  # the dispatcher: one ranged GET, no HEAD
    assert not any(t["service"] == "KMS" for t in report["terms"])  # SNS reuses its data keys: a monthly cost
    assert any(label.startswith("KMS: SNS data keys") for label in report["fixed_monthly_usd"])
    assert report["per_million_usd"] > 0 and report["storage_year_per_million_usd"] > 0
    assert report["options"]["workflow"] == "EXPRESS"  # the template's default, as deployed
    assert set(report["choices_per_million_usd"]) >= {"Standard workflows", "Express workflows", "audit trail off"}
