"""Express workflows are at-least-once and do not deduplicate execution names, so idempotency must
come from the store's conditional writes: one execution of a name takes the record, a second one
(a duplicate start, or a rerun of the whole workflow) is Superseded, and nothing runs twice."""

from __future__ import annotations

import copy

from qip.core.model import COMPLETED, PROCESSING, Stage
from qip.core.store import run_digest
from qip.functions import step, tracker
from tests.unit.test_tracker import record_upload

MACHINE = "arn:aws:states:us-east-1:123456789012:express:qip-pipeline"


def started_by(sample_event, run: str, retry: int = 0) -> dict:
    event = copy.deepcopy(sample_event("tracker_started"))
    execution = event["context"]["execution"]
    event["context"].update(run=f"{MACHINE}:{execution}:{run}", retry=retry)
    return event


def test_a_second_execution_of_the_same_name_is_superseded_and_announces_nothing(aws, store, sample_event,
                                                                                lambda_context):
    first = started_by(sample_event, "0b6f7a3e-first")
    record_upload(store, first["image"])
    assert tracker.handler(first, lambda_context) == {"proceed": True}
    aws.bus_events()  # drain: the first run's "Pipeline Started"

    duplicate = started_by(sample_event, "5d1c9e20-second")
    assert tracker.handler(duplicate, lambda_context) == {"proceed": False}
    assert aws.bus_events() == [], "the duplicate announced a start"
    record = store.get(first["image"]["key"])
    assert record["status"] == PROCESSING
    assert record["run_id"] == run_digest(first["context"]["run"]) != run_digest(duplicate["context"]["run"])

    # a Retry of the first run's MarkProcessing (same execution, same id) still takes it
    assert tracker.handler(started_by(sample_event, "0b6f7a3e-first", retry=1), lambda_context) == {"proceed": True}


def test_a_rerun_after_the_image_completed_changes_nothing(aws, store, sample_event, lambda_context):
    first = started_by(sample_event, "first")
    record_upload(store, first["image"])
    key, execution = first["image"]["key"], first["context"]["execution"]
    assert tracker.handler(first, lambda_context) == {"proceed": True}
    assert store.complete(key, execution, {"display": "s3://archive/images/x/display.jpg"})
    before = store.get(key)

    assert tracker.handler(started_by(sample_event, "rerun"), lambda_context) == {"proceed": False}
    assert store.get(key) == before


def test_a_step_of_a_duplicate_execution_records_nothing_once_the_owner_finished(aws, store, sample_event,
                                                                                lambda_context):
    """Even a step reached twice (at-least-once) cannot move a finished record: stage writes are
    conditional on the owning execution while the record is PROCESSING."""
    first = started_by(sample_event, "first")
    record_upload(store, first["image"])
    key, execution = first["image"]["key"], first["context"]["execution"]
    assert tracker.handler(first, lambda_context) == {"proceed": True}
    assert store.complete(key, execution, {})
    aws.bus_events()
    event = {"image": first["image"], "context": {"execution": execution, "state": "Validate", "retry": 0}}
    result = step.run_step(Stage.VALIDATE, event, lambda request: {"verdict": "accepted"})
    assert result == {"verdict": "accepted"}
    assert store.get(key)["status"] == COMPLETED and "validate" not in store.get(key)["stages"]
    assert [e["detail-type"] for e in aws.bus_events()] == ["Stage Started"], "success announced twice"
