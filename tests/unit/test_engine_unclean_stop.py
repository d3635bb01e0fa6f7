"""An engine that ended without a clean stop is noticed from what it left in its state folder."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from qip.tooling.engine import Engine
from qip.tooling.errors import EngineError


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_no_pid_file_is_a_clean_stop(tmp_path):
    assert Engine(port=1, home=tmp_path).unclean_stop() is None


def test_a_pid_file_left_by_a_dead_engine_is_an_unclean_stop_dated_by_its_last_save(tmp_path):
    engine = Engine(port=1, home=tmp_path)
    (tmp_path / "state").mkdir()
    saved = tmp_path / "state" / "sqs.json"
    saved.write_text("{}")
    os.utime(saved, (1_780_000_000, 1_780_000_000))
    engine.pid_file.write_text(str(dead_pid()))
    found = engine.unclean_stop()
    assert found is not None and found.last_clean_stop == datetime.fromtimestamp(1_780_000_000, UTC)
    assert "stopped without saving its state" in found.describe() and "2026-05-28" in found.describe()


def test_an_engine_that_never_saved_says_it_never_stopped_cleanly(tmp_path):
    engine = Engine(port=1, home=tmp_path)
    engine.pid_file.write_text(str(dead_pid()))
    found = engine.unclean_stop()
    assert found is not None and found.last_clean_stop is None
    assert "never stopped cleanly" in found.describe()


def test_a_state_folder_keeps_the_port_it_was_first_used_with(tmp_path):
    """The engine's queue URLs name its port: on another port nothing would be processed (seen: 26
    uploads, none final in 6 minutes), so another port is refused before anything starts or stops."""
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "engine.port").write_text("4701\n")
        Engine(port=4701, home=tmp_path).pid_file.write_text(str(running.pid))  # this folder's engine, running
        with pytest.raises(EngineError) as refused:
            Engine(port=4702, home=tmp_path).start(timeout=1)
        message = str(refused.value)
        assert "belongs to an engine on port 4701" in message and "--port 4701" in message and "--home" in message
        assert running.poll() is None  # the running engine of the folder was left alone
        assert not (tmp_path / "state").exists()  # and nothing was started
    finally:
        running.kill()
        running.wait()
    Engine(port=4701, home=tmp_path).check_port()  # its own port is fine
    Engine(port=4702, home=tmp_path / "new").check_port()  # and a new folder takes any
