"""The Processing Pipeline's definition: one Lambda per step in order (R3.1-R3.5), retries with
exponential backoff on transient errors only (R3.6, R6.1), every failure caught and recorded
(R2.4, R6.3), rejections final and never retried.
"""

from __future__ import annotations

import json

from qip.tooling.paths import STATE_MACHINE_DEFINITION

ASL = json.loads(STATE_MACHINE_DEFINITION.read_text())
STATES = ASL["States"]
STEPS = ["Validate", "ExtractMetadata", "Resize", "Thumbnails", "Archive"]


def follow(start: str) -> list[str]:
    """The states visited on the happy path (Choices take their first branch)."""
    path, name = [], start
    while name:
        path.append(name)
        state = STATES[name]
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state.get("Next")
    return path


def test_each_step_is_its_own_lambda_in_order():
    path = follow(ASL["StartAt"])
    steps = [name for name in path if name in STEPS]
    assert steps == STEPS
    assert path[0] == "MarkProcessing" and path[-2:] == ["MarkCompleted", "Completed"]
    resources = {STATES[name]["Resource"] for name in STEPS}
    assert resources == {f"${{{name}FunctionArn}}" for name in STEPS}  # five different functions


def test_every_task_retries_transient_errors_with_exponential_backoff_and_jitter():
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        (retrier,) = state["Retry"]
        assert "TransientError" in retrier["ErrorEquals"], name
        assert "States.ALL" not in retrier["ErrorEquals"] and "States.TaskFailed" not in retrier["ErrorEquals"]
        assert retrier["BackoffRate"] >= 2 and retrier["IntervalSeconds"] >= 1, name
        assert retrier["MaxAttempts"] == 3 and retrier["JitterStrategy"] == "FULL", name
        assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"], name


def test_every_step_failure_is_caught_and_recorded_as_failed():
    for name in STEPS + ["MarkProcessing", "MarkRejected", "MarkCompleted"]:
        (catcher,) = STATES[name]["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"] and catcher["Next"] == "MarkFailed", name
        assert catcher["ResultPath"] == "$.error"
    assert STATES["MarkFailed"]["Parameters"]["action"] == "failed"
    assert STATES[STATES["MarkFailed"]["Next"]]["Type"] == "Fail"


def test_an_invalid_image_ends_rejected_without_retry_or_failure():
    choice = STATES["IsValidImage"]
    assert choice["Choices"][0]["StringEquals"] == "accepted" and choice["Default"] == "MarkRejected"
    assert STATES["MarkRejected"]["Next"] == "Rejected" and STATES["Rejected"]["Type"] == "Succeed"


def test_every_choice_has_a_default():
    assert all("Default" in s for s in STATES.values() if s["Type"] == "Choice")


def test_steps_pass_pointers_and_context_never_the_whole_state():
    for name in STEPS:
        parameters = STATES[name]["Parameters"]
        assert parameters["image.$"] == "$.image"
        assert parameters["context"] == {"execution.$": "$$.Execution.Name", "state.$": "$$.State.Name",
                                         "retry.$": "$$.State.RetryCount"}


def test_queues_hide_a_message_at_least_six_times_their_consumer_s_timeout():
    from tests.unit import template_model as model

    resources = model.synthesized()["Resources"]
    checked = 0
    for mapping in (r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"):
        function = resources[mapping["Properties"]["FunctionName"]["Ref"]]
        queue = resources[mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "RedrivePolicy" in queue["Properties"]  # poison messages end in the DLQ
        checked += 1
    assert checked == 2  # the processing queue and the audit queue
