"""Crash recovery as a tested property: the engine's whole process group is killed mid-burst, and
every upload it had acknowledged still reaches its final status, once (tests/crash_scenario.py).

On an engine of its own, since it kills it. The engine keeps objects on disk as it acknowledges
them but its queues, tables and runs only at a clean stop; what the kill took, `qip up` finds
and repairs: uploads with no record are queued again (the upload sweep), images left in flight
by the last clean stop are requeued.
"""

from __future__ import annotations

from qip.tooling.engine import Engine
from tests import crash_scenario
from tests.integration.conftest import ENGINE_ENV
from tests.integration.stack import free_port


def test_every_acknowledged_upload_survives_a_sigkill_of_the_engine(tmp_path):
    engine = Engine(port=free_port(), home=tmp_path / "engine")
    try:
        crash = crash_scenario.run(engine, "crash", first_batch=8, burst=40, kill_after=16, timeout=240,
                                   engine_env=ENGINE_ENV, parameters={"PipelineRetryDelaySeconds": "1"})
    finally:
        engine.stop()
    assert len(crash.acknowledged) >= 8 + 16
    assert not crash.problems(), crash.problems()
    assert crash.outcomes()["COMPLETED"] == len(crash.records) == len(crash.acknowledged)
    # qip up said what happened, and which repair brought each lost upload back
    assert any("stopped without saving its state" in line for line in crash.up_lines), crash.up_lines
    recovery = crash.crash_recovery
    burst = {key for key in crash.acknowledged if key.startswith("crash/burst/")}
    first = set(crash.acknowledged) - burst
    # nothing was saved after the burst began: every acknowledged burst upload lost its record and
    # its event, and came back through the upload sweep (which queued nothing else)
    attempted = first | {f"crash/burst/{i:03d}.jpg" for i in range(40)}
    assert burst <= set(recovery["unrecorded"]) <= attempted
    # the first batch, stopped mid-flight by the clean stop: what had a record was requeued, what
    # had not yet been ingested (its event not yet delivered) was found by the sweep
    clean = crash.recoveries[1]
    assert clean["requeued"] or clean["unrecorded"], clean
    assert set(clean["requeued"]) | set(clean["unrecorded"]) <= first, clean
    assert set(recovery["requeued"]) <= first
