"""The overview's numbers: counts, throughput per minute and per-stage latency percentiles.

Everything comes from what the pipeline itself wrote: counts from COUNT queries on the status
index, throughput from the records that finished in the window, latency from the `duration_ms`
each stage recorded on the newest completed records. The functions on plain records are pure,
so they are tested without a stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from qip.client.metrics import percentile
from qip.client.pipeline import Pipeline
from qip.client.queues import QueueState
from qip.core.clock import elapsed_ms, parse_iso
from qip.core.model import COMPLETED, FAILED, REJECTED, STATUSES, STEPS

WINDOW_MINUTES = 30  # throughput chart: one bar per minute
LATENCY_SAMPLE = 200  # newest completed records the percentiles are taken over
FINISHED_CAP = 5000  # most finished records read for the throughput chart


@dataclass(frozen=True)
class Latency:
    """p50 and p95 of one stage (or of the whole run), in milliseconds, over `count` images."""

    name: str
    p50: float | None
    p95: float | None
    count: int


@dataclass(frozen=True)
class Minute:
    """Images that finished in one minute of the window, by outcome."""

    start: datetime
    completed: int = 0
    rejected: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.completed + self.rejected + self.failed


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    minutes: list[Minute]
    latency: list[Latency]
    end_to_end: Latency
    queues: dict[str, QueueState]
    at: datetime

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished_in_window(self) -> int:
        return sum(minute.total for minute in self.minutes)


def latencies(records: Iterable[dict[str, Any]]) -> tuple[list[Latency], Latency]:
    """Per-stage p50/p95 of `duration_ms`, and of the whole run (started_at to completed_at)."""
    per_stage: dict[str, list[float]] = {stage: [] for stage in STEPS}
    runs: list[float] = []
    for record in records:
        for stage, values in per_stage.items():
            duration = ((record.get("stages") or {}).get(stage) or {}).get("duration_ms")
            if isinstance(duration, (int, float)):
                values.append(float(duration))
        run = elapsed_ms(record.get("started_at"), record.get("completed_at"))
        if run is not None:
            runs.append(run)
    stages = [Latency(stage, percentile(v, 50), percentile(v, 95), len(v)) for stage, v in per_stage.items()]
    return stages, Latency("end to end", percentile(runs, 50), percentile(runs, 95), len(runs))


def throughput(records: Iterable[dict[str, Any]], now: datetime, minutes: int = WINDOW_MINUTES) -> list[Minute]:
    """Finished images per minute over the last `minutes`, oldest minute first."""
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    tallies = [{COMPLETED: 0, REJECTED: 0, FAILED: 0} for _ in range(minutes)]
    for record in records:
        status = record.get("status")
        at = parse_iso(finished_at(record))
        if status not in (COMPLETED, REJECTED, FAILED) or at is None or not start <= at < end:
            continue
        tallies[int((at - start).total_seconds() // 60)][status] += 1
    return [Minute(start + timedelta(minutes=i), t[COMPLETED], t[REJECTED], t[FAILED]) for i, t in enumerate(tallies)]


def finished_at(record: dict[str, Any]) -> str | None:
    """When a record reached its status: the pipeline's own timestamps, else the last write."""
    return record.get("completed_at") or record.get("failed_at") or record.get("updated_at")


def overview(pipeline: Pipeline, now: datetime | None = None) -> Overview:
    """Read everything the overview shows (a handful of queries; no table scan)."""
    now = now or datetime.now(UTC)
    since = (now - timedelta(minutes=WINDOW_MINUTES + 5)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    store = pipeline.store
    finished: list[dict[str, Any]] = []
    for status in (COMPLETED, REJECTED, FAILED):
        for record in store.iter_pages(store.by_status, status=status, since=since):
            finished.append(record)
            if len(finished) >= FINISHED_CAP:
                break
    stages, end_to_end = latencies(store.by_status(COMPLETED, limit=LATENCY_SAMPLE).items)
    counts = pipeline.counts()
    return Overview({status: counts.get(status, 0) for status in STATUSES}, throughput(finished, now), stages,
                    end_to_end, pipeline.queues(), now)
