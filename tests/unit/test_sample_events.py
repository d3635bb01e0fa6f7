"""The sample events in tests/events have the shape their senders give them.

Step and tracker inputs are compared with the state machine's Parameters, so a change to the
ASL that the handlers (and these samples) do not follow fails here first.
"""

from __future__ import annotations

import json

import pytest

from qip.core import layout
from qip.tooling.paths import STATE_MACHINE_DEFINITION
from tests.conftest import EVENTS

STATE_EVENTS = {
    "MarkProcessing": "tracker_started",
    "Validate": "step_validate",
    "MarkRejected": "tracker_rejected",
    "ExtractMetadata": "step_extract_metadata",
    "Resize": "step_resize",
    "Thumbnails": "step_thumbnails",
    "Archive": "step_archive",
    "MarkCompleted": "tracker_completed",
    "MarkFailed": "tracker_failed",
}


def states() -> dict:
    return json.loads(STATE_MACHINE_DEFINITION.read_text())["States"]


def test_every_task_state_has_a_sample_input():
    tasks = {name for name, state in states().items() if state["Type"] == "Task"}
    assert tasks == set(STATE_EVENTS)


@pytest.mark.parametrize(("state", "name"), sorted(STATE_EVENTS.items()))
def test_sample_input_matches_the_state_parameters(sample_event, state, name):
    parameters = states()[state]["Parameters"]
    event = sample_event(name)
    assert set(event) == {key.removesuffix(".$") for key in parameters}
    assert set(event["context"]) == {key.removesuffix(".$") for key in parameters["context"]}
    assert event["context"]["state"] == state
    if "action" in parameters:
        assert event["action"] == parameters["action"]


def test_sample_execution_name_is_the_one_the_dispatcher_gives(sample_event):
    event = sample_event("step_validate")
    image = event["image"]
    assert event["context"]["execution"] == layout.execution_name(image["bucket"], image["key"], image["sequencer"],
                                                                  image["attempt"])


def test_every_sample_event_loads(sample_event):
    names = sorted(path.stem for path in EVENTS.glob("*.json"))
    assert {"s3_object_created", "sqs_processing_batch", *STATE_EVENTS.values()} <= set(names)
    for name in names:
        assert isinstance(sample_event(name), dict)


def test_upload_event_is_an_eventbridge_s3_notification(sample_event):
    event = sample_event("s3_object_created")
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert {"bucket", "object", "reason"} <= set(event["detail"])
    assert {"key", "size", "etag", "sequencer"} <= set(event["detail"]["object"])
    assert "+" in event["detail"]["object"]["key"] and "%2B" in event["detail"]["object"]["key"]
