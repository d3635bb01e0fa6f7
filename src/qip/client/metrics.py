"""Per-stage counts and latency percentiles, read from the metrics the stack itself emitted.

The functions emit CloudWatch Embedded Metric Format (EMF) records through Powertools; they
land in the functions' log groups, where CloudWatch turns them into metrics. This module reads
those very records back (the local engine keeps the logs but builds no metrics from them), so
the numbers are what the stack recorded, not a timing made by the reader.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types_boto3_logs import CloudWatchLogsClient


@dataclass
class StageMetrics:
    """What one stage reported."""

    succeeded: int = 0
    failed: int = 0
    durations_ms: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "failed": self.failed,
                "p50_ms": percentile(self.durations_ms, 50), "p95_ms": percentile(self.durations_ms, 95)}


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def emf_records(logs: CloudWatchLogsClient, log_group_prefix: str,
                since_ms: int | None = None) -> Iterator[dict[str, Any]]:
    """Every EMF record in the log groups whose names start with the prefix."""
    groups = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=log_group_prefix)
    for page in groups:
        for group in page["logGroups"]:
            kwargs: dict[str, Any] = {"logGroupName": group["logGroupName"]}
            if since_ms:
                kwargs["startTime"] = since_ms
            for events in logs.get_paginator("filter_log_events").paginate(**kwargs):
                for event in events["events"]:
                    record = _emf(event["message"])
                    if record:
                        yield record


def _emf(message: str) -> dict[str, Any] | None:
    if '"_aws"' not in message:
        return None
    try:
        record = json.loads(message[message.index("{"):])
    except ValueError:
        return None
    return record if isinstance(record, dict) and "CloudWatchMetrics" in record.get("_aws", {}) else None


def _values(record: dict[str, Any], name: str) -> list[float]:
    value = record.get(name)
    if value is None:
        return []
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Stage -> counts and p50/p95 duration; plus the pipeline-wide figures."""
    stages: dict[str, StageMetrics] = defaultdict(StageMetrics)
    images_rejected = 0
    bytes_processed = 0.0
    latency: list[float] = []
    for record in records:
        stage = record.get("Stage")
        if stage:
            metrics = stages[stage]
            metrics.succeeded += int(sum(_values(record, "StageSucceeded")))
            metrics.failed += int(sum(_values(record, "StageFailed")))
            metrics.durations_ms += _values(record, "StageDuration")
        images_rejected += int(sum(_values(record, "ImagesRejected")))
        bytes_processed += sum(_values(record, "BytesProcessed"))
        latency += _values(record, "EndToEndLatency")
    return {
        "stages": {name: stages[name].to_dict() for name in sorted(stages)},
        "images_rejected": images_rejected,
        "bytes_processed": int(bytes_processed),
        "end_to_end": {"count": len(latency), "p50_ms": percentile(latency, 50), "p95_ms": percentile(latency, 95)},
    }


def report(logs: CloudWatchLogsClient, stack_name: str, since_seconds: float | None = None) -> dict[str, Any]:
    since_ms = int((time.time() - since_seconds) * 1000) if since_seconds else None
    return summarize(emf_records(logs, f"/aws/lambda/{stack_name}-", since_ms))
